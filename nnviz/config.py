"""Frozen, validated configs for data, model and training, with a JSON round-trip.

Every config checks its own fields on construction, so a bad value fails where it is
made (a widget, a CLI flag, a JSON file) with a message a user can act on. The full
`RunConfig` is stored with every run and checkpoint.
"""
from __future__ import annotations

import dataclasses
import functools
import json
import typing
from dataclasses import dataclass, field
from typing import Any


class ConfigError(ValueError):
    """A config value is missing, of the wrong type or out of range."""


ACTIVATIONS = ("relu", "leaky_relu", "elu", "gelu", "tanh", "sigmoid", "identity")
OPTIMIZER_NAMES = ("sgd", "adam", "adamw", "rmsprop", "adadelta", "adagrad")
SCHEDULER_NAMES = ("none", "step", "cosine", "plateau", "onecycle")
POOLING = ("max", "avg", "none")
DEVICES = ("auto", "cpu", "cuda", "mps")


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise ConfigError(message)


@functools.lru_cache(maxsize=None)
def _hints(cls: type) -> dict[str, Any]:
    """`typing.get_type_hints`, once per class: it re-evaluates every annotation string on each call
    (most of the cost of building a config, which pages do on every rerun)."""
    return typing.get_type_hints(cls)


def _check_types(cfg: Any) -> None:
    """Reject wrong field types on direct construction too (from_dict coerces first)."""
    hints = _hints(type(cfg))
    for f in dataclasses.fields(cfg):
        _coerce(f"{type(cfg).__name__}.{f.name}", getattr(cfg, f.name), hints[f.name])


def _one_of(name: str, value: str, choices: tuple[str, ...]) -> None:
    _check(value in choices, f"{name} must be one of {', '.join(choices)}; got {value!r}")


@dataclass(frozen=True)
class DataConfig:
    """Which data to train on and how to draw or split it."""

    dataset: str = "digits"  # 'regression', 'csv' or an image set in nnviz.data.DATASETS
    function: str = "course"  # regression: a name in nnviz.data.FUNCTIONS
    noise: float = 0.3  # regression: std of the Gaussian noise on y (variance 0.09)
    n_train: int = 100  # regression: training points, the course's 100
    n_test: int = 100  # regression: test points, the course's 100
    csv_path: str = ""  # dataset 'csv': a file with x,y columns
    val_fraction: float = 0.1  # share of the training points held out for validation
    train_fraction: float = 1.0  # images: share of the training split used (learning curves)
    seed: int = 0  # draws the regression points; image splits are fixed regardless
    data_dir: str = ""  # torchvision root; '' means $NNVIZ_DATA_DIR or ./data

    def __post_init__(self) -> None:
        _check_types(self)
        _check(bool(self.dataset), "dataset must not be empty")
        _check(self.noise >= 0, f"noise must be >= 0; got {self.noise}")
        _check(2 <= self.n_train <= 100_000, f"n_train must be in 2..100000; got {self.n_train}")
        _check(1 <= self.n_test <= 100_000, f"n_test must be in 1..100000; got {self.n_test}")
        _check(0 <= self.val_fraction < 0.9, f"val_fraction must be in [0, 0.9); got {self.val_fraction}")
        _check(0 < self.train_fraction <= 1, f"train_fraction must be in (0, 1]; got {self.train_fraction}")
        _check(self.dataset != "csv" or bool(self.csv_path), "dataset 'csv' needs csv_path")

    @property
    def task(self) -> str:
        return "regression" if self.dataset in ("regression", "csv") else "classification"


