"""What the classification page shows about a run or a loaded checkpoint: the live view while
it trains, then the results (curves, confusion matrices, per-class scores, mistakes) at any
recorded epoch.

The training thread's model is never touched: test predictions per epoch come from the
run's snapshots, everything else from the weight files it wrote (weights/epoch_*.pt,
final.pt) or from a checkpoint, loaded and scored once and cached.
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import streamlit as st
import torch

from nnviz.analysis import metrics
from nnviz.analysis.diagnostics import compact
from nnviz.config import DataConfig, RunConfig, to_dict
from nnviz.data import DATASETS, DatasetMissing, denormalise
from nnviz.figures.classification import confusion_heatmap, per_class_bars, training_curves
from nnviz.figures.diagnostics import annotate
from nnviz.figures.images import gallery, prediction_strip, to_rgb_uint8
from nnviz.jobs import runs
from nnviz.jobs.run_folder import RunFolder
from nnviz.jobs.storage import inside, safe_name
from nnviz.model import checkpoints
from nnviz.model.models import build_model
from nnviz.ui import live, live_panel, presenter, replay, report_panel
from nnviz.ui.classification_panels import CHECKPOINT_KEY, SLOT
from nnviz.ui.resources import checkpoint_model, task_data

STRIP_PER_CLASS = 2  # the live strip: the first two test images of every class
GALLERY_MAX = 40
CURVES_HEIGHT = 260  # loss and accuracy after a run: in the first screen under the metrics


def current_source(run: runs.Run | None) -> runs.RunView | None:
    """The finished (or training) run this session follows, else the checkpoint it loaded."""
    if run is not None:
        return run.view()
    path = st.session_state.get(CHECKPOINT_KEY)
    if not path:
        return _folder_source(live.current_id(SLOT))
    try:
        ckpt, _ = checkpoint_model(path)
    except (checkpoints.CheckpointError, OSError) as exc:
        st.error(f"The checkpoint {Path(path).name} cannot be shown: {exc}", icon=":material/error:")
        st.session_state.pop(CHECKPOINT_KEY, None)
        return None
    history = ckpt.history or {}
    epochs = history.get("epochs") or ([ckpt.metrics] if "epoch" in ckpt.metrics else [])
    snapshots = {int(k): v for k, v in (history.get("snapshots") or {}).items()}
    return runs.RunView(Path(path).stem, ckpt.config, history.get("status", "finished"), history.get("reason", ""),
                        epochs, checkpoint=Path(path),
                        copied_batch_losses=[tuple(b) for b in history.get("batch_losses", [])],
                        copied_snapshots=snapshots)


def _folder_source(run_id: str | None) -> runs.RunView | None:
    """A run of an earlier server process, rebuilt from its folder (config, history, snapshots, weights)."""
    if not run_id:
        return None
    try:
        folder = inside(runs.runs_dir(), runs.runs_dir() / safe_name(run_id))
    except ValueError:
        return None
    if not RunFolder(folder).config_path.is_file():
        return None
    view = runs.read_view(folder)
    return view if view.config is not None and view.config.data.task == "classification" else None


def _classes(source: runs.RunView) -> tuple[str, ...]:
    return DATASETS[source.config.data.dataset].classes


# ---------------------------------------------------------------- cached scoring

def _data_json(cfg: DataConfig) -> str:
    return json.dumps(to_dict(cfg), sort_keys=True)


@st.cache_resource(max_entries=4, show_spinner=False)
def _pixels(data_json: str, split: str) -> np.ndarray:
    """(N, H, W, 3) uint8 display pixels of a split (shared, read-only)."""
    cfg = DataConfig(**json.loads(data_json))
    x, _ = task_data(cfg).split(split)
    return to_rgb_uint8(denormalise(x, DATASETS[cfg.dataset]).numpy())


def _labels(cfg: DataConfig, split: str) -> np.ndarray:
    return task_data(cfg).split(split)[1].numpy()


def _epoch_model(path: str, config_json: str) -> torch.nn.Module:
    """A model from a run's per-epoch state dict (weights only, never pickled code)."""
    cfg = RunConfig.from_json(config_json)
    info = DATASETS[cfg.data.dataset]
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        model = build_model(cfg.model, info.shape, len(info.classes))
        model.load_state_dict(state)
    except Exception as exc:  # a torn or foreign file: say so, keep the page
        raise checkpoints.CheckpointError(f"The weights {Path(path).name} cannot be read ({type(exc).__name__}).") from None
    return model.eval()


