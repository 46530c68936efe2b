"""The one way tests wait for something: poll a condition until it holds, with a generous timeout.

Tests never assert how long something took (speeds live in benchmarks/) and never sleep a fixed
time hoping the thing is done: they wait for the thing. The timeout only turns a hang into a
failure; on a busy shared 2-core machine a slow condition simply takes longer.
"""
from __future__ import annotations

import time
from typing import Callable, TypeVar

T = TypeVar("T")

GENEROUS_S = 120.0  # far beyond anything a working feature needs, even beside two CPU burners


def wait_until(condition: Callable[[], T], timeout: float = GENEROUS_S, interval: float = 0.05,
               what: str = "the condition") -> T:
    """Call `condition` until it returns something truthy and return that; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout:.0f} s")
        time.sleep(interval)
