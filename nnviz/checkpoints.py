"""Safe checkpoints: weights + config + metrics + history, never arbitrary pickled objects.

A checkpoint is a `torch.save` of a dict holding a state dict and one JSON string
(`meta`). It is read back with `torch.load(weights_only=True)`, which refuses code;
anything unexpected becomes a CheckpointError with a sentence for the user.
"""
from __future__ import annotations

import functools
import io
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from nnviz.config import ConfigError, RunConfig
from nnviz.models import ModelTooLarge, build_model
from nnviz.security import check_name
from nnviz.storage import atomic_write, inside, safe_name, sweep_temp_files

FORMAT = "nnviz-checkpoint"
VERSION = 1
ROOT = Path(__file__).resolve().parent.parent / "checkpoints"
SHIPPED_DIR = ROOT / "shipped"  # committed with nnviz; works offline on a fresh clone
DEFAULT_MODEL = SHIPPED_DIR / "mnist_cnn.pt"  # what the inspection pages open: real MNIST, trained for drawn digits
MAX_CHECKPOINT_BYTES = 200 * 2**20


class CheckpointError(ValueError):
    """A checkpoint cannot be used; the message says why in plain words."""


def user_dir() -> Path:
    """Where users' checkpoints are saved: $NNVIZ_CHECKPOINT_DIR or checkpoints/saved."""
    return Path(os.environ.get("NNVIZ_CHECKPOINT_DIR") or ROOT / "saved")


@dataclass
class Checkpoint:
    config: RunConfig
    state_dict: dict[str, torch.Tensor]
    task: str
    input_shape: tuple[int, ...]
    n_outputs: int
    classes: tuple[str, ...] = ()
    mean: tuple[float, ...] = ()
    std: tuple[float, ...] = ()
    metrics: dict[str, float] = field(default_factory=dict)
    history: dict[str, Any] = field(default_factory=dict)  # History.to_dict()
    saved_at: float = 0.0
    path: Path | None = None

    def model(self) -> nn.Sequential:
        """A fresh model with these weights, in eval mode. CheckpointError if they do not fit."""
        try:
            model = build_model(self.config.model, self.input_shape, self.n_outputs)
        except ModelTooLarge as exc:
            raise CheckpointError(f"This checkpoint describes a model too large to build: {exc}") from None
        except ValueError as exc:
            raise CheckpointError(f"This checkpoint describes a model that cannot be built ({exc}).") from None
        try:
            model.load_state_dict(self.state_dict, strict=True)
        except (RuntimeError, ValueError) as exc:
            first = str(exc).strip().splitlines()[0][:300]
            raise CheckpointError(f"The weights in this checkpoint do not fit its architecture ({first}). "
                                  "It was probably edited or saved by another program.") from None
        return model.eval()


def save(path: str | os.PathLike, model: nn.Module, config: RunConfig, *, task: str,
         input_shape: tuple[int, ...], n_outputs: int, classes: tuple[str, ...] = (),
         mean: tuple[float, ...] = (), std: tuple[float, ...] = (), metrics: dict | None = None,
         history: dict | None = None, half: bool = False) -> Path:
    """Write a checkpoint atomically (a crash leaves the old file or the new, never half).

    `half` stores float weights as float16 (half the size; loading converts back).
    """
    meta = {"config": json.loads(config.to_json()), "task": task, "input_shape": list(input_shape),
            "n_outputs": int(n_outputs), "classes": list(classes), "mean": [float(m) for m in mean],
            "std": [float(s) for s in std], "metrics": _plain(metrics or {}), "history": _plain(history or {}),
            "saved_at": time.time()}
    state = {k: v.detach().to("cpu").clone() for k, v in model.state_dict().items()}
    if half:
        state = {k: v.half() if v.is_floating_point() else v for k, v in state.items()}
    payload = {"format": FORMAT, "version": VERSION, "meta": json.dumps(meta), "state_dict": state}
    atomic_write(path, lambda fh: torch.save(payload, fh))
    sweep_temp_files(Path(path).parent)  # temp files of saves killed long ago (a crashed server) go
    return Path(path)


def load(source: str | os.PathLike | bytes) -> Checkpoint:
    """Read a checkpoint from a path or uploaded bytes, refusing anything but weights and JSON."""
    path = None
    try:
        if isinstance(source, (bytes, bytearray)):
            if len(source) > MAX_CHECKPOINT_BYTES:
                raise CheckpointError(f"The file is {len(source) / 2**20:.0f} MB; checkpoints are limited "
                                      f"to {MAX_CHECKPOINT_BYTES / 2**20:.0f} MB.")
            payload = torch.load(io.BytesIO(source), map_location="cpu", weights_only=True)
        else:
            path = Path(source)
            payload = torch.load(path, map_location="cpu", weights_only=True)
    except CheckpointError:
        raise
    except FileNotFoundError:
        raise CheckpointError(f"No checkpoint at {source}.") from None
    except Exception as exc:  # UnpicklingError (code in the file), truncated zip, not a torch file
        raise CheckpointError(_load_failure(exc)) from None
    return _parse(payload, path)


