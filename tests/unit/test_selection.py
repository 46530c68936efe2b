"""nnviz.analysis.selection: which test images each picker mode returns."""
from __future__ import annotations

import numpy as np
import pytest

from nnviz.analysis.selection import MODES, pick, top_k

LABELS = np.array([0, 1, 2, 0, 1, 2])
PROBS = np.array([  # predicted: 0 (right, .9), 2 (wrong, .6), 2 (right, .5), 0 (right, .7), 1 (right, .99), 0 (wrong, .8)
    [0.9, 0.05, 0.05], [0.1, 0.3, 0.6], [0.25, 0.25, 0.5], [0.7, 0.2, 0.1], [0.005, 0.99, 0.005], [0.8, 0.1, 0.1]])


def test_index_returns_consecutive_images_clipped_to_the_set():
    assert pick("index", LABELS, PROBS, 3, index=2) == [2, 3, 4]
    assert pick("index", LABELS, PROBS, 3, index=99) == [5]


def test_class_correct_wrong_and_confidence_modes():
    assert pick("class", LABELS, PROBS, 5, cls=2) == [2, 5]
    assert pick("correct", LABELS, PROBS, 9) == [0, 2, 3, 4]
    assert pick("wrong", LABELS, PROBS, 9) == [5, 1]  # most confident mistake first
    assert pick("wrong", LABELS, PROBS, 9, cls=1) == [1]
    assert pick("confident", LABELS, PROBS, 2) == [4, 0]
    assert pick("unsure", LABELS, PROBS, 2) == [2, 1]


def test_random_is_seeded_and_distinct():
    a = pick("random", LABELS, PROBS, 3, seed=1)
    assert a == pick("random", LABELS, PROBS, 3, seed=1)
    assert len(set(a)) == 3 and a == sorted(a)
    assert {tuple(pick("random", LABELS, PROBS, 3, seed=s)) for s in range(10)} != {tuple(a)}


def test_unknown_mode_and_empty_set():
    with pytest.raises(ValueError, match="unknown selection mode"):
        pick("best", LABELS, PROBS)
    assert pick("random", LABELS[:0], PROBS[:0]) == []
    assert set(MODES) >= {"index", "class", "random", "correct", "wrong", "confident", "unsure"}


def test_top_k_orders_by_probability():
    assert top_k(PROBS[1], 2) == [(2, 0.6), (1, 0.3)]
