"""The regression page's views before and during training: the data with the untrained fit,
and the live fit, metrics and loss curves (the after-training tabs are in regression_after).

Nothing here touches a training thread's model: the live view reads `Run.view()` copies.
"""
from __future__ import annotations

import json
import math
import time

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from nnviz.analysis import regression_views as views
from nnviz.analysis.diagnostics import compact, divergence
from nnviz.config import DataConfig, ModelConfig, RunConfig, from_dict, to_dict
from nnviz.data import CsvError, DatasetMissing, TaskData
from nnviz.data.regression import FUNCTIONS, true_curve
from nnviz.figures import diagnostics as dfig
from nnviz.figures import regression as rfig
from nnviz.jobs.runs import RunView
from nnviz.ui import live, presenter, report_panel, resources

CHART_CONFIG = {"displaylogo": False, "toImageButtonOptions": {"format": "png", "scale": 2}}
FIT_HEIGHT = 380  # the untrained fit beside the set-up
LIVE_HEIGHT = 300  # fit and loss side by side under Start / Stop: both in the first screen at 1280x720
# While a run trains the charts are drawn without their legends (a third of the browser's work per
# redraw); these lines under the charts say the same. The full legends come back when the run ends.
FIT_LEGEND = (":blue[●] train · :orange[◆] validation · :green[◆] test · ╌ true function · :gray[┈] untrained · "
              ":red[**━**] network · grey bands: no training data")
LOSS_LEGEND = (":blue[**━**] train · :orange[**━**] validation · :green[**━**] test · dotted: smoothed batch loss · "
               "dashed: noise variance σ²")
LOSS_EVERY_S = 0.8  # while training, the loss chart takes new data at most this often


def chart(fig, key: str, name: str, static: bool = False) -> None:
    """One plotly chart; PNG download from its camera icon. `static` (while a run trains): no hover,
    zoom or mode bar. Streamlit re-creates a chart whose data changed, so zoom could not survive the
    next update anyway, and a static plot costs the browser far less to draw 2-3 times a second."""
    config = {**CHART_CONFIG, "toImageButtonOptions": {**CHART_CONFIG["toImageButtonOptions"], "filename": name}}
    if static:
        config = {"staticPlot": True, "displayModeBar": False}
    st.plotly_chart(presenter.figure(fig), key=key, width="stretch", config=config)


def cfg_json(cfg) -> str:
    return json.dumps(to_dict(cfg), sort_keys=True)


def _data(cfg: DataConfig) -> TaskData | None:
    try:
        return resources.task_data(cfg)
    except (CsvError, DatasetMissing, ValueError, OSError) as exc:
        st.error(f"The data cannot be loaded: {exc}")
        return None


@st.cache_data(max_entries=32, show_spinner=False)
def scene_of(data_json: str) -> dict:
    """Points, empty ranges, true curve and axis ranges of a data config (cheap to redraw)."""
    cfg = from_dict(DataConfig, json.loads(data_json))
    data = resources.task_data(cfg)
    x_range = views.plot_range(data)
    points = {s: (data.split(s)[0].flatten().numpy(), data.split(s)[1].flatten().numpy())
              for s in ("train", "val", "test")}
    declared = data.regression.gaps if data.regression is not None else ()
    train_x = np.concatenate([points["train"][0], points["val"][0]])
    truth = None
    if cfg.dataset == "regression" and cfg.function in FUNCTIONS:
        tx = np.linspace(*x_range, 300)
        truth = (tx, true_curve(cfg.function, tx))
    return {"points": points, "gaps": views.empty_ranges(train_x, *x_range, declared=declared),
            "truth": truth, "x_range": x_range, "y_range": views.y_range(data),
            "noise": data.regression.noise if data.regression is not None else 0.0}


@st.cache_data(max_entries=32, show_spinner=False)
def _initial_fit(model_json: str, data_json: str, seed: int) -> tuple[np.ndarray, np.ndarray]:
    data = resources.task_data(from_dict(DataConfig, json.loads(data_json)))
    return views.initial_fit(from_dict(ModelConfig, json.loads(model_json)), data, seed)


def scene_fit_figure(scene: dict, title: str, height: int = FIT_HEIGHT, **kw) -> go.Figure:
    """`fit_figure` over a data config's scene (points, empty ranges, true curve, fixed axes)."""
    return rfig.fit_figure(scene["points"], gaps=scene["gaps"], truth=scene["truth"], x_range=scene["x_range"],
                           y_range=scene["y_range"], title=title, height=height, **kw)


# --- before training --------------------------------------------------------------------------

def preview(cfg: RunConfig | None) -> None:
    """The data and the untrained network's fit: the 'before' of before-and-after."""
    if cfg is None or _data(cfg.data) is None:
        st.info("Choose or upload data to see it here.", icon=":material/scatter_plot:")
        return
    scene = scene_of(cfg_json(cfg.data))
    try:
        before = _initial_fit(cfg_json(cfg.model), cfg_json(cfg.data), cfg.train.seed)
    except ValueError as exc:  # an oversized or impossible model
        st.error(str(exc))
        before = None
    chart(scene_fit_figure(scene, "Data and the untrained network", before=before), "rg_fit_preview", "regression-data")
    noise = scene["noise"]
    target = f" The best possible test MSE is about the noise variance σ² = {noise**2:.3g}." if noise else ""
    st.caption("Shaded: x-ranges with no training points; the network must interpolate across them. "
               f"Grey dotted: the untrained network's fit (seed {cfg.train.seed}). Press **Start**.{target}")


# --- while training (and the final state) -------------------------------------------------------

def _metric(value: float | None) -> str:
    return compact(value) if value is not None else "—"


