"""Ready-made sweeps: the course's experiments, each a short list of configs trained one by one.

`SWEEPS[key]` has a title, a one-line description and its points. Run one headless with
`run_sweep(key, "digits")` (or a base RunConfig), or in the background with `start_sweep`,
which the page polls. Each finished point is appended (fsynced) to
runs/sweeps/<id>/results.jsonl before the next one starts: a stop or a crash loses only
the point in flight.
"""
from __future__ import annotations

import contextlib
import math
import os
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from nnviz.config import RunConfig
from nnviz.data import TaskData, load
from nnviz.jobs import runs
from nnviz.jobs.background import TRAINING_SLOTS, BackgroundJob, Registry
from nnviz.jobs.storage import append_jsonl, atomic_write_json, read_json, read_jsonl
from nnviz.model.params import apply_params, quick_base
from nnviz.training.tempo import Tempo
from nnviz.training.train import Callback, TrainState, evaluate, fit, init_model

HISTORY_KEYS = ("epoch", "train_loss", "val_loss", "test_loss", "train_acc", "val_acc", "test_acc", "elapsed",
                "seconds")


@dataclass(frozen=True)
class Sweep:
    """A ready-made experiment: labelled parameter sets over a shared base config."""

    key: str
    title: str
    description: str  # one line
    points: tuple[tuple[str, dict[str, Any]], ...]  # (label, params for nnviz.model.params.apply_params)
    x: str = ""  # the swept parameter plotted on the x axis ('' for a curve overlay)
    same_updates: bool = False  # train_fraction: epochs scale with 1 / fraction, so every point gets as many updates


_ACT = ("relu", "tanh", "sigmoid")
SWEEPS: dict[str, Sweep] = {
    "optimizers": Sweep(
        "optimizers", "Optimizers compared",
        "SGD, SGD+momentum, Adam, RMSprop, Adadelta and Adagrad train the same model; their loss curves overlaid.",
        (("SGD", {"optimizer": "sgd", "momentum": 0.0, "lr": 0.05}),
         ("SGD + momentum", {"optimizer": "sgd", "momentum": 0.9, "lr": 0.01}),
         ("Adam", {"optimizer": "adam", "lr": 1e-3}),
         ("RMSprop", {"optimizer": "rmsprop", "momentum": 0.0, "lr": 1e-3}),
         ("Adadelta", {"optimizer": "adadelta", "lr": 1.0}),
         ("Adagrad", {"optimizer": "adagrad", "lr": 0.01}))),
    "activation_depth": Sweep(
        "activation_depth", "Activation × depth",
        "ReLU, tanh and sigmoid with 1, 2 and 3 hidden layers: train and test accuracy, and the gap between them.",
        tuple((f"{a} × {d}", {"activation": a, "hidden": ",".join(["64"] * d)}) for a in _ACT for d in (1, 2, 3))),
    "train_fraction": Sweep(
        "train_fraction", "Training-set size",
        "The same model on 20, 40, 60, 80 and 100 % of the training set, each trained for the same number of "
        "updates (a smaller share gets more epochs): a learning curve of data, not of training time.",
        tuple((f"{f:.0%}", {"train_fraction": f}) for f in (0.2, 0.4, 0.6, 0.8, 1.0)), x="train_fraction",
        same_updates=True),
    "learning_rate": Sweep(
        "learning_rate", "Learning-rate range",
        "SGD with momentum from 1e-4 to 1 on a log scale: too small crawls, too large diverges.",
        tuple((f"{lr:g}", {"optimizer": "sgd", "momentum": 0.9, "lr": lr})
              for lr in (1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0)), x="lr"),
    "batch_size": Sweep(
        "batch_size", "Batch size",
        "Batches of 8 to 512 for the same number of epochs: accuracy, speed and noise of the updates.",
        tuple((str(b), {"batch_size": b}) for b in (8, 32, 128, 512)), x="batch_size"),
}

def acquire_slot(stop_event: threading.Event | None = None) -> contextlib.AbstractContextManager[bool]:
    """Hold one of the process's training slots (as runs do); yields False if stopped while queued."""
    return TRAINING_SLOTS.hold(stop_event)


def base_config(base: RunConfig | str | None = None, epochs: int | None = None) -> RunConfig:
    """A base RunConfig from a config, a dataset name or None (digits)."""
    if isinstance(base, RunConfig):
        return base if epochs is None else apply_params(base, {"epochs": epochs})
    return quick_base(base or "digits", epochs=epochs)


def point_configs(key: str, base: RunConfig | str | None = None,
                  epochs: int | None = None) -> list[tuple[str, dict, RunConfig]]:
    """(label, params, config) of every point of sweep `key`; KeyError for an unknown key."""
    if key not in SWEEPS:
        raise KeyError(f"unknown sweep {key!r}; choose from {', '.join(SWEEPS)}")
    cfg = base_config(base, epochs)
    sweep = SWEEPS[key]
    return [(label, params, _same_updates(apply_params(cfg, params), cfg) if sweep.same_updates
             else apply_params(cfg, params)) for label, params in sweep.points]


