"""Train on the class set and compare: the run's config, and two models side by side on the held-out drawings."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from nnviz.analysis import metrics
from nnviz.config import DataConfig, RunConfig, TrainConfig
from nnviz.data import TaskData, load
from nnviz.model import checkpoints

SHIPPED_MNIST = checkpoints.SHIPPED_DIR / "mnist_cnn.pt"  # the model trained on MNIST's writing
MODES = {"scratch": "From scratch (random weights)", "finetune": "Fine-tune the shipped MNIST model"}


def run_config(mode: str, epochs: int, seed: int = 0, shipped: Path = SHIPPED_MNIST) -> RunConfig:
    """A run on the class set: the shipped MNIST CNN's architecture, from random weights or from its weights.
    Fine-tuning takes smaller steps, so what MNIST taught is adjusted rather than overwritten."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}; got {mode!r}")
    base = checkpoints.load(shipped).config
    finetune = mode == "finetune"
    train = TrainConfig(optimizer="adamw", lr=3e-4 if finetune else 2e-3, weight_decay=5e-4, batch_size=32,
                        epochs=epochs, augment=True, seed=seed, device="cpu",
                        init_from=str(shipped) if finetune else "")
    return RunConfig(data=DataConfig(dataset="class_canvas", val_fraction=0.15), model=base.model, train=train,
                     name=f"Class canvas · {MODES[mode].lower()}")


@dataclass
class Verdict:
    """One model on the held-out class drawings."""

    title: str
    pred: np.ndarray  # (N,) predicted class
    conf: np.ndarray  # (N,) its softmax confidence
    cm: np.ndarray  # (10, 10) confusion matrix, rows = true class
    accuracy: float
    wrong: np.ndarray  # indices (into the held-out set) it gets wrong, least confident... most confident last


def held_out() -> TaskData:
    """The class set, split as the runs split it; its test part is the held-out drawings."""
    return load(DataConfig(dataset="class_canvas", val_fraction=0.15))


def judge(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, title: str) -> Verdict:
    pred, conf = metrics.predict_classes(model, x)
    truth = y.numpy()
    wrong = np.flatnonzero(pred != truth)
    wrong = wrong[np.argsort(-conf[wrong], kind="stable")]  # the most confident mistakes first
    return Verdict(title, pred, conf, metrics.confusion(truth, pred, 10), metrics.accuracy(truth, pred), wrong)


def compare(class_model: torch.nn.Module, data: TaskData, shipped: Path = SHIPPED_MNIST) -> tuple[Verdict, Verdict]:
    """(the shipped MNIST model, the class model) on the held-out class drawings."""
    mnist_model = checkpoints.load(shipped).model()
    return (judge(mnist_model, data.x_test, data.y_test, "Shipped MNIST model"),
            judge(class_model, data.x_test, data.y_test, "Class model"))
