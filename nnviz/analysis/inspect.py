"""Looking inside a trained network: forward-hook capture, filters, weights, activation statistics.

`capture` is the one way nnviz reads intermediate outputs. It owns its hook handles,
detaches and copies every output to the CPU, and removes every handle on exit (also
when the forward pass raises), so a model shared between sessions never keeps a hook.
Hooks only record calls made by the thread that opened the capture: two sessions that
capture on the same cached model at once never see each other's batches.
"""
from __future__ import annotations

import math
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import torch
from torch import nn

from nnviz.training.threads import capped

ACTIVATIONS = (nn.ReLU, nn.LeakyReLU, nn.ELU, nn.GELU, nn.Tanh, nn.Sigmoid)
POOLS = (nn.MaxPool2d, nn.AvgPool2d, nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)
SATURATING = {"Sigmoid": (0.01, 0.99), "Tanh": (-0.97, 0.97)}  # outside these the gradient is < ~6%


class capture:  # noqa: N801 - used like a function: `with capture(model, x, names) as cap:`
    """Record the outputs of named sub-modules during forward passes.

    >>> with capture(model, x, ["conv1", "act1"]) as cap:   # runs model(x): eval mode, no_grad
    ...     cap["act1"].shape                                  # (B, C, H, W), CPU, detached
    With `x=None` nothing runs: call the model yourself inside the block.
    `cap.output` is the model's output for `x` (CPU). Unknown names raise KeyError.
    """

    def __init__(self, model: nn.Module, x: torch.Tensor | None = None, layer_names: Iterable[str] = ()) -> None:
        self.model, self.x = model, x
        self.layer_names = list(dict.fromkeys(layer_names))
        modules = dict(model.named_modules())
        missing = [n for n in self.layer_names if n not in modules]
        if missing:
            raise KeyError(f"no layer named {', '.join(missing)}; layers: {', '.join(n for n in modules if n)}")
        self._modules = {n: modules[n] for n in self.layer_names}
        self._handles: list[torch.utils.hooks.RemovableHandle] = []
        self._owner = 0
        self.outputs: dict[str, torch.Tensor] = {}
        self.output: torch.Tensor | None = None

    def _hook(self, name: str):
        def record(_module: nn.Module, _inputs: tuple, out: torch.Tensor) -> None:
            if threading.get_ident() == self._owner and isinstance(out, torch.Tensor):
                self.outputs[name] = out.detach().to("cpu", copy=True)
        return record

    def __enter__(self) -> "capture":
        self._owner = threading.get_ident()
        try:
            for name, module in self._modules.items():
                self._handles.append(module.register_forward_hook(self._hook(name)))
            if self.x is not None:
                self.output = _eval_forward(self.model, self.x)
        except BaseException:
            self.remove()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove()

    def remove(self) -> None:
        """Remove every hook this capture registered (safe to call twice)."""
        while self._handles:
            self._handles.pop().remove()

    def __getitem__(self, name: str) -> torch.Tensor:
        return self.outputs[name]


SMALL_BATCH = 16  # up to this many samples a CPU forward runs on the calling thread alone
_OPENMP = "parallel backend: OpenMP" in torch.__config__.parallel_info()  # thread count is then per thread


@contextmanager
def _one_thread_if_small(n: int, device: torch.device):
    """Run a forward of a few samples single-threaded (in this thread only).

    One 28×28 image is far too little work to split; on a busy 2-core machine, handing each
    op to an OpenMP worker and the worker spinning afterwards made a page action 2-3× slower.
    With OpenMP the setting is per thread, so a training thread keeps its threads.
    """
    with capped(1 if _OPENMP and n <= SMALL_BATCH and device.type == "cpu" else None):
        yield


def _eval_forward(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """model(x) in eval mode under no_grad, output on the CPU. A model in train mode is put in eval
    mode for the call and restored (BN statistics must not move); a cached model already is in eval."""
    was_training = model.training
    if was_training:
        model.eval()
    device = _device(model)
    try:
        with torch.no_grad(), _one_thread_if_small(len(x), device):
            return model(x.to(device)).detach().to("cpu", copy=True)
    finally:
        if was_training:
            model.train()


def _device(model: nn.Module) -> torch.device:
    first = next(model.parameters(), None)
    return first.device if first is not None else torch.device("cpu")


def feature_maps(model: nn.Module, x: torch.Tensor, layer_names: Sequence[str]) -> dict[str, np.ndarray]:
    """{layer: output as float32 numpy} for input batch x; (B, C, H, W) for conv layers, (B, D) for dense."""
    with capture(model, x, layer_names) as cap:
        return {n: cap[n].float().numpy() for n in layer_names if n in cap.outputs}


def count_hooks(model: nn.Module) -> int:
    """Forward (pre-)hooks registered on the model and all its sub-modules (0 after a capture)."""
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules())  # see test_public_apis


