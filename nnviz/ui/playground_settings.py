"""The Playground page's settings: widgets <-> a PlaygroundConfig <-> the URL's query.

The config lives in a non-widget session key (it survives page switches); the widgets are filled from
it when they are missing (a fresh session, a page switch) or when something else set it (a link, a
lesson, a loaded checkpoint). Every change is written to the URL, so a link reopens the experiment.
"""
from __future__ import annotations

import streamlit as st

from nnviz import security
from nnviz.jobs import storage
from nnviz.playground import store
from nnviz.playground.config import (
    ACTIVATIONS,
    FEATURES,
    MAX_LAYERS,
    MAX_NEURONS,
    OPTIMIZERS,
    QUERY_KEYS,
    PlaygroundConfig,
    SettingError,
    from_query,
)
from nnviz.playground.data import DATASETS, MAX_POINTS, UPLOAD, DataError
from nnviz.ui import access, presenter

CONFIG = "pg:config"  # the current settings (non-widget key)
LINK_PROBLEMS = "pg:link_problems"
CSV_ERROR = "pg:csv_error"
PLAY_ON_OPEN = "pg:play_on_open"
LEARNING_RATES = [0.00001, 0.0001, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0]  # the Playground's
REG_RATES = [0.0, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0]
DATA_LABELS = {**DATASETS, UPLOAD: "Your CSV (x1,x2,label)"}
ACTIVATION_LABELS = {"tanh": "Tanh", "relu": "ReLU", "sigmoid": "Sigmoid", "linear": "Linear"}
REG_LABELS = {"none": "None", "l1": "L1", "l2": "L2"}
OPT_LABELS = {"sgd": "SGD", "adam": "Adam"}


def current() -> PlaygroundConfig:
    """The session's settings: first from the URL (a shared link), else the defaults."""
    if CONFIG not in st.session_state:
        query = {k: st.query_params[k] for k in QUERY_KEYS if k in st.query_params}
        cfg, problems = from_query(query)
        st.session_state[CONFIG] = cfg
        st.session_state[LINK_PROBLEMS] = problems
        _fill_widgets(cfg)
    return st.session_state[CONFIG]


def apply(cfg: PlaygroundConfig) -> None:
    """Set the settings from outside the widgets (a lesson, a checkpoint): the widgets follow."""
    st.session_state[CONFIG] = cfg
    _fill_widgets(cfg)
    sync_url(cfg)


def apply_link(query: str, play: bool) -> None:
    """A lesson step's settings (a link's query); `play`: the page starts training when it opens."""
    cfg, _ = from_query(dict(part.split("=", 1) for part in query.split("&") if "=" in part))
    apply(cfg)
    st.session_state[PLAY_ON_OPEN] = play


def play_on_open() -> bool:
    """Once: whether a lesson asked the page to start training as it opens."""
    return bool(st.session_state.pop(PLAY_ON_OPEN, False))


def sync_url(cfg: PlaygroundConfig) -> None:
    """Write the settings into the URL (only what changed: each write is a message to the browser)."""
    query = cfg.to_query()
    for key in QUERY_KEYS:
        if key not in query and key in st.query_params:
            del st.query_params[key]
    changed = {k: v for k, v in query.items() if st.query_params.get(k) != v}
    if changed:
        st.query_params.update(changed)


def _fill_widgets(cfg: PlaygroundConfig) -> None:
    s = st.session_state
    s["pg_ds"], s["pg_n"], s["pg_noise"] = cfg.dataset, cfg.points, round(cfg.noise * 100)
    s["pg_ratio"], s["pg_seed"] = round(cfg.train_ratio * 100), cfg.seed
    s["pg_feat"] = list(cfg.features)
    s["pg_layers"] = len(cfg.hidden)
    for i in range(MAX_LAYERS):
        s[f"pg_h{i}"] = cfg.hidden[i] if i < len(cfg.hidden) else 4
    s["pg_act"], s["pg_reg"], s["pg_opt"] = cfg.activation, cfg.regularization, cfg.optimizer
    s["pg_rate"], s["pg_lr"] = cfg.reg_rate, cfg.lr
    s["pg_bs"], s["pg_epochs"] = cfg.batch_size, cfg.epochs
    s["pg:upload_name"] = cfg.upload


def _with_option(options: list[float], value: float) -> list[float]:
    """A link may carry a rate that is not on the list: it is added, in order."""
    return options if value in options else sorted([*options, value])