def _same_updates(cfg: RunConfig, base: RunConfig) -> RunConfig:
    """`cfg` (a share of `base`'s training set) trained for as many updates as `base` gets in its epochs."""
    share = cfg.data.train_fraction / base.data.train_fraction
    return apply_params(cfg, {"epochs": max(1, round(base.train.epochs / share))})


UNDERFIT_TRAIN_ACC = 0.9  # a classifier below this accuracy on its own training set has not learnt it
OVERFIT_GAP = 0.03  # a train-test accuracy gap above 3 points: the model fits its training set better than new data


def fit_verdict(train_acc: float | None, test_acc: float | None) -> str:
    """'underfitting', 'overfitting' or 'good fit' for a classifier's final train / test accuracy ('' if unknown).

    Low training accuracy comes first: a model that has not learnt its training set underfits, whatever its
    test accuracy (a small gap there is no sign of a good fit).
    """
    if train_acc is None or test_acc is None or not (math.isfinite(train_acc) and math.isfinite(test_acc)):
        return ""
    if train_acc < UNDERFIT_TRAIN_ACC:
        return "underfitting"
    return "overfitting" if train_acc - test_acc > OVERFIT_GAP else "good fit"


class _Live(Callback):
    """Mirrors the point in flight into a callback (the page plots it while it trains)."""

    def __init__(self, on_epoch: Callable[[dict], None] | None) -> None:
        self.on_epoch = on_epoch

    def on_epoch_end(self, state: TrainState, record: dict[str, float]) -> None:
        if self.on_epoch is not None:
            self.on_epoch({k: record[k] for k in HISTORY_KEYS if k in record})


def _train_point(label: str, params: dict, cfg: RunConfig, data: TaskData, stop_event: threading.Event | None,
                 on_epoch: Callable[[dict], None] | None, tempo: Tempo | None = None) -> dict[str, Any]:
    started = time.perf_counter()
    model = init_model(cfg.model, data, cfg.train.seed)
    history = fit(model, data, cfg.train, [_Live(on_epoch)] + ([tempo] if tempo is not None else []), stop_event)
    rows = [{k: r[k] for k in HISTORY_KEYS if k in r} for r in history.epochs]
    last = rows[-1] if rows else {}
    final = {k: v for k, v in last.items() if k not in ("epoch", "seconds")}
    if rows and history.status != "diverged":
        # the epoch's train metrics are running means over batches, with dropout on: the final model,
        # evaluated on the training set, is what the train-test gap (overfitting) is about
        final.update({f"train_{k}": v for k, v in evaluate(model, data.x_train, data.y_train, data.task).items()})
    return {"label": label, "params": params, "status": history.status, "reason": history.reason,
            "history": rows, "final": final,
            "epochs": int(last.get("epoch", 0)), "seconds": round(time.perf_counter() - started, 3),
            "n_train": len(data.x_train)}


def iter_sweep(key: str, base: RunConfig | str | None = None, stop_event: threading.Event | None = None,
               epochs: int | None = None, on_epoch: Callable[[str, dict], None] | None = None,
               tempo: Tempo | None = None) -> Iterator[dict]:
    """Train sweep `key`'s points one by one, yielding each finished point's result dict.

    A point ended by `stop_event` is not yielded (it did not finish); the sweep ends there.
    `tempo` (`nnviz.training.tempo`) plays the points in slow motion, with the same numbers.
    """
    cache: dict[Any, TaskData] = {}
    for label, params, cfg in point_configs(key, base, epochs):
        with acquire_slot(stop_event) as got:
            if not got:
                return
            if cfg.data not in cache:
                cache.clear()
                cache[cfg.data] = load(cfg.data)
            result = _train_point(label, params, cfg, cache[cfg.data], stop_event,
                                  (lambda row, label=label: on_epoch(label, row)) if on_epoch else None, tempo)
        if result["status"] == "stopped":
            return
        yield result


def run_sweep(key: str, base: RunConfig | str | None = None, on_result: Callable[[dict], None] | None = None,
              stop_event: threading.Event | None = None, epochs: int | None = None,
              folder: str | os.PathLike | None = None,
              on_epoch: Callable[[str, dict], None] | None = None, tempo: Tempo | None = None) -> list[dict]:
    """Run sweep `key` to the end (or the stop) in this thread; results also go to `folder` if given.

    `on_result(result)` gets each finished point, `on_epoch(label, row)` each epoch of the point in flight.
    """
    out = []
    for result in iter_sweep(key, base, stop_event, epochs, on_epoch, tempo):
        if folder is not None:
            append_jsonl(Path(folder) / "results.jsonl", [result])
        if on_result is not None:
            on_result(result)
        out.append(result)
    return out


# --- background sweeps ---------------------------------------------------------------------------------

def sweeps_dir(root: str | os.PathLike | None = None) -> Path:
    return runs.runs_dir(root) / "sweeps"


