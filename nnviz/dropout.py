"""Dropout with cheap CPU masks: the same layer as nn.Dropout, its masks drawn in bulk.

torch draws a CPU dropout mask one Bernoulli sample at a time on one thread (~8 ns per
element): in the course MLP (784-256-128-64-10, three dropout layers, batch 64) that was
0.3 ms of a 1.4 ms training step. This layer takes 16 random bits per element from numpy's
SFC64 generator (~0.5 ns) and builds the scaled mask in numpy. Each unit is kept with
probability 1 - p (p resolved to 1/65,536) and survivors are scaled by exactly 1 / (1 - p)
for that p, so outputs keep their expectation. Measured on 2 cores, forward + backward of a
64 x 256 layer: 94 us against nn.Dropout's 184 us. GPUs keep torch's fused kernel.

Masks come from a per-thread generator: `seed(n)` (fit() calls it) makes a run's masks
reproducible even while other runs train in other threads. Unseeded, it is seeded from
torch's global RNG, so `torch.manual_seed` still reproduces a run.
"""
from __future__ import annotations

import math
import threading

import numpy as np
import torch
from torch import nn

RESOLUTION = 2**16  # one uint16 of random bits per mask element
_local = threading.local()


def seed(value: int) -> None:
    """Seed this thread's mask generator."""
    _local.bits = np.random.SFC64(value)


def _bits() -> np.random.SFC64:
    bits = getattr(_local, "bits", None)
    if bits is None:
        bits = _local.bits = np.random.SFC64(int(torch.randint(2**62, ())))
    return bits


def dropped_per_resolution(p: float) -> int:
    """How many of the RESOLUTION bit patterns drop a unit: p rounded to 1/RESOLUTION."""
    return round(p * RESOLUTION)


def keep_mask(shape: torch.Size, p: float) -> np.ndarray:
    """float32 mask of `shape`: 0 for dropped units, 1 / (1 - p') for kept ones (p' = p rounded)."""
    n, dropped = math.prod(shape), dropped_per_resolution(p)
    bits = _bits().random_raw(-(-n // 4)).view(np.uint16)[:n]  # four uint16 per 64-bit draw
    return ((bits >= dropped) * np.float32(RESOLUTION / (RESOLUTION - dropped))).reshape(shape)


class Dropout(nn.Dropout):
    """nn.Dropout (same arguments, repr and state) whose CPU masks come from `keep_mask`."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if (not self.training or self.inplace or x.device.type != "cpu"
                or not 0 < dropped_per_resolution(self.p) < RESOLUTION):
            return super().forward(x)  # eval, GPUs, in-place, and p ~ 0 or ~ 1
        mask = torch.from_numpy(keep_mask(x.shape, self.p))
        return x * (mask if x.dtype == torch.float32 else mask.to(x.dtype))
