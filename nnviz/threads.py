"""Intra-op threads for training: one run takes every core; runs training at once share them evenly.

A lone run trains fastest on every core (2-core laptop, default CNN on digits: ~1.25x faster
on 2 threads than on 1), also from the dashboard, whose live view leaves the cores free most
of the time (benchmarks/dashboard_vs_cli.py). Runs training at the same time in one process
(several users, a sweep beside a run) would oversubscribe the cores with a full team each:
OpenMP teams then wait at every barrier for a thread the OS has parked (two default-CNN runs
at once, 2 cores: 3.2 s on 2 threads each, 1.9 s on 1 each). So each fit() takes
cores // (fits running now), re-read every batch, and hands the cores back when it ends.
1-D regression nets train on one thread: their ops are so small that intra-op threads only
add barriers (measured: 100 epochs 0.4 s on one thread, 0.5-34 s on two beside a busy UI).

Other programs on the machine take cores too: on a laptop, the browser showing the dashboard
renders for ~0.5 s on one core when a run starts. A team of OpenMP threads then waits at every
barrier for the thread the OS parked, so each fit() also watches how busy the rest of the machine
is (Linux: /proc/stat minus this process) and leaves the cores it takes to them: on 2 cores,
2 threads train ~1.3x faster than 1 when the cores are free, and several times slower than 1
while a browser burst holds a core.

torch's thread count is process-wide in effect (a set in one thread is what the others read),
so every fit computes the same share and the last one to finish restores the full count.

Every thread that runs parallel torch ops gets its own OpenMP thread pool, and while more
pooled threads live than there are cores, libgomp lets idle pool threads spin only ~100 rounds
before sleeping, so each parallel op pays a wake-up. Measured on 2 cores: an element-wise op on
400k floats took 24 us from the only pool, 60-70 us once a second pool lived; the command line,
which loaded its data on the main thread and trained on another, trained the default CNN ~1.5x
slower than with one pool. `serial()` keeps a thread's torch work off OpenMP altogether.
"""
from __future__ import annotations

import contextlib
import math
import os
import threading
import time
from contextlib import contextmanager
from typing import Iterator

import torch

CORES = torch.get_num_threads()  # at import: all cores, or what OMP_NUM_THREADS asked for
_lock = threading.Lock()
_training = 0  # fit() calls running in this process


CONTENTION_WINDOW_S = 0.1  # how often a fit looks at the rest of the machine's CPU use
BUSY_CORE = 0.4  # others using this much of a core (or more) take that core from training
_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


class OtherLoad:
    """Cores the rest of the machine kept busy over the last window (Linux; elsewhere always 0)."""

    def __init__(self) -> None:
        self.last = self._sample()
        self.cores_busy = 0.0

    @staticmethod
    def _sample() -> tuple[float, float, float] | None:
        """(wall s, CPU s of all processes, CPU s of this one), or None where /proc is missing."""
        try:
            with open("/proc/stat") as f:
                cpu = f.readline().split()[1:]
            with open("/proc/self/stat") as f:
                mine = f.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            return None
        busy = sum(int(v) for v in cpu[:8]) - int(cpu[3]) - int(cpu[4])  # all but idle and iowait
        return time.monotonic(), busy / _TICK, (int(mine[11]) + int(mine[12])) / _TICK

    def update(self) -> float:
        """Re-measure when a window has passed; the latest estimate."""
        if self.last is None or time.monotonic() - self.last[0] < CONTENTION_WINDOW_S:
            return self.cores_busy
        now = self._sample()
        if now is not None:
            wall = now[0] - self.last[0]
            self.cores_busy = max(0.0, ((now[1] - self.last[1]) - (now[2] - self.last[2])) / wall)
            self.last = now
        return self.cores_busy


class CoreShare:
    """One fit's claim on the cores; `update()` (every batch) follows the number of fits running
    and leaves to other programs the cores they keep busy."""

    def __init__(self, single_thread: bool) -> None:
        self.single_thread, self.threads = single_thread, 0
        self.others = OtherLoad()

    def update(self) -> None:
        want = 1 if self.single_thread else fair_share()
        if want > 1:
            taken = math.floor(self.others.update() + 1 - BUSY_CORE + 1e-9)  # 0.4 -> 1 core, 1.4 -> 2 cores
            want = max(1, min(want, CORES - taken))
        if want != self.threads:
            torch.set_num_threads(want)
            self.threads = want


_local = threading.local()  # .share: the CoreShare of the fit running on this thread


def rebalance() -> None:
    """Inside a fit: follow the machine's load now (between evaluation chunks, say); elsewhere nothing."""
    share = getattr(_local, "share", None)
    if share is not None:
        share.update()


def fair_share() -> int:
    """Threads for each of the fits running now."""
    return max(1, CORES // max(1, _training))


@contextmanager
def capped(n: int | None) -> Iterator[None]:
    """At most `n` intra-op threads for the block's torch ops (None: leave the count), restored after."""
    if not n:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def serial() -> contextlib.AbstractContextManager[None]:
    """Run the block's torch ops on this thread alone, so it never opens an OpenMP pool of its own."""
    return capped(1)


@contextmanager
def training_share(single_thread: bool = False) -> Iterator[CoreShare]:
    """Count a fit as running for the duration; yields its CoreShare (already applied)."""
    global _training
    with _lock:
        _training += 1
    share = CoreShare(single_thread)
    _local.share = share
    try:
        share.update()
        yield share
    finally:
        _local.share = None
        with _lock:
            _training -= 1
            torch.set_num_threads(fair_share())  # the others' share, or every core for the next caller
