"""A Run: one training job in a background thread, with its folder runs/<id>/ (nnviz.jobs.run_folder).

The folder is the run's source of truth, written atomically as the run goes. Pages never touch
the training thread's model: they read the Run's copies under its lock, or the folder. Any
session can observe any run by id.
"""
from __future__ import annotations

import math
import os
import shutil
import threading
import time
import uuid
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import torch

from nnviz.analysis.diagnostics import GradNormRecorder
from nnviz.config import ConfigError, RunConfig
from nnviz.data import TaskData, load
from nnviz.data.regression import DOMAIN
from nnviz.jobs import storage
from nnviz.jobs.background import TRAINING_SLOTS, BackgroundJob, Registry
from nnviz.jobs.run_folder import RunFolder
from nnviz.jobs.storage import append_jsonl, atomic_write_json
from nnviz.model import checkpoints
from nnviz.training import limits
from nnviz.training.crossval import cross_validate
from nnviz.training.tempo import Tempo
from nnviz.training.train import Callback, History, TrainState, fit, init_model, predict

ACTIVE_STATES = BackgroundJob.ACTIVE_STATES
SNAPSHOT_MAX_PARAMS = 250_000  # per-epoch weight snapshots only for models this small
MAX_SNAPSHOTS = 200  # per run; the interval grows for long runs
FIT_GRID_POINTS = 200  # x positions of the recorded regression fit
_registry: Registry["Run"] = Registry()


def runs_dir(path: str | os.PathLike | None = None) -> Path:
    """Where run folders live: `path`, else $NNVIZ_RUNS_DIR, else <project>/runs."""
    return Path(path or os.environ.get("NNVIZ_RUNS_DIR") or Path(__file__).resolve().parents[2] / "runs")


RUN_ID_PATTERN = r"\d{8}-\d{6}-.+-[0-9a-f]{6}"  # what new_id() makes


def clean_leftovers(root: str | os.PathLike | None = None) -> int:
    """At start-up: temp files of killed writers, and run folders a failed start left half-made."""
    return storage.sweep_half_made_folders(runs_dir(root), RUN_ID_PATTERN, (RunFolder.CONFIG, RunFolder.STATUS),
                                          subfolders=(RunFolder.WEIGHTS,))


def fit_grid(data: TaskData) -> np.ndarray:
    """x positions where a regression fit is drawn: the data range plus 10% each side."""
    xs = torch.cat([data.x_train, data.x_val, data.x_test]).flatten()
    lo, hi = (float(xs.min()), float(xs.max())) if len(xs) else DOMAIN
    pad = 0.1 * (hi - lo or 1.0)
    return np.linspace(lo - pad, hi + pad, FIT_GRID_POINTS, dtype=np.float32)


@dataclass
class Progress:
    epoch: int = 0
    epochs: int = 0
    batch: int = 0
    batches: int = 0
    fold: int = 0  # 1-based during K-fold runs, else 0
    folds: int = 0
    started: float = 0.0
    samples_per_s: float = 0.0

    @property
    def fraction(self) -> float:
        """Share of all batches done, across epochs and folds."""
        per_fold = max(1, self.epochs * max(self.batches, 1))
        done = (self.epoch - 1) * self.batches + self.batch if self.epoch else 0
        folds = max(self.folds, 1)
        return min(1.0, ((max(self.fold, 1) - 1) * per_fold + done) / (folds * per_fold))

    @property
    def eta_s(self) -> float:
        elapsed = time.time() - self.started if self.started else 0.0
        f = self.fraction
        return elapsed * (1 - f) / f if f > 0 else math.nan


