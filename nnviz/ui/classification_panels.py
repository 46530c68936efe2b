"""The classification page's set-up panels: data, model, training, and the Start / Stop row.

Widget values live in one non-widget session dict (`settings()`), so they survive page
switches; `classification_config` turns that dict into the RunConfig the page starts.
"""
from __future__ import annotations

import json
from typing import Any, Callable

import pandas as pd
import streamlit as st

from nnviz.analysis import metrics
from nnviz.config import (
    ACTIVATIONS,
    OPTIMIZER_NAMES,
    POOLING,
    SCHEDULER_NAMES,
    ConfigError,
    DataConfig,
    ModelConfig,
    from_dict,
    to_dict,
)
from nnviz.data import DATASETS, DatasetMissing, TaskData, data_dir, denormalise, is_present
from nnviz.data import images as image_sets
from nnviz.figures.classification import class_counts
from nnviz.figures.images import class_grid
from nnviz.jobs import runs
from nnviz.model.codegen import module_source
from nnviz.model.models import ModelTooLarge, build_model, summarize
from nnviz.training import limits
from nnviz.training.train import resolve_device
from nnviz.ui import access, live, presenter, share
from nnviz.ui import classification_config as cc
from nnviz.ui import tempo as tempo_ui
from nnviz.ui.learning_rate import learning_rate
from nnviz.ui.resources import task_data

SLOT = "classification"  # the live-run slot of this page
TEMPO_KEY = "cls_tempo"  # slow motion: epochs per second, 0 is full speed
STORE = "cls:settings"  # non-widget key: survives page switches
CHECKPOINT_KEY = "cls:checkpoint"  # path of a loaded checkpoint shown instead of a run
FRACTIONS = [0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0]
LEARNING_RATES = [1e-5, 3e-5, 1e-4, 3e-4, 5e-4, 1e-3, 2e-3, 3e-3, 5e-3, 0.01, 0.02, 0.03, 0.05, 0.1, 0.3, 1.0, 3.0, 10.0,
                  30.0, 100.0]  # up to 100: what a far too high rate does is worth a try
WEIGHT_DECAYS = [0.0, 1e-5, 1e-4, 5e-4, 1e-3, 5e-3, 0.01, 0.05, 0.1]
BATCH_SIZES = [8, 16, 32, 64, 128, 256, 512, 1024]
KERNELS = [1, 3, 5, 7]
DEVICE_LABELS = {"auto": "auto", "cpu": "CPU", "cuda": "CUDA", "mps": "MPS (Apple)"}


def settings() -> dict[str, Any]:
    """This session's settings dict (created with the defaults on first use)."""
    if STORE not in st.session_state:
        st.session_state[STORE] = cc.default_settings()
    return st.session_state[STORE]


def apply_settings(values: dict[str, Any]) -> None:
    """Write values into the store and the widgets' keys (call from a callback, before widgets exist)."""
    settings().update(values)
    for key, value in values.items():
        st.session_state[key] = value


def _w(widget: Callable, label: str, key: str, **kw: Any) -> Any:
    """A widget whose value is restored from, and saved to, the settings store."""
    store = settings()
    if key not in st.session_state:
        st.session_state[key] = store[key]
    value = widget(label, key=key, **kw)
    store[key] = value
    return value


def _with(options: list, key: str) -> list:
    """Options plus the stored value (a loaded checkpoint may use a value the list lacks)."""
    value = settings()[key]
    return options if value in options else sorted({*options, value})


def _on_dataset() -> None:
    s = settings()
    s["cls_dataset"] = st.session_state["cls_dataset"]
    if s["cls_model"] in cc.CLASSIFIER_PRESETS:  # keep the preset's tuned training, adjusted to the set
        apply_settings(cc.train_settings(cc.CLASSIFIER_PRESETS[s["cls_model"]].train, s["cls_dataset"]))


