"""Faults: a process killed while saving never leaves a corrupt file; a killed training run reads back as
interrupted with its history up to its last whole epoch; Stop mid-epoch leaves a consistent run.

The kill test forks a writer (so each start costs milliseconds, not a torch import) that saves a
checkpoint, a status JSON and history lines in a loop, exactly as a run does, and SIGKILLs it at 50
random moments. After every kill each file either loads with self-consistent content or is absent;
leftover temp files are invisible to every reader and swept away by `storage.sweep_temp_files`.
"""
from __future__ import annotations

import json
import multiprocessing as mp
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from nnviz.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from nnviz.jobs import runs, storage
from nnviz.model import checkpoints
from nnviz.model.models import build_model
from tests.waiting import GENEROUS_S, wait_until

KILLS = 50
CONFIG = RunConfig(data=DataConfig(dataset="digits"), model=ModelConfig(hidden=(256, 256)))  # ~270k weights, ~1 MB
PHASES = ("checkpoint", "status", "history", "between")


def _writer(folder: str, phase, counter) -> None:  # runs in the forked child until it is killed
    torch.set_num_threads(1)
    folder = Path(folder)
    model = build_model(CONFIG.model, (1, 28, 28), 10)
    i = len(storage.read_jsonl(folder / "history.jsonl"))  # resume after the last whole line, as a rerun would
    while True:
        i += 1
        with torch.no_grad():
            for p in model.parameters():
                p.fill_(float(i))  # every weight tells which save it belongs to
        phase.value = 0
        checkpoints.save(folder / "final.pt", model, CONFIG, task="classification", input_shape=(1, 28, 28),
                         n_outputs=10, classes=tuple("0123456789"), metrics={"save": i})
        phase.value = 1
        storage.atomic_write_json(folder / "status.json", {"status": "running", "save": i, "pad": "x" * 20_000})
        phase.value = 2
        storage.append_jsonl(folder / "history.jsonl", [{"epoch": i, "pad": "y" * 5_000}])
        counter.value = i
        phase.value = 3


def _check_folder(folder: Path) -> None:
    """Every file loads or is absent, and its content is one whole save (the last one, or the one in flight)."""
    rows = storage.read_jsonl(folder / "history.jsonl")
    assert [r["epoch"] for r in rows] == list(range(1, len(rows) + 1)), "a lost or torn history line"
    assert all(r["pad"] == "y" * 5_000 for r in rows)
    last_done = len(rows)
    ck = folder / "final.pt"
    if ck.exists():
        c = checkpoints.load(ck)  # raises on a torn file
        i = c.metrics["save"]
        assert last_done <= i <= last_done + 1
        model = c.model()
        assert all(torch.all(p == float(i)) for p in model.parameters()), "weights from two different saves"
    status = storage.read_json(folder / "status.json", default="absent")
    if status != "absent":
        assert isinstance(status, dict) and status["status"] == "running", "a torn status.json"
        assert last_done <= status["save"] <= last_done + 1
    assert [c.path for c in checkpoints.list_checkpoints() if c.kind == "saved"] in ([], [ck])


