"""The one check of a checkpoint's meta data and weights, used by save, load, listing, upload and `eval`.

A checkpoint's meta is JSON written by nnviz, but a file can come from anywhere (an upload, a
copy edited by hand). Every page trusts what passes here, so this checks every field's type,
range and shape against the others: a string where a number belongs, a negative class count,
a history row without an epoch or predictions for classes the model does not have are refused
with one sentence naming the field. Nothing here imports Streamlit.
"""
from __future__ import annotations

import json
import math
import re
from typing import Any

import torch

from nnviz.config import ConfigError, RunConfig

MAX_DIM = 4096  # pixels per side (or features) of one input: the largest sets are 32x32
MAX_INPUT_ELEMENTS = 3 * 512 * 512
MAX_OUTPUTS = 10_000
MAX_KEY_LEN = 64
MAX_TEXT_LEN = 2_000  # the history's reason sentence
MAX_ROWS = 100_001  # history rows (epochs 0..100000, the config's cap)
MAX_BATCH_LOSSES = 200_000  # a long run logs ~10,000; every point is drawn on the curves
MAX_SNAPSHOTS = 1_000  # runs keep at most 200
MAX_SNAPSHOT_LEN = 200_000  # test predictions per snapshot (no test set here is that large)
MAX_TENSORS = 1_000
MAX_TENSOR_ELEMENTS = 100_000_000
HISTORY_STATUSES = ("running", "finished", "stopped", "early_stopped", "diverged", "failed", "interrupted", "queued",
                    "pruned")
META_KEYS = {"config", "task", "input_shape", "n_outputs", "classes", "mean", "std", "metrics", "history",
             "saved_at"}
HISTORY_KEYS = {"epochs", "batch_losses", "status", "reason", "snapshots"}
TENSOR_DTYPES = {torch.float16, torch.bfloat16, torch.float32, torch.float64, torch.int64, torch.int32,
                 torch.int16, torch.int8, torch.uint8, torch.bool}


class MetaError(ValueError):
    """The meta data or weights are invalid; the message is one sentence naming the field."""


def shown(value: Any, max_len: int = 40) -> str:
    """A short, printable rendering of a value from a file, for a message."""
    text = value if isinstance(value, str) else type(value).__name__ if isinstance(value, (dict, list)) else repr(value)
    text = _printable(text)
    return repr(text[:max_len] + ("…" if len(text) > max_len else "")) if isinstance(value, str) else text[:max_len]


def _printable(text: str) -> str:
    """`text` with control and invisible formatting characters (NUL, right-to-left overrides) shown as '?'."""
    return "".join(c if c.isprintable() else "?" for c in text)


def _fail(where: str, problem: str) -> None:
    raise MetaError(f"This checkpoint's {where} {problem}; it was probably edited or saved by another program.")


