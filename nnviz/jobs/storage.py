"""Crash-safe file writes: temp file + fsync + rename, and append-only JSON lines.

A reader never sees a half-written file: either the old one or the new one. A
JSON-lines file may end in a torn line after a crash; `read_jsonl` skips it.
"""
from __future__ import annotations

import errno
import json
import os
import re
import shutil
import tempfile
import time
import unicodedata
from pathlib import Path
from typing import Any, Callable, Iterable

SAFE_NAME = re.compile(r"[^\w.-]+")  # \w: letters and digits of any script (名前, Müller), and '_'


def safe_name(name: str, max_len: int = 64) -> str:
    """A file-system-safe name: letters and digits (any script), '.', '_' and '-' only; never '..' or hidden.

    Unicode is normalised (NFKC: a full-width '／' becomes '/', then '_'), so two names that look
    alike are one file. Raises ValueError when nothing usable is left.
    """
    cleaned = SAFE_NAME.sub("_", unicodedata.normalize("NFKC", name).strip()).strip("._-")[:max_len]
    while len(cleaned.encode("utf-8")) > 200:  # file systems cap a name at 255 bytes, not characters
        cleaned = cleaned[:-1]
    cleaned = cleaned.rstrip("._-")
    if not cleaned:
        raise ValueError("This is not a usable name: use letters, digits, '-', '_' or '.'.")
    return cleaned


def inside(base: str | os.PathLike, path: str | os.PathLike) -> Path:
    """`path` resolved, checked to lie inside `base` (no traversal, no symlink escape)."""
    base_r, path_r = Path(base).resolve(), Path(path).resolve()
    if path_r != base_r and base_r not in path_r.parents:
        raise ValueError(f"{path} is outside {base}")
    return path_r


def write_bytes(fh: Any, data: bytes | memoryview) -> None:
    """Every byte of a file nnviz writes goes through here: tests replace it to simulate a full disk."""
    fh.write(data)


def atomic_write(path: str | os.PathLike, write: Callable[[Any], None], mode: str = "wb",
                 exclusive: bool = False) -> None:
    """Call `write(fh)` on a temp file beside `path`, fsync it, then rename it over `path`.

    `exclusive`: never replace an existing file, not even one another writer made a moment ago
    (FileExistsError then; the temp file is hard-linked into place, which fails if `path` exists).

    On any failure the temp file is removed and `path` is left as it was. A writer that fails
    without an OSError while the disk is full (torch's zip writer says "unexpected pos") raises
    OSError(ENOSPC) instead, so callers can say what happened.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, mode) as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        if exclusive:
            os.link(tmp, path)
            os.unlink(tmp)
        else:
            os.replace(tmp, path)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if not isinstance(exc, (OSError, KeyboardInterrupt, SystemExit)) and _disk_full(path.parent):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path)) from None
        raise
    _fsync_dir(path.parent)


def atomic_write_bytes(path: str | os.PathLike, data: bytes | memoryview, exclusive: bool = False) -> None:
    atomic_write(path, lambda fh: write_bytes(fh, data), exclusive=exclusive)


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


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
        write_bytes(fh, data)
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


def _disk_full(folder: Path, margin: int = 1 << 20) -> bool:
    try:
        st = os.statvfs(folder)
    except OSError:
        return False
    return st.f_bavail * st.f_frsize < margin


def disk_problem(exc: OSError, folder: str | os.PathLike) -> str:
    """One sentence for a failed write under `folder`: full, read-only, vanished or not a folder."""
    code = exc.errno
    if code in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        return f"The disk holding {folder} is full: nothing was saved. Free some space (old runs) and try again."
    if code in (errno.EROFS, errno.EACCES, errno.EPERM):
        return f"{folder} is read-only for nnviz: nothing was saved. Make it writable or choose another folder."
    if code in (errno.ENOTDIR, errno.EEXIST):
        return f"{folder} (or a folder above it) is a file, not a folder: nothing was saved. Choose a folder."
    if code == errno.ENOENT:
        return f"{folder} has disappeared: nothing was saved. Create it again or choose another folder."
    return f"{folder} cannot be written ({exc.strerror or type(exc).__name__}): nothing was saved."


def make_folder(folder: str | os.PathLike, files: dict[str, str]) -> Path:
    """Create a new folder holding `files` ({name: text}, each written atomically), all or nothing.

    On an OSError (disk full, read-only) the half-made folder is removed before it is raised again.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=False)
    try:
        for name, text in files.items():
            atomic_write_text(folder / name, text)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return folder


def sweep_half_made_folders(root: str | os.PathLike, name_pattern: str, needed: tuple[str, ...],
                            subfolders: tuple[str, ...] = (), older_than_s: float = TEMP_MAX_AGE_S) -> int:
    """At start-up: remove temp files in `root`, its folders named like `name_pattern` (and their
    `subfolders`), and such
    folders lacking any of `needed` files (a start that died half-way) once they are older than
    `older_than_s`. Returns the folders removed."""
    removed, now = 0, time.time()
    sweep_temp_files(root, older_than_s)
    try:
        folders = [p for p in Path(root).iterdir()
                   if re.fullmatch(name_pattern, p.name) and p.is_dir() and not p.is_symlink()]
    except OSError:
        return 0
    for folder in folders:
        for inner in (folder, *(folder / name for name in subfolders)):
            sweep_temp_files(inner, older_than_s)
        try:
            if now - folder.stat().st_mtime < older_than_s or all((folder / n).is_file() for n in needed):
                continue
        except OSError:
            continue
        shutil.rmtree(folder, ignore_errors=True)
        removed += 1
    return removed