@dataclass(frozen=True)
class RunView:
    """A run, read-only: the one shape every page, the report and the CLI read a run in. It is a live
    run's copy taken under its lock (`Run.view()`), a run of this or any earlier process rebuilt from its
    folder (`read_view`), or a loaded checkpoint (`folder` None, `checkpoint` set)."""

    id: str
    config: RunConfig | None
    status: str
    message: str = ""
    history: list[dict] = field(default_factory=list)  # a row per epoch; K-fold: the fold shown (fold 1 once done)
    folder: RunFolder | None = None
    progress: Progress | None = None  # only while this process trains it
    # live only (a folder's readers derive both from the data, e.g. `fit_grid(load(config.data))`):
    fit_x: list[float] = field(default_factory=list)  # regression: the grid of the snapshots' 'fit'
    data_info: dict[str, Any] = field(default_factory=dict)
    checkpoint: Path | None = None  # a loaded checkpoint shown without its run
    copied_batch_losses: list[tuple[float, float]] | None = field(default=None, repr=False)  # else read on first use
    copied_snapshots: dict[int, dict] | None = field(default=None, repr=False)

    @cached_property
    def batch_losses(self) -> list[tuple[float, float]]:
        if self.copied_batch_losses is not None:
            return self.copied_batch_losses
        return self.folder.batch_losses() if self.folder is not None else []

    @cached_property
    def snapshots(self) -> dict[int, dict]:
        """epoch -> {'fit' | 'test_pred', 'test_conf' ...}"""
        if self.copied_snapshots is not None:
            return self.copied_snapshots
        return self.folder.snapshots() if self.folder is not None else {}

    @property
    def active(self) -> bool:
        return self.status in ACTIVE_STATES

    @property
    def label(self) -> str:
        return f"checkpoint {self.checkpoint.stem}" if self.checkpoint is not None else f"run {self.id}"

    @property
    def final_checkpoint(self) -> Path | None:
        """The checkpoint to score the last epoch with: the loaded file, or final.pt once the run has ended."""
        if self.checkpoint is not None:
            return self.checkpoint
        return None if self.folder is None or self.active else self.folder.final_checkpoint


@dataclass
class Run(BackgroundJob):
    """A background training job; read it through `view()` from any thread."""

    id: str
    dir: Path
    config: RunConfig
    status: str = "queued"
    message: str = ""
    progress: Progress = field(default_factory=Progress)
    epochs: list[dict] = field(default_factory=list)  # history rows so far (copies)
    batch_losses: list[tuple[float, float]] = field(default_factory=list)
    snapshots: dict[int, dict] = field(default_factory=dict)  # epoch -> {'fit'|'test_pred'...}
    fit_x: list[float] = field(default_factory=list)  # regression: the grid of snapshots' 'fit'
    model: torch.nn.Module | None = None  # a CPU copy of the final model once done
    data_info: dict[str, Any] = field(default_factory=dict)
    stop_event: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    thread: threading.Thread | None = None
    tempo: Tempo = field(default_factory=Tempo)  # slow motion; its rate may change while the run trains

    def __post_init__(self) -> None:
        self.tempo.stop_event = self.stop_event  # Stop ends a slow-motion pause at once

    @property
    def folder(self) -> RunFolder:
        return RunFolder(self.dir)

    def view(self) -> RunView:
        """A consistent copy of what the UI shows, taken under the lock."""
        with self.lock:
            return RunView(self.id, self.config, self.status, self.message, list(self.epochs), self.folder,
                           Progress(**self.progress.__dict__), list(self.fit_x), dict(self.data_info),
                           copied_batch_losses=list(self.batch_losses), copied_snapshots=dict(self.snapshots))

    def set_status(self, status: str, message: str = "", strict: bool = False) -> None:
        """Set the status; a disk that fails to take status.json (full, gone) only raises when `strict`:
        the live status is kept in memory, and a later server reads the run as interrupted."""
        with self.lock:
            self.status, self.message = status, message
        previous = self.folder.status()
        try:
            atomic_write_json(self.folder.status_path, {
                "status": status, "message": message, "pid": os.getpid(),
                "created": previous.get("created", time.time()), "updated": time.time(),
                "epochs_done": len(self.epochs) - 1 if self.epochs else 0})
        except OSError:
            if strict:
                raise


