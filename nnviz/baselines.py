"""Reference inputs ("baselines") for path and reference attribution methods.

Integrated Gradients, DeepLift, GradientShap and Occlusion compare the image with a
reference that carries "no information". Models see *normalised* inputs, so a black
image is not zeros but `(0 - mean) / std` per channel — the classic Captum pitfall.
Every function takes normalised inputs (B, C, H, W) and returns normalised baselines.
"""
from __future__ import annotations

import math
from typing import Sequence

import torch
import torch.nn.functional as F

BASELINES = {
    "black": "a black image (every pixel 0)",
    "blurred": "a heavily blurred copy of the image (keeps the colours, removes the shapes)",
    "noise": "uniform random pixels",
}
DEFAULT_BLUR_SIGMA = 3.0  # pixels: blurs away digit strokes (2-3 px wide) but keeps the overall blob
NOISE_SAMPLES = 8  # noise baselines drawn per image for GradientShap's baseline distribution


def _stats(x: torch.Tensor, values: Sequence[float]) -> torch.Tensor:
    """Per-channel statistics as a (1, C, 1, 1) tensor on x's device; one value is broadcast."""
    t = torch.as_tensor(list(values) or [0.0], dtype=x.dtype, device=x.device)
    if t.numel() not in (1, x.shape[1]):
        raise ValueError(f"{t.numel()} normalisation values for {x.shape[1]} channels")
    return t.view(1, -1, 1, 1)


def black(x: torch.Tensor, mean: Sequence[float] = (), std: Sequence[float] = ()) -> torch.Tensor:
    """The normalised value of a 0 pixel, `(0 - mean) / std`, in x's shape."""
    std_t = _stats(x, std) if std else torch.ones(1, 1, 1, 1, dtype=x.dtype, device=x.device)
    return ((0.0 - _stats(x, mean)) / std_t).expand_as(x).clone()  # (B, C, H, W)


def blurred(x: torch.Tensor, sigma: float = DEFAULT_BLUR_SIGMA) -> torch.Tensor:
    """A Gaussian blur of each channel (separable, reflect-padded edges).

    Normalisation is an affine map per channel and the kernel sums to 1, so blurring
    normalised inputs equals normalising blurred pixels.
    """
    if sigma <= 0:
        return x.detach().clone()
    b, c, h, w = x.shape
    radius = max(1, min(int(math.ceil(3 * sigma)), h - 1, w - 1))
    grid = torch.arange(-radius, radius + 1, dtype=x.dtype, device=x.device)
    kernel = torch.exp(-0.5 * (grid / sigma) ** 2)
    kernel = kernel / kernel.sum()  # (K,)
    flat = x.detach().reshape(b * c, 1, h, w)
    flat = F.conv2d(F.pad(flat, (radius, radius, 0, 0), mode="reflect"), kernel.view(1, 1, 1, -1))
    flat = F.conv2d(F.pad(flat, (0, 0, radius, radius), mode="reflect"), kernel.view(1, 1, -1, 1))
    return flat.reshape(b, c, h, w)


def noise(x: torch.Tensor, mean: Sequence[float] = (), std: Sequence[float] = (), seed: int = 0,
          samples: int = 1) -> torch.Tensor:
    """`samples` images of uniform [0, 1] pixels per input image, normalised: (B * samples, C, H, W).

    Drawn from a private generator, so the global RNG is untouched and a seed always
    gives the same baseline.
    """
    gen = torch.Generator(device="cpu").manual_seed(int(seed))
    pixels = torch.rand((x.shape[0] * samples, *x.shape[1:]), generator=gen).to(x.device, x.dtype)
    std_t = _stats(x, std) if std else 1.0
    return (pixels - _stats(x, mean)) / std_t


def make(kind: str, x: torch.Tensor, mean: Sequence[float] = (), std: Sequence[float] = (), *,
         sigma: float = DEFAULT_BLUR_SIGMA, seed: int = 0, samples: int = 1) -> torch.Tensor:
    """The baseline `kind` (a BASELINES key) for normalised inputs x (B, C, H, W).

    `samples` > 1 asks for a distribution (GradientShap): noise draws that many images
    per input; black and blurred have one per input, so they are returned as they are.
    """
    if kind == "black":
        return black(x, mean, std)
    if kind == "blurred":
        return blurred(x, sigma)
    if kind == "noise":
        return noise(x, mean, std, seed, samples)
    raise ValueError(f"unknown baseline {kind!r}; choose from {', '.join(BASELINES)}")
