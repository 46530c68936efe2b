"""A run's folder, runs/<id>/: the one owner of its file names and of how each file is read.

    config.json        RunConfig
    status.json        status, message, pid, times
    history.jsonl      one line per epoch (epoch 0 = untrained), appended and fsynced
    batches.jsonl      smoothed batch losses, appended per epoch
    snapshots.jsonl    per epoch: the regression fit on a grid, or the test predictions
    weights/epoch_NNNN.pt   small models: weights per recorded epoch (replay)
    best.pt, final.pt  checkpoints

A K-fold run writes each fold's files with a suffix (history_fold2.jsonl, weights/epoch_f2_NNNN.pt,
fold_2.pt); what is shown of it (history, batches, snapshots, replay) follows fold 1, as its live
view does, unless a reader asks for another fold.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

import torch

from nnviz.config import ConfigError, RunConfig
from nnviz.jobs.storage import read_json, read_jsonl

_EPOCH_FILE = re.compile(r"epoch_(?:f(\d+)_)?(\d+)\.pt$")
_FOLD_FILE = re.compile(r"fold_(\d+)\.pt$")


class RunFolder:
    """Paths and readers of one run folder; reading never raises for a missing or torn file."""

    CONFIG, STATUS = "config.json", "status.json"  # the two files every run folder starts with
    WEIGHTS = "weights"  # the per-epoch weight files' folder

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"RunFolder({str(self.path)!r})"

    @property
    def id(self) -> str:
        return self.path.name

    # --- paths --------------------------------------------------------------------------------------

    @property
    def config_path(self) -> Path:
        return self.path / self.CONFIG

    @property
    def status_path(self) -> Path:
        return self.path / self.STATUS

    def history_path(self, fold: int = 0) -> Path:
        return self.path / f"history{_suffix(fold)}.jsonl"

    def batches_path(self, fold: int = 0) -> Path:
        return self.path / f"batches{_suffix(fold)}.jsonl"

    def snapshots_path(self, fold: int = 0) -> Path:
        return self.path / f"snapshots{_suffix(fold)}.jsonl"

    @property
    def weights_dir(self) -> Path:
        return self.path / self.WEIGHTS

    def weights_path(self, epoch: int, fold: int = 0) -> Path:
        return self.weights_dir / f"epoch{'_f%d' % fold if fold else ''}_{epoch:04d}.pt"

    @property
    def final_path(self) -> Path:
        return self.path / "final.pt"

    @property
    def best_path(self) -> Path:
        return self.path / "best.pt"

    def fold_path(self, fold: int) -> Path:
        return self.path / f"fold_{fold}.pt"

    # --- readers ------------------------------------------------------------------------------------

    def config(self) -> RunConfig | None:
        try:
            return RunConfig.from_json(self.config_path.read_text())
        except (OSError, ValueError, ConfigError):
            return None

    def status(self) -> dict:
        status = read_json(self.status_path, {})
        return status if isinstance(status, dict) else {}

    def shown_fold(self) -> int:
        """The fold whose files stand for the run: 0 (no folds) or 1 (K-fold)."""
        return 0 if self.history_path().is_file() or not self.history_path(1).is_file() else 1

    def history(self, fold: int | None = None) -> list[dict]:
        return read_jsonl(self.history_path(self.shown_fold() if fold is None else fold))

    def batch_losses(self, fold: int | None = None) -> list[tuple[float, float]]:
        rows = read_jsonl(self.batches_path(self.shown_fold() if fold is None else fold))
        return [(r["x"], r["loss"]) for r in rows if "x" in r and "loss" in r]

    def snapshots(self, fold: int | None = None) -> dict[int, dict]:
        """{epoch: snapshot row}."""
        rows = read_jsonl(self.snapshots_path(self.shown_fold() if fold is None else fold))
        return {int(r["epoch"]): r for r in rows if "epoch" in r}

    def epoch_files(self, fold: int | None = None) -> list[tuple[int, Path]]:
        """(epoch, path) of the per-epoch weight files, by epoch."""
        fold = self.shown_fold() if fold is None else fold
        found = []
        for p in self.weights_dir.glob("epoch_*.pt"):
            m = _EPOCH_FILE.match(p.name)
            if m and int(m.group(1) or 0) == fold:
                found.append((int(m.group(2)), p))
        return sorted(found)

    def epoch_weights(self, epoch: int, fold: int | None = None) -> dict[str, torch.Tensor] | None:
        """The state dict saved at `epoch`, or None (not recorded, or unreadable)."""
        path = self.weights_path(epoch, self.shown_fold() if fold is None else fold)
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception:  # noqa: BLE001 - missing, torn, foreign or refused by weights_only: nothing to show
            return None
        return state if isinstance(state, dict) else None

    @property
    def final_checkpoint(self) -> Path | None:
        return self.final_path if self.final_path.is_file() else None

    def fold_checkpoints(self) -> list[tuple[int, Path]]:
        """(fold, fold_K.pt) of a K-fold run, by fold."""
        found = [(int(m.group(1)), p) for p in self.path.glob("fold_*.pt") if (m := _FOLD_FILE.match(p.name))]
        return sorted(found)

    def curve_files(self) -> list[Path]:
        """Every history and batch-loss file (each fold's too)."""
        return sorted(self.path.glob("history*.jsonl")) + sorted(self.path.glob("batches*.jsonl"))


def of_checkpoint(checkpoint: str | os.PathLike) -> RunFolder | None:
    """The run folder a checkpoint was written into (final.pt, best.pt, fold_K.pt), if it is one."""
    folder = RunFolder(Path(checkpoint).parent)
    return folder if folder.config_path.is_file() else None


def _suffix(fold: int) -> str:
    return f"_fold{fold}" if fold else ""
