"""Same config, same seed, same numbers: a run's history is bitwise the same alone, beside other runs,
beside pages changing their own thread counts, on a busy machine, and from the command line."""
from __future__ import annotations

import contextlib
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from nnviz.config import DataConfig, RunConfig, replace
from nnviz.jobs import runs
from nnviz.jobs.storage import read_jsonl
from nnviz.model.models import PRESETS
from tests.unit.test_cli import env, nnviz  # noqa: F401  (the CLI as a user runs it, and its folders)

TIMING = ("seconds", "elapsed", "samples_per_s")  # wall-clock fields: the only ones allowed to differ


def numbers(history: list[dict]) -> list[dict]:
    """A history without its timings."""
    return [{k: v for k, v in row.items() if k not in TIMING} for row in history]


def config(preset: str, dataset: str = "digits", epochs: int = 2, **train) -> RunConfig:
    p = PRESETS[preset]
    data = DataConfig(dataset=dataset)
    return RunConfig(data=data, model=p.model, train=replace(p.train, epochs=epochs, device="cpu", **train),
                     preset=preset)


def history_of(*configs: RunConfig) -> list[list[dict]]:
    """Train the configs as background runs started together; each run's history without timings."""
    started = [runs.start(c) for c in configs]
    for run in started:
        assert run.wait(600), "a run did not end"
        assert run.status == "finished", run.message
    return [numbers(read_jsonl(run.dir / "history.jsonl")) for run in started]


@contextlib.contextmanager
def cpu_burners(n: int = 2):
    """`n` processes spinning on the CPU for the block: a busy shared machine."""
    procs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]
    try:
        yield
    finally:
        for p in procs:
            p.kill()
            p.wait(30)


# a CNN with batch norm and dropout, an MLP with dropout: the layers whose sums and masks could differ
CASES = [("fast_cnn", {"max_steps": 8}), ("mlp_dropout", {"max_steps": 8}), ("lenet", {"max_steps": 8})]


@pytest.mark.parametrize(("preset", "train"), CASES)
def test_same_history_alone_beside_other_runs_and_on_a_busy_machine(preset, train):
    cfg = config(preset, **train)
    alone = history_of(cfg)[0]
    regression = config("regressor", dataset="regression", epochs=20)  # trains on one thread
    beside_regression = history_of(cfg, regression)[0]
    beside_itself = history_of(cfg, cfg)
    with cpu_burners():
        busy = history_of(cfg)[0]
    assert beside_regression == alone
    assert beside_itself == [alone, alone]
    assert busy == alone
    assert len(alone) == cfg.train.epochs + 1


def test_a_page_changing_its_own_thread_count_does_not_change_a_run():
    import torch

    from nnviz.training.threads import capped

    cfg = config("fast_cnn", max_steps=8)
    alone = history_of(cfg)[0]
    done = threading.Event()

    def page() -> None:  # Inside / Draw & predict cap their own small forwards to one thread
        x = torch.randn(4, 1, 28, 28)
        conv = torch.nn.Conv2d(1, 16, 3)
        while not done.is_set():
            with capped(1):
                conv(x)
            conv(x)

    other = threading.Thread(target=page)
    other.start()
    try:
        during = history_of(cfg)[0]
    finally:
        done.set()
        other.join(60)
    assert during == alone


@pytest.mark.timeout(900)  # three CLI runs, one beside two CPU burners: slow on a busy machine
def test_the_command_line_gives_the_same_history_twice_and_as_the_library(env):  # noqa: F811
    def cli_history() -> list[dict]:
        out = nnviz("train", "--dataset", "digits", "--model", "fast_cnn", "--epochs", "2", "--device", "cpu",
                    "--max-steps", "8", "--json", env=env, timeout=600)
        assert out.returncode == 0, out.stderr
        summary = [line for line in out.stdout.splitlines() if '"run_dir"' in line][-1]
        run_dir = Path(__import__("json").loads(summary)["run_dir"])
        return numbers(read_jsonl(run_dir / "history.jsonl"))

    first = cli_history()
    with cpu_burners():
        second = cli_history()
    assert first == second
    assert first == history_of(config("fast_cnn", max_steps=8))[0]
