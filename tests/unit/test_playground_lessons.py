"""The Playground's lessons say what really happens: each claim checked on seeds 0-4 with the lesson's settings."""
from __future__ import annotations

import pytest

from nnviz.playground import store
from nnviz.playground.config import from_query
from nnviz.playground.network import Trainer
from nnviz.teaching import lessons

SEEDS = range(5)


def _test_accuracy(link: str, seed: int) -> float:
    cfg, problems = from_query(dict(part.split("=", 1) for part in link.split("&")))
    assert problems == []
    cfg = cfg.with_(seed=seed)
    trainer = Trainer(cfg, store.points_for(cfg))
    for _ in range(cfg.epochs):
        trainer.epoch()
    return trainer.scores().test_acc


def _steps(lesson_id: str) -> list[str]:
    steps = lessons.get(lesson_id).steps
    assert all(step.page == "playground" for step in steps)
    return [step.link for step in steps]


@pytest.mark.slow
@pytest.mark.parametrize("seed", SEEDS)
def test_xor_needs_a_hidden_layer(seed):
    linear, hidden = _steps("xor_hidden_layer")
    assert "hidden=0" in linear and "hidden=4" in hidden
    without, with_layer = _test_accuracy(linear, seed), _test_accuracy(hidden, seed)
    assert without <= 0.75  # one line through XOR: near a coin toss
    assert with_layer >= 0.9 and with_layer - without >= 0.2


@pytest.mark.slow
@pytest.mark.parametrize("seed", SEEDS)
def test_spiral_needs_depth_or_features(seed):
    shallow, features, deep = (_test_accuracy(link, seed) for link in _steps("spiral_depth_features"))
    assert shallow <= 0.7  # raw inputs, one layer of 4: cannot follow the spiral
    assert features >= 0.95  # sine features, 2 x 8
    assert deep >= 0.8 and deep - shallow >= 0.15  # raw inputs, 4 x 8: depth gets far too, more slowly


def test_every_playground_step_is_a_valid_link():
    for lesson in lessons.LESSONS.values():
        for step in lesson.steps:
            if step.page == "playground":
                assert from_query(dict(p.split("=", 1) for p in step.link.split("&")))[1] == []


def test_a_playground_step_needs_its_settings():
    with pytest.raises(ValueError, match="link"):
        lessons.Step("playground", "no settings")