def _int(where: str, value: Any, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        _fail(where, f"must be a whole number, not {shown(value)}")
    if not low <= value <= high:
        _fail(where, f"must be in {low}..{high:,}, not {value:,}")
    return value


def _number(where: str, value: Any, finite: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        _fail(where, f"must be a number, not {shown(value)}")
    if isinstance(value, int) and abs(value) > 2**63:
        _fail(where, "is too large a number")
    value = float(value)
    if finite and not math.isfinite(value):
        _fail(where, f"must be a finite number, not {value}")
    return value


def _list(where: str, value: Any, max_len: int) -> list:
    if not isinstance(value, list):
        _fail(where, f"must be a list, not {shown(value)}")
    if len(value) > max_len:
        _fail(where, f"has {len(value):,} entries; at most {max_len:,} are allowed")
    return value


def _dict(where: str, value: Any, max_len: int = 10_000) -> dict:
    if not isinstance(value, dict):
        _fail(where, f"must be a mapping, not {shown(value)}")
    if len(value) > max_len:
        _fail(where, f"has {len(value):,} entries; at most {max_len:,} are allowed")
    return value


def _key(where: str, key: Any) -> str:
    if not isinstance(key, str) or not key or len(key) > MAX_KEY_LEN or not key.isprintable():
        _fail(where, f"has an unusable name {shown(key)}")
    return key


def _numbers(where: str, raw: Any) -> dict[str, float]:
    """A flat {name: number} mapping (metrics, one history row); NaN is allowed (a diverged run)."""
    return {_key(where, k): _number(f"{where}.{k}", v) for k, v in _dict(where, raw, 256).items()}


def parse_meta(text: Any) -> dict[str, Any]:
    """The checkpoint's meta JSON string, checked field by field; MetaError names the first bad one."""
    if not isinstance(text, str):
        _fail("meta data", f"must be JSON text, not {shown(text)}")
    try:
        raw = json.loads(text)
    except (ValueError, RecursionError):  # RecursionError: JSON nested thousands deep
        _fail("meta data", "is not valid JSON")
    return check_meta(raw)


def check_meta(raw: Any) -> dict[str, Any]:
    """A meta mapping (as `save` builds it), checked and normalised; MetaError when anything is off."""
    meta = _dict("meta data", raw, 64)
    missing = sorted({"config", "task", "input_shape", "n_outputs"} - set(meta))
    if missing:
        _fail("meta data", f"lacks {', '.join(missing)}")
    unknown = sorted(shown(k) for k in set(meta) - META_KEYS)
    if unknown:
        _fail("meta data", f"has unknown field(s) {', '.join(unknown[:3])}")
    try:
        config = RunConfig.from_json(json.dumps(meta["config"]))
    except (ConfigError, TypeError, ValueError, RecursionError) as exc:
        _fail("settings", f"are invalid ({_printable(str(exc))[:200]})")
    for field, text in (("name", config.name), ("preset", config.preset)):  # shown in captions and lists
        if len(text) > 200 or not text.isprintable() or re.search(r"[\[\]<>`$*\\]", text):
            _fail(f"model {field}", "must be a short plain text (no brackets, '<', '>', '`', '$', '*' or '\\')")
    task = meta["task"]
    if task != config.data.task:
        _fail("task", f"is {shown(task)} but its settings describe a {config.data.task} model")
    shape = tuple(_int("input shape", d, 1, MAX_DIM) for d in _list("input shape", meta["input_shape"], 3))
    n_outputs = _int("output count", meta["n_outputs"], 1, MAX_OUTPUTS)
    classes = tuple(_list("class names", meta.get("classes", []), MAX_OUTPUTS))
    for name in classes:
        if not isinstance(name, str) or len(name) > MAX_KEY_LEN:
            _fail("class names", f"must be short texts, not {shown(name)}")
    _check_task_shapes(config, task, shape, n_outputs, classes)
    mean = tuple(_number("mean", m, finite=True) for m in _list("mean", meta.get("mean", []), 4))
    std = tuple(_number("std", s, finite=True) for s in _list("std", meta.get("std", []), 4))
    if len(mean) != len(std) or (mean and len(mean) != shape[0]):
        _fail("normalisation", f"has {len(mean)} means and {len(std)} standard deviations for {shape[0]} channel(s)")
    if any(s <= 0 for s in std):
        _fail("std", "must be positive")
    saved_at = _number("saved_at", meta.get("saved_at", 0.0), finite=True)
    return {"config": config, "task": task, "input_shape": shape, "n_outputs": n_outputs, "classes": classes,
            "mean": mean, "std": std, "metrics": _numbers("metrics", meta.get("metrics", {})),
            "history": check_history(meta.get("history", {}), n_outputs), "saved_at": saved_at}


def _check_task_shapes(config: RunConfig, task: str, shape: tuple, n_outputs: int, classes: tuple) -> None:
    from nnviz.data import DATASETS  # here: nnviz.data imports much, and only this check needs it

    if task == "regression":
        if shape != (1,) or n_outputs != 1 or classes:
            _fail("shape", f"is {list(shape)} -> {n_outputs} outputs; a regression model maps 1 input to 1 output")
        return
    info = DATASETS.get(config.data.dataset)
    if info is None:
        _fail("dataset", f"{shown(config.data.dataset)} is not one nnviz knows")
    if shape != tuple(info.shape):
        _fail("input shape", f"is {list(shape)}; {config.data.dataset} images are {list(info.shape)}")
    if n_outputs != len(info.classes) or len(classes) != n_outputs:
        _fail("output count", f"is {n_outputs} with {len(classes)} class names; "
                              f"{config.data.dataset} has {len(info.classes)} classes")
    if classes != tuple(info.classes):  # pages show these names: only the dataset's own
        _fail("class names", f"are not those of {config.data.dataset}")
    if len(shape) != 3 or math.prod(shape) > MAX_INPUT_ELEMENTS:
        _fail("input shape", f"{list(shape)} is not an image shape nnviz can use")


def check_history(raw: Any, n_outputs: int) -> dict[str, Any]:
    """A History.to_dict() (plus optional per-epoch test predictions), checked and normalised."""
    history = _dict("history", raw, 16)
    unknown = sorted(shown(k) for k in set(history) - HISTORY_KEYS)
    if unknown:
        _fail("history", f"has unknown field(s) {', '.join(unknown[:3])}")
    rows = []
    for i, row in enumerate(_list("history", history.get("epochs", []), MAX_ROWS)):
        row = _numbers(f"history row {i}", row)
        if "epoch" not in row or not float(row["epoch"]).is_integer() or not 0 <= row["epoch"] <= 100_000:
            _fail(f"history row {i}", "has no valid epoch number")
        row["epoch"] = int(row["epoch"])
        if rows and row["epoch"] <= rows[-1]["epoch"]:
            _fail(f"history row {i}", "is out of order")
        rows.append(row)
    batches = []
    for i, pair in enumerate(_list("batch losses", history.get("batch_losses", []), MAX_BATCH_LOSSES)):
        if not isinstance(pair, list) or len(pair) != 2:
            _fail(f"batch loss {i}", "must be a pair of numbers")
        batches.append((_number(f"batch loss {i}", pair[0]), _number(f"batch loss {i}", pair[1])))
    status = history.get("status", "finished")
    if status not in HISTORY_STATUSES:
        _fail("history status", f"{shown(status)} is not one nnviz writes")
    reason = history.get("reason", "")
    if not isinstance(reason, str) or len(reason) > MAX_TEXT_LEN:
        _fail("history reason", "must be a short text")
    out = {"epochs": rows, "batch_losses": [list(b) for b in batches], "status": status, "reason": reason}
    out = {k: v for k, v in out.items() if k in history}  # what was there, checked; defaults stay implicit
    if "snapshots" in history:
        out["snapshots"] = _check_snapshots(history["snapshots"], n_outputs)
    return out


def _check_snapshots(raw: Any, n_outputs: int) -> dict[str, dict]:
    """{'<epoch>': {'test_pred': [class...], 'test_conf': [0..1...]}} with matching lengths."""
    out = {}
    for key, snap in _dict("snapshots", raw, MAX_SNAPSHOTS).items():
        if not isinstance(key, str) or not re.fullmatch(r"\d{1,6}", key):
            _fail("snapshots", f"have a key {shown(key)} that is not an epoch number")
        snap = _dict(f"snapshot {key}", snap, 8)
        pred = _list(f"snapshot {key} predictions", snap.get("test_pred"), MAX_SNAPSHOT_LEN)
        conf = _list(f"snapshot {key} confidences", snap.get("test_conf"), MAX_SNAPSHOT_LEN)
        if len(pred) != len(conf) or set(snap) - {"test_pred", "test_conf"}:
            _fail(f"snapshot {key}", "must hold as many predictions as confidences, and nothing else")
        if not all(type(p) is int and 0 <= p < n_outputs for p in pred):
            _fail(f"snapshot {key} predictions", f"must be class numbers 0..{n_outputs - 1}")
        if not all(type(c) in (int, float) and 0 <= c <= 1 for c in conf):
            _fail(f"snapshot {key} confidences", "must be numbers between 0 and 1")
        out[str(int(key))] = {"test_pred": pred, "test_conf": [float(c) for c in conf]}
    return out


def check_state_dict(state: Any, finite: bool = False) -> dict[str, torch.Tensor]:
    """Plain dense tensors under short names; with `finite`, no NaN or infinite weight."""
    if not isinstance(state, dict) or len(state) > MAX_TENSORS:
        raise MetaError("The checkpoint's weights are not a plain state dict.")
    for name, tensor in state.items():
        if not isinstance(name, str) or not isinstance(tensor, torch.Tensor) or len(name) > 200:
            raise MetaError("The checkpoint's weights are not a plain state dict.")
        if tensor.layout != torch.strided or tensor.is_quantized or tensor.dtype not in TENSOR_DTYPES \
                or not tensor.is_contiguous() or tensor.numel() > MAX_TENSOR_ELEMENTS:
            raise MetaError(f"The checkpoint's weight {shown(name)} is not a plain dense tensor "
                            f"({tensor.dtype}, {tuple(tensor.shape)[:6]}).")
        if finite and tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            raise MetaError(f"The checkpoint's weight {shown(name)} holds NaN or infinite values: the model "
                            "cannot predict anything.")
    return state