@pytest.mark.timeout(300)
def test_kill_during_save_leaves_no_corrupt_file(tmp_path, monkeypatch):
    monkeypatch.setenv("NNVIZ_CHECKPOINT_DIR", str(tmp_path))
    ctx = mp.get_context("fork")
    phase, counter = ctx.Value("i", -1, lock=False), ctx.Value("i", 0, lock=False)
    rng = random.Random(1234)
    hit = {p: 0 for p in PHASES}
    temps_seen = 0
    for _ in range(KILLS):
        proc = ctx.Process(target=_writer, args=(str(tmp_path), phase, counter))
        proc.start()
        before = counter.value
        wait_until(lambda before=before: counter.value != before, interval=0.002, what="a whole save")  # at least one per child
        time.sleep(rng.uniform(0.0, 0.15))  # then a random moment: mid-checkpoint, mid-JSON, mid-append
        os.kill(proc.pid, signal.SIGKILL)
        proc.join(10)
        assert proc.exitcode == -signal.SIGKILL
        hit[PHASES[phase.value]] += 1
        _check_folder(tmp_path)
        temps = [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
        temps_seen += len(temps)
        assert storage.sweep_temp_files(tmp_path, older_than_s=0) == len(temps)
        assert not any(p.name.endswith(".tmp") for p in tmp_path.iterdir())
    print(f"\n{KILLS} kills, in flight at the kill: {hit}; temp files left and swept: {temps_seen}; "
          f"{len(storage.read_jsonl(tmp_path / 'history.jsonl'))} whole saves")
    assert hit["checkpoint"] >= 5 and hit["status"] + hit["history"] >= 1  # the kills really landed mid-write


def test_sweep_keeps_fresh_temp_files_of_a_writer_in_flight(tmp_path):
    fresh = tmp_path / ".final.pt.abc.tmp"
    fresh.write_bytes(b"half")
    old = tmp_path / ".status.json.def.tmp"
    old.write_bytes(b"half")
    past = time.time() - 3600
    os.utime(old, (past, past))
    (tmp_path / "keep.pt").write_bytes(b"x")
    assert storage.sweep_temp_files(tmp_path) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == [".final.pt.abc.tmp", "keep.pt"]


TRAIN_AND_WAIT = """
import sys, time
from nnviz.jobs import runs
from nnviz.config import RunConfig
run = runs.start(RunConfig.from_json(sys.argv[1]), sys.argv[2])
print(run.dir, flush=True)
while True:
    time.sleep(1)
"""


@pytest.mark.timeout(180)
def test_a_run_killed_with_its_server_reads_as_interrupted_with_its_history(tmp_path):
    cfg = RunConfig(data=DataConfig(dataset="regression", n_train=64, n_test=32), model=ModelConfig(hidden=(8,)),
                    train=TrainConfig(device="cpu", epochs=100_000, batch_size=8))
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.Popen([sys.executable, "-c", TRAIN_AND_WAIT, cfg.to_json(), str(tmp_path)], cwd=root,
                            stdout=subprocess.PIPE, text=True)
    try:
        folder = Path(proc.stdout.readline().strip())
        wait_until(lambda: len(storage.read_jsonl(folder / "history.jsonl")) >= 5, what="five epochs")
    finally:
        proc.send_signal(signal.SIGKILL)  # the server dies mid-training
        proc.wait(10)
    record = runs.read_view(folder)
    assert record.status == "interrupted" and "last finished epoch" in record.message
    epochs = [r["epoch"] for r in record.history]
    assert len(epochs) >= 5 and epochs == list(range(epochs[0], epochs[0] + len(epochs)))
    assert all(json.dumps(r) for r in record.history)
    assert record.id in [r.id for r in runs.list_runs(tmp_path)]


def test_stop_mid_epoch_leaves_a_consistent_model_and_history(tmp_path):
    cfg = RunConfig(data=DataConfig(dataset="digits"), model=ModelConfig(hidden=(64,)),
                    train=TrainConfig(device="cpu", epochs=50, batch_size=4, seed=3))
    run = runs.start(cfg, tmp_path)
    wait_until(lambda: run.view().progress.epoch >= 1, interval=0.02, what="the first epoch")
    time.sleep(0.05)  # part of the test: a moment inside the next epoch (1,400 images in batches of 4 take far longer)
    run.stop()
    assert run.wait(GENEROUS_S)
    assert run.status == "stopped"
    history = storage.read_jsonl(run.dir / "history.jsonl")
    ckpt = checkpoints.load(run.dir / "final.pt")
    epochs = [r["epoch"] for r in history]
    assert epochs == sorted(set(epochs)) and ckpt.history["status"] == "stopped"
    saved_epochs = [r["epoch"] for r in ckpt.history["epochs"]]
    assert saved_epochs == epochs  # the checkpoint and the history file tell the same story
    model = ckpt.model()
    x = torch.zeros(2, 1, 28, 28)
    torch.testing.assert_close(model(x), run.model.eval()(x))  # the saved weights are the run's weights
    assert all(torch.isfinite(p).all() for p in model.parameters())
