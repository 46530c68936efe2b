"""References that attributions are compared with: baseline images, and randomised models for the sanity check.

Integrated Gradients, DeepLift, GradientShap and Occlusion compare the image with a
reference that carries "no information". Models see *normalised* inputs, so a black
image is not zeros but `(0 - mean) / std` per channel — the classic Captum pitfall.
Every baseline function takes normalised inputs (B, C, H, W) and returns normalised baselines.
`randomized_copy` re-initialises a deep copy of a model (never the original), for the
model-randomisation sanity check; `rank_correlation` says how similar two maps are.
"""
from __future__ import annotations

import copy
import math
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

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


# --- reference models for the sanity check (Adebayo et al. 2018): a map that survives random weights explains nothing

def parametric_layers(model: nn.Module) -> list[str]:
    """Top-level layers that hold weights, input side first (the choices for cascading randomisation)."""
    return [name for name, m in model.named_children() if any(True for _ in m.parameters())]


def randomized_copy(model: nn.Module, seed: int = 0, from_layer: str | None = None) -> nn.Module:
    """A deep copy whose weights from `from_layer` up to the output (all when None) are re-initialised.

    Conv / linear layers get PyTorch's default init from a private generator (same seed,
    same weights); batch-norm layers are reset to identity statistics. The original
    model is never touched. The copy is in eval mode.
    """
    names = parametric_layers(model)
    if from_layer is not None and from_layer not in names:
        raise ValueError(f"No layer with weights named {from_layer!r}; choose from {', '.join(names)}.")
    net = copy.deepcopy(model).eval()
    gen = torch.Generator(device="cpu").manual_seed(104_729 + int(seed))  # offset: never replays a seed-0 init
    start = names.index(from_layer) if from_layer is not None else 0
    with torch.no_grad():
        for name in names[start:]:
            for module in net.get_submodule(name).modules():
                _reinit(module, gen)
    return net


def _reinit(module: nn.Module, gen: torch.Generator) -> None:
    if isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)):
        module.reset_parameters()  # running mean 0, var 1, weight 1, bias 0
        return
    for pname, param in module.named_parameters(recurse=False):
        fresh = torch.empty(param.shape)
        if pname == "weight" and param.ndim >= 2:
            nn.init.kaiming_uniform_(fresh, a=math.sqrt(5), generator=gen)  # nn.Linear / nn.Conv default
        else:
            fan_in = module.weight[0].numel() if isinstance(getattr(module, "weight", None), torch.Tensor) else 1
            bound = 1 / math.sqrt(fan_in) if fan_in else 0.0
            nn.init.uniform_(fresh, -bound, bound, generator=gen)
        param.copy_(fresh.to(param.device, param.dtype))


def rank_correlation(a: np.ndarray, b: np.ndarray, absolute: bool = True) -> float:
    """Spearman rank correlation of two maps (of |a| and |b| by default, as Adebayo et al.); NaN when one is flat."""
    from scipy.stats import spearmanr

    a, b = np.ravel(a).astype(np.float64), np.ravel(b).astype(np.float64)
    if absolute:
        a, b = np.abs(a), np.abs(b)
    if a.std() == 0 or b.std() == 0:
        return float("nan")
    return float(spearmanr(a, b).statistic)
