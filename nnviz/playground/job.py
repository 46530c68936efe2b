"""PlaygroundJob: one Playground network training in a background thread, played, paused, stepped, reset.

The thread trains while playing (holding one of the process's training slots, nnviz.jobs) and waits,
holding none, while paused. After every epoch it publishes a copy of the weights and the scores; the
live feed (nnviz.ui.playground_feed) draws the maps from that copy, so drawing never slows training
beyond the copy. Its folder, runs/playground/<id>/, keeps the config, the history and the last weights.
"""
from __future__ import annotations

import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from nnviz.jobs import runs
from nnviz.jobs.background import TRAINING_SLOTS, BackgroundJob, Registry
from nnviz.jobs.storage import append_jsonl, atomic_write_json
from nnviz.model import checkpoints
from nnviz.playground import store
from nnviz.playground.config import PlaygroundConfig, to_dict
from nnviz.playground.data import Points
from nnviz.playground.network import Trainer, Weights, copy_weights

IDLE_S = 900.0  # a network paused this long ends its thread (a closed tab's job does not wait forever)
MAX_REPLAY = 400  # weight snapshots kept for replay; the interval doubles when full
HISTORY_FLUSH_S = 1.0  # the history file is appended at most this often while training
_registry: Registry["PlaygroundJob"] = Registry()


