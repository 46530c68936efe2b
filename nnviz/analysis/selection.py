"""Choosing test images to look at: by index, class, at random, right or wrong, by confidence."""
from __future__ import annotations

import numpy as np

MODES = {
    "index": "By index",
    "class": "By class",
    "random": "Random",
    "correct": "Correctly classified",
    "wrong": "Misclassified",
    "confident": "Most confident",
    "unsure": "Least confident",
}


def pick(mode: str, labels: np.ndarray, probs: np.ndarray, n: int = 1, *, index: int = 0,
         cls: int | None = None, seed: int = 0) -> list[int]:
    """Up to `n` test-set indices for a MODES key.

    labels: (N,) true classes; probs: (N, K) predicted probabilities. 'class',
    'correct', 'wrong', 'confident' and 'unsure' also honour `cls` (a true class) when
    given; 'random' is seeded so a rerun shows the same images until the seed changes.
    """
    if mode not in MODES:
        raise ValueError(f"unknown selection mode {mode!r}; choose from {', '.join(MODES)}")
    total = len(labels)
    if total == 0:
        return []
    if mode == "index":
        start = int(np.clip(index, 0, total - 1))
        return list(range(start, min(start + n, total)))
    pred, conf = probs.argmax(1), probs.max(1)
    pool = np.arange(total)
    if cls is not None:
        pool = pool[labels[pool] == cls]
    if mode == "class":
        return pool[:n].tolist()
    if mode == "random":
        rng = np.random.default_rng(seed)
        return sorted(rng.choice(pool, size=min(n, len(pool)), replace=False).tolist())
    if mode == "correct":
        return pool[pred[pool] == labels[pool]][:n].tolist()
    if mode == "wrong":
        wrong = pool[pred[pool] != labels[pool]]
        return wrong[np.argsort(-conf[wrong], kind="stable")][:n].tolist()  # confident mistakes first
    order = np.argsort(-conf[pool] if mode == "confident" else conf[pool], kind="stable")
    return pool[order][:n].tolist()


def top_k(probs: np.ndarray, k: int = 5) -> list[tuple[int, float]]:
    """(class, probability) pairs of the k most likely classes of one probability vector."""
    order = np.argsort(-probs, kind="stable")[:k]
    return [(int(i), float(probs[i])) for i in order]
