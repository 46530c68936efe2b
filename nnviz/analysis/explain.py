"""Captum attributions: a method registry for the UI and CLI, and wrappers that never touch the caller's model.

`attribute(model, x, method, target, **params)` runs one ATTRIBUTION_METHODS entry on a
batch of normalised images. It works on a private deep copy in eval mode with frozen
weights, so a shared (cached) model keeps its state, mode and hooks even while Captum's
DeepLift and Guided Backprop hook its ReLUs — and two sessions never see each other's
hooks. Bad parameter combinations raise ExplainError with a sentence for the user.
The sanity check's `randomized_copy` and `rank_correlation` live in nnviz.training.baselines (the
references attributions are compared with) and are re-exported here.
"""
from __future__ import annotations

import contextlib
import copy
import math
import warnings
from dataclasses import dataclass
from typing import Any, Iterator, Sequence

import numpy as np
import torch
from captum.attr import (
    DeepLift,
    GradientShap,
    GuidedBackprop,
    InputXGradient,
    IntegratedGradients,
    LayerAttribution,
    LayerGradCam,
    NoiseTunnel,
    Occlusion,
    Saliency,
)
from torch import nn

from nnviz.training import baselines
from nnviz.training.baselines import parametric_layers, randomized_copy, rank_correlation  # noqa: F401  (sanity check)
from nnviz.training.threads import capped

# Captum announces the hooks it sets (and removes) on every DeepLift / Guided Backprop call.
warnings.filterwarnings("ignore", message=r"Setting (forward, )?backward hooks", module=r"captum\..*")

MAX_BATCH = 1024  # examples per forward pass inside Captum: bounds memory for IG steps / occlusion patches


class ExplainError(ValueError):
    """An attribution cannot be computed with these settings; the message says why and what to change."""


@dataclass(frozen=True)
class Param:
    """One tunable parameter of a method, enough to build its widget."""

    name: str
    label: str
    kind: str  # 'int' | 'float' | 'choice' | 'bool' | 'layer' (a conv layer of the model)
    default: Any
    low: float | None = None
    high: float | None = None
    step: float | None = None
    choices: tuple[str, ...] = ()
    help: str = ""
    only_if: tuple[str, Any] | None = None  # shown only when another parameter has this value


@dataclass(frozen=True)
class MethodSpec:
    title: str
    explanation: str  # one plain-language line, shown beside the selector
    params: tuple[Param, ...] = ()
    gradient_based: bool = True  # SmoothGrad (NoiseTunnel) applies
    needs_conv_layer: bool = False


def _baseline(default: str = "black", choices: tuple[str, ...] = tuple(baselines.BASELINES),
              label: str = "Baseline") -> tuple[Param, Param]:
    return (Param("baseline", label, "choice", default, choices=choices,
                  help="The 'no information' image the input is compared with: "
                       + "; ".join(f"{c}: {baselines.BASELINES[c]}" for c in choices) + "."),
            Param("blur_sigma", "Blur σ (px)", "float", baselines.DEFAULT_BLUR_SIGMA, 0.5, 10.0, 0.5,
                  help="Width of the Gaussian blur of the blurred baseline.", only_if=("baseline", "blurred")))


