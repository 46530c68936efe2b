"""A writer process for the class set's concurrency test: imports the store only (no torch), so it starts fast."""
from __future__ import annotations

import numpy as np

from nnviz.classset.store import ClassStore


def write_many(path: str, worker: int, n: int) -> None:
    """n drawings filled with the value `worker`, from browser process-<worker>, at spread-out times."""
    store = ClassStore(path)
    pixels = np.full((28, 28), worker, np.uint8)
    for i in range(n):
        store.add(f"process-{worker:04d}", i % 10, pixels, now=1000.0 + 100 * i)