class _Recorder(Callback):
    """Writes each epoch to the run folder and mirrors it into the Run for live views."""

    def __init__(self, run: Run, data: TaskData, fold: int = 0) -> None:
        self.run, self.data, self.fold = run, data, fold
        self.grid = torch.from_numpy(fit_grid(data))[:, None] if data.task == "regression" else None
        self.snapshot_every = 0
        self.best_val = math.inf
        self.batches_written = 0
        self.rows: list[dict] = []  # this fold's own copies: the run shows fold 1 again once all folds are done
        self.batch_losses: list[tuple[float, float]] = []
        self.snapshots: dict[int, dict] = {}

    def show(self) -> None:
        """Put this recorder's fold back into the run's live copies."""
        with self.run.lock:
            self.run.epochs, self.run.batch_losses = list(self.rows), list(self.batch_losses)
            self.run.snapshots = dict(self.snapshots)
            self.run.progress.fold = self.fold

    def on_train_begin(self, state: TrainState) -> None:
        n_params = sum(p.numel() for p in state.model.parameters())
        every = state.cfg.snapshot_every
        if every and n_params <= SNAPSHOT_MAX_PARAMS:
            self.snapshot_every = max(every, math.ceil(state.cfg.epochs / MAX_SNAPSHOTS))
        with self.run.lock:
            p = self.run.progress
            p.epochs, p.batches, p.fold, p.epoch, p.batch = state.cfg.epochs, state.batches_per_epoch, self.fold, 0, 0
            p.started = p.started or time.time()
            if self.fold > 1:  # the live view follows the fold in progress: it starts again from epoch 0
                self.run.epochs, self.run.batch_losses, self.run.snapshots = [], [], {}

    def on_batch_end(self, state: TrainState) -> None:
        with self.run.lock:
            self.run.progress.epoch, self.run.progress.batch = state.epoch, state.batch

    def on_epoch_end(self, state: TrainState, record: dict[str, float]) -> None:
        row = dict(record, fold=self.fold) if self.fold else dict(record)
        snapshot = self._snapshot(state, record["epoch"])
        new_batches = state.history.batch_losses[self.batches_written:]
        self.batches_written = len(state.history.batch_losses)
        folder = self.run.folder
        append_jsonl(folder.history_path(self.fold), [row])
        if new_batches:
            append_jsonl(folder.batches_path(self.fold), [{"x": a, "loss": b} for a, b in new_batches])
        if snapshot:
            append_jsonl(folder.snapshots_path(self.fold), [dict(snapshot, epoch=record["epoch"])])
        self._save_weights(state, record)
        self.rows.append(row)
        self.batch_losses.extend(new_batches)
        if snapshot:
            self.snapshots[int(record["epoch"])] = snapshot
        with self.run.lock:  # the live view shows the fold in progress (or the only run)
            self.run.epochs.append(row)
            self.run.batch_losses.extend(new_batches)
            if snapshot:
                self.run.snapshots[int(record["epoch"])] = snapshot
            self.run.progress.samples_per_s = record.get("samples_per_s", 0.0) or self.run.progress.samples_per_s

    def _snapshot(self, state: TrainState, epoch: int) -> dict[str, list]:
        if self.grid is not None:
            fit = predict(state.model, self.grid.to(state.device)).flatten().cpu()
            return {"fit": [round(float(v), 5) for v in fit]}
        if state.test_outputs is not None:
            probs = torch.softmax(state.test_outputs.float(), 1).cpu()
            conf, pred = probs.max(1)
            return {"test_pred": pred.tolist(), "test_conf": [round(float(c), 4) for c in conf]}
        return {}

    def _save_weights(self, state: TrainState, record: dict[str, float]) -> None:
        epoch = int(record["epoch"])
        if self.snapshot_every and epoch % self.snapshot_every == 0:
            state_dict = {k: v.detach().cpu().clone() for k, v in state.model.state_dict().items()}
            checkpoints.save_tensors(self.run.folder.weights_path(epoch, self.fold), state_dict)
        val = record.get("val_loss", math.nan)
        if not self.fold and epoch > 0 and math.isfinite(val) and val < self.best_val:
            self.best_val = val
            _checkpoint(self.run, state.model, self.data, self.run.folder.best_path, record, state.history)


def _checkpoint(run: Run, model: torch.nn.Module, data: TaskData, path: Path, metrics: dict,
                history: History) -> Path:
    return checkpoints.save(path, model, run.config, task=data.task, input_shape=data.input_shape,
                            n_outputs=data.n_outputs, classes=data.classes, mean=data.mean, std=data.std,
                            metrics={k: v for k, v in metrics.items() if isinstance(v, (int, float))},
                            history=history.to_dict())


TRAINING_NICENESS = 10  # Linux thread priority of training: below the page threads, above idle