ATTRIBUTION_METHODS: dict[str, MethodSpec] = {
    "saliency": MethodSpec("Saliency",
        "How much would the class score change if this pixel changed a tiny bit? (the raw gradient)",
        (Param("abs", "Absolute value", "bool", True,
               help="The classic saliency map is |gradient|; untick to see which pixels push the score up or down."),)),
    "integrated_gradients": MethodSpec("Integrated Gradients",
        "Fades the image in from a baseline and adds up the gradients on the way; the map sums to the score change.",
        (Param("steps", "Steps", "int", 50, 5, 300, 5, help="Points on the path from the baseline to the image."),
         *_baseline())),
    "input_x_gradient": MethodSpec("Input × Gradient",
        "Gradient times pixel value: a pixel counts if the score is sensitive to it and it is actually lit."),
    "deeplift": MethodSpec("DeepLift",
        "Compares every neuron with its value on the baseline image and shares the difference out to the pixels.",
        _baseline()),
    "gradient_shap": MethodSpec("GradientShap",
        "Integrated Gradients averaged over random baselines and random points on the path: Shapley-value estimates.",
        (Param("samples", "Samples", "int", 20, 5, 200, 5, help="Random (baseline, path point) pairs per image."),
         Param("stdevs", "Input noise σ", "float", 0.1, 0.0, 1.0, 0.05,
               help="Gaussian noise added to each sample, in normalised input units."),
         *_baseline("noise", ("noise", "black")))),
    "guided_backprop": MethodSpec("Guided Backprop",
        "The gradient, but only positive signals flow back through each ReLU: sharp edges, barely tied to the weights."),
    "occlusion": MethodSpec("Occlusion",
        "Covers the image with a patch at every position and measures how much the class score drops.",
        (Param("window", "Window (px)", "int", 6, 1, 32, 1,
               help="Side of the square patch that hides part of the image."),
         Param("stride", "Stride (px)", "int", 2, 1, 32, 1,
               help="How far the patch moves between trials; at most the window."),
         *_baseline(label="Patch fill")),
        gradient_based=False),
    "grad_cam": MethodSpec("Grad-CAM",
        "Weights a conv layer's feature maps by their average gradient: a coarse 'where did it look' map, upsampled.",
        (Param("layer", "Conv layer", "layer", None, help="Deeper layers: coarser but more class-specific maps."),
         Param("relu", "Positive evidence only (ReLU)", "bool", True,
               help="Standard Grad-CAM keeps only positive evidence."),
         Param("upsample", "Upsampling", "choice", "bilinear", choices=("bilinear", "nearest"),
               help="How the small layer map is resized to the image: smooth, or in visible blocks.")),
        needs_conv_layer=True),
}

SMOOTHGRAD_TITLE = "SmoothGrad (NoiseTunnel)"
SMOOTHGRAD_EXPLANATION = "Averages the map over noisy copies of the image: washes out the speckle of single gradients."
SMOOTHGRAD_PARAMS: tuple[Param, ...] = (
    Param("smoothgrad", SMOOTHGRAD_TITLE, "bool", False, help=SMOOTHGRAD_EXPLANATION),
    Param("sg_samples", "Noisy copies", "int", 16, 2, 64, 2, only_if=("smoothgrad", True)),
    Param("sg_noise", "Noise level (share of the pixel range)", "float", 0.15, 0.01, 0.5, 0.01,
          help="SmoothGrad's paper finds 10-20% works best.", only_if=("smoothgrad", True)),
    Param("sg_type", "Combine by", "choice", "smoothgrad", choices=("smoothgrad", "smoothgrad_sq", "vargrad"),
          help="Mean of the maps, mean of their squares, or their variance.", only_if=("smoothgrad", True)),
)
TARGET_MODES = {"predicted": "Predicted class", "true": "True class", "chosen": "A class I choose"}
DEFAULT_GRID = ("saliency", "integrated_gradients", "grad_cam", "occlusion")  # one of each family
QUICK_METHOD = "integrated_gradients"  # ~15-50 ms on a 28x28 image on CPU: live enough for a drawn digit


def conv_layers(model: nn.Module) -> list[str]:
    """Layers with a spatial (C, H, W) output that Grad-CAM can use, input side first.

    For the nnviz Sequential models: the children before global pooling / flattening,
    dropout and batch-norm left out. Other models: every Conv2d.
    """
    if isinstance(model, nn.Sequential):
        names = []
        for name, module in model.named_children():
            if isinstance(module, (nn.Flatten, nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d, nn.Linear)):
                break
            if not isinstance(module, (nn.Dropout, nn.Dropout2d, nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)):
                names.append(name)
        return names if any(isinstance(model.get_submodule(n), nn.Conv2d) for n in names) else []
    return [name for name, m in model.named_modules() if isinstance(m, nn.Conv2d)]


