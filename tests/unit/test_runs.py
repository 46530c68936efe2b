"""nnviz.jobs.runs: background runs and their folders (config, status, history, snapshots, checkpoints)."""
from __future__ import annotations

import json
import os
import subprocess
import threading
from pathlib import Path

import numpy as np
import pytest
import torch

from nnviz.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from nnviz.data import load
from nnviz.jobs import runs
from nnviz.jobs.storage import atomic_write_json, read_jsonl
from nnviz.model import checkpoints
from nnviz.training.train import predict
from tests.waiting import GENEROUS_S, wait_until


def reg_config(**train) -> RunConfig:
    return RunConfig(data=DataConfig(dataset="regression"), model=ModelConfig(hidden=(16,), activation="tanh"),
                     train=TrainConfig(**{"device": "cpu", "batch_size": 16, "epochs": 3, **train}), name="unit")


def finish(run: runs.Run, timeout: float = GENEROUS_S) -> runs.RunView:
    assert run.wait(timeout), "the run did not end"
    return run.view()


@pytest.fixture(scope="module")
def done(tmp_path_factory):
    """One finished 3-epoch regression run, shared by the read-only checks below."""
    run = runs.start(reg_config(), tmp_path_factory.mktemp("runs"))
    view = finish(run)
    return run, view


class TestRegressionRun:
    def test_status_and_config(self, done):
        run, view = done
        assert view.status == "finished" and run.status == "finished"
        assert RunConfig.from_json((run.dir / "config.json").read_text()) == reg_config()
        status = json.loads((run.dir / "status.json").read_text())
        assert status["status"] == "finished" and status["pid"] == os.getpid()
        assert status["epochs_done"] == 3 and status["created"] <= status["updated"]

    def test_history_lines(self, done):
        run, view = done
        rows = read_jsonl(run.dir / "history.jsonl")
        assert [r["epoch"] for r in rows] == [0, 1, 2, 3]
        assert rows == json.loads(json.dumps(view.history))  # the folder and the live view agree
        assert read_jsonl(run.dir / "batches.jsonl")

    def test_snapshots_hold_the_fit_on_the_grid(self, done):
        run, view = done
        snaps = read_jsonl(run.dir / "snapshots.jsonl")
        assert [s["epoch"] for s in snaps] == [0, 1, 2, 3]
        assert all(len(s["fit"]) == runs.FIT_GRID_POINTS == len(view.fit_x) for s in snaps)
        assert snaps[0]["fit"] != snaps[-1]["fit"]
        # the last snapshot is the final model's prediction on the grid
        grid = torch.tensor(view.fit_x)[:, None]
        expected = predict(run.model, grid).flatten()
        torch.testing.assert_close(torch.tensor(snaps[-1]["fit"]), expected, atol=1e-4, rtol=0)

    def test_grid_spans_the_data_with_a_margin(self, done):
        _, view = done
        data = load(reg_config().data)
        xs = torch.cat([data.x_train, data.x_val, data.x_test])
        assert view.fit_x[0] < float(xs.min()) and view.fit_x[-1] > float(xs.max())

    def test_checkpoints_and_weight_snapshots(self, done):
        run, _ = done
        final = checkpoints.load(run.dir / "final.pt")
        assert final.config == reg_config() and final.task == "regression"
        assert final.metrics["epoch"] == 3 and final.history["status"] == "finished"
        x = torch.linspace(-5, 5, 9)[:, None]
        torch.testing.assert_close(final.model()(x), run.model(x), atol=0, rtol=0)
        assert checkpoints.load(run.dir / "best.pt").metrics["epoch"] >= 1
        assert sorted(p.name for p in (run.dir / "weights").iterdir()) == [f"epoch_{e:04d}.pt" for e in range(4)]

    def test_read_view_rebuilds_the_run_as_the_live_view_shows_it(self, done):
        run, live = done
        folder = runs.read_view(run.dir)  # what a later server, the report and the CLI read
        assert folder.id == live.id == run.id and folder.status == live.status == "finished"
        assert folder.config == live.config == reg_config() and folder.message == live.message
        assert json.loads(json.dumps([folder.history, folder.batch_losses])) == \
            json.loads(json.dumps([live.history, live.batch_losses]))
        assert sorted(folder.snapshots) == sorted(live.snapshots) == [0, 1, 2, 3]
        for epoch, snap in live.snapshots.items():  # the folder keeps the fit to 5 decimals
            np.testing.assert_allclose(folder.snapshots[epoch]["fit"], snap["fit"], atol=1e-5)
        assert folder.final_checkpoint == live.final_checkpoint == run.dir / "final.pt"
        assert folder.label == live.label == f"run {run.id}" and live.progress is not None and folder.progress is None

    def test_registry(self, done):
        run, _ = done
        assert runs.get(run.id) is run and run not in runs.active_runs()


