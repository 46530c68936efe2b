"""The regression page's settings: a flat dict of widget values <-> a RunConfig.

No Streamlit here, so tests and the benchmark build exactly the config the page builds.
The keys are the widgets' keys (prefix `rg_`); the page keeps a copy in a non-widget
session key so the settings survive page switches.
"""
from __future__ import annotations

import math
from typing import Any

import torch

from nnviz.config import ConfigError, DataConfig, ModelConfig, RunConfig, TrainConfig
from nnviz.data import FUNCTIONS
from nnviz.model.models import DEFAULT_PRESET, presets_for

PRESETS = presets_for("regression")
DEFAULT = DEFAULT_PRESET["regression"]
CUSTOM = "custom"
# the select box order: the tuned default first, then the course's models, then custom
MODEL_CHOICES = [DEFAULT] + [p for p in PRESETS if p != DEFAULT] + [CUSTOM]
MAX_LAYERS = 5
ACTIVATIONS = {"sigmoid": "Sigmoid", "tanh": "Tanh", "relu": "ReLU", "leaky_relu": "LeakyReLU",
               "elu": "ELU", "gelu": "GELU"}
OPTIMIZERS = {"sgd": "SGD with momentum", "adam": "Adam", "adamw": "AdamW", "rmsprop": "RMSprop",
              "adadelta": "Adadelta"}
SCHEDULERS = {"none": "constant", "cosine": "cosine decay", "step": "step decay (×γ every N epochs)",
              "plateau": "reduce on plateau", "onecycle": "one-cycle"}
# learning rates 1e-4 .. 100 on a 1-2-3-5 log scale (Adadelta's usual lr is 1.0; 10 and 100 show divergence)
LEARNING_RATES = [round(m * 10.0**e, 6) for e in range(-4, 2) for m in (1, 2, 3, 5)] + [100.0]
WEIGHT_DECAYS = [0.0, 1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1]
BATCH_SIZES = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512]
KFOLDS = [0] + list(range(2, 11))
SOURCES = ("synthetic", "csv")