def default_layer(model: nn.Module) -> str | None:
    """The last activation of the conv part (Grad-CAM's usual choice), else the last conv-part layer."""
    names = conv_layers(model)
    acts = [n for n in names if not isinstance(model.get_submodule(n), (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d))]
    return (acts or names or [None])[-1]


def methods_for(model: nn.Module) -> list[str]:
    """The registry keys that work on this model (Grad-CAM needs a conv layer)."""
    has_conv = bool(conv_layers(model))
    return [k for k, s in ATTRIBUTION_METHODS.items() if has_conv or not s.needs_conv_layer]


def all_params(method: str) -> tuple[Param, ...]:
    """The method's own parameters, then SmoothGrad's when the method is gradient-based."""
    spec = _spec(method)
    return spec.params + (SMOOTHGRAD_PARAMS if spec.gradient_based else ())


def default_params(method: str, model: nn.Module | None = None) -> dict[str, Any]:
    """Every parameter of `method` at its default (the conv layer is chosen from `model`)."""
    return {p.name: (default_layer(model) if p.kind == "layer" and model is not None else p.default)
            for p in all_params(method)}


def resolve_params(method: str, params: dict[str, Any], model: nn.Module,
                   input_shape: Sequence[int] | None = None) -> dict[str, Any]:
    """Defaults filled in, types coerced, ranges and combinations checked; ExplainError otherwise."""
    spec = _spec(method)
    if not spec.gradient_based:
        if params.get("smoothgrad"):
            raise ExplainError(f"SmoothGrad averages gradients; {spec.title} does not use any.")
        params = {k: v for k, v in params.items() if k not in {q.name for q in SMOOTHGRAD_PARAMS}}
    known = {p.name: p for p in all_params(method)}
    unknown = sorted(set(params) - set(known))
    if unknown:
        raise ExplainError(f"{spec.title} has no parameter {', '.join(map(repr, unknown))}; "
                           f"it takes {', '.join(known) or 'none'}.")
    out = default_params(method, model)
    for name, value in params.items():
        out[name] = _coerce(known[name], value, model, spec.title)
    if spec.needs_conv_layer and not conv_layers(model):
        raise ExplainError(f"{spec.title} needs a convolutional layer, and this model has none (it is an MLP). "
                           "Pick another method, or a CNN.")
    if method == "occlusion" and input_shape is not None:
        h, w = input_shape[-2:]
        if out["window"] > min(h, w):
            raise ExplainError(f"The occlusion window ({out['window']} px) is larger than the image ({h}×{w}). "
                               f"Choose a window of at most {min(h, w)} px.")
        if out["stride"] > out["window"]:
            raise ExplainError(f"The occlusion stride ({out['stride']} px) is larger than the window "
                               f"({out['window']} px): some pixels would never be covered. "
                               "Use a stride ≤ the window.")
    return out


def _coerce(p: Param, value: Any, model: nn.Module, title: str) -> Any:
    if p.kind == "bool":
        return bool(value)
    if p.kind in ("choice", "layer"):
        choices = conv_layers(model) if p.kind == "layer" else p.choices
        if value not in choices:
            raise ExplainError(f"{title}: {p.label} must be one of {', '.join(map(str, choices))}, not {value!r}.")
        return value
    try:
        number = int(value) if p.kind == "int" else float(value)
    except (TypeError, ValueError):
        raise ExplainError(f"{title}: {p.label} must be a number, not {value!r}.") from None
    if (p.low is not None and number < p.low) or (p.high is not None and number > p.high) or not math.isfinite(number):
        raise ExplainError(f"{title}: {p.label} must be between {p.low:g} and {p.high:g}, not {number:g}.")
    return number


def _spec(method: str) -> MethodSpec:
    try:
        return ATTRIBUTION_METHODS[method]
    except KeyError:
        raise ExplainError(f"Unknown attribution method {method!r}; "
                           f"choose from {', '.join(ATTRIBUTION_METHODS)}.") from None


