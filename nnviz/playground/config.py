"""Every Playground setting in one frozen config, validated, and its round trip through a URL's query.

A link carries the whole experiment: the same query on a fresh tab or another machine gives the same
config, hence (seeded) the same points, the same initial weights and the same training.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace
from typing import Any, Mapping

from nnviz.playground.data import DATASETS, MAX_NOISE, MAX_POINTS, MIN_POINTS, UPLOAD

FEATURES = {"x1": "x₁", "x2": "x₂", "x1sq": "x₁²", "x2sq": "x₂²", "x1x2": "x₁·x₂", "sinx1": "sin x₁",
            "sinx2": "sin x₂"}
ACTIVATIONS = ("tanh", "relu", "sigmoid", "linear")
REGULARIZERS = ("none", "l1", "l2")
OPTIMIZERS = ("sgd", "adam")
MAX_LAYERS, MAX_NEURONS = 6, 8
MAX_EPOCHS = 100_000
BATCH_SIZES = (1, 100)  # inclusive range, as the Playground's slider
LR_RANGE = (1e-5, 10.0)
REG_RANGE = (0.0, 10.0)


class SettingError(ValueError):
    """A setting out of range, with one sentence naming it."""


@dataclass(frozen=True)
class PlaygroundConfig:
    dataset: str = "circle"  # a DATASETS key, or UPLOAD (then `upload` names the stored CSV)
    points: int = 500  # before the split
    noise: float = 0.0  # 0 to 0.5 of the set's scale
    train_ratio: float = 0.5  # the Playground's default 50 %
    seed: int = 0  # the points, their split, the initial weights and the batch order
    features: tuple[str, ...] = ("x1", "x2")
    hidden: tuple[int, ...] = (4, 2)  # neurons per hidden layer, 0-6 layers of 1-8
    activation: str = "tanh"
    regularization: str = "none"
    reg_rate: float = 0.0
    lr: float = 0.03
    batch_size: int = 10
    optimizer: str = "sgd"
    epochs: int = 2000  # training stops here (a paused or stopped network keeps its weights)
    upload: str = ""  # the uploaded CSV's stored name when dataset == UPLOAD

    def __post_init__(self) -> None:
        check(self)

    def with_(self, **changes: Any) -> "PlaygroundConfig":
        return replace(self, **changes)

    def to_query(self) -> dict[str, str]:
        """The settings as URL query parameters (short, readable strings)."""
        q = {"ds": self.dataset, "n": str(self.points), "noise": f"{self.noise:g}", "ratio": f"{self.train_ratio:g}",
             "seed": str(self.seed), "feat": ",".join(self.features), "hidden": ",".join(map(str, self.hidden)) or "0",
             "act": self.activation, "reg": self.regularization, "rate": f"{self.reg_rate:g}", "lr": f"{self.lr:g}",
             "bs": str(self.batch_size), "opt": self.optimizer, "epochs": str(self.epochs)}
        if self.dataset == UPLOAD:
            q["csv"] = self.upload
        return q


QUERY_KEYS = ("ds", "n", "noise", "ratio", "seed", "feat", "hidden", "act", "reg", "rate", "lr", "bs", "opt",
              "epochs", "csv")


def check(cfg: PlaygroundConfig) -> None:
    """Raise SettingError (one sentence) for any setting out of range."""
    if cfg.dataset not in DATASETS and cfg.dataset != UPLOAD:
        raise SettingError(f"Unknown data set {cfg.dataset!r}: choose one of {', '.join(DATASETS)}.")
    if cfg.dataset == UPLOAD and not cfg.upload:
        raise SettingError("An uploaded data set needs its CSV: upload x1,x2,label points first.")
    _in_range("Points", cfg.points, MIN_POINTS, MAX_POINTS, integer=True)
    _in_range("Noise", cfg.noise, 0.0, MAX_NOISE)
    _in_range("The training share", cfg.train_ratio, 0.1, 0.9)
    _in_range("The seed", cfg.seed, 0, 2**31 - 1, integer=True)
    unknown = [f for f in cfg.features if f not in FEATURES]
    if unknown:
        raise SettingError(f"Unknown input feature {unknown[0]!r}: choose from {', '.join(FEATURES)}.")
    if not cfg.features:
        raise SettingError("Turn on at least one input feature.")
    if len(set(cfg.features)) != len(cfg.features):
        raise SettingError("Each input feature may be on once.")
    if len(cfg.hidden) > MAX_LAYERS:
        raise SettingError(f"At most {MAX_LAYERS} hidden layers.")
    for width in cfg.hidden:
        _in_range("A hidden layer's neuron count", width, 1, MAX_NEURONS, integer=True)
    for name, value, allowed in (("activation", cfg.activation, ACTIVATIONS),
                                 ("regularization", cfg.regularization, REGULARIZERS),
                                 ("optimizer", cfg.optimizer, OPTIMIZERS)):
        if value not in allowed:
            raise SettingError(f"Unknown {name} {value!r}: choose one of {', '.join(allowed)}.")
    _in_range("The regularization rate", cfg.reg_rate, *REG_RANGE)
    _in_range("The learning rate", cfg.lr, *LR_RANGE)
    _in_range("The batch size", cfg.batch_size, *BATCH_SIZES, integer=True)
    _in_range("Epochs", cfg.epochs, 1, MAX_EPOCHS, integer=True)


def _in_range(what: str, value: Any, lo: float, hi: float, integer: bool = False) -> None:
    ok_type = isinstance(value, int) if integer else isinstance(value, (int, float))
    if isinstance(value, bool) or not ok_type or not math.isfinite(value) or not lo <= value <= hi:
        kind = "a whole number" if integer else "a number"
        raise SettingError(f"{what} must be {kind} from {lo:g} to {hi:g}, got {value!r}.")


def from_query(query: Mapping[str, str], base: PlaygroundConfig | None = None) -> tuple[PlaygroundConfig, list[str]]:
    """The config a URL's query describes, starting from `base` (the defaults); each unreadable or
    out-of-range parameter is left at its base value and named in one sentence of the returned list."""
    cfg = base or PlaygroundConfig()
    problems: list[str] = []
    parsers = {"ds": ("dataset", str), "n": ("points", int), "noise": ("noise", float),
               "ratio": ("train_ratio", float), "seed": ("seed", int), "feat": ("features", _names),
               "hidden": ("hidden", _widths), "act": ("activation", str), "reg": ("regularization", str),
               "rate": ("reg_rate", float), "lr": ("lr", float), "bs": ("batch_size", int),
               "opt": ("optimizer", str), "epochs": ("epochs", int), "csv": ("upload", str)}
    for key, (name, parse) in parsers.items():
        if key not in query:
            continue
        raw = str(query[key])
        try:
            value = parse(raw)
            candidate = replace(cfg, **{name: value})
        except (ValueError, SettingError) as exc:
            problems.append(f"Link parameter {key}={raw[:40]!r} ignored: {_sentence(exc)}")
            continue
        cfg = candidate
    return cfg, problems


def _sentence(exc: Exception) -> str:
    text = str(exc)
    return text if isinstance(exc, SettingError) else "it is not a valid value."


def _names(raw: str) -> tuple[str, ...]:
    return tuple(p for p in (s.strip() for s in raw.split(",")) if p)


def _widths(raw: str) -> tuple[int, ...]:
    parts = [p.strip() for p in raw.split(",") if p.strip()]
    return () if parts == ["0"] else tuple(int(p) for p in parts)


def to_dict(cfg: PlaygroundConfig) -> dict[str, Any]:
    """JSON-ready (tuples as lists)."""
    d = asdict(cfg)
    return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}


def from_dict(d: Mapping[str, Any]) -> PlaygroundConfig:
    """The inverse of to_dict; unknown keys or wrong types raise SettingError."""
    names = {f.name for f in fields(PlaygroundConfig)}
    unknown = set(d) - names
    if unknown:
        raise SettingError(f"Unknown Playground setting {sorted(unknown)[0]!r}.")
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in d.items()}
    try:
        return PlaygroundConfig(**values)
    except TypeError as exc:
        raise SettingError(f"A Playground setting has the wrong type: {exc}.") from None