def _on_model() -> None:
    choice = st.session_state["cls_model"]
    if choice in cc.CLASSIFIER_PRESETS:
        apply_settings(cc.preset_settings(choice, settings()["cls_dataset"]))
    else:
        settings()["cls_model"] = choice


def _use_set(name: str = "digits") -> None:
    apply_settings({"cls_dataset": name})
    _on_dataset()


# ---------------------------------------------------------------- data

def data_panel(s: dict[str, Any]) -> TaskData | None:
    """Dataset choice, download, samples per class and counts; the loaded data, or None."""
    cols = st.columns([2, 2, 3])
    folder = st.session_state.get("cls_data_dir", s["cls_data_dir"]).strip() or None  # this run's value
    name = _w(cols[0].selectbox, "Dataset", "cls_dataset", options=list(DATASETS), on_change=_on_dataset,
              format_func=lambda n: DATASETS[n].title + ("" if DATASETS[n].embedded or is_present(n, folder)
                                                         else " — not downloaded"))
    _w(cols[1].select_slider, "Share of the training set", "cls_fraction", options=_with(FRACTIONS, "cls_fraction"),
       format_func=lambda f: f"{f:.0%}", help="Train on a fixed subset (nested: 10% ⊂ 20% ⊂ …) to see how "
                                             "accuracy grows with the amount of data.")
    _w(cols[2].text_input, "Data folder", "cls_data_dir", placeholder=f"{data_dir()} (default)",
       disabled=not access.unlocked(),  # presenter mode: no server paths typed by the audience
       help="torchvision's layout, e.g. <folder>/MNIST/raw. Empty: $NNVIZ_DATA_DIR or ./data.")
    if cc.family(name) in cc.SUGGESTION_NOTES:
        st.caption(cc.SUGGESTION_NOTES[cc.family(name)])
    root = s["cls_data_dir"].strip() or None
    if not DATASETS[name].embedded and not is_present(name, root):
        _missing(name, root)
        return None
    try:
        data = task_data(cc.data_config(s))
    except (DatasetMissing, ConfigError, ValueError) as exc:
        st.error(str(exc))
        st.button("Use the embedded digits set", key="cls_use_digits_err", on_click=_use_set)
        return None
    _samples_and_counts(data, s)
    return data


def _missing(name: str, root: str | None) -> None:
    info = DATASETS[name]
    st.warning(f"**{info.title} is not on this machine.** " + image_sets.missing_message(name, root),
               icon=":material/cloud_off:")
    cols = st.columns([1, 1, 3])
    if cols[0].button(f"Download ({info.download_mb} MB)", key="cls_download", icon=":material/download:"):
        bar = st.progress(0.0, text=f"Downloading {info.title}…")
        try:
            image_sets.download(name, root, progress=lambda f: bar.progress(f, text=f"Downloading {info.title}… {f:.0%}"))
        except DatasetMissing as exc:
            bar.empty()
            st.error(f"The download failed — this machine seems to be offline. {exc}", icon=":material/wifi_off:")
        else:
            st.success(f"{info.title} is ready.")
            st.rerun()
    if name in image_sets.SAMPLES:  # real images of the same set, fewer of them
        sample = image_sets.SAMPLES[name]
        cols[1].button(f"Use the embedded {DATASETS[sample].title.split(' (')[0]}", key="cls_use_sample",
                       on_click=_use_set, args=(sample,), type="primary")
    else:
        cols[1].button("Use the embedded digits set", key="cls_use_digits", on_click=_use_set, type="primary")


@st.cache_data(max_entries=8, show_spinner=False)
def _grid_samples(config_json: str, per_class: int) -> tuple[Any, Any]:
    """(pixels in [0, 1], labels) of the first `per_class` training images of each class."""
    cfg = DataConfig(**json.loads(config_json))
    data = task_data(cfg)
    labels = data.y_train.numpy()
    idx = metrics.strip_indices(labels, data.n_outputs, per_class)
    return denormalise(data.x_train[idx], DATASETS[cfg.dataset]).numpy(), labels[idx]


