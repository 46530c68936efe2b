"""Names from users and the presenter passcode: small, pure checks with no Streamlit.

A name a user types (a checkpoint or run name) becomes part of a file path, so anything
that could leave its folder (separators, '..', absolute or drive paths, NUL and control
characters, device names) is refused outright rather than silently rewritten: the user
learns why. Harmless oddities (spaces, brackets, accents) are left to
`storage.safe_name`, which turns them into '_'.
"""
from __future__ import annotations

import hmac
import os
import re
import threading
import time
from typing import Callable

PASSCODE_ENV = "NNVIZ_PRESENTER_PASSCODE"
MAX_NAME_LEN = 64  # characters: long enough for a description, short for every file system
# Names Windows reserves for devices, with or without an extension (a copied folder must still open there).
_RESERVED = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(1, 10)), *(f"lpt{i}" for i in range(1, 10))}


class UnsafeName(ValueError):
    """A user-chosen name cannot be used as a file name; the message says why."""


def check_name(name: str, what: str = "name") -> str:
    """`name` stripped of outer spaces, or UnsafeName when it could escape its folder or is unusable.

    Refused: empty, too long, NUL or control characters, '/' or '\\', '..', a leading '.'
    (hidden files), a drive or absolute path, Windows device names.
    """
    if not isinstance(name, str):
        raise UnsafeName(f"The {what} must be text.")
    name = name.strip()
    if not name:
        raise UnsafeName(f"The {what} is empty: type a few letters or digits.")
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        raise UnsafeName(f"The {what} contains control characters (such as a NUL byte); use letters, digits, '-', '_' or '.'.")
    if "/" in name or "\\" in name or ".." in name or os.path.isabs(name) or re.match(r"^[A-Za-z]:", name):
        raise UnsafeName(f"The {what} '{name}' looks like a path; use a plain name without '/', '\\', ':' or '..'.")
    if len(name) > MAX_NAME_LEN:
        raise UnsafeName(f"The {what} is {len(name)} characters long; keep it to {MAX_NAME_LEN}.")
    if name.startswith("."):
        raise UnsafeName(f"The {what} {name!r} starts with '.', which would make a hidden file; start with a letter or digit.")
    if name.split(".")[0].strip().lower() in _RESERVED:
        raise UnsafeName(f"{name!r} is a reserved device name on Windows; choose another {what}.")
    return name


def check_page_storage(url: str, runs_root: str | os.PathLike) -> str:
    """A study storage URL typed on a page, or UnsafeName when it is a SQLite file outside the runs folder.

    A SQLite URL names a file the server would create or open: from the page it must stay under
    `runs_root` (no arbitrary paths from the UI). Database servers (postgresql://, mysql://) are not
    files and pass. The CLI (`nnviz sweep --storage`) is not limited: whoever runs it owns the machine.
    """
    url = url.strip()
    if not url.lower().startswith("sqlite"):
        return url
    path = url.split(":///", 1)[1] if ":///" in url else ""
    root = os.path.realpath(runs_root)
    if not path or path.startswith(":memory:") or "?" in path or \
            os.path.commonpath([os.path.realpath(path), root]) != root:
        raise UnsafeName(f"From the page, a SQLite study lives in a file under the runs folder ({root}), e.g. "
                         f"sqlite:///{root}/studies.db; to share a study, use a database URL such as postgresql://.")
    return url


def presenter_passcode() -> str | None:
    """The presenter passcode from the environment, or None when presenter mode is off."""
    code = os.environ.get(PASSCODE_ENV, "")
    return code if code.strip() else None


def passcode_matches(attempt: str | None) -> bool:
    """True when `attempt` equals the configured passcode (constant-time compare); False when none is set."""
    code = presenter_passcode()
    if code is None or not attempt:
        return False
    return hmac.compare_digest(attempt.encode("utf-8"), code.encode("utf-8"))


class ClientLedger:
    """Events per client address in a sliding window, shared by every session of the server.

    A browser reload starts a new Streamlit session but comes from the same address, so limits
    kept here (wrong passcodes, uploads) survive reloads and new tabs. `clock` is injectable for tests.
    """

    def __init__(self, window_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.window_s, self.clock = window_s, clock
        self._events: dict[str, list[float]] = {}
        self._lock = threading.Lock()

    def count(self, client: str) -> int:
        """Events of `client` within the window."""
        with self._lock:
            return len(self._recent(client))

    def add(self, client: str) -> int:
        """Record one event for `client`; returns the count within the window, this one included."""
        with self._lock:
            recent = self._recent(client)
            recent.append(self.clock())
            return len(recent)

    def wait_s(self, client: str, limit: int) -> float:
        """Seconds until `client` is under `limit` events again (0 when it is already)."""
        with self._lock:
            recent = self._recent(client)
            return 0.0 if len(recent) < limit else max(0.0, recent[-limit] + self.window_s - self.clock())

    def clear(self, client: str) -> None:
        with self._lock:
            self._events.pop(client, None)

    def _recent(self, client: str) -> list[float]:
        now = self.clock()
        recent = [t for t in self._events.get(client, []) if now - t < self.window_s]
        if len(self._events) > 10_000:  # many addresses: forget those with nothing recent
            self._events = {k: v for k, v in self._events.items() if v and now - v[-1] < self.window_s}
        self._events[client] = recent
        return recent


_MARKDOWN = re.compile(r"([\\`*\[\]<>$])")  # escapes, code, emphasis, links, HTML, math ('_' is harmless mid-word)


def markdown_safe(text: str) -> str:
    """`text` (a name or a message quoting one) with the Markdown characters that would change it escaped:
    a backslash stays a backslash, brackets make no link, '<' no tag, '$' no formula."""
    return _MARKDOWN.sub(r"\\\1", text)
