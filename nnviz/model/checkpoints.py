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

from nnviz.config import RunConfig
from nnviz.jobs.storage import atomic_write_bytes, inside, safe_name, sweep_temp_files
from nnviz.model.checkpoint_meta import MetaError, check_meta, check_state_dict, parse_meta
from nnviz.model.models import ModelTooLarge, build_model
from nnviz.security import check_name

FORMAT = "nnviz-checkpoint"
VERSION = 1
ROOT = Path(__file__).resolve().parents[2] / "checkpoints"
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
        except (ValueError, RuntimeError) as exc:
            raise CheckpointError(f"This checkpoint describes a model that cannot be built ({exc}).") from None
        try:
            model.load_state_dict(self.state_dict, strict=True)
        except (RuntimeError, ValueError, TypeError) as exc:
            first = str(exc).strip().splitlines()[0][:300]
            raise CheckpointError(f"The weights in this checkpoint do not fit its architecture ({first}). "
                                  "It was probably edited or saved by another program.") from None
        return model.eval()


def save(path: str | os.PathLike, model: nn.Module, config: RunConfig, *, task: str,
         input_shape: tuple[int, ...], n_outputs: int, classes: tuple[str, ...] = (),
         mean: tuple[float, ...] = (), std: tuple[float, ...] = (), metrics: dict | None = None,
         history: dict | None = None, half: bool = False, exclusive: bool = False) -> Path:
    """Write a checkpoint atomically (a crash leaves the old file or the new, never half).

    `half` stores float weights as float16 (half the size; loading converts back). `exclusive`:
    FileExistsError rather than replace a file at `path` (a user's save never overwrites silently).
    """
    meta = {"config": json.loads(config.to_json()), "task": task, "input_shape": list(input_shape),
            "n_outputs": int(n_outputs), "classes": list(classes), "mean": [float(m) for m in mean],
            "std": [float(s) for s in std], "metrics": _plain(metrics or {}), "history": _plain(history or {}),
            "saved_at": time.time()}
    try:
        check_meta(meta)  # nnviz never writes a checkpoint it would refuse to read
    except MetaError as exc:
        raise CheckpointError(str(exc)) from None
    state = {k: v.detach().to("cpu").clone() for k, v in model.state_dict().items()}
    if half:
        state = {k: v.half() if v.is_floating_point() else v for k, v in state.items()}
    payload = {"format": FORMAT, "version": VERSION, "meta": json.dumps(meta), "state_dict": state}
    save_tensors(path, payload, exclusive)
    sweep_temp_files(Path(path).parent)  # temp files of saves killed long ago (a crashed server) go
    return Path(path)


def save_tensors(path: str | os.PathLike, obj: Any, exclusive: bool = False) -> None:
    """`torch.save` atomically, serialised in memory first: a full disk then fails as an OSError
    (ENOSPC) in the plain write, not as torch's "unexpected pos" from inside its zip writer."""
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    atomic_write_bytes(path, buffer.getbuffer(), exclusive)


def free_user_path(name: str) -> Path:
    """`user_path(name)`, or the first of name_2, name_3, ... that no file holds yet (keep both)."""
    first = path = user_path(name)
    for i in range(2, 10_000):
        if not path.exists():
            return path
        path = first.with_name(f"{first.stem}_{i}.pt")
    raise CheckpointError("Too many checkpoints with this name: choose another name.")


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
    except IsADirectoryError:
        raise CheckpointError(f"{source} is a folder, not a checkpoint file.") from None
    except PermissionError:
        raise CheckpointError(f"{source} cannot be read (permission denied).") from None
    except Exception as exc:  # UnpicklingError (code in the file), truncated zip, not a torch file
        raise CheckpointError(_load_failure(exc, _head(source))) from None
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
    try:
        check_state_dict(ckpt.state_dict, finite=True)
    except MetaError as exc:
        raise CheckpointError(str(exc)) from None
    ckpt.model()  # weights from another model fail here, not later on a page
    return ckpt


def _load_failure(exc: Exception, head: bytes) -> str:
    if not head.startswith((b"PK\x03\x04", b"\x80")):  # neither a torch zip nor a pickle
        return ("This is not a PyTorch checkpoint (it looks like a text or other file). "
                "Only checkpoints saved by nnviz can be loaded.")
    if "Weights only load failed" in str(exc):  # a pickle holding more than tensors and plain data
        return ("This file holds Python objects other than weights (loading it could run code), so nnviz "
                "refuses it. Only checkpoints saved by nnviz can be loaded.")
    return ("This is not a readable nnviz checkpoint (the file is truncated, corrupted or of another "
            f"format: {type(exc).__name__}). Save it again from nnviz.")


def _head(source: str | os.PathLike | bytes) -> bytes:
    """The first bytes of the file, to tell a text file from a damaged checkpoint."""
    if isinstance(source, (bytes, bytearray)):
        return bytes(source[:4])
    try:
        with open(source, "rb") as fh:
            return fh.read(4)
    except OSError:
        return b""


def _parse(payload: Any, path: Path | None) -> Checkpoint:
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError("This file is a PyTorch file but not an nnviz checkpoint "
                              "(it has no nnviz header). Only checkpoints saved by nnviz can be loaded.")
    if payload.get("version") != VERSION:
        raise CheckpointError(f"This checkpoint has format version {payload.get('version')}; "
                              f"this nnviz reads version {VERSION}.")
    try:
        meta = parse_meta(payload.get("meta"))
        state = check_state_dict(payload.get("state_dict"))
    except MetaError as exc:
        raise CheckpointError(str(exc)) from None
    return Checkpoint(meta["config"], state, meta["task"], meta["input_shape"], meta["n_outputs"], meta["classes"],
                      meta["mean"], meta["std"], meta["metrics"], meta["history"], meta["saved_at"], path)


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
    error: str = ""  # why the file cannot be used; such entries are only listed, never loaded


def list_checkpoints(unreadable: bool = False) -> list[CheckpointInfo]:
    """Shipped and saved checkpoints, sorted by name; files that fail the checks are left out,
    or (with `unreadable`) listed with their `error` so a page can say which files are skipped."""
    found = []
    for kind, folder in (("shipped", SHIPPED_DIR), ("saved", user_dir())):
        try:
            paths = sorted(folder.glob("*.pt")) if folder.is_dir() else []
        except OSError:  # a folder that vanished or cannot be read lists nothing
            continue
        for path in paths:
            try:
                info = _info(str(path), path.stat().st_mtime_ns, kind)
            except OSError:  # deleted between the listing and the stat
                continue
            if unreadable or not info.error:
                found.append(info)
    return found


@functools.lru_cache(maxsize=256)
def _info(path: str, _mtime: int, kind: str) -> CheckpointInfo:
    try:
        ckpt = load(path)
        ckpt.model()  # weights that do not fit their architecture are caught here, not on a page
        size = Path(path).stat().st_size
    except (CheckpointError, OSError) as exc:
        return CheckpointInfo(Path(path), Path(path).stem, kind, "?", "?", "?", {}, 0, str(exc) or "unreadable")
    return CheckpointInfo(Path(path), Path(path).stem, kind, ckpt.config.data.dataset, ckpt.config.preset,
                          ckpt.task, ckpt.metrics, size)


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
