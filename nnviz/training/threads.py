"""Intra-op threads: a run trains on a thread count fixed by its task and the machine, never by load.

Floating-point sums come out in another order when torch splits them over another number of
threads, so a run's numbers depend on its thread count (docs/performance.md has the figures).
Same config, same seed, same numbers therefore needs a count that nothing but the run's own
config and the machine decides: `run_threads()`. It is not lowered when other runs train at the
same time or the machine is busy (that would make the numbers depend on the room's load). It
leaves one core to the rest of the machine (the pages, the browser showing them, other programs):
a team of OpenMP threads waits at every op for a member the OS has parked, so a run that takes
every core slows down many times over whenever anything else wants one. docs/performance.md
measures what this costs on an idle machine.

torch keeps one intra-op thread count per thread, but a thread takes the process's latest
setting when it first computes. `capped()` reads the count first (which settles it) and then
sets it, so a count set there holds for the block whatever other threads set meanwhile.
"""
from __future__ import annotations

import contextlib
from contextlib import contextmanager
from typing import Iterator

import torch

CORES = torch.get_num_threads()  # at import: all cores, or what OMP_NUM_THREADS asked for


def run_threads(task: str, device: torch.device) -> int:
    """The intra-op threads a run trains on: one for 1-D regression on a CPU (its ops are too small
    to split), else every core but one (at least one)."""
    return 1 if device.type == "cpu" and task == "regression" else max(1, CORES - 1)


@contextmanager
def capped(n: int | None) -> Iterator[None]:
    """Exactly `n` intra-op threads for this thread's torch ops in the block (None: leave the count),
    whatever other threads set meanwhile; the count before is restored after."""
    if not n:
        yield
        return
    before = torch.get_num_threads()  # settles this thread's own count before it is set
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def serial() -> contextlib.AbstractContextManager[None]:
    """Run the block's torch ops on this thread alone, so it never opens an OpenMP pool of its own."""
    return capped(1)
