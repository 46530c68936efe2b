"""The regression page's controls: data, model and training panels, and Start / Stop / Reset.

Widgets never get a `value=`: their values live in session_state under `rg_*` keys,
filled by `restore()` from a non-widget copy that survives page switches (Streamlit
drops a widget's value when its page is left). The settings <-> config mapping is in
nnviz.ui.regression_settings, which has no Streamlit in it.
"""
from __future__ import annotations

import json
from typing import Any

import streamlit as st

from nnviz import security
from nnviz.analysis import regression_views as views
from nnviz.config import ConfigError, ModelConfig, RunConfig, from_dict, to_dict
from nnviz.data import FUNCTIONS, CsvError
from nnviz.jobs import storage
from nnviz.jobs.runs import Run, runs_dir
from nnviz.model.models import ModelTooLarge, build_model, summarize
from nnviz.ui import access, live, presenter, share
from nnviz.ui import regression_settings as rs
from nnviz.ui import tempo as tempo_ui
from nnviz.ui.learning_rate import learning_rate

SLOT = "regression"  # the live.* slot of this page's run
TEMPO_KEY = "rg_tempo"  # slow motion: epochs per second, 0 is full speed
STORE = "regression:settings"  # non-widget copy of the widget values
CSV_STORE = "regression:csv"  # the accepted upload: {'path', 'name', 'points'}
CSV_ERROR = "regression:csv_error"
SOURCE_LABELS = {"synthetic": "Synthetic function", "csv": "Upload x,y CSV"}
UPLOAD_TYPES = ["csv", "txt", "tsv", "dat"]


# --- settings that survive navigation ---------------------------------------------------

def restore() -> None:
    """Put every setting into session_state (the stored copy, else the defaults) before widgets exist."""
    stored = rs.settings_complete(st.session_state.get(STORE, {}))
    if stored["rg_device"] not in rs.devices():
        stored["rg_device"] = "auto"
    for key, value in stored.items():
        if key not in st.session_state:
            st.session_state[key] = value
    st.session_state.setdefault("rg_smoothing", 0.6)


def save() -> None:
    """Copy the widget values into the non-widget store (call after the widgets)."""
    st.session_state[STORE] = {k: st.session_state[k] for k in rs.default_settings() if k in st.session_state}


def apply_settings(values: dict[str, Any]) -> None:
    """Set these settings (e.g. a lesson's) in the store and the widgets' keys, before the widgets exist."""
    st.session_state[STORE] = rs.settings_complete({**st.session_state.get(STORE, {}), **values})
    st.session_state.update({k: v for k, v in values.items() if k in rs.default_settings()})


def settings() -> dict[str, Any]:
    return {k: st.session_state.get(k, v) for k, v in rs.default_settings().items()}


def config() -> tuple[RunConfig | None, str]:
    """The RunConfig the current settings describe, or (None, why not)."""
    csv = st.session_state.get(CSV_STORE) or {}
    try:
        return rs.run_config(settings(), csv.get("path", "")), ""
    except ConfigError as exc:
        return None, str(exc)


def _apply_preset() -> None:
    choice = st.session_state.get("rg_model")
    if choice in rs.PRESETS:
        st.session_state.update(rs.preset_settings(choice))


def _restore_defaults() -> None:
    st.session_state.update(rs.default_settings())
    st.session_state.pop(CSV_STORE, None)
    st.session_state.pop(CSV_ERROR, None)


# --- data ---------------------------------------------------------------------------------

def _on_upload() -> None:
    """Check an uploaded CSV at once; keep it as a file (runs read a path) or keep the error."""
    upload = st.session_state.get("rg_upload")
    st.session_state.pop(CSV_ERROR, None)
    if upload is None:
        st.session_state.pop(CSV_STORE, None)
        return
    new = not views.csv_upload_path(upload.getvalue()).is_file()  # the same file again costs no quota
    refusal = access.upload_refusal("CSV files") if new or not access.unlocked() else None  # checked server-side
    if refusal:
        st.session_state[CSV_ERROR] = refusal
        return
    name = security.markdown_safe(upload.name[:80])
    try:
        path, points = views.save_csv_upload(upload.getvalue())
    except CsvError as exc:
        st.session_state.pop(CSV_STORE, None)
        st.session_state[CSV_ERROR] = f"**{name}** cannot be used: {security.markdown_safe(str(exc))}"
        return
    except OSError as exc:
        st.session_state[CSV_ERROR] = f"The upload could not be stored: {storage.disk_problem(exc, runs_dir())}"
        return
    if new:
        access.count_upload()
    st.session_state[CSV_STORE] = {"path": str(path), "name": name, "points": points}


