"""Data for a run: `load(DataConfig)` gives a `TaskData` of ready tensors.

Regression sets are drawn from nnviz.data.regression; image sets come from the
registry in nnviz.data.images, normalised with the set's statistics.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import torch

from nnviz.config import DataConfig
from nnviz.data.images import DATASETS, DatasetMissing, ImageDatasetInfo, data_dir, is_present, load_raw
from nnviz.data.regression import FUNCTIONS, CsvError, RegressionSet, make_synthetic, read_xy_csv, split_csv

__all__ = ["DATASETS", "FUNCTIONS", "CsvError", "DatasetMissing", "ImageDatasetInfo", "TaskData",
           "data_dir", "is_present", "load", "regression_set", "normalise", "denormalise"]

VAL_SPLIT_SEED = 12345  # fixed: the validation split of an image set never changes


@dataclass(frozen=True)
class TaskData:
    """Train / validation / test tensors (CPU unless moved with `to`) plus what describes them.

    Regression: x float32 (N, 1), y float32 (N, 1). Classification: x float32 normalised
    (N, C, H, W), y int64 (N,).
    """

    task: str  # 'regression' or 'classification'
    name: str  # dataset name
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    input_shape: tuple[int, ...]  # one sample, e.g. (1,) or (1, 28, 28)
    n_outputs: int  # 1 for regression, the class count otherwise
    classes: tuple[str, ...] = ()
    mean: tuple[float, ...] = ()  # image normalisation (per channel)
    std: tuple[float, ...] = ()
    regression: RegressionSet | None = field(default=None, repr=False)  # the drawn points, gaps, noise

    def to(self, device: torch.device | str, non_blocking: bool = False) -> "TaskData":
        move = lambda t: t.to(device, non_blocking=non_blocking)  # noqa: E731
        return replace(self, x_train=move(self.x_train), y_train=move(self.y_train), x_val=move(self.x_val),
                       y_val=move(self.y_val), x_test=move(self.x_test), y_test=move(self.y_test))

    def split(self, name: str) -> tuple[torch.Tensor, torch.Tensor]:
        """('train' | 'val' | 'test') -> (x, y)."""
        return getattr(self, f"x_{name}"), getattr(self, f"y_{name}")


def regression_set(cfg: DataConfig) -> RegressionSet:
    """The drawn (or uploaded) regression points of a config, before the validation split."""
    if cfg.dataset == "csv":
        x, y = read_xy_csv(cfg.csv_path)
        return split_csv(x, y, seed=cfg.seed)
    return make_synthetic(cfg.function, cfg.noise, cfg.n_train, cfg.n_test, cfg.seed)


def load(cfg: DataConfig) -> TaskData:
    """The tensors a config describes. Raises CsvError / DatasetMissing with UI-ready messages."""
    if cfg.task == "regression":
        return _load_regression(cfg)
    return _load_images(cfg)


def _holdout(n: int, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeded (train_idx, val_idx) with round(n * fraction) validation items."""
    order = np.random.default_rng(seed).permutation(n)
    n_val = int(round(n * fraction))
    return np.sort(order[n_val:]), np.sort(order[:n_val])


def _load_regression(cfg: DataConfig) -> TaskData:
    points = regression_set(cfg)
    train, val = _holdout(len(points.x_train), cfg.val_fraction, cfg.seed)
    t = torch.from_numpy
    return TaskData("regression", cfg.dataset, t(points.x_train[train]), t(points.y_train[train]),
                    t(points.x_train[val]), t(points.y_train[val]), t(points.x_test), t(points.y_test),
                    (1,), 1, regression=points)


def normalise(pixels: torch.Tensor, info: ImageDatasetInfo) -> torch.Tensor:
    """uint8 (N, C, H, W) -> float32 normalised with the set's per-channel statistics."""
    mean = torch.tensor(info.mean).view(1, -1, 1, 1)
    std = torch.tensor(info.std).view(1, -1, 1, 1)
    return (pixels.float() / 255.0 - mean) / std


def denormalise(x: torch.Tensor, info: ImageDatasetInfo) -> torch.Tensor:
    """Normalised (N, C, H, W) -> [0, 1] pixels, for display."""
    mean = torch.tensor(info.mean, device=x.device).view(1, -1, 1, 1)
    std = torch.tensor(info.std, device=x.device).view(1, -1, 1, 1)
    return (x * std + mean).clamp(0, 1)


def _load_images(cfg: DataConfig) -> TaskData:
    if cfg.dataset not in DATASETS:
        raise ValueError(f"unknown dataset {cfg.dataset!r}; choose from regression, csv, {', '.join(DATASETS)}")
    info = DATASETS[cfg.dataset]
    x_train, y_train, x_test, y_test = load_raw(cfg.dataset, cfg.data_dir or None)
    train, val = _holdout(len(y_train), cfg.val_fraction, VAL_SPLIT_SEED)
    if cfg.train_fraction < 1:  # a prefix of a fixed shuffle: nested subsets for learning curves
        keep = max(1, int(round(len(train) * cfg.train_fraction)))
        train = train[np.random.default_rng(VAL_SPLIT_SEED + 1).permutation(len(train))[:keep]]
        train.sort()
    train_t, val_t = torch.from_numpy(train), torch.from_numpy(val)
    return TaskData("classification", cfg.dataset,
                    normalise(x_train[train_t], info), y_train[train_t],
                    normalise(x_train[val_t], info), y_train[val_t],
                    normalise(x_test, info), y_test,
                    info.shape, len(info.classes), info.classes, info.mean, info.std)