@dataclass(frozen=True)
class ConvBlock:
    """conv -> [batch-norm] -> activation -> [pool] -> [dropout]."""

    channels: int = 32  # output channels
    kernel: int = 3  # square kernel size in pixels
    same_padding: bool = True  # pad kernel//2 so the conv keeps the spatial size
    pool: str = "max"  # 2x2 pooling after the activation: 'max', 'avg' or 'none'
    batch_norm: bool = False
    dropout: float = 0.0  # Dropout2d probability after the block

    def __post_init__(self) -> None:
        _check_types(self)
        _check(1 <= self.channels <= 1024, f"conv channels must be in 1..1024; got {self.channels}")
        _check(1 <= self.kernel <= 11, f"conv kernel must be in 1..11; got {self.kernel}")
        _one_of("pool", self.pool, POOLING)
        _check(0 <= self.dropout < 1, f"conv dropout must be in [0, 1); got {self.dropout}")


@dataclass(frozen=True)
class ModelConfig:
    """An MLP (no conv blocks) or a CNN (conv blocks, then dense layers)."""

    hidden: tuple[int, ...] = (64,)  # widths of the hidden dense layers; () is a linear model
    activation: str = "relu"  # one of ACTIVATIONS, used after every hidden layer
    dropout: float = 0.0  # Dropout probability after each hidden dense layer
    batch_norm: bool = False  # BatchNorm1d before each hidden activation
    conv: tuple[ConvBlock, ...] = ()  # conv blocks before the dense layers (CNN when not empty)
    global_pool: bool = False  # average each channel to one number after the conv blocks

    def __post_init__(self) -> None:
        _check_types(self)
        _check(len(self.hidden) <= 8, f"at most 8 hidden layers; got {len(self.hidden)}")
        for width in self.hidden:
            _check(1 <= width <= 65_536, f"hidden widths must be in 1..65536; got {width}")
        _one_of("activation", self.activation, ACTIVATIONS)
        _check(0 <= self.dropout < 1, f"dropout must be in [0, 1); got {self.dropout}")
        _check(len(self.conv) <= 8, f"at most 8 conv blocks; got {len(self.conv)}")

    @property
    def kind(self) -> str:
        return "cnn" if self.conv else "mlp"


@dataclass(frozen=True)
class TrainConfig:
    """How to train: optimizer, schedule, stopping, device, seed."""

    optimizer: str = "adam"  # one of OPTIMIZER_NAMES
    lr: float = 1e-3  # peak learning rate
    momentum: float = 0.9  # SGD and RMSprop momentum
    weight_decay: float = 0.0  # L2 penalty, as the optimizer's weight_decay
    batch_size: int = 64
    epochs: int = 10
    scheduler: str = "none"  # one of SCHEDULER_NAMES; onecycle steps every batch
    step_size: int = 10  # 'step': epochs between decays
    gamma: float = 0.5  # 'step' / 'plateau': decay factor
    early_stopping: int = 0  # patience in epochs without a better validation loss; 0 is off
    grad_clip: float = 0.0  # max global gradient norm; 0 is off
    augment: bool = False  # images: random shifts of up to 2 px (and flips for cifar10)
    kfold: int = 0  # 2..10 runs K-fold cross-validation on train+val; 0 is off
    seed: int = 0  # model init, shuffling, dropout, augmentation
    device: str = "auto"  # 'auto' picks cuda > mps > cpu
    max_steps: int = 0  # dry runs: at most this many batches per epoch; 0 is no cap
    log_every: int = 10  # batches between recorded (smoothed) batch losses
    snapshot_every: int = 1  # epochs between weight snapshots kept for replay; 0 is off
    amp: bool = True  # CUDA: bf16 autocast for classifiers where the GPU supports it
    cpu_amp: bool = False  # CPU: bf16 autocast for CNNs on CPUs with native bf16; on in presets measured to keep accuracy
    compile: bool = False  # CUDA only: torch.compile the model
    init_from: str = ""  # a checkpoint whose weights start the run (fine-tuning; same architecture); '' is random

    def __post_init__(self) -> None:
        _check_types(self)
        _one_of("optimizer", self.optimizer, OPTIMIZER_NAMES)
        _check(0 <= self.lr <= 100, f"learning rate must be in [0, 100]; got {self.lr}")
        _check(0 <= self.momentum < 1, f"momentum must be in [0, 1); got {self.momentum}")
        _check(0 <= self.weight_decay <= 10, f"weight_decay must be in [0, 10]; got {self.weight_decay}")
        _check(1 <= self.batch_size <= 1_000_000, f"batch_size must be in 1..1000000; got {self.batch_size}")
        _check(0 <= self.epochs <= 100_000, f"epochs must be in 0..100000; got {self.epochs}")
        _one_of("scheduler", self.scheduler, SCHEDULER_NAMES)
        _check(self.step_size >= 1, f"step_size must be >= 1; got {self.step_size}")
        _check(0 < self.gamma <= 1, f"gamma must be in (0, 1]; got {self.gamma}")
        _check(self.early_stopping >= 0, f"early_stopping must be >= 0; got {self.early_stopping}")
        _check(self.grad_clip >= 0, f"grad_clip must be >= 0; got {self.grad_clip}")
        _check(self.kfold == 0 or 2 <= self.kfold <= 10, f"kfold must be 0 or 2..10; got {self.kfold}")
        _one_of("device", self.device, DEVICES)
        _check(self.max_steps >= 0, f"max_steps must be >= 0; got {self.max_steps}")
        _check(self.log_every >= 1, f"log_every must be >= 1; got {self.log_every}")
        _check(self.snapshot_every >= 0, f"snapshot_every must be >= 0; got {self.snapshot_every}")