@st.cache_data(max_entries=64, show_spinner="Classifying images…")
def _scored(path: str, mtime_ns: int, kind: str, config_json: str, split: str) -> tuple[np.ndarray, np.ndarray]:
    """(predicted class, confidence) on a split, for a checkpoint file or an epoch's weights."""
    cfg = RunConfig.from_json(config_json)
    model = checkpoint_model(path)[1] if kind == "checkpoint" else _epoch_model(path, config_json)
    return metrics.predict_classes(model, task_data(cfg.data).split(split)[0])


def predictions(source: runs.RunView, split: str, epoch: int) -> tuple[np.ndarray, np.ndarray] | None:
    """(pred, conf) of the model at `epoch` on a split, or None when that epoch's model is not kept."""
    snap = source.snapshots.get(epoch, {})
    if split == "test" and "test_pred" in snap and len(snap["test_pred"]) == len(_labels(source.config.data, "test")):
        return np.asarray(snap["test_pred"], dtype=np.int64), np.asarray(snap["test_conf"], dtype=np.float32)
    config_json = source.config.to_json()
    weights = source.folder.weights_path(epoch, source.folder.shown_fold()) if source.folder else None
    if weights is not None and weights.is_file():
        return _scored(str(weights), weights.stat().st_mtime_ns, "weights", config_json, split)
    last = int(source.history[-1]["epoch"]) if source.history else 0
    final = source.final_checkpoint
    if final is not None and epoch == last and final.is_file():
        return _scored(str(final), final.stat().st_mtime_ns, "checkpoint", config_json, split)
    return None


# ---------------------------------------------------------------- live view

# The live view polls the live feed (nnviz.ui.live_feed) once a second without rerunning the page: a
# refresh costs the browser a fetch and a few DOM changes; polling faster slowed training
# (docs/performance.md).
LIVE_POLL_S = 1.0


def live_view(run: runs.Run) -> None:
    """The run training now: progress, curves, and test images with their current predictions,
    redrawn in the browser until the run ends (then the page reruns into the results)."""
    cfg = run.config.data
    y = _labels(cfg, "test")
    per_class = 1 if presenter.enabled() else STRIP_PER_CLASS  # one row: projector type leaves room for no more
    idx = metrics.strip_indices(y, len(DATASETS[cfg.dataset].classes), per_class)
    live_panel.run_view(run, _pixels(_data_json(cfg), "test")[idx], idx, y[idx], DATASETS[cfg.dataset].classes,
                        every_s=LIVE_POLL_S)


# ---------------------------------------------------------------- results

def _strip(cfg: DataConfig, pred: np.ndarray, conf: np.ndarray, classes: tuple[str, ...], title: str) -> Any:
    y = _labels(cfg, "test")
    idx = metrics.strip_indices(y, len(classes), STRIP_PER_CLASS)
    return prediction_strip(_pixels(_data_json(cfg), "test")[idx], y[idx], pred[idx], conf[idx], classes,
                            ncols=len(classes), title=title)


def _alarm(source: runs.RunView) -> None:
    """A failed or diverged run's verdict, in a box (a stopped one is said in the results' heading)."""
    text = live.status_line(source)
    if source.status == "diverged":
        st.error(text, icon=":material/warning:")
    elif source.status == "failed":
        st.error(text + ("" if "memory" in source.message.lower() else " Check the settings and start again."),
                 icon=":material/error:")


def render(source: runs.RunView) -> None:
    """The results panel of a finished run or a loaded checkpoint."""
    cfg = source.config
    head, download = st.columns([4, 1.4], vertical_alignment="center")  # one row: the results need the height
    head = head.container(key="cls_results_head")
    stopped = source.status in ("stopped", "early_stopped", "interrupted")
    status = source.message or live.status_word(source.status)
    head.markdown(f"**Results · {source.label}**" + (f" · :material/pause_circle: {status}" if stopped else ""),
                  help=f"{DATASETS[cfg.data.dataset].title} · {cfg.name or cfg.preset or 'custom model'}")
    _alarm(source)
    if not source.history:
        st.info("No epoch was recorded, so there is nothing to show yet.")
        return
    if source.folder is not None:
        with download:
            report_panel.report_button([source.folder.path], "cls_report")
    replay.player([int(r["epoch"]) for r in source.history], "cls_replay", lambda epoch: _at_epoch(source, epoch),
                  label="Replay: show the model after epoch",
                  help="Curves, confusion matrices and mistakes as they were then; Play steps through the run.")