def test_runs_dir_follows_the_environment(nnviz_dirs):
    run = runs.start(reg_config(epochs=1))
    assert run.dir.parent == nnviz_dirs["runs"]
    assert finish(run).status == "finished"


def test_classification_run_snapshots_hold_test_predictions(tmp_path):
    cfg = RunConfig(data=DataConfig(dataset="digits"), model=ModelConfig(hidden=(32,)),
                    train=TrainConfig(device="cpu", epochs=1, max_steps=3))
    run = runs.start(cfg, tmp_path)
    view = finish(run)
    assert view.status == "finished"
    data = load(cfg.data)
    snaps = read_jsonl(run.dir / "snapshots.jsonl")
    assert [s["epoch"] for s in snaps] == [0, 1]
    for s in snaps:
        assert len(s["test_pred"]) == len(s["test_conf"]) == len(data.x_test)
        assert set(s["test_pred"]) <= set(range(10))
        assert all(0.1 - 1e-4 <= c <= 1.0 for c in s["test_conf"])  # a softmax max over 10 classes
    assert snaps[-1]["test_pred"] == predict(run.model, data.x_test).argmax(1).tolist()
    assert view.data_info["classes"] == list(data.classes) and view.data_info["n_train"] == len(data.x_train)
    ckpt = checkpoints.load(run.dir / "final.pt")
    assert ckpt.task == "classification" and ckpt.classes == data.classes and ckpt.input_shape == (1, 28, 28)


def test_stop_ends_the_run_and_records_it(tmp_path):
    """How soon it ends is measured by benchmarks/stop_latency.py."""
    run = runs.start(reg_config(epochs=100_000, batch_size=8), tmp_path)
    wait_until(lambda: len(run.view().history) >= 3, what="three epochs")
    assert run.active
    run.stop()
    assert run.wait(GENEROUS_S), "Stop did not end the run"
    assert run.status == "stopped" and len(run.view().history) < 100_000
    assert json.loads((run.dir / "status.json").read_text())["status"] == "stopped"
    assert checkpoints.load(run.dir / "final.pt").history["status"] == "stopped"
    assert runs.read_view(run.dir).status == "stopped"


def test_failed_run_says_why(tmp_path, nnviz_dirs):
    cfg = RunConfig(data=DataConfig(dataset="mnist", data_dir=str(tmp_path / "empty")), model=ModelConfig(),
                    train=TrainConfig(device="cpu", epochs=1))
    view = finish(runs.start(cfg, tmp_path / "runs"))
    assert view.status == "failed"
    assert "python -m nnviz download mnist" in view.message


def write_run_folder(root: Path, run_id: str, status: dict, history: list[dict] | None = None) -> Path:
    folder = root / run_id
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(reg_config().to_json())
    atomic_write_json(folder / "status.json", status)
    if history is not None:
        lines = "".join(json.dumps(r) + "\n" for r in history)
        (folder / "history.jsonl").write_text(lines + '{"epoch": 2, "train_lo')  # torn last line
    return folder


def dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


