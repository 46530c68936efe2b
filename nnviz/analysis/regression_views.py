"""What the regression lab shows, computed without Streamlit: arrays in, arrays out.

The untrained fit, empty x-ranges, residuals, the fit of every K-fold model, per-layer
weights, the activation of every hidden neuron across x (and what each neuron of the
last hidden layer adds to the fit), the replayed fit of a recorded epoch, final metrics,
uploaded CSVs kept as files, and a run folder packed as a zip.
"""
from __future__ import annotations

import csv
import hashlib
import io
import math
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import torch
from torch import nn

from nnviz.config import ModelConfig
from nnviz.data import TaskData
from nnviz.data.regression import read_xy_csv
from nnviz.jobs.run_folder import RunFolder
from nnviz.jobs.runs import fit_grid, runs_dir
from nnviz.jobs.storage import atomic_write, read_jsonl
from nnviz.model import checkpoints
from nnviz.training.train import init_model, predict

Gaps = tuple[tuple[float, float], ...]


# --- before training ---------------------------------------------------------------

def initial_fit(model_cfg: ModelConfig, data: TaskData, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(grid x, prediction) of the untrained model a run with this seed starts from."""
    model = init_model(model_cfg, data, seed)
    grid = fit_grid(data)
    y = predict(model, torch.from_numpy(grid)[:, None]).flatten().numpy()  # (G,)
    return grid, y


def empty_ranges(x_train: np.ndarray, lo: float, hi: float, declared: Gaps = (), min_share: float = 0.06) -> Gaps:
    """x-ranges inside [lo, hi] with no training point: the declared gaps, else the wide holes.

    Uploaded data has no declared gaps; a hole counts when it is wider than `min_share` of
    the range and than 4x the mean spacing (so random spacing of few points is not shaded).
    The stretches beyond the outermost training points (extrapolation) are included.
    """
    xs = np.sort(np.asarray(x_train, dtype=float).ravel())
    if xs.size == 0 or not hi > lo:
        return ()
    span = hi - lo
    ranges: list[tuple[float, float]] = []
    if xs[0] - lo > 0.02 * span:
        ranges.append((lo, float(xs[0])))
    if declared:
        ranges += [(float(a), float(b)) for a, b in declared]
    else:
        threshold = max(min_share * span, 4 * span / max(xs.size, 1))
        holes = np.flatnonzero(np.diff(xs) > threshold)
        ranges += [(float(xs[i]), float(xs[i + 1])) for i in holes]
    if hi - xs[-1] > 0.02 * span:
        ranges.append((float(xs[-1]), hi))
    return tuple(ranges)


def plot_range(data: TaskData) -> tuple[float, float]:
    """The x-range every figure of this data shares (the fit grid's)."""
    grid = fit_grid(data)
    return float(grid[0]), float(grid[-1])


def y_range(data: TaskData, margin: float = 0.3) -> tuple[float, float]:
    """A y-range that shows all points with room; fixed, so a wild fit never squashes the data."""
    ys = torch.cat([data.y_train, data.y_val, data.y_test]).flatten().numpy()
    lo, hi = (float(ys.min()), float(ys.max())) if ys.size else (-1.0, 1.0)
    pad = margin * (hi - lo or 1.0)
    return lo - pad, hi + pad


# --- after training ----------------------------------------------------------------

def split_predictions(model: nn.Module, data: TaskData) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """{split: (x, y, prediction)} as flat arrays for train, val and test."""
    out = {}
    for split in ("train", "val", "test"):
        x, y = data.split(split)
        pred = predict(model, x).flatten().numpy() if len(x) else np.empty(0, np.float32)
        out[split] = (x.flatten().numpy(), y.flatten().numpy(), pred)
    return out


def final_metrics(predictions: Mapping[str, tuple[np.ndarray, np.ndarray, np.ndarray]],
                  noise: float) -> list[dict]:
    """One row per split: points, MSE, RMSE, MAE and MSE / σ² (σ² the noise variance, when known)."""
    rows = []
    var = noise**2
    for split, (x, y, pred) in predictions.items():
        if len(x) == 0:
            continue
        with np.errstate(over="ignore", invalid="ignore"):  # a diverged model: inf / nan, shown as such
            err = pred.astype(np.float64) - y
            mse = float(np.mean(err**2))
        rows.append({"split": split, "points": int(len(x)), "MSE": mse, "RMSE": math.sqrt(mse),
                     "MAE": float(np.mean(np.abs(err))), "MSE / σ²": mse / var if var > 0 else math.nan})
    return rows


def residuals(predictions: Mapping[str, tuple[np.ndarray, np.ndarray, np.ndarray]]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """{split: (x, y - prediction)}."""
    return {split: (x, y - pred) for split, (x, y, pred) in predictions.items() if len(x)}


@dataclass(frozen=True)
class NeuronLayer:
    """The outputs of one hidden layer's activation over the x grid."""

    name: str  # e.g. 'act_fc1'
    title: str  # e.g. 'hidden layer 1 (tanh, 64 neurons)'
    activations: np.ndarray  # (neurons, G)
    order: np.ndarray  # neuron indices sorted by where along x each one changes most
    contributions: np.ndarray | None = None  # last hidden layer: out weight x activation, (neurons, G)
    bias: float = 0.0  # last hidden layer: the output bias (fit = contributions.sum(0) + bias)


def neuron_layers(model: nn.Sequential, x: np.ndarray) -> list[NeuronLayer]:
    """Every hidden activation layer of an MLP evaluated on x (G,), in eval mode, without hooks.

    Walking the Sequential's children by hand leaves a possibly shared model untouched.
    For the last hidden layer, `contributions[j] = w_out[j] * a_j(x)`: summed with the
    output bias they give the network's fit exactly (in eval mode, dropout is identity).
    """
    children = list(model.named_children())
    acts: list[tuple[str, nn.Module, torch.Tensor]] = []
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            h = torch.as_tensor(np.asarray(x, np.float32)).reshape(-1, 1)  # (G, 1)
            h = h.to(next(model.parameters()).device)
            for name, module in children:
                h = module(h)
                if name.startswith("act_fc"):
                    acts.append((name, module, h.detach().cpu().T.numpy().copy()))  # (neurons, G)
    finally:
        model.train(was_training)
    out_layer = dict(children).get("out")
    layers = []
    for i, (name, module, a) in enumerate(acts):
        title = f"hidden layer {name[6:]} ({type(module).__name__}, {a.shape[0]} neurons)"
        contributions, bias = None, 0.0
        if i == len(acts) - 1 and isinstance(out_layer, nn.Linear) and out_layer.out_features == 1:
            w = out_layer.weight.detach().cpu().numpy()[0]  # (neurons,)
            contributions = w[:, None] * a
            bias = float(out_layer.bias.detach().cpu()[0]) if out_layer.bias is not None else 0.0
        layers.append(NeuronLayer(name, title, a, _order_by_change(a, x), contributions, bias))
    return layers


def _order_by_change(a: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Neurons sorted by the x where their output changes fastest: the heatmap reads as a staircase."""
    if a.shape[1] < 2:
        return np.arange(a.shape[0])
    slope = np.abs(np.diff(a, axis=1))  # (neurons, G-1)
    where = np.asarray(x)[np.argmax(slope, axis=1)]
    swing = a.max(axis=1) - a.min(axis=1)
    flat = swing < 0.05 * max(float(swing.max()), 1e-12)  # (nearly) constant over x: they go last
    return np.lexsort((where, flat))


def top_neurons(layer: NeuronLayer, k: int = 6) -> np.ndarray:
    """Indices of the k neurons that move the output most (by contribution range, else activation range)."""
    values = layer.contributions if layer.contributions is not None else layer.activations
    spread = values.max(axis=1) - values.min(axis=1)
    return np.argsort(-spread, kind="stable")[:k]


def layer_weights(model: nn.Module, biases: bool = False) -> dict[str, np.ndarray]:
    """{'fc1.weight': values, ...} of every layer with a weight matrix or kernel, in model order."""
    out = {}
    for name, p in model.named_parameters():
        if (p.dim() >= 2) or (biases and name.endswith(".bias")):
            out[name] = p.detach().to("cpu", torch.float32).flatten().numpy().copy()
    return out


def state_weights(state: Mapping[str, torch.Tensor], biases: bool = False) -> dict[str, np.ndarray]:
    """`layer_weights` of a state dict (a weights/epoch_NNNN.pt snapshot)."""
    return {k: v.detach().float().flatten().numpy().copy() for k, v in state.items()
            if isinstance(v, torch.Tensor) and v.is_floating_point()
            and (v.dim() >= 2 or (biases and k.endswith(".bias")))}


@dataclass(frozen=True)
class FoldFits:
    """The fit of every K-fold model on a grid, and each fold's final validation MSE."""

    grid: np.ndarray  # (G,)
    fits: np.ndarray  # (K, G)
    val_mse: np.ndarray  # (K,)

    @property
    def mean(self) -> np.ndarray:
        return self.fits.mean(axis=0)

    @property
    def std(self) -> np.ndarray:
        return self.fits.std(axis=0)


def fold_fits(run_dir: str | os.PathLike, grid: np.ndarray) -> FoldFits | None:
    """Load fold_1.pt ... fold_K.pt of a K-fold run (safely) and predict on `grid`; None if none."""
    paths = [path for _, path in RunFolder(run_dir).fold_checkpoints()]
    fits, losses = [], []
    x = torch.from_numpy(np.asarray(grid, np.float32))[:, None]  # (G, 1)
    for path in paths:
        try:
            ckpt = checkpoints.load(path)
            model = ckpt.model()
        except checkpoints.CheckpointError:
            continue
        fits.append(predict(model, x).flatten().numpy())
        losses.append(float(ckpt.metrics.get("val_loss", math.nan)))
    if not fits:
        return None
    return FoldFits(np.asarray(grid), np.stack(fits), np.asarray(losses))


def replay_epoch(snapshots: Mapping[int, dict], epoch: float) -> int | None:
    """The last recorded epoch at or before `epoch` that has a fit (the first one if none is)."""
    recorded = sorted(e for e, s in snapshots.items() if "fit" in s)
    if not recorded:
        return None
    before = [e for e in recorded if e <= epoch]
    return before[-1] if before else recorded[0]


# --- files ---------------------------------------------------------------------------

def csv_upload_path(raw: bytes, folder: str | os.PathLike | None = None) -> Path:
    """Where `save_csv_upload` keeps these bytes: <runs>/uploads/<sha>.csv."""
    return (Path(folder) if folder else runs_dir() / "uploads") / f"{hashlib.sha256(raw).hexdigest()[:16]}.csv"


def save_csv_upload(raw: bytes, folder: str | os.PathLike | None = None) -> tuple[Path, int]:
    """Check uploaded x,y CSV bytes (CsvError with a UI message if unusable) and keep them as a file.

    Runs read data from a path, so the upload lands in <runs>/uploads/<sha>.csv; the same
    bytes give the same file. Returns (path, number of points).
    """
    x, _ = read_xy_csv(raw)
    path = csv_upload_path(raw, folder)
    if not path.is_file():
        atomic_write(path, lambda fh: fh.write(raw))
    return path, int(len(x))


def rows_csv(rows: Sequence[Mapping]) -> str:
    """Dict rows as CSV text, columns in first-seen order."""
    columns: list[str] = []
    for row in rows:
        columns += [k for k in row if k not in columns]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, columns, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def run_archive(run_dir: str | os.PathLike, weights: bool = False) -> bytes:
    """A zip of a run: config, status, history (and batch losses) as CSV, checkpoints.

    Per-epoch weight snapshots are left out unless `weights` (they are many small files).
    """
    run = RunFolder(run_dir)
    name = run.id
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in (run.config_path, run.status_path, run.final_path, run.best_path):
            if path.is_file():
                zf.write(path, f"{name}/{path.name}")
        for _, path in run.fold_checkpoints():
            zf.write(path, f"{name}/{path.name}")
        for path in run.curve_files():
            zf.writestr(f"{name}/{path.stem}.csv", rows_csv(read_jsonl(path)))
        if weights:
            for path in sorted(run.weights_dir.glob("*.pt")):
                zf.write(path, f"{name}/weights/{path.name}")
    return buf.getvalue()