@dataclass(frozen=True)
class RunConfig:
    """Everything that defines a run; saved as config.json and inside checkpoints."""

    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    preset: str = ""  # the preset the model came from, '' for a custom model
    name: str = ""  # a free label shown in run lists

    def to_json(self) -> str:
        return json.dumps(to_dict(self), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "RunConfig":
        try:
            raw = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"config is not valid JSON: {exc}") from None
        return from_dict(cls, raw)


def to_dict(cfg: Any) -> dict:
    """A config as plain JSON types (tuples become lists)."""
    return json.loads(json.dumps(dataclasses.asdict(cfg)))


T = typing.TypeVar("T")


def from_dict(cls: type[T], raw: Any) -> T:
    """Build config `cls` from plain data, rejecting unknown keys and wrong types."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{cls.__name__} must be an object; got {type(raw).__name__}")
    hints = _hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(raw) - names)
    if unknown:
        raise ConfigError(f"unknown {cls.__name__} field(s): {', '.join(unknown)}")
    values = {key: _coerce(f"{cls.__name__}.{key}", value, hints[key]) for key, value in raw.items()}
    return cls(**values)


def replace(cfg: T, **changes: Any) -> T:
    """`dataclasses.replace` with the same type checks as `from_dict`."""
    hints = _hints(type(cfg))
    for key, value in changes.items():
        if key not in hints:
            raise ConfigError(f"unknown {type(cfg).__name__} field: {key}")
        changes[key] = _coerce(f"{type(cfg).__name__}.{key}", value, hints[key])
    return dataclasses.replace(cfg, **changes)


def _coerce(where: str, value: Any, hint: Any) -> Any:
    origin = typing.get_origin(hint)
    if dataclasses.is_dataclass(hint):
        return value if isinstance(value, hint) else from_dict(hint, value)
    if origin is tuple:
        (item_hint, _ellipsis) = typing.get_args(hint)
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where} must be a list; got {type(value).__name__}")
        return tuple(_coerce(f"{where}[{i}]", item, item_hint) for i, item in enumerate(value))
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where} must be true or false; got {value!r}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where} must be an integer; got {value!r}")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where} must be a number; got {value!r}")
        if value != value or value in (float("inf"), float("-inf")):
            raise ConfigError(f"{where} must be a finite number; got {value!r}")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where} must be a string; got {value!r}")
        return value
    raise TypeError(f"no coercion for {where}: {hint}")  # a programming error, not user input