def _at_epoch(source: runs.RunView, epoch: int) -> None:
    """Everything that shows the model at `epoch` (redrawn alone while the replay plays)."""
    cfg = source.config
    row = next((r for r in source.history if int(r["epoch"]) == epoch), source.history[-1])
    try:
        y_test = _labels(cfg.data, "test")
        test = predictions(source, "test", epoch)
    except DatasetMissing as exc:
        st.warning(f"The images of this model's dataset are not here, so only its history is shown. {exc}")
        y_test, test = None, None
    _metrics_row(row, y_test, test, len(_classes(source)))
    tabs = st.tabs(["Curves", "Confusion matrix", "Per-class scores", "Mistakes"])
    if test is not None and y_test is not None:  # under every tab: the test images as the model saw them then
        st.plotly_chart(presenter.figure(_strip(cfg.data, *test, _classes(source), f"Test images after epoch {epoch}")),
                        key="cls_result_strip", width="stretch", config={"displayModeBar": False})
    with tabs[0]:
        found = report_panel.findings(source.history, source.status, source.message, source.batch_losses,
                                      source.final_checkpoint, cfg.data, cfg.train.lr)  # marked on the curves
        c = st.columns(2)
        loss = training_curves(source.history, "loss", batch_losses=source.batch_losses, upto_epoch=epoch,
                               title="Loss", uirevision="cls_result").update_layout(height=CURVES_HEIGHT)
        acc = training_curves(source.history, "acc", upto_epoch=epoch, title="Accuracy",
                              uirevision="cls_result").update_layout(height=CURVES_HEIGHT)
        c[0].plotly_chart(presenter.figure(annotate(loss, found)), key="cls_res_loss", width="stretch")
        c[1].plotly_chart(presenter.figure(annotate(acc, found)), key="cls_res_acc", width="stretch")
        report_panel.show_findings(found, skip=("diverged",) if source.status == "diverged" else ())  # said above
        report_panel.gradient_chart(source.history, found, "cls_grad_norms")
    if test is None or y_test is None:
        for tab in tabs[1:]:
            tab.info("Test predictions for this epoch are not available.")
        return
    with tabs[1]:
        _confusion(source, epoch, y_test, test[0])
    with tabs[2]:
        _per_class(y_test, test[0], _classes(source))
    with tabs[3]:
        _mistakes(source, y_test, *test)


def _metrics_row(row: dict, y_test: np.ndarray | None, test: tuple | None, n_classes: int) -> None:
    acc = metrics.accuracy(y_test, test[0]) if test is not None and y_test is not None else row.get("test_acc", math.nan)
    c = st.columns(5)
    c[0].metric("Test accuracy", f"{acc:.2%}" if math.isfinite(acc) else "—")
    c[1].metric("Test loss", compact(row.get("test_loss", math.nan)))
    c[2].metric("Validation accuracy", f"{row.get('val_acc', math.nan):.2%}")
    c[3].metric("Epoch", int(row["epoch"]))
    c[4].metric("Training time", f"{row.get('elapsed', 0.0):.1f} s")
    if math.isfinite(acc) and int(row["epoch"]) > 0 and acc < 1.5 / n_classes:
        st.warning("The accuracy is at chance level: the network learned nothing. A learning rate that is too "
                   "high (or too low) is the usual cause.", icon=":material/warning:")


