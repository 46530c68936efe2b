"""scripts/build_shipped_checkpoints.py: same recipe, same seed, same thread count -> the same weights."""
from __future__ import annotations

import dataclasses
import importlib.util
import sys
from pathlib import Path

import torch

from nnviz.training.threads import capped

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "build_shipped_checkpoints.py"


def _script():
    spec = importlib.util.spec_from_file_location("build_shipped_checkpoints", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_a_recipe_trains_to_the_same_weights_twice():
    build = _script()
    recipe = dataclasses.replace(build.RECIPES["mnist_cnn"], dataset="digits",  # small and fast; same augmentation
                                 train=dataclasses.replace(build.RECIPES["mnist_cnn"].train, epochs=1))
    with capped(build.THREADS):
        first = build.train(recipe, log=lambda line: None)
        second = build.train(recipe, log=lambda line: None)
    a, b = first[0].state_dict(), second[0].state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert first[2] == second[2]  # metrics too
    assert first[3]["epochs"][0]["train_loss"] < 2.3  # below chance (ln 10): it learnt something
    assert first[1].data.dataset == "digits" and first[3]["epochs"][0]["epoch"] == 1
