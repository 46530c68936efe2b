"""Where the Playground keeps things: its folders, uploaded point sets, and checkpoints saved and loaded.

An uploaded CSV is stored under its content's hash, so a link naming it (`csv=<hash>`) reopens the same
points on this server. A checkpoint is one torch file (weights_only-loadable): the config, the epoch, the
weights and, for uploaded points, the points; loading checks every field before anything is used.
"""
from __future__ import annotations

import hashlib
import io
import re
from pathlib import Path
from typing import Any

import numpy as np
import torch

from nnviz.jobs import runs
from nnviz.jobs.storage import atomic_write_bytes
from nnviz.playground.config import PlaygroundConfig, SettingError, from_dict, to_dict
from nnviz.playground.data import UPLOAD, DataError, Points, generate, read_csv, split
from nnviz.playground.network import Weights, from_torch, to_torch

FORMAT = "nnviz-playground"
MAX_CHECKPOINT_BYTES = 2_000_000
_UPLOAD_NAME = re.compile(r"^[0-9a-f]{16}$")


class CheckpointError(ValueError):
    """A checkpoint that cannot be loaded, with one sentence saying why."""


def playground_dir(root: str | Path | None = None) -> Path:
    """runs/playground/ (the runs list ignores it: it holds no config.json of its own)."""
    return runs.runs_dir(root) / "playground"


def store_upload(raw: bytes, root: str | Path | None = None) -> str:
    """Check an uploaded x1,x2,label CSV (DataError: one sentence) and store it; its name for the config."""
    read_csv(raw)
    name = hashlib.sha256(raw).hexdigest()[:16]
    path = playground_dir(root) / "uploads" / f"{name}.csv"
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(path, raw)
    return name


def points_for(cfg: PlaygroundConfig, root: str | Path | None = None) -> Points:
    """The config's points, split: generated from its seed, or read from its stored upload."""
    if cfg.dataset == UPLOAD:
        path = playground_dir(root) / "uploads" / f"{cfg.upload}.csv"
        if not _UPLOAD_NAME.match(cfg.upload) or not path.is_file():
            raise DataError("The uploaded points this link names are not on this server: upload the CSV again.")
        x, y = read_csv(path.read_bytes())
    else:
        x, y = generate(cfg.dataset, cfg.points, cfg.noise, cfg.seed)
    return split(x, y, cfg.train_ratio, cfg.seed)


def checkpoint_payload(cfg: PlaygroundConfig, weights: Weights, epoch: int, points: Points | None = None) -> dict[str, Any]:
    """The checkpoint as plain types and tensors; uploaded points travel inside it."""
    payload: dict[str, Any] = {"format": FORMAT, "version": 1, "config": to_dict(cfg), "epoch": int(epoch),
                               "state_dict": to_torch(weights, cfg).state_dict()}
    if points is not None and cfg.dataset == UPLOAD:
        payload["points"] = {k: torch.from_numpy(np.ascontiguousarray(getattr(points, k)))
                             for k in ("x_train", "y_train", "x_test", "y_test")}
    return payload


def checkpoint_bytes(cfg: PlaygroundConfig, weights: Weights, epoch: int, points: Points | None = None) -> bytes:
    buffer = io.BytesIO()
    torch.save(checkpoint_payload(cfg, weights, epoch, points), buffer)
    return buffer.getvalue()


def load_checkpoint(raw: bytes) -> tuple[PlaygroundConfig, Weights, int, Points | None]:
    """A Playground checkpoint's config, weights, epoch and (uploaded sets only) points; CheckpointError
    with one sentence for anything else (another kind of file, a foreign or edited checkpoint)."""
    if len(raw) > MAX_CHECKPOINT_BYTES:
        raise CheckpointError("This file is too large to be a Playground checkpoint.")
    try:
        payload = torch.load(io.BytesIO(raw), map_location="cpu", weights_only=True)
    except Exception:  # noqa: BLE001  (any unreadable file: one sentence, never a traceback)
        raise CheckpointError("This file is not a Playground checkpoint (saved with Download checkpoint).") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError("This file is not a Playground checkpoint (saved with Download checkpoint).")
    try:
        cfg = from_dict(payload["config"])
    except (SettingError, KeyError, TypeError) as exc:
        raise CheckpointError(f"The checkpoint's settings are not valid: {exc}") from None
    epoch = payload.get("epoch")
    if not isinstance(epoch, int) or not 0 <= epoch <= 10 * cfg.epochs:
        raise CheckpointError("The checkpoint's epoch is not a valid count.")
    state = payload.get("state_dict")
    model = to_torch([(np.zeros((o, i)), np.zeros(o)) for i, o in _layer_sizes(cfg)], cfg)
    try:
        model.load_state_dict(state)
    except Exception:  # noqa: BLE001
        raise CheckpointError("The checkpoint's weights do not fit the network its settings describe.") from None
    weights = from_torch(model)
    if not all(np.isfinite(w).all() and np.isfinite(b).all() for w, b in weights):
        raise CheckpointError("The checkpoint's weights contain NaN or infinite values.")
    points = _points(payload.get("points")) if cfg.dataset == UPLOAD else None
    return cfg, weights, epoch, points


def _layer_sizes(cfg: PlaygroundConfig) -> list[tuple[int, int]]:
    sizes = [len(cfg.features), *cfg.hidden, 1]
    return list(zip(sizes[:-1], sizes[1:]))


def _points(stored: Any) -> Points:
    try:
        arrays = {k: stored[k].numpy() for k in ("x_train", "y_train", "x_test", "y_test")}
    except (TypeError, KeyError, AttributeError):
        raise CheckpointError("The checkpoint was trained on uploaded points but does not contain them.") from None
    ok = all(arrays[k].ndim == 2 and arrays[k].shape[1] == 2 for k in ("x_train", "x_test")) and \
        all(arrays[k].ndim == 1 and set(np.unique(arrays[k])) <= {0.0, 1.0} for k in ("y_train", "y_test")) and \
        len(arrays["x_train"]) == len(arrays["y_train"]) and len(arrays["x_test"]) == len(arrays["y_test"]) and \
        all(np.isfinite(a).all() for a in arrays.values())
    if not ok:
        raise CheckpointError("The checkpoint's points are malformed.")
    return Points(**{k: v.astype(np.float32) for k, v in arrays.items()})
