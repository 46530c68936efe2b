"""Training threads: a lone run takes every core, concurrent runs share them, regression takes one."""
from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import torch

from nnviz import threads
from nnviz.config import DataConfig, ModelConfig, TrainConfig
from nnviz.data import load
from nnviz.train import Callback, fit, init_model


@pytest.fixture(scope="module")
def digits():
    return load(DataConfig(dataset="digits"))


MEASURED_LOAD = threads.OtherLoad.update  # the real reading, which the fixture below replaces


@pytest.fixture(autouse=True)
def four_cores(monkeypatch):
    """Pretend the machine has 4 cores, so the shares differ from 1 on any machine, and that
    nothing else runs on it (unless a test says otherwise)."""
    before = torch.get_num_threads()
    monkeypatch.setattr(threads, "CORES", 4)
    monkeypatch.setattr(threads.OtherLoad, "update", lambda self: 0.0)
    yield
    torch.set_num_threads(before)


class ThreadsSeen(Callback):
    """Records torch's thread count at every batch; optionally meets a partner run at its first batch."""

    def __init__(self, meet: threading.Barrier | None = None) -> None:
        self.meet, self.seen = meet, []

    def on_batch_end(self, state) -> None:  # noqa: ANN001
        if self.meet is not None and state.epoch == 1 and state.batch == 1:
            self.meet.wait(timeout=30)  # both runs are training from here on
        self.seen.append(torch.get_num_threads())


def _cfg(epochs: int = 2) -> TrainConfig:
    return TrainConfig(device="cpu", epochs=epochs, batch_size=128, snapshot_every=0)


def test_a_lone_classification_run_trains_on_every_core_and_hands_them_back(digits):
    seen = ThreadsSeen()
    fit(init_model(ModelConfig(hidden=(16,)), digits, 0), digits, _cfg(), [seen])
    assert set(seen.seen) == {4}
    assert torch.get_num_threads() == 4


def test_regression_trains_on_one_thread():
    data = load(DataConfig(dataset="regression"))
    seen = ThreadsSeen()
    fit(init_model(ModelConfig(hidden=(8,)), data, 0), data, _cfg(), [seen])
    assert set(seen.seen) == {1}
    assert torch.get_num_threads() == 4


def test_two_runs_at_once_share_the_cores_and_the_survivor_takes_them_back(digits):
    meet = threading.Barrier(2)
    short, long = ThreadsSeen(meet), ThreadsSeen(meet)

    def train(callback: ThreadsSeen, epochs: int) -> None:
        fit(init_model(ModelConfig(hidden=(16,)), digits, 0), digits, _cfg(epochs=epochs), [callback])

    runs = [threading.Thread(target=train, args=(short, 1)), threading.Thread(target=train, args=(long, 6))]
    for run in runs:
        run.start()
    for run in runs:
        run.join(timeout=120)
    # after the meeting both were registered: every later batch of the short run saw the half share
    assert short.seen[1:] and set(short.seen[1:]) == {2}
    assert long.seen[-1] == 4  # the short run ended long before: the long one took all cores back


def test_serial_runs_the_block_on_one_thread_and_restores_the_count():
    torch.set_num_threads(3)
    with threads.serial():
        assert torch.get_num_threads() == 1
        torch.ones(300_000).add_(1)  # large enough to be split across threads outside `serial`
    assert torch.get_num_threads() == 3


@pytest.mark.parametrize(("others", "threads_left"), [(0.0, 4), (0.3, 4), (0.4, 3), (1.2, 3), (1.5, 2), (3.9, 1)])
def test_a_run_leaves_the_cores_other_programs_keep_busy(monkeypatch, others, threads_left):
    monkeypatch.setattr(threads.OtherLoad, "update", lambda self: others)
    with threads.training_share() as share:
        assert share.threads == threads_left == torch.get_num_threads()


def test_regression_stays_on_one_thread_whatever_the_load(monkeypatch):
    monkeypatch.setattr(threads.OtherLoad, "update", lambda self: 3.0)
    with threads.training_share(single_thread=True) as share:
        assert share.threads == 1


def test_the_share_follows_the_load_batch_by_batch(monkeypatch):
    load = iter([1.0, 1.0, 0.0])
    monkeypatch.setattr(threads.OtherLoad, "update", lambda self: next(load))
    with threads.training_share() as share:
        assert share.threads == 3  # a browser burst holds a core
        share.update()
        assert share.threads == 3
        share.update()
        assert share.threads == 4  # it ended: every core again


@pytest.mark.skipif(not Path("/proc/stat").is_file(), reason="the load is read from Linux's /proc")
def test_other_load_sees_a_busy_process_and_not_this_one():
    other = threads.OtherLoad()
    spinner = subprocess.Popen([sys.executable, "-c", "import time\nend = time.time() + 1.5\nwhile time.time() < end: pass"])
    try:
        time.sleep(0.3)  # the spinner is running
        MEASURED_LOAD(other)
        time.sleep(0.6)
        busy = MEASURED_LOAD(other)  # over the last 0.6 s: the spinner's whole core
    finally:
        spinner.wait(5)
    assert busy >= 0.6, busy
    mine = threads.OtherLoad()
    time.sleep(0.15)
    end = time.time() + 0.5
    while time.time() < end:  # this process spinning is not "others"
        pass
    assert MEASURED_LOAD(mine) < 0.5


def test_evaluations_inside_a_run_follow_the_load_chunk_by_chunk(monkeypatch, digits):
    """fit() scores whole splits between its batches; a burst elsewhere during one is met at once."""
    from nnviz.train import predict

    model = init_model(ModelConfig(hidden=(16,)), digits, 0)
    seen: list[int] = []
    forward = model.forward
    monkeypatch.setattr(model, "forward", lambda x: (seen.append(torch.get_num_threads()), forward(x))[1])
    load = iter([0.0] + [1.0] * 100)  # idle when the run claims its cores, then a core busy elsewhere
    monkeypatch.setattr(threads.OtherLoad, "update", lambda self: next(load))
    with threads.training_share():
        predict(model, digits.x_train, batch_size=256)
    assert seen[0] == 3 and set(seen) == {3}  # one core left to the other program from the first chunk on
    seen.clear()
    predict(model, digits.x_train[:512], batch_size=256)  # outside a run: the count is left alone
    assert set(seen) == {4}