def data_panel() -> None:
    st.radio("Data", list(SOURCE_LABELS), key="rg_source", horizontal=True, format_func=SOURCE_LABELS.get,
             label_visibility="collapsed")
    if st.session_state["rg_source"] == "synthetic":
        st.selectbox("Function", list(FUNCTIONS), key="rg_function", format_func=lambda f: FUNCTIONS[f].title)
        left, right = st.columns(2)
        left.slider("Noise σ", 0.0, 1.0, step=0.05, key="rg_noise",
                    help="Std of the Gaussian noise on y. No model can beat a test MSE of about σ².")
        right.number_input("Data seed", 0, 1_000_000, key="rg_data_seed", help="Draws the points.")
        left.slider("Train points", 10, 2000, step=10, key="rg_n_train")
        right.slider("Test points", 10, 2000, step=10, key="rg_n_test")
    else:
        st.file_uploader("x,y CSV file", type=UPLOAD_TYPES, key="rg_upload", on_change=_on_upload,
                         disabled=not access.unlocked(),
                         help="Two numeric columns (named x and y, or the first two numeric ones); "
                              "comma, semicolon or tab separated; at most 100,000 rows. 30% is held out as test set.")
        if st.session_state.get(CSV_ERROR):
            st.error(st.session_state[CSV_ERROR], icon=":material/error:")
        elif st.session_state.get(CSV_STORE):
            csv = st.session_state[CSV_STORE]
            st.success(f"Using **{csv['name']}**: {csv['points']:,} points.", icon=":material/check:")
        else:
            st.info("Upload a CSV with x and y columns.", icon=":material/upload_file:")
    st.slider("Validation share of the training points", 0.0, 0.5, step=0.05, key="rg_val_fraction",
              help="Held out from training to watch over-fitting (and for early stopping).")


# --- model --------------------------------------------------------------------------------

@st.cache_data(max_entries=64, show_spinner=False)
def _architecture(model_json: str) -> tuple[list[dict], int]:
    model = build_model(from_dict(ModelConfig, json.loads(model_json)), (1,), 1)
    rows = [{"layer": r.name, "type": r.kind, "shape": "×".join(map(str, r.output_shape)),
             "parameters": r.parameters} for r in summarize(model, (1,))]
    return rows, sum(r["parameters"] for r in rows)


def architecture_table(model_cfg: ModelConfig) -> None:
    """Layer, output shape and parameters of one sample's pass, as a compact table."""
    try:
        rows, total = _architecture(json.dumps(to_dict(model_cfg), sort_keys=True))
    except (ModelTooLarge, ValueError) as exc:
        st.error(str(exc))
        return
    st.dataframe(rows, hide_index=True, width="stretch", height=min(36 + 35 * len(rows), 300),
                 column_config={"parameters": st.column_config.NumberColumn(format="localized")})
    st.caption(f"{total:,} parameters in total.")


def model_panel() -> None:
    st.selectbox("Architecture", rs.MODEL_CHOICES, key="rg_model", on_change=_apply_preset,
                 format_func=lambda c: rs.PRESETS[c].title if c in rs.PRESETS else "Custom MLP")
    custom = st.session_state["rg_model"] == rs.CUSTOM
    if not custom:
        note = rs.PRESETS[st.session_state["rg_model"]].note
        st.caption((note + " " if note else "") + "Choose *Custom MLP* to edit the layers.")
    st.slider("Hidden layers", 0, rs.MAX_LAYERS, key="rg_layers", disabled=not custom)
    n = int(st.session_state["rg_layers"])
    if n:
        cols = st.columns(min(n, 3))
        for i in range(1, n + 1):
            cols[(i - 1) % 3].number_input(f"Width {i}", 1, 512, step=8, key=f"rg_w{i}", disabled=not custom)
    left, right = st.columns(2)
    left.selectbox("Activation", list(rs.ACTIVATIONS), key="rg_activation", format_func=rs.ACTIVATIONS.get,
                   disabled=not custom or n == 0)
    right.slider("Dropout", 0.0, 0.5, step=0.05, key="rg_dropout", disabled=not custom or n == 0)
    st.checkbox("Batch-norm before each activation", key="rg_bn", disabled=not custom or n == 0)


# --- training -------------------------------------------------------------------------------

