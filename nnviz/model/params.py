"""Named hyper-parameters that sweeps and searches may vary, and how they land in a RunConfig.

A search space or a sweep point speaks in short names ('lr', 'hidden', 'activation', ...);
`apply_params` turns them into a validated RunConfig, so a bad value fails with the
config's own message. Values are plain JSON types (Optuna storages and GridSampler need
primitives): 'hidden' is a string of widths such as "128,64" ("" is a linear model).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from nnviz.config import ConfigError, ModelConfig, RunConfig, TrainConfig, replace


@dataclass(frozen=True)
class Param:
    section: str  # 'data', 'model' or 'train'
    field: str  # the config field it sets
    kind: str  # 'float', 'int', 'choice' or 'widths'
    help: str


PARAMS: dict[str, Param] = {
    "lr": Param("train", "lr", "float", "learning rate"),
    "optimizer": Param("train", "optimizer", "choice", "sgd, adam, adamw, rmsprop, adadelta or adagrad"),
    "momentum": Param("train", "momentum", "float", "SGD / RMSprop momentum"),
    "weight_decay": Param("train", "weight_decay", "float", "L2 penalty"),
    "batch_size": Param("train", "batch_size", "int", "samples per batch"),
    "epochs": Param("train", "epochs", "int", "training epochs"),
    "scheduler": Param("train", "scheduler", "choice", "none, step, cosine, plateau or onecycle"),
    "hidden": Param("model", "hidden", "widths", 'hidden widths, e.g. "128,64" ("" is linear)'),
    "activation": Param("model", "activation", "choice", "relu, leaky_relu, elu, gelu, tanh, sigmoid"),
    "dropout": Param("model", "dropout", "float", "dropout after hidden layers"),
    "batch_norm": Param("model", "batch_norm", "choice", "true or false"),
    "train_fraction": Param("data", "train_fraction", "float", "share of the training split used"),
}


def parse_widths(value: Any) -> tuple[int, ...]:
    """'128,64' / '128-64' / [128, 64] / 64 -> (128, 64); '' -> ()."""
    if isinstance(value, bool):
        raise ConfigError(f"hidden must be widths such as \"128,64\"; got {value!r}")
    if isinstance(value, int):
        return (value,)
    if isinstance(value, (list, tuple)):
        items = list(value)
    elif isinstance(value, str):
        items = [p for p in value.replace("-", ",").replace("x", ",").split(",") if p.strip()]
    else:
        raise ConfigError(f"hidden must be widths such as \"128,64\"; got {value!r}")
    try:
        return tuple(int(str(p).strip()) for p in items)
    except ValueError:
        raise ConfigError(f"hidden must be whole numbers separated by commas, e.g. \"128,64\"; got {value!r}") from None


def apply_params(base: RunConfig, params: dict[str, Any]) -> RunConfig:
    """`base` with `params` (short names) applied; unknown names or bad values raise ConfigError."""
    sections: dict[str, dict[str, Any]] = {"data": {}, "model": {}, "train": {}}
    for name, value in params.items():
        if name not in PARAMS:
            raise ConfigError(f"unknown parameter {name!r}; choose from {', '.join(PARAMS)}")
        p = PARAMS[name]
        if p.kind == "widths":
            value = parse_widths(value)
        elif p.kind == "float" and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if name == "train_fraction" and base.data.task == "regression":
            # regression sets are drawn, not subsampled: a fraction of the drawn points
            sections["data"]["n_train"] = max(2, round(base.data.n_train * float(value)))
            continue
        sections[p.section][p.field] = value
    data = replace(base.data, **sections["data"]) if sections["data"] else base.data
    model: ModelConfig = replace(base.model, **sections["model"]) if sections["model"] else base.model
    train: TrainConfig = replace(base.train, **sections["train"]) if sections["train"] else base.train
    return RunConfig(data=data, model=model, train=train, preset=base.preset if not sections["model"] else "",
                     name=base.name)


def quick_base(dataset: str = "digits", data_dir: str = "", epochs: int | None = None) -> RunConfig:
    """A small, fast model for sweeps and searches on a 2-core CPU: a seconds-long fit per point.

    Images: a 784 -> 64 -> 10 ReLU MLP, Adam 1e-3, 5 epochs (digits: ~93-96 % in about a second).
    Regression: 1 -> 32 -> 32 -> 1 tanh, Adam 1e-2, 150 epochs.
    """
    from nnviz.config import DataConfig

    if dataset == "regression":
        base = RunConfig(data=DataConfig(dataset="regression"), model=ModelConfig(hidden=(32, 32), activation="tanh"),
                         train=TrainConfig(optimizer="adam", lr=1e-2, batch_size=16, epochs=150, snapshot_every=0))
    else:
        base = RunConfig(data=DataConfig(dataset=dataset, data_dir=data_dir),
                         model=ModelConfig(hidden=(64,), activation="relu"),
                         train=TrainConfig(optimizer="adam", lr=1e-3, batch_size=64, epochs=5, snapshot_every=0))
    return base if epochs is None else RunConfig(base.data, base.model, replace(base.train, epochs=epochs))