def private_copy(model: nn.Module) -> nn.Module:
    """A deep copy in eval mode with frozen weights: gradients flow to the input only."""
    net = copy.deepcopy(model).eval().requires_grad_(False)
    net.zero_grad(set_to_none=True)
    return net


@contextlib.contextmanager
def _session(seed: int, device: torch.device, threads: int | None) -> Iterator[None]:
    """Gradients on (even under no_grad / inference mode), Captum's random draws seeded, `threads` intra-op threads.

    The global torch / numpy generators and the thread count are restored afterwards.
    Captum runs many tiny passes; on a busy 2-core CPU two OpenMP threads stall each
    other (IG-50 on a 28x28 image: 15-60 ms on 1 thread, 0.05-1.2 s on 2), hence 1 by default.
    OpenMP's thread count belongs to the calling thread, so other threads (training runs) keep theirs.
    """
    state = np.random.get_state()
    devices = [device.index or 0] if device.type == "cuda" else []
    with torch.inference_mode(False), torch.enable_grad(), torch.random.fork_rng(devices=devices), capped(threads):
        torch.manual_seed(seed)
        np.random.seed(seed % 2**32)
        try:
            yield
        finally:
            np.random.set_state(state)


def _targets(target: int | Sequence[int] | torch.Tensor, n: int, n_classes: int) -> int | list[int]:
    values = [int(t) for t in (target.tolist() if isinstance(target, torch.Tensor) else
                               target if isinstance(target, (list, tuple)) else [target])]
    if len(values) not in (1, n):
        raise ExplainError(f"{len(values)} targets for {n} images; give one target, or one per image.")
    if any(not 0 <= t < n_classes for t in values):
        raise ExplainError(f"Target class {values} is out of range: this model has {n_classes} outputs.")
    return values[0] if len(values) == 1 else values