def _samples_and_counts(data: TaskData, s: dict[str, Any]) -> None:
    left, right = st.columns([3, 2])
    cfg_json = json.dumps(to_dict(cc.data_config(s)), sort_keys=True)
    pixels, labels = _grid_samples(cfg_json, 4)
    left.plotly_chart(presenter.figure(class_grid(pixels, labels, data.classes, per_class=4, title="Training images, by class")),
                      key="cls_sample_grid", width="stretch", config={"displayModeBar": False})
    k = data.n_outputs
    counts = {"train": metrics.class_counts(data.y_train.numpy(), k), "val": metrics.class_counts(data.y_val.numpy(), k),
              "test": metrics.class_counts(data.y_test.numpy(), k)}
    right.plotly_chart(presenter.figure(class_counts(counts, data.classes, title="Images per class")), key="cls_counts",
                       width="stretch")
    shape = "×".join(str(v) for v in data.input_shape)
    right.caption(f"**{len(data.y_train):,}** training · **{len(data.y_val):,}** validation · "
                  f"**{len(data.y_test):,}** test images of {shape}, {k} classes.")


# ---------------------------------------------------------------- model

def _custom_cnn(s: dict[str, Any]) -> None:
    n = _w(st.number_input, "Conv blocks", "cls_n_conv", min_value=1, max_value=cc.MAX_CONV_BLOCKS, step=1)
    for i in range(int(n)):
        c = st.columns([2, 2, 2, 2, 2, 1])
        _w(c[0].number_input, f"Block {i + 1}: channels", f"cls_conv{i}_channels", min_value=1, max_value=512, step=8)
        _w(c[1].selectbox, "kernel", f"cls_conv{i}_kernel", options=_with(KERNELS, f"cls_conv{i}_kernel"),
           format_func=lambda k: f"{k}×{k}")
        _w(c[2].selectbox, "pooling (2×2)", f"cls_conv{i}_pool", options=list(POOLING))
        _w(c[3].number_input, "dropout", f"cls_conv{i}_dropout", min_value=0.0, max_value=0.9, step=0.05)
        _w(c[4].checkbox, "same padding", f"cls_conv{i}_same")
        _w(c[5].checkbox, "BN", f"cls_conv{i}_bn", help="Batch normalisation after the convolution")
    _w(st.checkbox, "Global average pooling before the dense layers", "cls_global_pool")


def _dense(s: dict[str, Any], cnn: bool) -> None:
    c = st.columns(4)
    _w(c[0].text_input, "Dense layers (widths)", "cls_hidden", help="Comma-separated widths, e.g. 256, 128; "
       "empty for none" + (" (the CNN's last feature map goes straight to the output)." if cnn else " (a linear model)."))
    _w(c[1].selectbox, "Activation", "cls_activation", options=list(ACTIVATIONS))
    _w(c[2].number_input, "Dropout (dense)", "cls_dropout", min_value=0.0, max_value=0.9, step=0.05)
    _w(c[3].checkbox, "Batch norm (dense)", "cls_batch_norm")


@st.cache_data(max_entries=32, show_spinner=False)
def _architecture(model_json: str, input_shape: tuple[int, ...], n_outputs: int, title: str,
                  mean: tuple[float, ...], std: tuple[float, ...]) -> tuple[list[dict], int, str]:
    """(layer rows, parameter count, PyTorch source) of a model config."""
    cfg = from_dict(ModelConfig, json.loads(model_json))
    model = build_model(cfg, input_shape, n_outputs)
    rows = [{"layer": r.name, "type": r.kind, "output shape": " × ".join(str(v) for v in r.output_shape),
             "parameters": r.parameters, "receptive field": f"{r.receptive_field}×{r.receptive_field}"
             if r.receptive_field else ""} for r in summarize(model, input_shape)]
    code = module_source(cfg, input_shape, n_outputs, title=title, mean=mean, std=std)
    return rows, sum(p.numel() for p in model.parameters()), code