def devices() -> list[str]:
    """'auto' and 'cpu', plus the accelerators this machine has."""
    found = ["auto", "cpu"]
    if torch.cuda.is_available():
        found.append("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        found.append("mps")
    return found


def nearest(value: float, options: list[float]) -> float:
    """The option closest to `value` on a log scale (0 maps to the smallest option)."""
    if value <= 0:
        return min(options)
    positive = [o for o in options if o > 0]
    return min(positive, key=lambda o: abs(math.log(o / value)))


def model_settings(model: ModelConfig) -> dict[str, Any]:
    """Model widgets for a ModelConfig (widths beyond its depth keep a sensible 64)."""
    widths = list(model.hidden)[:MAX_LAYERS]
    out: dict[str, Any] = {"rg_layers": len(widths),
                           "rg_activation": model.activation if model.activation in ACTIVATIONS else "tanh",
                           "rg_dropout": round(min(model.dropout, 0.5), 2), "rg_bn": model.batch_norm}
    for i in range(1, MAX_LAYERS + 1):
        out[f"rg_w{i}"] = min(widths[i - 1], 512) if i <= len(widths) else (widths[-1] if widths else 64)
    return out


def train_settings(train: TrainConfig) -> dict[str, Any]:
    """Training widgets for a TrainConfig (seed, device and K-fold are the user's, not a preset's)."""
    return {"rg_optimizer": train.optimizer if train.optimizer in OPTIMIZERS else "adam",
            "rg_lr": train.lr if LEARNING_RATES[0] / 10 <= train.lr <= LEARNING_RATES[-1]  # a typed one too
            else nearest(train.lr, LEARNING_RATES),
            "rg_momentum": round(train.momentum, 2), "rg_weight_decay": nearest(train.weight_decay, WEIGHT_DECAYS)
            if train.weight_decay else 0.0,
            "rg_batch_size": nearest(train.batch_size, BATCH_SIZES), "rg_epochs": train.epochs,
            "rg_scheduler": train.scheduler, "rg_step_size": train.step_size, "rg_gamma": train.gamma,
            "rg_patience": train.early_stopping}


def preset_settings(preset: str) -> dict[str, Any]:
    """What choosing a preset sets: its architecture and its tuned training."""
    p = PRESETS[preset]
    return {"rg_model": preset, **model_settings(p.model), **train_settings(p.train)}


def default_settings() -> dict[str, Any]:
    """The page on first open: the course function, the default regressor, its training."""
    data = DataConfig(dataset="regression")
    return {"rg_source": "synthetic", "rg_function": data.function, "rg_noise": data.noise,
            "rg_n_train": data.n_train, "rg_n_test": data.n_test, "rg_data_seed": data.seed,
            "rg_val_fraction": data.val_fraction, "rg_kfold": 0, "rg_seed": 0, "rg_device": "auto",
            **preset_settings(DEFAULT)}


def model_config(s: dict[str, Any]) -> ModelConfig:
    """The preset's ModelConfig, or the custom fields'."""
    if s["rg_model"] in PRESETS:
        return PRESETS[s["rg_model"]].model
    hidden = tuple(int(s[f"rg_w{i}"]) for i in range(1, int(s["rg_layers"]) + 1))
    return ModelConfig(hidden=hidden, activation=s["rg_activation"], dropout=float(s["rg_dropout"]),
                       batch_norm=bool(s["rg_bn"]))


def data_config(s: dict[str, Any], csv_path: str = "") -> DataConfig:
    """The DataConfig of the settings; an upload without a usable file raises ConfigError."""
    common = dict(val_fraction=float(s["rg_val_fraction"]), seed=int(s["rg_data_seed"]))
    if s["rg_source"] == "csv":
        if not csv_path:
            raise ConfigError("Upload a CSV file with x and y columns, or choose a synthetic function.")
        return DataConfig(dataset="csv", csv_path=csv_path, **common)
    if s["rg_function"] not in FUNCTIONS:
        raise ConfigError(f"unknown function {s['rg_function']!r}")
    return DataConfig(dataset="regression", function=s["rg_function"], noise=float(s["rg_noise"]),
                      n_train=int(s["rg_n_train"]), n_test=int(s["rg_n_test"]), **common)


def train_config(s: dict[str, Any]) -> TrainConfig:
    return TrainConfig(optimizer=s["rg_optimizer"], lr=float(s["rg_lr"]), momentum=float(s["rg_momentum"]),
                       weight_decay=float(s["rg_weight_decay"]), batch_size=int(s["rg_batch_size"]),
                       epochs=int(s["rg_epochs"]), scheduler=s["rg_scheduler"], step_size=int(s["rg_step_size"]),
                       gamma=float(s["rg_gamma"]), early_stopping=int(s["rg_patience"]), kfold=int(s["rg_kfold"]),
                       seed=int(s["rg_seed"]), device=s["rg_device"])


def run_config(s: dict[str, Any], csv_path: str = "") -> RunConfig:
    """The full RunConfig the page starts; ConfigError names the bad field."""
    choice = s["rg_model"]
    preset = choice if choice in PRESETS else ""
    data = data_config(s, csv_path)
    model, train = model_config(s), train_config(s)
    _check_batch_norm(model, train, data)
    where = "uploaded CSV" if data.dataset == "csv" else data.function
    return RunConfig(data=data, model=model, train=train, preset=preset,
                     name=f"{PRESETS[choice].title if preset else 'custom MLP'} on {where}")


def _check_batch_norm(model: ModelConfig, train: TrainConfig, data: DataConfig) -> None:
    """Batch-norm cannot train on a batch of one sample: refuse before the run fails on it."""
    if not (model.batch_norm and model.hidden):
        return
    if train.batch_size == 1:
        raise ConfigError("Batch-norm needs at least 2 samples per batch: choose a batch size of 2 or more.")
    if data.dataset == "regression" and not train.kfold:
        n = data.n_train - int(round(data.n_train * data.val_fraction))  # as nnviz.data splits it
        if n % train.batch_size == 1:
            raise ConfigError(f"With batch-norm, {n} training points in batches of {train.batch_size} leave a last "
                              "batch of 1 sample, which batch-norm cannot train on: change the batch size.")


def settings_from_config(cfg: RunConfig) -> dict[str, Any]:
    """Widget values that rebuild `cfg` (a lesson's config goes into the panels; synthetic data only)."""
    preset = cfg.preset if cfg.preset in PRESETS and PRESETS[cfg.preset].model == cfg.model else CUSTOM
    d, t = cfg.data, cfg.train
    return {**default_settings(), "rg_source": "synthetic", "rg_function": d.function, "rg_noise": d.noise,
            "rg_n_train": d.n_train, "rg_n_test": d.n_test, "rg_data_seed": d.seed, "rg_val_fraction": d.val_fraction,
            "rg_model": preset, **model_settings(cfg.model), **train_settings(t), "rg_kfold": t.kfold,
            "rg_seed": t.seed, "rg_device": t.device}


def settings_complete(s: dict[str, Any]) -> dict[str, Any]:
    """Stored settings with any key a newer page added filled from the defaults."""
    return {**default_settings(), **{k: v for k, v in s.items() if k in default_settings()}}