def training_panel() -> None:
    left, right = st.columns(2)
    left.selectbox("Optimizer", list(rs.OPTIMIZERS), key="rg_optimizer", format_func=rs.OPTIMIZERS.get)
    learning_rate(right, "rg_lr", rs.LEARNING_RATES)
    if st.session_state["rg_optimizer"] in ("sgd", "rmsprop"):
        st.slider("Momentum", 0.0, 0.99, step=0.01, key="rg_momentum")
    left.select_slider("L2 weight decay", rs.WEIGHT_DECAYS, key="rg_weight_decay",
                       format_func=lambda v: "off" if v == 0 else f"{v:g}")
    right.select_slider("Batch size", rs.BATCH_SIZES, key="rg_batch_size")
    left.number_input("Epochs", 1, 5000, key="rg_epochs")
    right.selectbox("LR schedule", list(rs.SCHEDULERS), key="rg_scheduler", format_func=rs.SCHEDULERS.get)
    if st.session_state["rg_scheduler"] == "step":
        left.number_input("Step every (epochs)", 1, 1000, key="rg_step_size")
        right.slider("γ", 0.05, 1.0, step=0.05, key="rg_gamma")
    left.number_input("Early stopping patience", 0, 1000, key="rg_patience",
                      help="Stop after this many epochs without a better validation loss; 0 is off.")
    right.selectbox("K-fold cross-validation", rs.KFOLDS, key="rg_kfold",
                    format_func=lambda k: "off" if k == 0 else f"{k} folds",
                    help="Train one model per fold of train+validation; shows the spread of the K fits.")
    with presenter.advanced("Seed and device"):  # folded in presenter view: not lecture material
        left, right = st.columns(2)
        left.number_input("Seed", 0, 1_000_000, key="rg_seed", help="Initial weights, shuffling, dropout.")
        right.selectbox("Device", rs.devices(), key="rg_device", format_func=lambda d: d.upper() if d != "auto" else d)


# --- run controls -----------------------------------------------------------------------------

def _start(cfg: RunConfig) -> None:
    run = live.current(SLOT)
    if run is not None and run.active:
        return
    live.start(SLOT, cfg, tempo_ui.rate(TEMPO_KEY))


def _stop() -> None:
    run = live.current(SLOT)
    if run is not None:
        live.stop(run)


def _reset() -> None:
    _stop()
    live.forget(SLOT)


def controls(cfg: RunConfig | None, run: Run | None) -> None:
    """Start (the current settings), Stop (within a second), Reset (back to the untrained model), the
    slow-motion pace and, once there is a run, Share: one row of buttons as wide as their labels."""
    active = run is not None and run.active
    allowed = access.control_allowed("start or stop training")  # presenter mode: the audience watches
    row = st.container(horizontal=True, vertical_alignment="center")
    # The one to press is the filled one: Start before a run, Stop while it trains.
    row.button("Start", key="rg_start", type="secondary" if active else "primary",
               disabled=cfg is None or active or not allowed, on_click=_start, args=(cfg,),
               help="Train with the settings below, in the background: the page stays usable.",
               shortcut=presenter.shortcut("start"))
    row.button("Stop", key="rg_stop", type="primary" if live.stoppable(run) else "secondary",
               disabled=not live.stoppable(run), on_click=_stop, shortcut=presenter.shortcut("stop"))
    row.button("Reset", key="rg_reset", disabled=run is None,
               on_click=_reset, help="Forget this run and show the untrained model again.")
    tempo_ui.slow_motion(TEMPO_KEY, run, live.stoppable(run), row)
    if run is not None:
        share.share_popover(SLOT, run, row)
    live.show_start_problem(SLOT)
    if active and allowed and not live.stoppable(run):
        st.caption("Only the session that started this run, or the presenter, can stop it.")


def config_panels(problem: str) -> None:
    """The Data / Model / Training tabs; `problem` (why no config can be built) is shown under them."""
    data_tab, model_tab, train_tab = st.tabs(["Data", "Model", "Training"])
    with data_tab:
        data_panel()
    with model_tab:
        model_panel()
        try:
            architecture_table(rs.model_config(settings()))
        except ConfigError as exc:
            st.error(str(exc))
    with train_tab:
        training_panel()
    if problem and st.session_state.get("rg_source") != "csv":  # the data tab explains upload problems
        st.warning(problem, icon=":material/warning:")
    st.button("Restore default settings", key="rg_defaults", type="tertiary", on_click=_restore_defaults)
    save()