def yield_to_pages() -> None:
    """Lower this training thread's CPU priority (Linux: per thread), so the pages of a classroom
    drawing and predicting on the same CPU stay responsive; training takes whatever CPU they leave."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), TRAINING_NICENESS)
    except (AttributeError, OSError):  # not Linux / not permitted: train at normal priority
        pass


def _work(run: Run) -> None:
    with TRAINING_SLOTS.hold(run.stop_event) as got:  # queue for a slot, but stay stoppable
        if not got:
            run.set_status("stopped", "Stopped before it started.")
            return
        _train(run)


def _train(run: Run) -> None:
    try:
        run.set_status("running")
        yield_to_pages()
        with run.lock:
            run.progress.started = time.time()
            run.progress.folds = run.config.train.kfold
        data = load(run.config.data)
        with run.lock:
            run.data_info = {"task": data.task, "classes": list(data.classes), "input_shape": list(data.input_shape),
                             "n_outputs": data.n_outputs, "n_train": len(data.x_train)}
            if data.task == "regression":
                run.fit_x = fit_grid(data).tolist()
        train_cfg = run.config.train
        if train_cfg.kfold:
            recorders: dict[int, _Recorder] = {}
            results = cross_validate(data, run.config.model, train_cfg, train_cfg.kfold,
                                     lambda fold: [GradNormRecorder(), recorders.setdefault(fold, _Recorder(run, data, fold)),
                                                   run.tempo],
                                     run.stop_event)
            if 1 in recorders:  # after training, the run's views and metrics are fold 1's (its model is saved)
                recorders[1].show()
            for r in results:
                _checkpoint(run, r.model, data, run.folder.fold_path(r.fold), r.history.last(), r.history)
            history, model = results[0].history, results[0].model
            if len(results) < train_cfg.kfold and history.status == "finished":
                history = results[-1].history
        else:
            model = init_model(run.config.model, data, train_cfg.seed)
            if train_cfg.init_from:  # fine-tuning: start from a trained model's weights
                from nnviz.model.checkpoints import load as load_checkpoint

                model.load_state_dict(load_checkpoint(train_cfg.init_from).state_dict)
            # GradNormRecorder first: it adds the gradient norms to the record _Recorder writes
            history = fit(model, data, train_cfg, [GradNormRecorder(), _Recorder(run, data), run.tempo],
                          run.stop_event)
        model = model.cpu().eval()
        _checkpoint(run, model, data, run.folder.final_path, history.last(), history)
        with run.lock:
            run.model = model
        run.set_status(history.status, history.reason)
    except torch.cuda.OutOfMemoryError:
        run.set_status("failed", "The GPU ran out of memory. Use a smaller batch size or a smaller model.")
    except OSError as exc:  # disk full, folder gone or read-only: say which, in one sentence
        run.set_status("failed", storage.disk_problem(exc, run.dir))
    except (ConfigError, ValueError, RuntimeError) as exc:
        run.set_status("failed", str(exc) or type(exc).__name__)


def new_id(config: RunConfig) -> str:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return f"{stamp}-{config.data.dataset}-{uuid.uuid4().hex[:6]}"


def start(config: RunConfig, root: str | os.PathLike | None = None, epochs_per_s: float = 0.0) -> Run:
    """Create runs/<id>/, write the config, and train in a daemon thread (queued past the cap);
    `epochs_per_s` > 0 plays it in slow motion (`nnviz.training.tempo`), with the same numbers."""
    limits.check_run(config)  # a run that would exhaust memory is refused up front (ModelTooLarge, with the size)
    run_id = new_id(config)
    folder = runs_dir(root) / run_id
    storage.make_folder(folder, {RunFolder.CONFIG: config.to_json()})  # all or nothing, atomically
    run = Run(run_id, folder, config)
    run.tempo.epochs_per_s = float(epochs_per_s)
    try:
        run.set_status("queued", "Waiting for a free training slot." if TRAINING_SLOTS.free == 0 else "", strict=True)
    except OSError:
        shutil.rmtree(folder, ignore_errors=True)  # no half-made run folder (it would list as 'unknown')
        raise
    run.launch("run", lambda: _work(run), _registry)
    return run


def get(run_id: str) -> Run | None:
    """The live Run with this id in this process, if any."""
    return _registry.get(run_id)


def active_runs() -> list[Run]:
    return _registry.active()


def stop_all(timeout: float = 5.0) -> None:
    """Stop every run of this process and wait for the threads (tests, shutdown)."""
    _registry.stop_all(timeout)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, PermissionError, OSError):
        return False
    return True


def read_view(folder: str | os.PathLike) -> RunView:
    """Rebuild a run from its folder; a run that died with its process reads as 'interrupted'."""
    run_folder = RunFolder(folder)
    status = run_folder.status()
    state, message = status.get("status", "unknown"), status.get("message", "")
    if state in ACTIVE_STATES:
        pid = int(status.get("pid", -1))
        owned_here = pid == os.getpid() and get(run_folder.id) is not None
        if not owned_here and not (pid != os.getpid() and _pid_alive(pid)):
            state, message = "interrupted", "The server stopped while this run was training; " \
                                            "its history is kept up to the last finished epoch."
    return RunView(run_folder.id, run_folder.config(), state, message, run_folder.history(), run_folder)


def list_runs(root: str | os.PathLike | None = None) -> list[RunView]:
    """All run folders, newest first."""
    base = runs_dir(root)
    if not base.is_dir():
        return []
    folders = [p for p in base.iterdir() if RunFolder(p).config_path.is_file()]
    # ids start with a 1-second stamp; config.json's mtime orders runs started within one second
    folders.sort(key=lambda p: (p.name[:15], RunFolder(p).config_path.stat().st_mtime_ns, p.name), reverse=True)
    return [read_view(p) for p in folders]