@dataclass
class PlaygroundJob(BackgroundJob):
    """Read it through `view()` from any thread; control it with play / pause / step / reset / stop."""

    ACTIVE_STATES: ClassVar[tuple[str, ...]] = ("queued", "running", "paused", "finished")
    id: str
    dir: Path
    config: PlaygroundConfig
    points: Points
    start_weights: Weights | None = None  # a loaded checkpoint's, else drawn from the seed
    start_epoch: int = 0
    token: str = field(default_factory=lambda: secrets.token_urlsafe(16))  # the browser's right to control it
    status: str = "paused"
    message: str = ""
    epoch: int = 0
    history: list[tuple[int, float, float, float, float]] = field(default_factory=list)  # epoch, losses, accs
    weights: Weights = field(default_factory=list)  # the latest published copy
    version: int = 0  # bumps with every published copy
    replay: dict[int, Weights] = field(default_factory=dict)
    epochs_per_s: float = 0.0
    stop_event: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    thread: threading.Thread | None = None
    _playing: bool = False
    _steps: int = 0
    _reset: bool = False
    _wake: threading.Event = field(default_factory=threading.Event)
    _replay_every: int = 1
    _unwritten: list[dict] = field(default_factory=list)

    # --- controls (any thread) ------------------------------------------------------------------------
    def play(self) -> None:
        with self.lock:
            self._playing = True
        self._wake.set()

    def pause(self) -> None:
        with self.lock:
            self._playing, self._steps = False, 0
        self._wake.set()

    def step(self, epochs: int = 1) -> None:
        """Train `epochs` more epochs, then pause."""
        with self.lock:
            self._playing, self._steps = False, self._steps + epochs
        self._wake.set()

    def reset(self) -> None:
        """Back to the starting weights at the starting epoch, paused."""
        with self.lock:
            self._playing, self._steps, self._reset = False, 0, True
        self._wake.set()

    def stop(self) -> None:
        super().stop()
        self._wake.set()

    def control(self, action: str) -> bool:
        """play | pause | step | reset by name (the browser's buttons); False for an unknown action."""
        actions = {"play": self.play, "pause": self.pause, "step": self.step, "reset": self.reset}
        if action not in actions:
            return False
        actions[action]()
        return True

    # --- reading (any thread) -------------------------------------------------------------------------
    @property
    def playing(self) -> bool:
        with self.lock:
            return self._playing

    def view(self, history_from: int = 0) -> dict[str, Any]:
        """A consistent copy of what the live view shows; history rows from index `history_from`."""
        with self.lock:
            return {"id": self.id, "status": self.status, "message": self.message, "epoch": self.epoch,
                    "version": self.version, "weights": self.weights, "playing": self._playing,
                    "history": self.history[history_from:], "history_len": len(self.history),
                    "epochs_per_s": self.epochs_per_s, "config": self.config}

    def replay_epochs(self) -> list[int]:
        with self.lock:
            return sorted(self.replay)

    def replay_weights(self, epoch: int) -> tuple[int, Weights] | None:
        """The recorded weights nearest to `epoch` (at or before it), with their epoch."""
        with self.lock:
            kept = [e for e in self.replay if e <= epoch] or list(self.replay)
            if not kept:
                return None
            best = max(kept) if any(e <= epoch for e in self.replay) else min(kept)
            return best, self.replay[best]

    def set_status(self, status: str, message: str = "") -> None:
        with self.lock:
            self.status, self.message = status, message
        try:
            atomic_write_json(self.dir / "status.json", {"status": status, "message": message, "updated": time.time(),
                                                         "epoch": self.epoch})
        except OSError:  # a full or vanished disk: the live state is kept in memory
            pass

    # --- the training thread --------------------------------------------------------------------------
    def _work(self) -> None:
        runs.yield_to_pages()  # as every training thread does
        trainer = self._fresh_trainer()
        last_use = time.monotonic()
        while not self.stop_event.is_set():
            with self.lock:
                reset, playing, steps = self._reset, self._playing, self._steps
                self._reset = False
            if reset:
                trainer = self._fresh_trainer()
                continue
            if not playing and not steps:
                if time.monotonic() - last_use > IDLE_S:
                    self._flush(trainer)
                    self.set_status("stopped", f"Stopped after {IDLE_S / 60:.0f} idle minutes.")
                    return
                self._wake.wait(1.0)
                self._wake.clear()
                continue
            if trainer.epoch_done >= self.config.epochs:
                with self.lock:
                    self._playing, self._steps = False, 0
                continue
            self._train_streak(trainer)
            last_use = time.monotonic()
            self._flush(trainer)
            self.set_status("finished" if trainer.epoch_done >= self.config.epochs else "paused",
                            f"Reached the last epoch ({self.config.epochs})." if trainer.epoch_done >= self.config.epochs
                            else "")
        self._flush(trainer)
        self.set_status("stopped", "Stopped.")

    def _train_streak(self, trainer: Trainer) -> None:
        """Train while playing (or for the pending steps), holding a training slot."""
        self.set_status("queued", "Waiting for a free training slot.")
        with TRAINING_SLOTS.hold(self.stop_event) as got:
            if not got:
                return
            self.set_status("running")
            started, done, flushed = time.perf_counter(), 0, time.monotonic()
            while not self.stop_event.is_set() and trainer.epoch_done < self.config.epochs:
                with self.lock:
                    if self._reset or not (self._playing or self._steps):
                        break
                    self._steps = max(0, self._steps - 1)
                trainer.epoch()
                done += 1
                self._publish(trainer, done / max(time.perf_counter() - started, 1e-9))
                if time.monotonic() - flushed > HISTORY_FLUSH_S:
                    self._flush(trainer)
                    flushed = time.monotonic()

    def _fresh_trainer(self) -> Trainer:
        trainer = Trainer(self.config, self.points, self.start_weights, self.start_epoch)
        with self.lock:
            self.history.clear()
            self.replay.clear()
            self._replay_every = 1
            self._unwritten.append({"reset": True, "epoch": trainer.epoch_done})
        self._publish(trainer, 0.0)
        return trainer

    def _publish(self, trainer: Trainer, epochs_per_s: float) -> None:
        s = trainer.scores()
        weights = copy_weights(trainer.weights)
        row = (trainer.epoch_done, s.train_loss, s.test_loss, s.train_acc, s.test_acc)
        with self.lock:
            self.epoch, self.weights, self.version = trainer.epoch_done, weights, self.version + 1
            self.history.append(row)
            self.epochs_per_s = epochs_per_s or self.epochs_per_s
            self._unwritten.append(dict(zip(("epoch", "train_loss", "test_loss", "train_acc", "test_acc"), row)))
            if (trainer.epoch_done - self.start_epoch) % self._replay_every == 0:
                self.replay[trainer.epoch_done] = weights
                if len(self.replay) > MAX_REPLAY:  # keep every other one, record half as often
                    self._replay_every *= 2
                    self.replay = {e: w for e, w in self.replay.items()
                                   if (e - self.start_epoch) % self._replay_every == 0}

    def _flush(self, trainer: Trainer) -> None:
        """Append the new history rows and write the current weights (final.pt) to the folder."""
        with self.lock:
            rows, self._unwritten = self._unwritten, []
        try:
            if rows:
                append_jsonl(self.dir / "history.jsonl", rows)
            checkpoints.save_tensors(self.dir / "final.pt", store.checkpoint_payload(
                self.config, trainer.weights, trainer.epoch_done, self.points))
        except OSError:
            pass


def start(cfg: PlaygroundConfig, points: Points, weights: Weights | None = None, epoch: int = 0,
          play: bool = True, root: str | Path | None = None) -> PlaygroundJob:
    """Start a job for `cfg` on `points` (from `weights` at `epoch`, else from the seed), playing or paused."""
    job_id = f"{time.strftime('%Y%m%d-%H%M%S')}-{cfg.dataset}-{uuid.uuid4().hex[:6]}"
    folder = store.playground_dir(root) / job_id
    folder.mkdir(parents=True, exist_ok=False)
    atomic_write_json(folder / "config.json", to_dict(cfg))
    job = PlaygroundJob(id=job_id, dir=folder, config=cfg, points=points,
                        start_weights=copy_weights(weights) if weights is not None else None, start_epoch=epoch)
    job.set_status("paused")
    if play:
        job.play()
    job.launch("playground", job._work, _registry)  # noqa: SLF001
    return job


def get(job_id: str) -> PlaygroundJob | None:
    return _registry.get(job_id)


def active_jobs() -> list[PlaygroundJob]:
    return _registry.active()


def stop_all(timeout: float = 5.0) -> None:
    _registry.stop_all(timeout)