@dataclass(frozen=True)
class LayerInfo:
    name: str
    kind: str  # 'conv' | 'bn' | 'act' | 'pool' | 'dense' | 'other'
    module: str  # class name
    output_shape: tuple[int, ...]  # one sample

    @property
    def spatial(self) -> bool:
        """True for image-shaped outputs (C, H, W): shown as feature-map grids."""
        return len(self.output_shape) == 3


def _kind(module: nn.Module) -> str:
    if isinstance(module, nn.Conv2d):
        return "conv"
    if isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
        return "bn"
    if isinstance(module, ACTIVATIONS):
        return "act"
    if isinstance(module, POOLS):
        return "pool"
    if isinstance(module, nn.Linear):
        return "dense"
    return "other"


def layers(model: nn.Module, input_shape: tuple[int, ...]) -> list[LayerInfo]:
    """The model's direct children with their kind and output shape, from one dry forward."""
    names = [n for n, _ in model.named_children()]
    with capture(model, torch.zeros((1, *input_shape)), names) as cap:
        return [LayerInfo(n, _kind(m), type(m).__name__, tuple(cap[n].shape[1:]))
                for n, m in model.named_children() if n in cap.outputs]


def inspectable(infos: Sequence[LayerInfo]) -> list[LayerInfo]:
    """Layers worth looking at for one image: conv / bn / activation / pooling / dense outputs.

    Dropout and Flatten are left out (identity in eval mode, or a reshape of the previous layer).
    """
    return [i for i in infos if i.kind in ("conv", "bn", "act", "pool", "dense")]


def conv_layers(model: nn.Module) -> dict[str, nn.Conv2d]:
    return {n: m for n, m in model.named_modules() if isinstance(m, nn.Conv2d)}


def conv_filters(model: nn.Module, layer: str) -> np.ndarray:
    """The kernels of a conv layer as float32 numpy (out_channels, in_channels, kh, kw)."""
    module = dict(model.named_modules())[layer]
    if not isinstance(module, nn.Conv2d):
        raise ValueError(f"{layer} is a {type(module).__name__}, not a conv layer")
    return module.weight.detach().to("cpu", torch.float32).numpy().copy()


def layer_parameters(model: nn.Module) -> dict[str, dict[str, np.ndarray]]:
    """{layer: {'weight': array, 'bias': array}} for every layer with parameters, in model order."""
    out: dict[str, dict[str, np.ndarray]] = {}
    for name, module in model.named_modules():
        params = {k: p.detach().to("cpu", torch.float32).numpy().copy()
                  for k, p in module.named_parameters(recurse=False)}
        if params:
            out[name] = params
    return out


def first_layer_images(model: nn.Module, input_shape: tuple[int, ...]) -> np.ndarray | None:
    """An MLP's first dense layer as images: (units, C, H, W); None when the model starts with a conv.

    Unit j's weights over the flattened input are exactly the template it correlates the image with.
    """
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            return None
        if isinstance(module, nn.Linear):
            if len(input_shape) != 3 or module.in_features != math.prod(input_shape):
                return None
            w = module.weight.detach().to("cpu", torch.float32).numpy()  # (units, C*H*W)
            return w.reshape(len(w), *input_shape).copy()
    return None