def model_panel(s: dict[str, Any]) -> bool:
    """Preset or custom model, its architecture table and PyTorch code; False when it cannot be built."""
    choices = cc.model_choices()
    if s["cls_model"] not in choices:
        s["cls_model"] = cc.defaults_for_new_preset(s["cls_model"])
    choice = _w(st.selectbox, "Model", "cls_model", options=list(choices), format_func=choices.get,
                on_change=_on_model, help="The presets come with the training settings they were tuned with.")
    if choice in cc.CLASSIFIER_PRESETS:
        preset = cc.CLASSIFIER_PRESETS[choice]
        st.caption(preset.note or "Choosing a preset also sets its tuned training settings. "
                   "Pick Custom MLP / CNN to edit the layers (they start from this preset).")
    elif choice == "custom_cnn":
        _custom_cnn(s)
    if choice in cc.CUSTOM:
        _dense(s, cnn=choice == "custom_cnn")
    info = DATASETS[s["cls_dataset"]]
    try:
        cfg = cc.model_config(s)
        rows, n_params, code = _architecture(json.dumps(to_dict(cfg), sort_keys=True), tuple(info.shape),
                                             len(info.classes), choices[choice], tuple(info.mean), tuple(info.std))
        batch = st.session_state.get("cls_batch_size", s["cls_batch_size"])  # the widget renders below: its new value
        limits.check_training_memory(cfg, tuple(info.shape), len(info.classes), int(batch))
    except (ConfigError, ModelTooLarge, ValueError) as exc:
        st.error(f"This model cannot be built: {exc}", icon=":material/error:")
        return False
    left, right = st.columns(2)
    with left:
        st.markdown(f"**Architecture** · {n_params:,} parameters · input {' × '.join(map(str, info.shape))}")
        st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch", key="cls_arch_table",
                     height=min(36 * (len(rows) + 1) + 3, 600),
                     column_config={"parameters": st.column_config.NumberColumn(format="localized")})
    with right:
        st.markdown("**The same network in PyTorch**")
        st.download_button("Download model.py", code, file_name="model.py", mime="text/x-python",
                           key="cls_code_download", icon=":material/download:")
        st.code(code, language="python", height=min(36 * (len(rows) + 1) + 3, 600) - 50)
    return True


# ---------------------------------------------------------------- training

def training_panel(s: dict[str, Any]) -> None:
    c = st.columns(4)
    _w(c[0].selectbox, "Optimizer", "cls_optimizer", options=list(OPTIMIZER_NAMES))
    _w(lambda _label, key: learning_rate(c[1], key, _with(LEARNING_RATES, key)), "Learning rate", "cls_lr")
    _w(c[2].select_slider, "Weight decay", "cls_weight_decay", options=_with(WEIGHT_DECAYS, "cls_weight_decay"),
       format_func=lambda v: f"{v:g}")
    _w(c[3].selectbox, "Batch size", "cls_batch_size", options=_with(BATCH_SIZES, "cls_batch_size"))
    c = st.columns(4)
    _w(c[0].number_input, "Epochs", "cls_epochs", min_value=1, max_value=500, step=1)
    _w(c[1].selectbox, "LR schedule", "cls_scheduler", options=list(SCHEDULER_NAMES),
       help="onecycle and cosine change the learning rate every batch; step and plateau every epoch.")
    _w(c[2].number_input, "Seed", "cls_seed", min_value=0, max_value=2**31 - 1, step=1,
       help="Same seed and settings, same result.")
    devices = ["auto", "cpu", "cuda"] + (["mps"] if s["cls_device"] == "mps" else [])
    _w(c[3].selectbox, "Device", "cls_device", options=devices, format_func=DEVICE_LABELS.get)
    flips = s["cls_dataset"] == "cifar10"
    _w(st.toggle, "Data augmentation: random shifts of up to 2 px" + (" and horizontal flips" if flips else ""),
       "cls_augment", help="Fresh random shifts every batch, on the device. Flips only for CIFAR-10: a mirrored "
                           "digit is another symbol, and a mirrored shirt needs no teaching.")
    with st.expander("More optimizer settings"):
        c = st.columns(3)
        _w(c[0].number_input, "Momentum (SGD, RMSprop)", "cls_momentum", min_value=0.0, max_value=0.999, step=0.05)
        _w(c[1].number_input, "Step schedule: epochs per decay", "cls_step_size", min_value=1, max_value=1000, step=1)
        _w(c[2].number_input, "Decay factor (step, plateau)", "cls_gamma", min_value=0.01, max_value=1.0, step=0.05)