@dataclass
class SweepJob(BackgroundJob):
    """A sweep in a background thread; the page reads it through `view()`."""

    id: str
    dir: Path
    key: str
    base: RunConfig
    total: int
    status: str = "queued"
    message: str = ""
    results: list[dict] = field(default_factory=list)
    current: str = ""  # label of the point in flight
    current_rows: list[dict] = field(default_factory=list)  # its epochs so far
    point_epochs: dict[str, int] = field(default_factory=dict)  # label -> epochs (train_fraction: they differ)
    stop_event: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    thread: threading.Thread | None = None
    tempo: Tempo = field(default_factory=Tempo)  # slow motion; its rate may change while the sweep trains

    def __post_init__(self) -> None:
        self.tempo.stop_event = self.stop_event  # Stop ends a slow-motion pause at once

    def view(self) -> dict[str, Any]:
        with self.lock:
            return {"id": self.id, "key": self.key, "status": self.status, "message": self.message,
                    "results": list(self.results), "total": self.total, "current": self.current,
                    "current_rows": list(self.current_rows),
                    "epochs": self.point_epochs.get(self.current, self.base.train.epochs),
                    "dataset": self.base.data.dataset}

    def set_status(self, status: str, message: str = "") -> None:
        with self.lock:
            self.status, self.message = status, message
        atomic_write_json(self.dir / "status.json", {"status": status, "message": message, "pid": os.getpid(),
                                                     "updated": time.time()})


_jobs: Registry[SweepJob] = Registry()


def _work(job: SweepJob) -> None:
    def on_epoch(label: str, row: dict) -> None:
        with job.lock:
            if job.current != label:
                job.current, job.current_rows = label, []
            job.current_rows.append(row)

    def on_result(result: dict) -> None:
        with job.lock:
            job.results.append(result)
            job.current, job.current_rows = "", []

    job.set_status("running")
    run_sweep(job.key, job.base, on_result, job.stop_event, folder=job.dir, on_epoch=on_epoch, tempo=job.tempo)
    stopped = job.stop_event.is_set() and len(job.results) < job.total
    note = f"Stopped after {len(job.results)} of {job.total} points; finished points are kept."
    job.set_status("stopped" if stopped else "finished", note if stopped else "")


def start_sweep(key: str, base: RunConfig | str | None = None, root: str | os.PathLike | None = None,
                epochs: int | None = None, epochs_per_s: float = 0.0) -> SweepJob:
    """Start sweep `key` in a daemon thread, writing runs/sweeps/<id>/ as it goes (in slow motion
    when `epochs_per_s` > 0)."""
    points = point_configs(key, base, epochs)  # validates before a folder exists
    cfg = base_config(base, epochs)
    job_id = f"{time.strftime('%Y%m%d-%H%M%S')}-{key}-{uuid.uuid4().hex[:6]}"
    folder = sweeps_dir(root) / job_id
    folder.mkdir(parents=True)
    atomic_write_json(folder / "spec.json", {"key": key, "base": cfg.to_json(), "total": len(points)})
    job = SweepJob(job_id, folder, key, cfg, len(points), point_epochs={p[0]: p[2].train.epochs for p in points})
    job.tempo.epochs_per_s = float(epochs_per_s)
    job.set_status("queued")
    job.launch("sweep", lambda: _work(job), _jobs)
    return job


def get_sweep(job_id: str) -> SweepJob | None:
    return _jobs.get(job_id)


def active_sweeps() -> list[SweepJob]:
    """Sweeps training now in this process (for the sidebar's indicator)."""
    return _jobs.active()


def stop_all(timeout: float = 5.0) -> None:
    _jobs.stop_all(timeout)


def read_sweep(folder: str | os.PathLike) -> dict[str, Any]:
    """A sweep as its folder tells it (same keys as SweepJob.view), for sweeps of earlier processes too."""
    folder = Path(folder)
    live = get_sweep(folder.name)
    if live is not None:
        return live.view()
    spec = read_json(folder / "spec.json", {}) or {}
    status = read_json(folder / "status.json", {}) or {}
    state = status.get("status", "unknown")
    if state in ("queued", "running"):
        state = "interrupted"  # its process is gone: the points it finished are all on disk
    try:
        base = RunConfig.from_json(spec.get("base", "{}"))
    except ValueError:
        base = RunConfig()
    return {"id": folder.name, "key": spec.get("key", ""), "status": state, "message": status.get("message", ""),
            "results": read_jsonl(folder / "results.jsonl"), "total": int(spec.get("total", 0)), "current": "",
            "current_rows": [], "epochs": base.train.epochs, "dataset": base.data.dataset}


def list_sweeps(root: str | os.PathLike | None = None, key: str | None = None) -> list[dict]:
    """Saved sweeps (optionally of one key), newest first."""
    base = sweeps_dir(root)
    if not base.is_dir():
        return []
    found = [read_sweep(p) for p in sorted(base.iterdir(), reverse=True) if (p / "spec.json").is_file()]
    return [s for s in found if key is None or s["key"] == key]

