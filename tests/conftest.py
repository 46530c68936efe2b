"""Fixtures shared by every test layer (unit, app, e2e)."""
from __future__ import annotations

import time
from pathlib import Path

import pytest

from nnviz import process

process.configure()  # the test process trains as the CLI and the dashboard do (before torch loads)

from tests.unit.fixtures_data import write_all  # noqa: E402


@pytest.fixture(autouse=True)
def _training_at_normal_priority(monkeypatch: pytest.MonkeyPatch) -> None:
    """A run lowers its training thread's priority (nice 10) so a classroom's pages stay responsive. Beside
    busy programs at normal priority (a shared CI machine's neighbours, two CPU burners) such a thread gets
    a few per cent of a core, and a 300-epoch test run then takes minutes instead of seconds. Tests check
    what a run does, not its priority, so in-process runs train at normal priority here."""
    from nnviz.jobs import runs

    monkeypatch.setattr(runs, "TRAINING_NICENESS", 0)


@pytest.fixture
def tiny_data_dir(tmp_path: Path) -> Path:
    """A data folder with tiny MNIST, Fashion-MNIST and CIFAR-10 in torchvision's on-disk formats."""
    return write_all(tmp_path / "tiny-data")


class ManualClock:
    """Stands in for the `time` module of code that paces itself with time.monotonic(): the clock moves
    only when the test says so, so "a frame's time has passed" does not depend on the machine's speed."""

    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    def __getattr__(self, name: str):
        return getattr(time, name)


@pytest.fixture
def replay_clock(monkeypatch: pytest.MonkeyPatch) -> ManualClock:
    """The epoch player's clock (nnviz.ui.replay), moved by hand."""
    from nnviz.ui import replay

    clock = ManualClock()
    monkeypatch.setattr(replay, "time", clock)
    return clock
