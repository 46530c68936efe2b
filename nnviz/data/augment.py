"""Seeded, batched augmentations on tensors: how people draw digits.

Used to train the shipped models (scripts/build_shipped_checkpoints.py). A drawn digit differs
from an MNIST one in slant, rotation, size, position and above all stroke width (a pen of fixed
width on a small digit is thick once scaled to 20 px), so `handwriting` varies all of these.
Every random number comes from the caller's `torch.Generator`: same seed, same images.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def _uniform(n: int, low: float, high: float, generator: torch.Generator) -> torch.Tensor:
    return low + (high - low) * torch.rand(n, generator=generator)


def stroke_width(x: torch.Tensor, generator: torch.Generator, p_thin: float = 0.2,
                 p_thick: float = 0.25, p_thicker: float = 0.15) -> torch.Tensor:
    """Thinner or thicker strokes, per image: grey erosion or dilation at twice the resolution.

    x: (B, 1, H, W) in [0, 1]. At 2x a 3x3 erosion thins each stroke by ~1 px of the original,
    a 3x3 / 5x5 dilation thickens it by ~1 / ~2 px; the rest are returned as they are. Changed
    images are stretched back to full ink, as the Draw page's contrast stretch would.
    """
    b = x.shape[0]
    big = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)  # (B, 1, 2H, 2W)
    variants = torch.stack([
        -F.max_pool2d(-big, 3, 1, 1),  # erosion: thinner
        F.max_pool2d(big, 3, 1, 1),  # dilation: thicker
        F.max_pool2d(big, 5, 1, 2),  # thicker still
    ])  # (3, B, 1, 2H, 2W)
    u = torch.rand(b, generator=generator)
    kind = torch.full((b,), -1, dtype=torch.long)  # -1: unchanged
    kind[u < p_thin + p_thick + p_thicker] = 2
    kind[u < p_thin + p_thick] = 1
    kind[u < p_thin] = 0
    changed = F.avg_pool2d(variants[kind.clamp_min(0), torch.arange(b)], 2)  # (B, 1, H, W)
    changed = changed / changed.amax(dim=(1, 2, 3), keepdim=True).clamp_min(1e-6)
    return torch.where((kind >= 0)[:, None, None, None], changed, x)


def affine(x: torch.Tensor, generator: torch.Generator, rotate: float = 15.0, shear: float = 0.3,
           scale: tuple[float, float] = (0.8, 1.15), shift: float = 0.1) -> torch.Tensor:
    """Random rotation (degrees), slant (horizontal shear), scale and shift (share of the side), per image.

    x: (B, C, H, W); zero (black) fill outside, bilinear resampling.
    """
    b = x.shape[0]
    angle = _uniform(b, -rotate, rotate, generator) * math.pi / 180
    slant = _uniform(b, -shear, shear, generator)
    zoom = _uniform(b, *scale, generator)
    tx, ty = (_uniform(b, -2 * shift, 2 * shift, generator) for _ in range(2))  # grid units span [-1, 1]
    cos, sin = torch.cos(angle), torch.sin(angle)
    # theta maps output coordinates to input ones: the inverse of (rotate . shear . zoom)
    a, bb = cos / zoom, (-sin + slant * cos) / zoom
    c, d = sin / zoom, (cos + slant * sin) / zoom
    theta = torch.stack([torch.stack([a, bb, tx], 1), torch.stack([c, d, ty], 1)], 1)  # (B, 2, 3)
    grid = F.affine_grid(theta.to(x.dtype), list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def handwriting(x: torch.Tensor, generator: torch.Generator, p_clean: float = 0.25) -> torch.Tensor:
    """Pixels (B, 1, H, W) in [0, 1] -> drawn-looking variants: stroke width, then slant, rotation, scale, shift.

    A share `p_clean` of the images is left as it is, so the model (and its batch-norm statistics)
    still sees what the test images look like.
    """
    varied = affine(stroke_width(x, generator), generator).clamp(0, 1)
    keep = torch.rand(x.shape[0], generator=generator) < p_clean
    return torch.where(keep[:, None, None, None], x, varied)