def _build(method: str, net: nn.Module, x: torch.Tensor, p: dict, mean: Sequence[float], std: Sequence[float],
           seed: int):
    """(Captum algorithm, its attribute() kwargs, post-processing or None) for one method."""
    n = x.shape[0]

    def base(samples: int = 1) -> torch.Tensor:
        return baselines.make(p["baseline"], x.detach(), mean, std, sigma=p.get("blur_sigma", 3.0), seed=seed,
                              samples=samples)

    if method == "saliency":
        return Saliency(net), {"abs": p["abs"]}, None
    if method == "integrated_gradients":
        return IntegratedGradients(net), {"baselines": base(), "n_steps": p["steps"],
                                          "internal_batch_size": max(MAX_BATCH, n * _sg_batch(p, n))}, None
    if method == "input_x_gradient":
        return InputXGradient(net), {}, None
    if method == "deeplift":
        return DeepLift(net), {"baselines": base()}, None
    if method == "gradient_shap":
        dist = base(baselines.NOISE_SAMPLES)  # a distribution of baselines, shared by the batch
        return GradientShap(net), {"baselines": dist, "n_samples": p["samples"], "stdevs": p["stdevs"]}, None
    if method == "guided_backprop":
        return GuidedBackprop(net), {}, None
    if method == "occlusion":
        c = x.shape[1]
        return Occlusion(net), {"sliding_window_shapes": (c, p["window"], p["window"]),  # all channels at once
                                "strides": (c, p["stride"], p["stride"]), "baselines": base(),
                                "perturbations_per_eval": max(1, MAX_BATCH // n)}, None
    if method == "grad_cam":
        size = tuple(x.shape[-2:])
        post = lambda a: LayerAttribution.interpolate(a, size, p["upsample"])  # noqa: E731  (B, 1, H, W)
        return LayerGradCam(net, net.get_submodule(p["layer"])), {"relu_attributions": p["relu"]}, post
    raise ExplainError(f"Unknown attribution method {method!r}.")


def _sg_batch(p: dict, n: int) -> int:
    """Noisy copies per image in one NoiseTunnel pass (1 without SmoothGrad): images x copies <= MAX_BATCH / 8."""
    return max(1, min(p["sg_samples"], MAX_BATCH // (8 * n))) if p.get("smoothgrad") else 1


def attribute(model: nn.Module, x: torch.Tensor, method: str, target: int | Sequence[int] | torch.Tensor, *,
              mean: Sequence[float] = (), std: Sequence[float] = (), seed: int = 0, threads: int | None = 1,
              **params: Any) -> torch.Tensor:
    """Attributions of `method` for normalised images x (B, C, H, W) towards `target` (one class, or one per image).

    `params` are the method's ATTRIBUTION_METHODS parameters plus, for gradient methods,
    `smoothgrad=True` and `sg_*`; missing ones take their defaults. `mean` / `std` are
    the input normalisation (for the black baseline and the noise scale); `seed` fixes
    every random draw; `threads` caps torch's intra-op threads during the call (None:
    leave them). Returns a CPU float tensor (B, C, H, W), or (B, 1, H, W) for Grad-CAM.
    The model is not modified.
    """
    if x.ndim != 4:
        raise ExplainError(f"Attributions need a batch of images (B, C, H, W); got shape {tuple(x.shape)}.")
    p = resolve_params(method, params, model, tuple(x.shape[1:]))
    device = next(iter(model.parameters()), torch.empty(0)).device
    with _session(seed, device, threads):
        net = private_copy(model)  # inside: under inference mode a copy made outside could not be differentiated
        xi = x.detach().to(device).clone().requires_grad_(True)  # (B, C, H, W): the only tensor needing grad
        with torch.no_grad():
            n_classes = net(xi[:1]).shape[-1]
        tgt = _targets(target, len(xi), n_classes)
        algo, kwargs, post = _build(method, net, xi, p, mean, std, seed)
        if p.get("smoothgrad"):
            scale = float(np.mean([1.0 / s for s in std])) if std else 1.0  # the [0, 1] pixel range, normalised
            algo = NoiseTunnel(algo)
            kwargs.update(nt_type=p["sg_type"], nt_samples=p["sg_samples"], stdevs=p["sg_noise"] * scale,
                          nt_samples_batch_size=_sg_batch(p, len(xi)),
                          draw_baseline_from_distrib=method == "gradient_shap")
        out = algo.attribute(xi, target=tgt, **kwargs)
        if post is not None:
            out = post(out)
    return out.detach().float().cpu()


def to_maps(attr: torch.Tensor | np.ndarray) -> np.ndarray:
    """(B, C, H, W) attributions -> (B, H, W) maps, summed over channels (the sign is kept)."""
    a = attr.numpy() if isinstance(attr, torch.Tensor) else np.asarray(attr)
    return a.sum(axis=1).astype(np.float32)


def quick_map(model: nn.Module, x: torch.Tensor, target: int | None = None, *, mean: Sequence[float] = (),
              std: Sequence[float] = (), method: str = QUICK_METHOD, **params: Any) -> np.ndarray:
    """One (H, W) map for one image (1, C, H, W) with a fast default method; target None = the predicted class."""
    if target is None:
        with torch.no_grad():
            target = int(private_copy(model)(x.detach().clone()).argmax(1)[0])
    return to_maps(attribute(model, x, method, target, mean=mean, std=std, **params))[0]


def resolve_targets(mode: str, probs: np.ndarray, labels: np.ndarray, chosen: int | None = None) -> list[int]:
    """One target class per image: 'predicted' (argmax of probs (n, K)), 'true' (labels), or 'chosen'."""
    if mode == "predicted":
        return [int(i) for i in np.asarray(probs).argmax(1)]
    if mode == "true":
        return [int(i) for i in labels]
    if mode == "chosen":
        if chosen is None:
            raise ExplainError("Choose a target class.")
        return [int(chosen)] * len(labels)
    raise ExplainError(f"Unknown target mode {mode!r}; choose from {', '.join(TARGET_MODES)}.")
