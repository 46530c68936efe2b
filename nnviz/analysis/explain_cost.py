"""What an attribution costs before it runs: the examples it sends through the network (forward and
backward), and from a measured pass rate of the model, the seconds that takes here.

The counts follow Captum's algorithms: Integrated Gradients evaluates `steps` points per image,
GradientShap `samples`, Occlusion one forward pass per patch position, SmoothGrad repeats the
whole method once per noisy copy; the other methods need one or two passes per image.
"""
from __future__ import annotations

import os
import time
from typing import Any, Sequence

import torch
from torch import nn

from nnviz.analysis.explain import private_copy
from nnviz.training.threads import capped

BUDGET_S = float(os.environ.get("NNVIZ_EXPLAIN_BUDGET_S", "10"))  # above this estimate the page asks first
_TWO_PASSES = ("deeplift",)  # the input and its baseline


def examples(method: str, params: dict[str, Any], n_images: int, input_shape: Sequence[int]) -> int:
    """How many examples `method` with resolved `params` passes through the network for `n_images` images."""
    if method == "integrated_gradients":
        per_image = int(params["steps"])
    elif method == "gradient_shap":
        per_image = int(params["samples"])
    elif method == "occlusion":
        h, w = input_shape[-2:]
        window, stride = int(params["window"]), int(params["stride"])
        # Captum's shift count is ceil((size - window) / stride) + 1 (a last, partial shift reaches the edge)
        per_image = (-(-(h - window) // stride) + 1) * (-(-(w - window) // stride) + 1) + 1  # patches, the image
    else:
        per_image = 2 if method in _TWO_PASSES else 1
    if params.get("smoothgrad"):
        per_image *= int(params["sg_samples"])
    return per_image * n_images


def examples_per_s(model: nn.Module, input_shape: Sequence[int], batch: int = 128, threads: int | None = 1) -> float:
    """Examples per second through `model` forward and backward (to the input), as attributions do, measured
    here on a batch of zeros: the best of two timed passes after a warm-up one. Captum's batches are larger
    (hundreds of examples), and per example a small batch runs faster: the estimate errs on the low side."""
    device = next(iter(model.parameters()), torch.empty(0)).device
    x = torch.zeros((batch, *input_shape), device=device)
    best = float("inf")
    with capped(threads), torch.inference_mode(False), torch.enable_grad():
        model = private_copy(model)  # inside: a copy made under inference mode could not be differentiated
        for i in range(3):
            xi = x.clone().requires_grad_(True)
            started = time.perf_counter()
            model(xi).sum().backward()
            if i:
                best = min(best, time.perf_counter() - started)
    return batch / max(best, 1e-9)


def seconds(n_examples: int, rate: float) -> float:
    """The estimate in seconds for `n_examples` at `rate` examples per second."""
    return n_examples / max(rate, 1e-9)