def panel() -> PlaygroundConfig | None:
    """The settings in three tabs; the config they describe, or None (with the sentence shown) if invalid."""
    cfg = current()
    if "pg_ds" not in st.session_state:  # widget values are dropped when the user leaves the page
        _fill_widgets(cfg)
    for problem in st.session_state.pop(LINK_PROBLEMS, []):
        st.warning(problem, icon=":material/link_off:")
    tab_data, tab_net, tab_train = st.tabs(["Data", "Network", "Training"])
    with tab_data:
        _data_widgets()
    with tab_net:
        _network_widgets()
    with tab_train:
        _training_widgets()
    s = st.session_state
    layers = int(s["pg_layers"])
    try:
        new = PlaygroundConfig(
            dataset=s["pg_ds"], points=int(s["pg_n"]), noise=s["pg_noise"] / 100, train_ratio=s["pg_ratio"] / 100,
            seed=int(s["pg_seed"]), features=tuple(f for f in FEATURES if f in (s["pg_feat"] or [])),
            hidden=tuple(int(s[f"pg_h{i}"]) for i in range(layers)), activation=s["pg_act"],
            regularization=s["pg_reg"], reg_rate=float(s["pg_rate"]), lr=float(s["pg_lr"]), batch_size=int(s["pg_bs"]),
            optimizer=s["pg_opt"], epochs=int(s["pg_epochs"]), upload=s.get("pg:upload_name", "") or "")
    except SettingError as exc:
        st.error(str(exc), icon=":material/error:")
        return None
    st.session_state[CONFIG] = new
    sync_url(new)
    return new


def _data_widgets() -> None:
    st.selectbox("Data set", list(DATA_LABELS), key="pg_ds", format_func=DATA_LABELS.get)
    if st.session_state["pg_ds"] == UPLOAD:
        st.file_uploader("x1,x2,label CSV", type=["csv", "txt"], key="pg_upload", on_change=_on_upload,
                         disabled=not access.unlocked(),
                         help="Three columns: two coordinates and a label with exactly two values; a header line "
                              "is optional; 10 to 2,000 points. The points are scaled to fit the plane.")
        if st.session_state.get(CSV_ERROR):
            st.error(st.session_state[CSV_ERROR], icon=":material/error:")
    left, right = st.columns(2)
    left.slider("Noise (%)", 0, 50, key="pg_noise")
    right.slider("Training share (%)", 10, 90, step=10, key="pg_ratio")
    left.slider("Points", 50, MAX_POINTS, step=50, key="pg_n", disabled=st.session_state["pg_ds"] == UPLOAD)
    right.number_input("Seed", 0, 2**31 - 1, key="pg_seed", help="Draws the points, their split, the first "
                       "weights and the batch order: the same seed, the same experiment.")
    st.button("Regenerate", key="pg_regen", icon=":material/casino:", on_click=_regenerate,
              help="New points: the next seed.")


def _regenerate() -> None:
    st.session_state["pg_seed"] = int(st.session_state["pg_seed"]) + 1


def _on_upload() -> None:
    upload = st.session_state.get("pg_upload")
    st.session_state.pop(CSV_ERROR, None)
    if upload is None:
        return
    refusal = access.upload_refusal("CSV files")
    if refusal:
        st.session_state[CSV_ERROR] = refusal
        return
    name = security.markdown_safe(upload.name[:80])
    try:
        st.session_state["pg:upload_name"] = store.store_upload(upload.getvalue())
    except DataError as exc:
        st.session_state[CSV_ERROR] = f"**{name}** cannot be used: {security.markdown_safe(str(exc))}"
        return
    except OSError as exc:
        st.session_state[CSV_ERROR] = f"The upload could not be stored: {storage.disk_problem(exc, store.playground_dir())}"
        return
    access.count_upload()


def _network_widgets() -> None:
    st.pills("Input features", list(FEATURES), key="pg_feat", selection_mode="multi", format_func=FEATURES.get)
    st.number_input("Hidden layers", 0, MAX_LAYERS, key="pg_layers", help="Press + or − to add or remove a layer.")
    layers = int(st.session_state["pg_layers"])
    if layers:
        cols = st.columns(2)
        for i in range(layers):
            cols[i % 2].slider(f"Layer {i + 1}", 1, MAX_NEURONS, key=f"pg_h{i}", help="Neurons in this layer.")
    st.selectbox("Activation", ACTIVATIONS, key="pg_act", format_func=ACTIVATION_LABELS.get)


def _training_widgets() -> None:
    s = st.session_state
    left, right = st.columns(2)
    left.selectbox("Learning rate", _with_option(LEARNING_RATES, s["pg_lr"]), key="pg_lr", format_func=lambda v: f"{v:g}")
    right.slider("Batch size", 1, 100, key="pg_bs")
    left.selectbox("Optimizer", OPTIMIZERS, key="pg_opt", format_func=OPT_LABELS.get)
    with presenter.advanced("Regularization and epochs"):
        left, right = st.columns(2)
        left.selectbox("Regularization", list(REG_LABELS), key="pg_reg", format_func=REG_LABELS.get)
        right.selectbox("Rate", _with_option(REG_RATES, s["pg_rate"]), key="pg_rate", format_func=lambda v: f"{v:g}",
                        help="The penalty's weight: L1 adds rate·Σ|w|, L2 rate·Σw²/2 to the loss.")
        st.number_input("Stop after epochs", 1, 100_000, key="pg_epochs")