def check_upload(data: bytes, task: str, datasets: tuple[str, ...] = ()) -> Checkpoint:
    """An uploaded checkpoint, fully checked before anything is written or shown.

    Refused with a CheckpointError: anything `load` refuses, a checkpoint for another task or
    (when `datasets` is given) another dataset, and weights that do not fit their architecture.
    """
    ckpt = load(data)
    if ckpt.task != task:
        raise CheckpointError(f"This is a {ckpt.task} checkpoint (dataset {ckpt.config.data.dataset!r}); "
                              f"this page needs a {task} checkpoint.")
    if datasets and ckpt.config.data.dataset not in datasets:
        raise CheckpointError(f"This checkpoint was trained on {ckpt.config.data.dataset!r}; this page works with "
                              f"{', '.join(datasets)}.")
    ckpt.model()  # weights from another model fail here, not later on a page
    return ckpt


def _load_failure(exc: Exception) -> str:
    if "Weights only load failed" in str(exc):  # a pickle holding more than tensors and plain data
        return ("This file holds Python objects other than weights (loading it could run code), so nnviz "
                "refuses it. Only checkpoints saved by nnviz can be loaded.")
    return ("This is not a readable nnviz checkpoint (the file is truncated, corrupted or of another "
            f"format: {type(exc).__name__}). Save it again from nnviz.")


def _parse(payload: Any, path: Path | None) -> Checkpoint:
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError("This file is a PyTorch file but not an nnviz checkpoint "
                              "(it has no nnviz header). Only checkpoints saved by nnviz can be loaded.")
    if payload.get("version") != VERSION:
        raise CheckpointError(f"This checkpoint has format version {payload.get('version')}; "
                              f"this nnviz reads version {VERSION}.")
    try:
        meta = json.loads(payload["meta"])
        config = RunConfig.from_json(json.dumps(meta["config"]))
        state = payload["state_dict"]
        if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
            raise CheckpointError("The checkpoint's weights are not a plain state dict.")
        return Checkpoint(config, state, meta["task"], tuple(meta["input_shape"]), int(meta["n_outputs"]),
                          tuple(meta.get("classes", ())), tuple(meta.get("mean", ())), tuple(meta.get("std", ())),
                          dict(meta.get("metrics", {})), dict(meta.get("history", {})),
                          float(meta.get("saved_at", 0.0)), path)
    except CheckpointError:
        raise
    except (KeyError, TypeError, ValueError, ConfigError) as exc:
        raise CheckpointError(f"This nnviz checkpoint is incomplete or damaged ({type(exc).__name__}: {exc}).") from None


@dataclass(frozen=True)
class CheckpointInfo:
    path: Path
    name: str
    kind: str  # 'shipped' or 'saved'
    dataset: str
    preset: str
    task: str
    metrics: dict
    size_bytes: int


def list_checkpoints() -> list[CheckpointInfo]:
    """Shipped and saved checkpoints, newest saved first; unreadable files are skipped."""
    found = []
    for kind, folder in (("shipped", SHIPPED_DIR), ("saved", user_dir())):
        if not folder.is_dir():
            continue
        for path in sorted(folder.glob("*.pt")):
            info = _info(str(path), path.stat().st_mtime_ns, kind)
            if info is not None:
                found.append(info)
    return found


@functools.lru_cache(maxsize=256)
def _info(path: str, _mtime: int, kind: str) -> CheckpointInfo | None:
    try:
        ckpt = load(path)
    except CheckpointError:
        return None
    return CheckpointInfo(Path(path), Path(path).stem, kind, ckpt.config.data.dataset, ckpt.config.preset,
                          ckpt.task, ckpt.metrics, Path(path).stat().st_size)


def user_path(name: str) -> Path:
    """The path a user-chosen name saves to, kept inside the checkpoint folder.

    A name that could leave the folder ('../x', '/etc/x', 'C:\\x', NUL bytes) raises
    security.UnsafeName (a ValueError) with the reason; other odd characters become '_'.
    """
    folder = user_dir()
    return inside(folder, folder / f"{safe_name(check_name(name, 'checkpoint name'))}.pt")


def _plain(obj: Any) -> Any:
    """Plain JSON types only (numpy / torch scalars become floats)."""
    return json.loads(json.dumps(obj, default=lambda o: float(o) if hasattr(o, "__float__") else str(o)))