def _confusion(source: runs.RunView, epoch: int, y_test: np.ndarray, pred_test: np.ndarray) -> None:
    norm = st.segmented_control("Show", ["counts", "row-normalised"], default="counts", key="cls_cm_mode", required=True,
                                help="Row-normalised: each row sums to 100%; the diagonal is each class's recall.")
    normalise = norm == "row-normalised"
    k = len(_classes(source))
    c = st.columns(2)
    train = None
    try:
        train = predictions(source, "train", epoch)
    except (DatasetMissing, checkpoints.CheckpointError) as exc:
        c[0].warning(str(exc))
    if train is not None:
        cm_train = metrics.confusion(_labels(source.config.data, "train"), train[0], k)
        c[0].plotly_chart(presenter.figure(confusion_heatmap(cm_train, _classes(source), normalise, f"Train · epoch {epoch}")),
                          key="cls_cm_train", width="stretch")
    else:
        c[0].info(f"The training-set confusion matrix needs the model of epoch {epoch}; weights are kept per "
                  f"epoch only for models up to {runs.SNAPSHOT_MAX_PARAMS:,} parameters. The last epoch has it.")
    cm_test = metrics.confusion(y_test, pred_test, k)
    c[1].plotly_chart(presenter.figure(confusion_heatmap(cm_test, _classes(source), normalise, f"Test · epoch {epoch}")),
                      key="cls_cm_test", width="stretch")


def _per_class(y_test: np.ndarray, pred: np.ndarray, classes: tuple[str, ...]) -> None:
    rows = metrics.per_class(y_test, pred, classes)
    c = st.columns([1, 1])  # half the width: every column of the table (to support) stays readable
    pct = st.column_config.ProgressColumn
    c[0].dataframe(pd.DataFrame(rows), hide_index=True, width="stretch", key="cls_per_class",
                   column_config={"support": st.column_config.NumberColumn("support", width="small"),
                                  **{k: pct(k, format="percent", min_value=0.0, max_value=1.0, width="small")
                                     for k in ("precision", "recall", "f1")}})
    c[1].plotly_chart(presenter.figure(per_class_bars(rows, title="Precision, recall and F1 per class (test)")),
                      key="cls_per_class_bars", width="stretch")


def _pick_pair() -> None:
    """Selecting a most-confused pair filters the gallery to it."""
    rows = st.session_state["cls_pairs"].selection.rows
    pairs = st.session_state.get("cls:pairs", [])
    if rows and rows[0] < len(pairs):
        st.session_state["cls_err_true"] = pairs[rows[0]]["true_idx"]
        st.session_state["cls_err_pred"] = pairs[rows[0]]["pred_idx"]


def _mistakes(source: runs.RunView, y_test: np.ndarray, pred: np.ndarray, conf: np.ndarray) -> None:
    classes = _classes(source)
    pairs = metrics.most_confused(metrics.confusion(y_test, pred, len(classes)), classes, k=8)
    st.session_state["cls:pairs"] = pairs
    left, right = st.columns([3, 2])
    with left:
        st.markdown("**Most-confused pairs** (test set; select a row to see those images)")
        if pairs:
            table = pd.DataFrame(pairs)[["true", "predicted", "count", "rate"]]
            st.dataframe(table, hide_index=True, width="stretch", key="cls_pairs", on_select=_pick_pair,
                         selection_mode="single-row", height=min(36 * (len(pairs) + 1) + 3, 250),
                         column_config={"rate": st.column_config.NumberColumn("share of the true class",
                                                                              format="percent")})
        else:
            st.success("No test image is misclassified.")
    options = [None, *range(len(classes))]
    name = lambda c: "any class" if c is None else classes[c]  # noqa: E731
    true_c = right.selectbox("True class", options, format_func=name, key="cls_err_true")
    pred_c = right.selectbox("Predicted class", options, format_func=name, key="cls_err_pred")
    idx = metrics.misclassified(y_test, pred, conf, true_c, pred_c)
    wrong = int((y_test != pred).sum())
    st.markdown(f"**{len(idx)}** of {wrong} misclassified test images match"
                + (f" · the {GALLERY_MAX} most confident mistakes shown" if len(idx) > GALLERY_MAX else
                   " · most confident first"))
    if len(idx):
        show = idx[:GALLERY_MAX]
        pixels = _pixels(_data_json(source.config.data), "test")[show]
        st.plotly_chart(presenter.figure(gallery(pixels, y_test[show], pred[show], conf[show], classes, show, ncols=10)),
                        key="cls_gallery", width="stretch", config={"displayModeBar": False})