def _live_figures(view: RunView, scene: dict, smoothing: float) -> tuple:
    """The fit and loss figures of a view: reused when the run recorded nothing new, updated in
    place when it did (a rebuild costs ~50x more, and the training thread shares the GIL).

    While training, the loss chart takes new data at most every LOSS_EVERY_S: Streamlit redraws
    a chart from scratch whenever its data changes, and two full redraws per poll are what
    slows the browser first. The fit, the metrics and the progress move at every poll.
    """
    snaps = view.snapshots
    shown = max(snaps) if snaps else None
    training = view.active
    key = (view.id, len(view.history), len(view.batch_losses), shown, round(smoothing, 3), training)
    memo = st.session_state.get("regression:live_figures")
    if memo is not None and memo[0] == key:
        return memo[1], memo[2]
    cfg: RunConfig = view.config
    grid = np.asarray(view.fit_x)
    fit = (grid, np.asarray(snaps[shown]["fit"])) if shown is not None and "fit" in snaps[shown] else None
    before = (grid, np.asarray(snaps[0]["fit"])) if 0 in snaps and "fit" in snaps[0] else None
    fold = f" (fold {view.progress.fold or 1})" if cfg.train.kfold else ""  # live: the fold in progress
    title = f"Fit at epoch {shown if shown is not None else 0}{fold}"
    same_run = memo is not None and memo[0][0] == view.id
    fit_fig = memo[1] if same_run else None
    if fit_fig is None or fit is None or not rfig.refresh_fit(fit_fig, fit=fit, before=before, title=title):
        fit_fig = scene_fit_figure(scene, title, height=LIVE_HEIGHT, fit=fit, fit_label="network", before=before)
    loss_fig, loss_at = (memo[2], memo[3]) if same_run and memo[0][4] == key[4] else (None, 0.0)
    noise_var = scene["noise"] ** 2
    if loss_fig is None or not training or time.monotonic() - loss_at >= LOSS_EVERY_S:
        if loss_fig is None or not rfig.refresh_loss(loss_fig, view.history, view.batch_losses,
                                                     smoothing=smoothing, noise_var=noise_var):
            loss_fig = rfig.loss_figure(view.history, view.batch_losses, smoothing=smoothing,
                                        noise_var=noise_var, height=LIVE_HEIGHT)
        loss_at = time.monotonic()
    for fig in (fit_fig, loss_fig):  # while training, text legends (FIT_LEGEND, LOSS_LEGEND) save browser work
        fig.layout.showlegend = not training
    st.session_state["regression:live_figures"] = (key, fit_fig, loss_fig, loss_at)
    return fit_fig, loss_fig


def live_panel(view: RunView) -> None:
    """Progress, the fit redrawn over the data, and the loss curves; called by the polling fragment."""
    cfg: RunConfig = view.config
    data = _data(cfg.data)
    if data is None:
        return
    scene = scene_of(cfg_json(cfg.data))
    p = view.progress
    last = view.history[-1] if view.history else {}
    noise_var = scene["noise"] ** 2
    cols = st.columns([2.2, 1, 1, 1, 1], vertical_alignment="center")  # progress beside the numbers: one row
    cols[0].progress(p.fraction if view.active else 1.0, text=live.status_line(view))
    cols = cols[1:]
    cols[0].metric(f"epoch (of {cfg.train.epochs})", f"{int(last.get('epoch', 0))}")
    cols[1].metric("train MSE", _metric(last.get("train_loss")))
    cols[2].metric("validation MSE", _metric(last.get("val_loss")))
    test = last.get("test_loss")
    ratio = f"{compact(test / noise_var, 2)} × σ²" if noise_var and test is not None and math.isfinite(test) else None
    cols[3].metric("test MSE", _metric(test), ratio, delta_color="off", delta_arrow="off")
    if view.status in ("failed", "diverged"):
        message = view.message or "The run failed."
        if "more than 1 value per channel" in message:  # PyTorch's words for batch-norm on a 1-sample batch
            message = "Batch-norm cannot train on a batch of a single sample; change the batch size. " + \
                      f"(PyTorch: {message})"
        st.error(message, icon=":material/error:")
    elif view.active:
        diverging = divergence(view.history, view.status, lr=cfg.train.lr)
        if diverging is not None:  # said while it trains: a blown-up loss is no reason to wait for the end
            st.error(diverging.sentence, icon=":material/trending_up:")
    fit_fig, loss_fig = _live_figures(view, scene, st.session_state.get("rg_smoothing", 0.6))
    training = view.active
    found = [] if training else _findings(view)  # diagnostics once the run has ended, marked on the loss curves
    fit_col, loss_col = st.columns(2, gap="small")  # side by side: both in the first screen of a projector
    with fit_col:
        chart(fit_fig, "rg_fit_live", "regression-fit", static=training)
        if training:
            st.caption(FIT_LEGEND)
    with loss_col:
        chart(dfig.annotate(loss_fig, found) if found else loss_fig, "rg_loss_live", "regression-loss",
              static=training)
        if training:
            st.caption(LOSS_LEGEND)
    report_panel.show_findings(found, skip=("diverged",) if view.status == "diverged" else ())  # said above
    if not training:
        report_panel.gradient_chart(view.history, found, "rg_grad_norms")
    st.slider("Smoothing of the batch losses", 0.0, 0.99, step=0.01, key="rg_smoothing")


def _findings(view: RunView) -> list:
    """The run's diagnostics (nnviz.analysis.diagnostics); dead ReLUs from its final model when it was saved."""
    cfg: RunConfig = view.config
    return report_panel.findings(view.history, view.status, view.message, view.batch_losses,
                                 view.folder.final_path if view.folder else None, cfg.data, cfg.train.lr)
