"""Dropout layers whose masks come from the run's own seeded generator: `SeededDropout`, `SeededDropout2d`.

torch's nn.Dropout and nn.Dropout2d draw their masks from torch's global RNG, which every thread
of the process shares: two runs training at once, or a page drawing random numbers, would change
each other's masks, and the same seed would no longer give the same numbers. These layers behave
as torch's (same arguments, statistics, gradients, eval and state dict) but draw from a generator
of their own, which `seed_dropout()` seeds for a run (fit() does). They print under their own
names, and exported code uses torch's layers, which train the same way.

On a CPU the masks are built from 16 random bits per unit drawn in bulk from numpy (torch draws
a CPU dropout mask one sample at a time; docs/performance.md has the figures): a unit is kept with
probability 1 - p (p resolved to 1/65,536) and survivors are scaled by exactly 1 / (1 - p) for that
p, so outputs keep their expectation. On a GPU the mask comes from `torch.rand` on the layer's own
CUDA generator.
"""
from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

RESOLUTION = 2**16  # one uint16 of random bits per mask element


def dropped_per_resolution(p: float) -> int:
    """How many of the RESOLUTION bit patterns drop a unit: p rounded to 1/RESOLUTION."""
    return round(p * RESOLUTION)


class _Masks:
    """One layer's random stream: numpy bits for CPU masks, a torch generator per GPU."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.bits = np.random.SFC64(seed)
        self.devices: dict[torch.device, torch.Generator] = {}

    def keep(self, shape: tuple[int, ...], p: float, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
        """A mask of `shape`: 0 for dropped units, 1 / (1 - p') for kept ones (p' = p rounded)."""
        dropped = dropped_per_resolution(p)
        scale = RESOLUTION / (RESOLUTION - dropped)
        if device.type == "cpu":
            n = math.prod(shape)
            bits = self.bits.random_raw(-(-n // 4)).view(np.uint16)[:n]  # four uint16 per 64-bit draw
            mask = torch.from_numpy(((bits >= dropped) * np.float32(scale)).reshape(shape))
            return mask if dtype == torch.float32 else mask.to(dtype)
        if device not in self.devices:
            self.devices[device] = torch.Generator(device=device).manual_seed(self.seed)
        uniform = torch.rand(shape, device=device, generator=self.devices[device])
        return (uniform >= dropped / RESOLUTION).to(dtype) * scale


class _Seeded:
    """What both layers share: the stream, and the forward that applies its masks."""

    p: float
    training: bool
    inplace: bool
    masks: _Masks | None = None

    def seed(self, value: int) -> None:
        self.masks = _Masks(value)

    def _mask_shape(self, x: torch.Tensor) -> tuple[int, ...]:
        raise NotImplementedError

    def _apply_mask(self, x: torch.Tensor) -> torch.Tensor | None:
        """x times a fresh mask, or None in eval mode (torch's layer passes x through)."""
        if not self.training:
            return None
        dropped = dropped_per_resolution(self.p)
        if dropped == 0:
            return x
        if dropped == RESOLUTION:
            return x.mul_(0) if self.inplace else x * 0
        if self.masks is None:  # never seeded: follow torch.manual_seed, as torch's own layer does
            self.seed(int(torch.randint(2**62, ())))
        mask = self.masks.keep(self._mask_shape(x), self.p, x.device, x.dtype)
        return x.mul_(mask) if self.inplace else x * mask


class SeededDropout(_Seeded, nn.Dropout):
    """nn.Dropout with masks from its own generator (see the module docstring)."""

    def _mask_shape(self, x: torch.Tensor) -> tuple[int, ...]:
        return tuple(x.shape)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self._apply_mask(x)
        return super().forward(x) if out is None else out


class SeededDropout2d(_Seeded, nn.Dropout2d):
    """nn.Dropout2d (whole channels of (N, C, H, W) inputs) with masks from its own generator."""

    def _mask_shape(self, x: torch.Tensor) -> tuple[int, ...]:
        return tuple(x.shape[:2]) + (1,) * (x.dim() - 2)  # (N, C, 1, 1): one draw per channel

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self._apply_mask(x) if x.dim() == 4 else None
        return super().forward(x) if out is None else out


def seed_dropout(model: nn.Module, seed: int) -> None:
    """Give every seeded dropout layer of `model` its own stream, all derived from `seed`."""
    layers = [m for m in model.modules() if isinstance(m, _Seeded)]
    streams = np.random.SeedSequence(seed).spawn(len(layers))
    for layer, stream in zip(layers, streams):
        layer.seed(int(stream.generate_state(1, np.uint64)[0] >> np.uint64(1)))
