"""The class set's store: the drawings a class submits, in one SQLite database under the runs folder.

SQLite in WAL mode with synchronous=FULL: every accepted drawing is on disk before the student
is told "saved", readers never block the writer, and a killed server loses nothing. Each call
opens its own short connection, so any number of threads (the server's request workers, the
presenter's page, a training run) may use one store at once; writers queue on SQLite's lock
(busy timeout), and the checks a submission must pass are made inside its write transaction,
so two requests of one browser cannot both slip under the rate limit.

A drawing is kept as the 28x28 uint8 image the MNIST models read (nnviz.data.preprocess, the same
steps as Draw & predict), with its label, an anonymous per-browser id and the time. No names.
"""
from __future__ import annotations

import os
import re
import sqlite3
import time
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

FILE_NAME = "class_canvas.sqlite3"
SIDE = 28  # px: a stored drawing is the model input of the MNIST models
N_CLASSES = 10
RATE_COUNT, RATE_WINDOW_S = 10, 10.0  # per browser: at most 10 drawings in any 10 s (a hand draws ~1 a second)
MAX_PER_SUBMITTER = 200  # drawings one browser may have in the set
MAX_DRAWINGS = 20_000  # the whole set (~16 MB of pixels)
HELD_OUT_PERCENT = 20  # share of the drawings kept out of training, to compare models on
_SUBMITTER = re.compile(r"[A-Za-z0-9_-]{8,64}")
_SCHEMA = """
CREATE TABLE IF NOT EXISTS drawings (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    submitter TEXT NOT NULL,
    label INTEGER NOT NULL CHECK (label BETWEEN 0 AND 9),
    pixels BLOB NOT NULL CHECK (length(pixels) = 784),
    created REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS drawings_by_submitter ON drawings (submitter, created);
CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


class Refused(ValueError):
    """A submission that is not stored; the message is one sentence for the student."""


@dataclass(frozen=True)
class Drawing:
    id: int
    submitter: str
    label: int
    created: float
    pixels: np.ndarray  # (28, 28) uint8, light ink on black

    @property
    def held_out(self) -> bool:
        return is_held_out(self.id)


def is_held_out(drawing_id: int) -> bool:
    """Whether a drawing is in the held-out part: fixed by its id (a drawing never changes side as
    the set grows), spread evenly by a multiplicative hash."""
    return (drawing_id * 2654435761) % 2**32 % 100 < HELD_OUT_PERCENT


def default_path(root: str | os.PathLike | None = None) -> Path:
    """The class set beside the runs (nnviz.jobs.runs.runs_dir), so it moves with NNVIZ_RUNS_DIR."""
    from nnviz.jobs.runs import runs_dir  # here, not at the top: writers in other processes need no torch

    return runs_dir(root) / FILE_NAME


class ClassStore:
    """The drawings of one class set. Safe to share between threads and processes."""

    def __init__(self, path: str | os.PathLike | None = None) -> None:
        self.path = Path(path) if path else default_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.execute("PRAGMA journal_mode=WAL")  # persistent: set once, kept in the file
            db.executescript(_SCHEMA)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        with closing(sqlite3.connect(self.path, timeout=30.0, isolation_level=None)) as db:
            db.execute("PRAGMA synchronous=FULL")  # committed means on disk, also across a power cut
            yield db

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; BEGIN IMMEDIATE takes the write lock first, so checks and insert are atomic."""
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    # --- collection settings ---------------------------------------------------------------------------------

    def is_open(self) -> bool:
        return self._setting("open", "1") == "1"

    def set_open(self, is_open: bool) -> None:
        self._set("open", "1" if is_open else "0")

    def prompt(self) -> int | None:
        """The digit students are asked for, or None: draw any digit and pick its label."""
        value = self._setting("prompt", "")
        return int(value) if value.isdigit() else None

    def set_prompt(self, digit: int | None) -> None:
        if digit is not None and not 0 <= int(digit) < N_CLASSES:
            raise ValueError(f"the prompt must be a digit 0-9; got {digit}")
        self._set("prompt", "" if digit is None else str(int(digit)))

    def _setting(self, key: str, default: str) -> str:
        with self._connect() as db:
            row = db.execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()
        return row[0] if row else default

    def _set(self, key: str, value: str) -> None:
        with self._write() as db:
            db.execute("INSERT INTO settings (key, value) VALUES (?, ?) "
                       "ON CONFLICT(key) DO UPDATE SET value = excluded.value", (key, value))

    # --- submissions -----------------------------------------------------------------------------------------

    def check_submitter(self, submitter: str, now: float | None = None) -> None:
        """The cheap checks, before any image work: Refused when closed, flooding or full."""
        with self._connect() as db:
            self._check(db, submitter, time.time() if now is None else now)

    def add(self, submitter: str, label: int, pixels: np.ndarray, now: float | None = None) -> int:
        """Store one preprocessed drawing (28x28 uint8); its id. Refused (nothing stored) if a check fails."""
        pixels = np.asarray(pixels)
        if pixels.shape != (SIDE, SIDE) or pixels.dtype != np.uint8:
            raise Refused(f"A drawing must be a {SIDE}x{SIDE} grey image.")
        if not isinstance(label, (int, np.integer)) or not 0 <= int(label) < N_CLASSES:
            raise Refused("Pick the digit you drew (0-9).")
        now = time.time() if now is None else now
        with self._write() as db:
            self._check(db, submitter, now)
            cur = db.execute("INSERT INTO drawings (submitter, label, pixels, created) VALUES (?, ?, ?, ?)",
                             (submitter, int(label), pixels.tobytes(), now))
            return int(cur.lastrowid)

    def _check(self, db: sqlite3.Connection, submitter: str, now: float) -> None:
        if not isinstance(submitter, str) or not _SUBMITTER.fullmatch(submitter):
            raise Refused("This browser's drawing id is missing or malformed; reload the page.")
        row = db.execute("SELECT value FROM settings WHERE key = 'open'").fetchone()
        if row and row[0] != "1":
            raise Refused("Collection is closed: the presenter is not taking drawings right now.")
        recent, total = db.execute(
            "SELECT COALESCE(SUM(created > ?), 0), COUNT(*) FROM drawings WHERE submitter = ?",
            (now - RATE_WINDOW_S, submitter)).fetchone()
        if recent >= RATE_COUNT:
            raise Refused(f"Slow down: at most {RATE_COUNT} drawings every {RATE_WINDOW_S:.0f} seconds. "
                          "Wait a moment and submit again.")
        if total >= MAX_PER_SUBMITTER:
            raise Refused(f"This browser has sent {MAX_PER_SUBMITTER} drawings, the most one person may.")
        if db.execute("SELECT COUNT(*) FROM drawings").fetchone()[0] >= MAX_DRAWINGS:
            raise Refused(f"The class set is full ({MAX_DRAWINGS:,} drawings).")

    # --- reading ---------------------------------------------------------------------------------------------

    def count(self) -> int:
        with self._connect() as db:
            return int(db.execute("SELECT COUNT(*) FROM drawings").fetchone()[0])

    def counts(self) -> np.ndarray:
        """Drawings per label, (10,) int."""
        out = np.zeros(N_CLASSES, np.int64)
        with self._connect() as db:
            for label, n in db.execute("SELECT label, COUNT(*) FROM drawings GROUP BY label"):
                out[label] = n
        return out

    def version(self) -> tuple[int, int]:
        """(count, highest id): changes whenever a drawing is added or deleted; cheap to poll."""
        with self._connect() as db:
            n, top = db.execute("SELECT COUNT(*), COALESCE(MAX(id), 0) FROM drawings").fetchone()
        return int(n), int(top)

    def submitter_count(self, submitter: str) -> int:
        with self._connect() as db:
            return int(db.execute("SELECT COUNT(*) FROM drawings WHERE submitter = ?", (submitter,)).fetchone()[0])

    def drawings(self, label: int | None = None, limit: int | None = None) -> list[Drawing]:
        """Drawings, newest first (all, or those of one label; at most `limit`)."""
        sql = "SELECT id, submitter, label, created, pixels FROM drawings"
        args: list = []
        if label is not None:
            sql += " WHERE label = ?"
            args.append(int(label))
        sql += " ORDER BY id DESC"
        if limit is not None:
            sql += " LIMIT ?"
            args.append(int(limit))
        with self._connect() as db:
            rows = db.execute(sql, args).fetchall()
        return [Drawing(i, s, lab, t, np.frombuffer(p, np.uint8).reshape(SIDE, SIDE)) for i, s, lab, t, p in rows]

    def get(self, drawing_id: int) -> Drawing | None:
        with self._connect() as db:
            row = db.execute("SELECT id, submitter, label, created, pixels FROM drawings WHERE id = ?",
                             (int(drawing_id),)).fetchone()
        if row is None:
            return None
        i, s, lab, t, p = row
        return Drawing(i, s, lab, t, np.frombuffer(p, np.uint8).reshape(SIDE, SIDE))

    def arrays(self) -> dict[str, np.ndarray]:
        """The whole set as arrays, oldest first: ids (N,), labels (N,), pixels (N, 28, 28) uint8, held_out (N,)."""
        with self._connect() as db:
            rows = db.execute("SELECT id, label, pixels FROM drawings ORDER BY id").fetchall()
        ids = np.array([r[0] for r in rows], np.int64)
        labels = np.array([r[1] for r in rows], np.int64)
        pixels = np.frombuffer(b"".join(r[2] for r in rows), np.uint8).reshape(-1, SIDE, SIDE)
        held = np.array([is_held_out(int(i)) for i in ids], bool)
        return {"ids": ids, "labels": labels, "pixels": pixels.copy(), "held_out": held}

    # --- moderation ------------------------------------------------------------------------------------------

    def delete(self, drawing_id: int) -> int:
        """Delete one drawing; how many were deleted (0 or 1)."""
        with self._write() as db:
            return db.execute("DELETE FROM drawings WHERE id = ?", (int(drawing_id),)).rowcount

    def delete_submitter(self, submitter: str) -> int:
        """Delete every drawing of one browser; how many."""
        with self._write() as db:
            return db.execute("DELETE FROM drawings WHERE submitter = ?", (submitter,)).rowcount

    def wipe(self) -> int:
        """Delete every drawing (the settings stay); how many."""
        with self._write() as db:
            return db.execute("DELETE FROM drawings").rowcount
