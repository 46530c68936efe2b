"""K-fold cross-validation: train+val pooled, split by scikit-learn's KFold, one fit per fold."""
from __future__ import annotations

import math
import threading
from dataclasses import dataclass, replace
from typing import Callable, Iterable

import numpy as np
import torch
from sklearn.model_selection import KFold
from torch import nn

from nnviz.config import ModelConfig, TrainConfig
from nnviz.data import TaskData
from nnviz.training.train import Callback, History, fit, init_model


@dataclass
class FoldResult:
    fold: int  # 1-based
    history: History
    model: nn.Module
    val_index: np.ndarray  # positions in the pooled train+val set

    @property
    def val_loss(self) -> float:
        return self.history.last().get("val_loss", math.nan)


def fold_data(data: TaskData, k: int, seed: int) -> list[tuple[TaskData, np.ndarray]]:
    """k copies of `data`, each with one fold of the pooled train+val set as validation."""
    x = torch.cat([data.x_train, data.x_val])
    y = torch.cat([data.y_train, data.y_val])
    splitter = KFold(n_splits=k, shuffle=True, random_state=seed)
    out = []
    for train_idx, val_idx in splitter.split(np.arange(len(x))):
        tr, va = torch.from_numpy(train_idx), torch.from_numpy(val_idx)
        out.append((replace(data, x_train=x[tr], y_train=y[tr], x_val=x[va], y_val=y[va]), val_idx))
    return out


def cross_validate(data: TaskData, model_cfg: ModelConfig, cfg: TrainConfig, k: int,
                   callbacks_for: Callable[[int], Iterable[Callback]] = lambda fold: (),
                   stop_event: threading.Event | None = None) -> list[FoldResult]:
    """Train one fresh model per fold (fold i is seeded cfg.seed + i); stops early on stop_event."""
    if len(data.x_train) + len(data.x_val) < k:
        raise ValueError(f"{k}-fold cross-validation needs at least {k} training points")
    results = []
    for fold, (fold_set, val_idx) in enumerate(fold_data(data, k, cfg.seed), start=1):
        fold_cfg = replace(cfg, seed=cfg.seed + fold, kfold=0)
        model = init_model(model_cfg, fold_set, fold_cfg.seed)
        history = fit(model, fold_set, fold_cfg, callbacks_for(fold), stop_event)
        results.append(FoldResult(fold, history, model, val_idx))
        if history.status in ("stopped", "diverged"):
            break
    return results


def summary(results: list[FoldResult]) -> dict[str, float]:
    """Mean and std (population, as scikit-learn reports) of the folds' final validation loss."""
    losses = np.array([r.val_loss for r in results], dtype=float)
    return {"folds": len(results), "val_loss_mean": float(losses.mean()) if len(losses) else math.nan,
            "val_loss_std": float(losses.std()) if len(losses) else math.nan}