def activation_stats(model: nn.Module, x: torch.Tensor, layer_names: Sequence[str] | None = None,
                     batch_size: int = 256) -> list[dict]:
    """Per-layer statistics of the outputs over a batch of inputs x (N, ...), one dict per layer.

    Keys: layer, module, units (channels of conv maps, neurons of dense layers), mean, std,
    zero_fraction (outputs exactly 0), dead_fraction (ReLU units that output 0 for every
    input: they receive no gradient and stopped learning), saturated_fraction (sigmoid /
    tanh outputs in the flat tails: |tanh| > 0.97, sigmoid < 0.01 or > 0.99). Fractions are
    NaN where they do not apply. Default layers: every activation module.
    """
    modules = dict(model.named_modules())
    if layer_names is None:
        layer_names = [n for n, m in modules.items() if isinstance(m, ACTIVATIONS)]
    acc: dict[str, dict] = {n: {"n": 0, "sum": 0.0, "sq": 0.0, "zero": 0, "sat": 0, "alive": None}
                            for n in layer_names}
    for start in range(0, len(x), batch_size):
        with capture(model, x[start:start + batch_size], layer_names) as cap:
            for name in layer_names:
                _accumulate(acc[name], cap[name], type(modules[name]).__name__)
    rows = []
    for name in layer_names:
        a, kind = acc[name], type(modules[name]).__name__
        n = max(a["n"], 1)
        mean = a["sum"] / n
        relu = kind in ("ReLU",)
        rows.append({"layer": name, "module": kind, "units": 0 if a["alive"] is None else int(a["alive"].numel()),
                     "mean": mean, "std": math.sqrt(max(a["sq"] / n - mean * mean, 0.0)),
                     "zero_fraction": a["zero"] / n if kind in ("ReLU", "LeakyReLU") else math.nan,
                     "dead_fraction": float((~a["alive"]).float().mean()) if relu and a["alive"] is not None
                     else math.nan,
                     "saturated_fraction": a["sat"] / n if kind in SATURATING else math.nan})
    return rows


def _accumulate(a: dict, out: torch.Tensor, kind: str) -> None:
    flat = out.float().reshape(-1)
    a["n"] += flat.numel()
    a["sum"] += float(flat.sum())
    a["sq"] += float(torch.dot(flat, flat))
    if kind in ("ReLU", "LeakyReLU"):
        a["zero"] += flat.numel() - int(torch.count_nonzero(flat))
        dims = [d for d in range(out.dim()) if d != 1] if out.dim() > 1 else [0]
        alive = out.abs().amax(dim=dims) > 0  # (units,): any non-zero output anywhere in the batch
        a["alive"] = alive if a["alive"] is None else a["alive"] | alive
    elif a["alive"] is None:
        a["alive"] = torch.ones(out.shape[1] if out.dim() > 1 else 1, dtype=torch.bool)
    if kind in SATURATING:
        lo, hi = SATURATING[kind]
        a["sat"] += int(((flat < lo) | (flat > hi)).sum())


# --- weights over epochs (a run's weights/epoch_NNNN.pt snapshots) ---

@dataclass(frozen=True)
class WeightHistory:
    """Histograms of one parameter tensor per recorded epoch, on shared bin edges."""

    name: str  # 'conv1.weight'
    epochs: np.ndarray  # (E,)
    edges: np.ndarray  # (B + 1,)
    counts: np.ndarray  # (E, B)
    mean: np.ndarray  # (E,)
    std: np.ndarray  # (E,)


def weight_history(files: Sequence[tuple[int, Path]], bins: int = 60,
                   max_epochs: int = 200) -> dict[str, WeightHistory]:
    """{parameter: WeightHistory} from a run's per-epoch weight files (`RunFolder.epoch_files()`);
    BN running statistics are skipped.

    Files load with `torch.load(weights_only=True)`; an unreadable snapshot is skipped.
    With more than `max_epochs` files an evenly spaced subset is used (first and last kept).
    """
    files = list(files)
    if len(files) > max_epochs:
        keep = np.unique(np.linspace(0, len(files) - 1, max_epochs).round().astype(int))
        files = [files[i] for i in keep]
    values: dict[str, list[np.ndarray]] = {}
    epochs: dict[str, list[int]] = {}
    for epoch, path in files:
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception:  # noqa: BLE001 - a truncated or foreign file: show the others
            continue
        if not isinstance(state, dict):
            continue
        for key, tensor in state.items():
            if not isinstance(tensor, torch.Tensor) or not tensor.is_floating_point() or \
                    key.rsplit(".", 1)[-1] in ("running_mean", "running_var"):
                continue
            values.setdefault(key, []).append(tensor.detach().float().flatten().numpy())
            epochs.setdefault(key, []).append(epoch)
    out = {}
    for key, arrays in values.items():
        lo = min(float(a.min()) for a in arrays)
        hi = max(float(a.max()) for a in arrays)
        if not hi > lo:
            lo, hi = lo - 0.5, hi + 0.5
        n_bins = int(np.clip(2 * np.sqrt(arrays[0].size), 8, bins))  # a 6-value bias gets wide bins, not gaps
        edges = np.linspace(lo, hi, n_bins + 1)
        counts = np.stack([np.histogram(a, edges)[0] for a in arrays])
        out[key] = WeightHistory(key, np.array(epochs[key]), edges, counts,
                                 np.array([a.mean() for a in arrays]), np.array([a.std() for a in arrays]))
    return out
