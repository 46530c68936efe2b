"""Training threads: a count fixed by the run's task and the machine, held whatever other threads set."""
from __future__ import annotations

import threading

import pytest
import torch

from nnviz.config import DataConfig, ModelConfig, TrainConfig
from nnviz.data import load
from nnviz.training import threads
from nnviz.training.train import Callback, fit, init_model


@pytest.fixture(scope="module")
def digits():
    return load(DataConfig(dataset="digits"))


@pytest.fixture(autouse=True)
def three_cores(monkeypatch):
    """Pretend the machine has 3 cores, so a run's count differs from 1 and 2 on any machine."""
    before = torch.get_num_threads()
    monkeypatch.setattr(threads, "CORES", 3)
    yield
    torch.set_num_threads(before)


class ThreadsSeen(Callback):
    """Records torch's thread count at every batch of the run."""

    def __init__(self) -> None:
        self.seen: list[int] = []

    def on_batch_end(self, state) -> None:  # noqa: ANN001
        self.seen.append(torch.get_num_threads())


def _cfg(epochs: int = 2) -> TrainConfig:
    return TrainConfig(device="cpu", epochs=epochs, batch_size=128, snapshot_every=0)


def test_a_classification_run_trains_on_every_core_but_one_and_restores_the_count(digits):
    torch.set_num_threads(1)
    seen = ThreadsSeen()
    fit(init_model(ModelConfig(hidden=(16,)), digits, 0), digits, _cfg(), [seen])
    assert set(seen.seen) == {2}
    assert torch.get_num_threads() == 1


def test_a_single_core_machine_still_trains_on_one_thread(monkeypatch):
    monkeypatch.setattr(threads, "CORES", 1)
    assert threads.run_threads("classification", torch.device("cpu")) == 1


def test_regression_trains_on_one_thread():
    data = load(DataConfig(dataset="regression"))
    seen = ThreadsSeen()
    fit(init_model(ModelConfig(hidden=(8,)), data, 0), data, _cfg(), [seen])
    assert set(seen.seen) == {1}


def test_a_run_keeps_its_count_while_other_threads_set_theirs(digits):
    """Another run on one thread, or a page capping its own count, must not change a run's count."""
    seen = ThreadsSeen()
    started, done = threading.Event(), threading.Event()

    class Meet(Callback):
        def on_batch_end(self, state) -> None:  # noqa: ANN001
            started.set()

    def page() -> None:
        started.wait(60)
        while not done.is_set():
            with threads.capped(1):
                torch.ones(300_000).add_(1)
            torch.set_num_threads(3)

    other = threading.Thread(target=page)
    other.start()
    try:
        fit(init_model(ModelConfig(hidden=(16,)), digits, 0), digits, _cfg(epochs=3), [Meet(), seen])
    finally:
        done.set()
        other.join(60)
    assert set(seen.seen) == {2}


def test_serial_runs_the_block_on_one_thread_and_restores_the_count():
    torch.set_num_threads(3)
    with threads.serial():
        assert torch.get_num_threads() == 1
        torch.ones(300_000).add_(1)  # large enough to be split across threads outside `serial`
    assert torch.get_num_threads() == 3