class TestRecords:
    @pytest.mark.parametrize("state", ["running", "queued"])
    def test_active_status_with_a_dead_pid_reads_interrupted(self, tmp_path, state):
        folder = write_run_folder(tmp_path, "20240101-000000-regression-dead00",
                                  {"status": state, "pid": dead_pid(), "message": ""},
                                  [{"epoch": 0, "train_loss": 2.0}, {"epoch": 1, "train_loss": 1.0}])
        record = runs.read_view(folder)
        assert record.status == "interrupted" and "stopped" in record.message
        assert [r["epoch"] for r in record.history] == [0, 1]  # kept up to the last whole line
        assert record.config == reg_config() and record.final_checkpoint is None

    def test_this_process_pid_without_a_live_run_reads_interrupted(self, tmp_path):
        folder = write_run_folder(tmp_path, "20240101-000000-regression-mine00", {"status": "running",
                                                                                  "pid": os.getpid()})
        assert runs.read_view(folder).status == "interrupted"

    def test_running_in_another_live_process_stays_running(self, tmp_path):
        folder = write_run_folder(tmp_path, "20240101-000000-regression-alive0", {"status": "running",
                                                                                  "pid": os.getppid()})
        assert runs.read_view(folder).status == "running"

    def test_broken_config_and_missing_status(self, tmp_path):
        folder = tmp_path / "20240101-000000-x-broken"
        folder.mkdir()
        (folder / "config.json").write_text('{"train": {"epochs": -5}}')
        record = runs.read_view(folder)
        assert record.config is None and record.status == "unknown" and record.history == []

    def test_list_runs_newest_first(self, tmp_path):
        stamps = ["20240301-120000", "20240101-090000", "20250101-000000", "20240301-115959"]
        for i, stamp in enumerate(stamps):
            write_run_folder(tmp_path, f"{stamp}-regression-{i:06d}", {"status": "finished"})
        (tmp_path / "not-a-run").mkdir()  # no config.json: ignored
        ids = [r.id[:15] for r in runs.list_runs(tmp_path)]
        assert ids == sorted(stamps, reverse=True)

    def test_list_runs_orders_runs_of_the_same_second(self, tmp_path):
        first = runs.start(reg_config(epochs=1), tmp_path)
        second = runs.start(reg_config(epochs=1), tmp_path)
        finish(first)
        finish(second)
        assert [r.id for r in runs.list_runs(tmp_path)] == [second.id, first.id]

    def test_list_runs_of_a_missing_folder(self, tmp_path):
        assert runs.list_runs(tmp_path / "nothing-here") == []


def test_kfold_run_writes_one_checkpoint_per_fold(tmp_path):
    run = runs.start(reg_config(kfold=3, epochs=2), tmp_path)
    view = finish(run)
    assert view.status == "finished"
    for fold in (1, 2, 3):
        ckpt = checkpoints.load(run.dir / f"fold_{fold}.pt")
        assert ckpt.history["status"] == "finished" and ckpt.metrics["epoch"] == 2
        rows = read_jsonl(run.dir / f"history_fold{fold}.jsonl")
        assert [r["epoch"] for r in rows] == [0, 1, 2] and all(r["fold"] == fold for r in rows)
    assert not (run.dir / "fold_4.pt").exists()
    assert checkpoints.load(run.dir / "final.pt").task == "regression"
    assert view.progress.folds == 3
    assert [r["fold"] for r in view.history] == [1, 1, 1]  # the live view follows fold 1
    record = runs.read_view(run.dir)
    assert [r["epoch"] for r in record.history] == [0, 1, 2]


def test_the_live_view_follows_the_fold_in_progress_and_ends_on_fold_1(tmp_path, monkeypatch):
    """During fold 2 the live copies hold fold 2's epochs from epoch 0 (not fold 1's final values);
    once every fold is done they are fold 1's again, the fold whose model the run keeps."""
    reached, release = threading.Event(), threading.Event()

    class PausingRecorder(runs._Recorder):  # holds the run after fold 2's second epoch, for a look
        def on_epoch_end(self, state, record):
            super().on_epoch_end(state, record)
            if self.fold == 2 and record["epoch"] == 2:
                reached.set()
                release.wait(GENEROUS_S)

    monkeypatch.setattr(runs, "_Recorder", PausingRecorder)
    run = runs.start(reg_config(kfold=3, epochs=4), tmp_path)
    try:
        assert reached.wait(GENEROUS_S), run.message
        view = run.view()
        assert view.progress.fold == 2
        assert [r["epoch"] for r in view.history] == [0, 1, 2] and {r["fold"] for r in view.history} == {2}
        assert sorted(view.snapshots) == [0, 1, 2]
    finally:
        release.set()
    view = finish(run)
    assert view.status == "finished", view.message
    assert [r["epoch"] for r in view.history] == [0, 1, 2, 3, 4] and {r["fold"] for r in view.history} == {1}
    assert json.loads(json.dumps(view.history)) == read_jsonl(run.folder.history_path(1))