def controls(s: dict[str, Any], run: runs.Run | None, ready: bool) -> None:
    """Start / Stop and a one-line summary of what Start will train."""
    active = run is not None and run.active
    allowed = access.control_allowed("start or stop training")  # presenter mode: the audience watches
    choices = cc.model_choices()
    summary = (f"{DATASETS[s['cls_dataset']].title} ({s['cls_fraction']:.0%} of the training set) · "
               f"{choices.get(s['cls_model'], s['cls_model'])} · {s['cls_optimizer']} lr {s['cls_lr']:g} · "
               f"batch {s['cls_batch_size']} · {s['cls_epochs']} epochs"
               + ("" if ready else " — fix the data or model panel first"))
    c = st.columns([2, 1.3, 5], vertical_alignment="center")
    # The one to press is the filled one: Start before a run, Stop while it trains.
    c[0].button("Start training", key="cls_start", type="secondary" if active else "primary",
                disabled=active or not ready or not allowed, help=None if active else f"Trains: {summary}",
                icon=":material/play_arrow:", width="stretch", shortcut=presenter.shortcut("start"), on_click=_start)
    c[1].button("Stop", key="cls_stop", type="primary" if live.stoppable(run) else "secondary",
                disabled=not live.stoppable(run), icon=":material/stop:", width="stretch",
                on_click=lambda: live.stop(run) if run is not None else None, shortcut=presenter.shortcut("stop"))
    live.show_start_problem(SLOT)
    if run is None:
        _offer_active_runs()
    elif active and allowed and not live.stoppable(run):
        st.caption("Only the session that started this run, or the presenter, can stop it.")
    extras = c[2].container(horizontal=True, vertical_alignment="center")
    tempo_ui.slow_motion(TEMPO_KEY, run, live.stoppable(run), extras)  # while it trains too: its pace changes live
    if run is not None:
        share.share_popover(SLOT, run, extras)
    if run is None or not ready:  # a run's view below needs the height: Start's tooltip says what it trains
        extras.caption(summary)


def _offer_active_runs() -> None:
    """A run training in another tab or session can be followed (and stopped) from here."""
    others = [r for r in runs.active_runs() if r.config.data.task == "classification"]
    if others:
        r = others[-1]
        st.info(f"A classification run is training in another tab or session: {r.config.name or r.id}.",
                icon=":material/sync:")
        st.button("Follow it here", key="cls_follow", on_click=live.follow, args=(SLOT, r))


def _start() -> None:
    """Start's callback: it runs before the page does, so the one rerun a press causes already draws
    the page training (set-up folded, live view) and the browser renders it once, not twice, while
    the run's first epoch competes with it for the cores."""
    s = settings()
    s.update({key: st.session_state[key] for key in s if key in st.session_state})  # this press's values
    try:
        cfg = cc.run_config(s)
        resolve_device(cfg.train.device)
    except (ConfigError, ValueError) as exc:
        st.error(f"Cannot start: {exc}", icon=":material/error:")
        return
    if live.start(SLOT, cfg, tempo_ui.rate(TEMPO_KEY)) is not None:
        st.session_state.pop(CHECKPOINT_KEY, None)
        st.session_state.pop("cls_replay", None)
