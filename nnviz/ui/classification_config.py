"""The classification page's settings: a flat dict of widget values <-> a RunConfig.

No Streamlit here, so the benchmark and the tests build exactly the config the page
builds. The dict's keys are the widgets' keys; it is kept in a non-widget session key
so the settings survive page switches.
"""
from __future__ import annotations

from typing import Any

from nnviz.config import ConfigError, ConvBlock, DataConfig, ModelConfig, RunConfig, TrainConfig, replace
from nnviz.data import DATASETS
from nnviz.model.models import DEFAULT_PRESET, presets_for

CLASSIFIER_PRESETS = presets_for("classification")
CUSTOM = {"custom_mlp": "Custom MLP", "custom_cnn": "Custom CNN"}
MAX_CONV_BLOCKS = 4
# Harder sets need more epochs than the presets' digits-tuned defaults (docs/performance.md).
SUGGESTED: dict[str, dict[str, Any]] = {
    "fashion_mnist": {"epochs": 10},
    "cifar10": {"epochs": 10, "augment": True},
}
SUGGESTION_NOTES = {
    "fashion_mnist": "Fashion-MNIST is harder than digits: 10 epochs suggested.",
    "cifar10": "CIFAR-10 is much harder: 10 epochs with augmentation (shifts and flips) suggested; "
               "expect minutes per epoch on a CPU.",
}


def family(dataset: str) -> str:
    """The full set an embedded sample was taken from (its suggestions apply), else the set itself."""
    return DATASETS[dataset].sample_of if dataset in DATASETS and DATASETS[dataset].sample_of else dataset


def model_choices() -> dict[str, str]:
    """Model select-box options: 'preset name' -> title, then the two custom kinds."""
    return {**{name: p.title for name, p in CLASSIFIER_PRESETS.items()}, **CUSTOM}


def _model_settings(model: ModelConfig) -> dict[str, Any]:
    out: dict[str, Any] = {"cls_hidden": ", ".join(str(h) for h in model.hidden), "cls_activation": model.activation,
                           "cls_dropout": model.dropout, "cls_batch_norm": model.batch_norm,
                           "cls_global_pool": model.global_pool, "cls_n_conv": max(1, len(model.conv))}
    blocks = list(model.conv) or [ConvBlock(32, 3, True, "max")]
    for i in range(MAX_CONV_BLOCKS):
        b = blocks[i] if i < len(blocks) else ConvBlock(blocks[-1].channels * 2 if i else 32, 3, True, "max")
        out.update({f"cls_conv{i}_channels": min(b.channels, 512), f"cls_conv{i}_kernel": b.kernel,
                    f"cls_conv{i}_pool": b.pool, f"cls_conv{i}_bn": b.batch_norm,
                    f"cls_conv{i}_dropout": b.dropout, f"cls_conv{i}_same": b.same_padding})
    return out


def train_settings(train: TrainConfig, dataset: str) -> dict[str, Any]:
    """Training widgets for a preset's TrainConfig, with the dataset's suggestions applied."""
    out = {"cls_optimizer": train.optimizer, "cls_lr": train.lr, "cls_weight_decay": train.weight_decay,
           "cls_batch_size": train.batch_size, "cls_epochs": train.epochs, "cls_scheduler": train.scheduler,
           "cls_seed": train.seed, "cls_device": train.device, "cls_augment": train.augment,
           "cls_momentum": train.momentum, "cls_step_size": train.step_size, "cls_gamma": train.gamma}
    hint = SUGGESTED.get(family(dataset), {})
    if "epochs" in hint:
        out["cls_epochs"] = max(out["cls_epochs"], hint["epochs"])
    if "augment" in hint:
        out["cls_augment"] = hint["augment"]
    return out


def preset_settings(preset: str, dataset: str) -> dict[str, Any]:
    """Everything a preset sets: its model (also copied into the custom fields) and training."""
    p = CLASSIFIER_PRESETS[preset]
    return {"cls_model": preset, **_model_settings(p.model), **train_settings(p.train, dataset)}


def default_settings() -> dict[str, Any]:
    """The page on first open: digits, the fast default CNN, its tuned training."""
    return {"cls_dataset": "digits", "cls_data_dir": "", "cls_fraction": 1.0,
            **preset_settings(DEFAULT_PRESET["classification"], "digits")}


