"""Crash-safe file writes: temp file + fsync + rename, and append-only JSON lines.

A reader never sees a half-written file: either the old one or the new one. A
JSON-lines file may end in a torn line after a crash; `read_jsonl` skips it.
"""
from __future__ import annotations

import json
import os
import re
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Iterable

SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


def safe_name(name: str, max_len: int = 64) -> str:
    """A file-system-safe name: letters, digits, '.', '_' and '-' only; never '..' or hidden.

    Raises ValueError when nothing usable is left.
    """
    cleaned = SAFE_NAME.sub("_", name.strip()).strip("._-")[:max_len]
    if not cleaned:
        raise ValueError(f"{name!r} is not a usable name: use letters, digits, '-', '_' or '.'")
    return cleaned


def inside(base: str | os.PathLike, path: str | os.PathLike) -> Path:
    """`path` resolved, checked to lie inside `base` (no traversal, no symlink escape)."""
    base_r, path_r = Path(base).resolve(), Path(path).resolve()
    if path_r != base_r and base_r not in path_r.parents:
        raise ValueError(f"{path} is outside {base}")
    return path_r


def atomic_write(path: str | os.PathLike, write: Callable[[Any], None], mode: str = "wb") -> None:
    """Call `write(fh)` on a temp file beside `path`, fsync it, then rename it over `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, mode) as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    atomic_write(path, lambda fh: fh.write(text.encode("utf-8")))


def atomic_write_json(path: str | os.PathLike, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True, allow_nan=True))


def append_jsonl(path: str | os.PathLike, rows: Iterable[dict]) -> None:
    """Append rows as whole lines and fsync, so a crash loses at most the line in flight.

    A file that ends in a torn line (its writer was killed mid-append) gets a newline first, so
    the torn line stays on its own and the new rows are not glued onto it (and lost with it).
    """
    data = "".join(json.dumps(r, allow_nan=True) + "\n" for r in rows).encode("utf-8")
    with open(path, "ab+") as fh:
        end = fh.seek(0, os.SEEK_END)
        if end and os.pread(fh.fileno(), 1, end - 1) != b"\n":
            data = b"\n" + data
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def read_jsonl(path: str | os.PathLike) -> list[dict]:
    """All complete JSON lines; a torn last line (a crash mid-append) is ignored."""
    rows: list[dict] = []
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return rows
    for line in text.splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(row, dict):
            rows.append(row)
    return rows


def read_json(path: str | os.PathLike, default: Any = None) -> Any:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError, UnicodeDecodeError):
        return default


TEMP_MAX_AGE_S = 600.0  # a temp file this old belongs to a writer that died (a save takes seconds at most)


def sweep_temp_files(folder: str | os.PathLike, older_than_s: float = TEMP_MAX_AGE_S) -> int:
    """Delete the temp files `atomic_write` left in `folder` when its process was killed; returns how many.

    Only files older than `older_than_s` go, so a writer in flight keeps its temp file. Readers never
    look at temp files anyway (they are hidden and end in '.tmp'): this only reclaims the space.
    """
    now, removed = time.time(), 0
    try:
        candidates = [p for p in Path(folder).iterdir() if p.name.startswith(".") and p.name.endswith(".tmp")]
    except OSError:
        return 0
    for path in candidates:
        try:
            if now - path.stat().st_mtime >= older_than_s:
                path.unlink()
                removed += 1
        except OSError:  # gone already (another sweeper) or not ours to delete
            continue
    return removed


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
