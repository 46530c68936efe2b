"""A small thread-safe memo of the newest results, shared by the live feeds' many polling clients."""
from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any, Callable, Hashable


class Memo:
    """Values by key, built once however many threads ask; the `kept` most recently used stay."""

    def __init__(self, kept: int) -> None:
        self._kept = kept
        self._items: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, build: Callable[[], Any]) -> Any:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        value = build()  # outside the lock: other keys are served meanwhile
        with self._lock:
            self._items[key] = value
            while len(self._items) > self._kept:
                self._items.popitem(last=False)
        return value