def parse_widths(text: str) -> tuple[int, ...]:
    """'256, 128' -> (256, 128); '' -> (). ConfigError with a readable message otherwise."""
    parts = [p for p in text.replace(";", ",").replace(" ", ",").split(",") if p]
    try:
        widths = tuple(int(p) for p in parts)
    except ValueError:
        raise ConfigError(f"Dense layers must be whole numbers separated by commas, e.g. '256, 128'; "
                          f"got {text!r}") from None
    if any(w < 1 for w in widths):
        raise ConfigError(f"Dense layer widths must be at least 1; got {text!r}")
    return widths


def model_config(s: dict[str, Any]) -> ModelConfig:
    """The ModelConfig of the settings: the preset's, or the custom fields'."""
    choice = s["cls_model"]
    if choice in CLASSIFIER_PRESETS:
        return CLASSIFIER_PRESETS[choice].model
    conv: tuple[ConvBlock, ...] = ()
    if choice == "custom_cnn":
        conv = tuple(ConvBlock(int(s[f"cls_conv{i}_channels"]), int(s[f"cls_conv{i}_kernel"]),
                               bool(s.get(f"cls_conv{i}_same", True)), s[f"cls_conv{i}_pool"],
                               bool(s[f"cls_conv{i}_bn"]), float(s[f"cls_conv{i}_dropout"]))
                     for i in range(int(s["cls_n_conv"])))
    return ModelConfig(hidden=parse_widths(s["cls_hidden"]), activation=s["cls_activation"],
                       dropout=float(s["cls_dropout"]), batch_norm=bool(s["cls_batch_norm"]), conv=conv,
                       global_pool=bool(s["cls_global_pool"]) and bool(conv))


def data_config(s: dict[str, Any]) -> DataConfig:
    return DataConfig(dataset=s["cls_dataset"], data_dir=s["cls_data_dir"].strip(),
                      train_fraction=float(s["cls_fraction"]))


def train_config(s: dict[str, Any]) -> TrainConfig:
    return TrainConfig(optimizer=s["cls_optimizer"], lr=float(s["cls_lr"]), weight_decay=float(s["cls_weight_decay"]),
                       batch_size=int(s["cls_batch_size"]), epochs=int(s["cls_epochs"]),
                       scheduler=s["cls_scheduler"], seed=int(s["cls_seed"]), device=s["cls_device"],
                       augment=bool(s["cls_augment"]), momentum=float(s["cls_momentum"]),
                       step_size=int(s["cls_step_size"]), gamma=float(s["cls_gamma"]))


def run_config(s: dict[str, Any]) -> RunConfig:
    """The full RunConfig the page starts; ConfigError names the bad field."""
    choice = s["cls_model"]
    train = train_config(s)
    if choice in CLASSIFIER_PRESETS:  # bf16 on CPU only where the preset was measured to keep its accuracy
        train = replace(train, cpu_amp=CLASSIFIER_PRESETS[choice].train.cpu_amp)
    return RunConfig(data=data_config(s), model=model_config(s), train=train,
                     preset=choice if choice in CLASSIFIER_PRESETS else "",
                     name=f"{model_choices().get(choice, choice)} on {s['cls_dataset']}")


def settings_from_config(cfg: RunConfig) -> dict[str, Any]:
    """Widget values that rebuild `cfg` (a loaded checkpoint's config goes back into the panels)."""
    preset = cfg.preset if cfg.preset in CLASSIFIER_PRESETS and CLASSIFIER_PRESETS[cfg.preset].model == cfg.model \
        else ("custom_cnn" if cfg.model.conv else "custom_mlp")
    out = {"cls_dataset": cfg.data.dataset, "cls_data_dir": cfg.data.data_dir,
           "cls_fraction": cfg.data.train_fraction, "cls_model": preset, **_model_settings(cfg.model)}
    out.update(train_settings(cfg.train, ""))
    return out


def defaults_for_new_preset(preset: str) -> str:
    """The preset the page falls back to when a stored choice no longer exists."""
    return preset if preset in model_choices() else DEFAULT_PRESET["classification"]
