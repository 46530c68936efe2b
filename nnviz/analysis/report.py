"""A self-contained HTML report of one run or a comparison of runs: the homework report, generated.

`build_report(runs)` reads each run from its folder (config, history, batch losses,
snapshots, final.pt) and writes one HTML page: the config, the metrics, every figure
interactive (plotly.js embedded once, inline, so the file opens with no network), the
model's PyTorch code (nnviz.model.codegen) and the diagnostics. With several runs, a comparison
table and overlaid validation curves come first. No Streamlit: the app and scripts share it.
"""
from __future__ import annotations

import html
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio
import torch

from nnviz.analysis import diagnostics, inspect, metrics
from nnviz.analysis import regression_views as views
from nnviz.config import RunConfig
from nnviz.data import DATASETS, DatasetMissing, TaskData, load
from nnviz.figures import diagnostics as dfig
from nnviz.figures.classification import confusion_heatmap, per_class_bars, training_curves
from nnviz.figures.curves import metric_curves
from nnviz.figures.regression import fit_figure, residual_figure
from nnviz.figures.style import apply
from nnviz.figures.weights import weight_histograms
from nnviz.jobs.runs import RunView, fit_grid, read_view
from nnviz.model import checkpoints, codegen

DEAD_RELU_INPUTS = 256  # inputs behind the dead-ReLU statistic
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f")
METRIC_KEYS = ("train_loss", "val_loss", "test_loss", "train_acc", "val_acc", "test_acc")
HEADERS = {"row": "", "elapsed": "time (s)", "val_loss": "validation loss", "val_acc": "validation accuracy",
           "train_acc": "train accuracy", "test_acc": "test accuracy"}


@dataclass
class _Run:
    """One run with what the report derives from it (its data, final model, diagnostics), read once."""

    view: RunView
    data: TaskData | None = None
    data_error: str = ""
    model: torch.nn.Module | None = None
    findings: list[diagnostics.Finding] = field(default_factory=list)

    @property
    def config(self) -> RunConfig:
        return self.view.config  # type: ignore[return-value]  # checked in _read

    @property
    def task(self) -> str:
        return self.config.data.task

    @property
    def label(self) -> str:
        cfg = self.config
        return cfg.name or f"{cfg.preset or 'custom'} · {cfg.data.dataset} · {cfg.train.optimizer} lr {cfg.train.lr:g}"


def _read(source: RunView | str | os.PathLike) -> _Run:
    view = source if isinstance(source, RunView) else read_view(source)  # K-fold: fold 1, as shown live
    if view.config is None:
        raise ValueError(f"The run {view.id} has no readable config.json; it cannot be reported.")
    run = _Run(view)
    try:
        run.data = load(view.config.data)
    except (DatasetMissing, ValueError, OSError) as exc:
        run.data_error = str(exc)
    if view.final_checkpoint is not None:
        try:
            run.model = checkpoints.load(view.final_checkpoint).model()
        except checkpoints.CheckpointError:
            run.model = None
    stats = None
    if run.model is not None and run.data is not None:
        stats = inspect.activation_stats(run.model, run.data.x_train[:DEAD_RELU_INPUTS])
    run.findings = diagnostics.diagnose(view.history, view.status, view.message, view.batch_losses, stats,
                                        view.config.train.lr)
    return run


# --- figures -----------------------------------------------------------------------------------

def _loss_figure(run: _Run) -> go.Figure:
    splits = ("train", "val", "test")
    fig = (training_curves(run.view.history, "loss", batch_losses=run.view.batch_losses, uirevision=None)
           if run.task == "classification" else
           metric_curves(run.view.history, "loss", splits, run.view.batch_losses, uirevision=None))
    return dfig.annotate(fig, run.findings)


def _fit_figure(run: _Run) -> tuple[go.Figure, int] | None:
    """Regression: the data, the untrained fit and the final fit (from the run's snapshots)."""
    fits = sorted(e for e, s in run.view.snapshots.items() if "fit" in s)
    if run.data is None or not fits:
        return None
    grid = fit_grid(run.data)
    points = {s: (run.data.split(s)[0].flatten().numpy(), run.data.split(s)[1].flatten().numpy())
              for s in ("train", "val", "test")}
    last = fits[-1]
    return fit_figure(points, fit=(grid, np.asarray(run.view.snapshots[last]["fit"])), fit_label=f"epoch {last}",
                      before=(grid, np.asarray(run.view.snapshots[fits[0]]["fit"])), uirevision=None), last


def _test_predictions(run: _Run) -> tuple[np.ndarray, int] | None:
    """Classification: (predicted class per test image, epoch) of the last recorded epoch."""
    if run.data is None:
        return None
    snaps = [e for e, s in run.view.snapshots.items() if "test_pred" in s]
    y = run.data.y_test.numpy()
    if snaps:
        epoch = max(snaps)
        pred = np.asarray(run.view.snapshots[epoch]["test_pred"])
    elif run.model is not None:
        epoch = int(run.view.history[-1]["epoch"]) if run.view.history else 0
        pred, _ = metrics.predict_classes(run.model, run.data.x_test)
    else:
        return None
    return (pred, epoch) if len(pred) == len(y) else None


def _figures(run: _Run) -> dict[str, go.Figure]:
    """{heading: figure}; the headings are HTML, so no figure carries a title over its legend."""
    figs: dict[str, go.Figure] = {"Loss" if run.task == "classification" else "Loss (MSE)": _loss_figure(run)}
    if run.task == "classification":
        figs["Accuracy"] = dfig.annotate(training_curves(run.view.history, "acc", uirevision=None), run.findings)
        test = _test_predictions(run)
        if test is not None and run.data is not None:
            (pred, epoch), y = test, run.data.y_test.numpy()
            classes = DATASETS[run.config.data.dataset].classes
            figs[f"Confusion matrix · test set · epoch {epoch}"] = confusion_heatmap(
                metrics.confusion(y, pred, len(classes)), classes)
            figs[f"Precision, recall and F1 per class · test set · epoch {epoch}"] = per_class_bars(
                metrics.per_class(y, pred, classes))
    else:
        fit = _fit_figure(run)
        if fit is not None:
            figs[f"Fit after epoch {fit[1]}: data, untrained network (dotted), trained network (red)"] = fit[0]
        if run.model is not None and run.data is not None:
            noise = run.data.regression.noise if run.data.regression is not None else 0.0
            figs["Residuals y − ŷ of the final model (dotted: ± the noise σ)"] = residual_figure(
                views.residuals(views.split_predictions(run.model, run.data)), noise=noise)
    if run.model is not None:
        figs["Weights and biases of the final model"] = weight_histograms(inspect.layer_parameters(run.model))
    if any("grad_norm" in r for r in run.view.history):
        figs["Gradient norms"] = dfig.gradient_norm_figure(run.view.history, run.findings, title="")
    return figs


def _overlay(runs: Sequence[_Run], key: str, title: str) -> go.Figure | None:
    """One curve per run of `key` (e.g. val_loss) per epoch: the comparison figure."""
    fig = go.Figure()
    for i, run in enumerate(runs):
        pts = [(r["epoch"], r[key]) for r in run.view.history
               if isinstance(r.get(key), (int, float)) and math.isfinite(r[key])]
        if pts:
            xs, ys = zip(*pts)
            fig.add_trace(go.Scatter(x=xs, y=ys, name=f"{i + 1}. {run.label}", mode="lines+markers" if len(xs) < 40 else "lines",
                                     line=dict(color=PALETTE[i % len(PALETTE)], width=2.5)))
    if not fig.data:
        return None
    fig.update_xaxes(title="epoch")
    fig.update_yaxes(title=key.replace("_", " "), type="log" if key.endswith("loss") else "linear",
                     tickformat=".0%" if key.endswith("acc") else None)
    return apply(fig, "", height=420)


# --- HTML ---------------------------------------------------------------------------------------

CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;max-width:1150px;margin:0 auto;padding:24px;color:#1d1d1f}
h1{margin-bottom:4px} h2{border-bottom:2px solid #ddd;padding-bottom:4px;margin-top:40px} h3{margin-top:28px}
table{border-collapse:collapse;margin:8px 0 16px} td,th{border:1px solid #ddd;padding:5px 10px;text-align:right}
th{background:#f4f4f6} td:first-child,th:first-child{text-align:left}
pre{background:#f6f8fa;border:1px solid #e1e4e8;padding:12px;overflow-x:auto;font-size:13px;line-height:1.4}
.finding{padding:8px 12px;margin:6px 0;border-left:5px solid;border-radius:3px}
.error{border-color:#d62728;background:#fdecea} .warning{border-color:#ff9f1a;background:#fff6e5}
.info{border-color:#1f77b4;background:#eaf2fb} .muted{color:#666} .figure{margin:10px 0 24px}
"""


def _e(value: Any) -> str:
    return html.escape(str(value))


def _fmt(key: str, value: Any) -> str:
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return _e(value)
    if not math.isfinite(value):
        return "—"
    return f"{value:.2%}" if key.endswith("acc") else f"{value:.4g}"


def _table(rows: Sequence[dict], columns: Sequence[str]) -> str:
    head = "".join(f"<th>{_e(HEADERS.get(c, c.replace('_', ' ')))}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{_fmt(c, r.get(c, ''))}</td>" for c in columns) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


class _Plots:
    """Figures to HTML; plotly.js goes inline with the first one only (one copy, no network needed)."""

    def __init__(self) -> None:
        self.first = True

    def __call__(self, fig: go.Figure) -> str:
        div = pio.to_html(fig, full_html=False, include_plotlyjs=self.first, config={"displaylogo": False,
                                                                                     "responsive": True})
        self.first = False
        return f"<div class='figure'>{div}</div>"


def _metrics_rows(run: _Run) -> list[dict]:
    history = run.view.history
    if not history:
        return []
    last = dict(history[-1], row="final")
    best = diagnostics.best_epoch(history)
    rows = [last]
    if best is not None and best.epoch != last.get("epoch"):
        rows.append(dict(next(r for r in history if r["epoch"] == best.epoch), row="best validation"))
    return rows


def _model_code(run: _Run) -> str:
    cfg = run.config
    try:
        if run.data is not None:
            shape, n_out = run.data.input_shape, run.data.n_outputs
        elif cfg.data.dataset in DATASETS:
            info = DATASETS[cfg.data.dataset]
            shape, n_out = info.shape, len(info.classes)
        else:
            shape, n_out = (1,), 1
        return codegen.module_source(cfg.model, tuple(shape), n_out, title=cfg.preset or "")
    except (TypeError, ValueError) as exc:
        return f"# The model's code could not be generated: {exc}"


def _run_section(run: _Run, number: int | None, plot: _Plots) -> str:
    rec, cfg = run.view, run.config
    heading = f"{number}. {run.label}" if number else run.label
    parts = [f"<h2 id='run-{_e(rec.id)}'>{_e(heading)}</h2>",
             f"<p class='muted'>Run <code>{_e(rec.id)}</code> · {_e(cfg.data.dataset)} · status <b>{_e(rec.status)}"
             f"</b>{(' — ' + _e(rec.message)) if rec.message else ''}</p>"]
    parts.append("<h3>Diagnostics</h3>")
    if run.findings:
        parts += [f"<div class='finding {f.severity}'>{dfig.SEVERITY_ICON[f.severity]} {_e(f.sentence)}</div>"
                  for f in run.findings]
    else:
        parts.append("<p>No problem found in the curves.</p>")
    columns = ["row", "epoch"] + [k for k in METRIC_KEYS if any(k in r for r in rec.history)] + ["elapsed"]
    parts += ["<h3>Metrics</h3>", _table(_metrics_rows(run), columns)]
    if run.data_error:
        parts.append(f"<p class='muted'>The data of this run is not here, so figures that need it are left out: "
                     f"{_e(run.data_error)}</p>")
    parts.append("<h3>Figures</h3>")
    for name, fig in _figures(run).items():
        parts.append(f"<h4>{_e(name)}</h4>{plot(fig)}")
    parts += ["<h3>The model in PyTorch</h3>", f"<pre><code>{_e(_model_code(run))}</code></pre>",
              "<h3>Configuration</h3>", f"<pre><code>{_e(cfg.to_json())}</code></pre>"]
    return "\n".join(parts)


def _comparison(runs: Sequence[_Run], plot: _Plots) -> str:
    rows = []
    for i, run in enumerate(runs, 1):
        cfg, history = run.config, run.view.history
        best = diagnostics.best_epoch(history)
        last = history[-1] if history else {}
        rows.append({"run": f"{i}. {run.label}", "model": cfg.preset or cfg.model.kind, "optimizer": cfg.train.optimizer,
                     "lr": cfg.train.lr, "epochs": int(last.get("epoch", 0)), "status": run.view.status,
                     "best val loss": best.value if best else math.nan,
                     **{k: last[k] for k in ("test_loss", "test_acc") if k in last},
                     "findings": len([f for f in run.findings if f.severity != "info"])})
    columns = ["run", "model", "optimizer", "lr", "epochs", "status", "best val loss"] + \
        [k for k in ("test_loss", "test_acc") if any(k in r for r in rows)] + ["findings"]
    parts = ["<h2>Comparison</h2>", _table(rows, columns)]
    for key, title in (("val_loss", "Validation loss per run"), ("val_acc", "Validation accuracy per run")):
        fig = _overlay(runs, key, title)
        if fig is not None:
            parts.append(f"<h3>{_e(title)}</h3>{plot(fig)}")
    return "\n".join(parts)


def build_report(runs: Sequence[RunView | str | os.PathLike], title: str | None = None) -> str:
    """One self-contained HTML page for one run or a comparison of several (runs or run folders).

    Raises ValueError when there is no run or a run has no readable config.
    """
    if not runs:
        raise ValueError("A report needs at least one run.")
    loaded = [_read(r) for r in runs]
    title = title or (f"nnviz run {loaded[0].view.id}" if len(loaded) == 1 else f"nnviz: {len(loaded)} runs compared")
    plot = _Plots()
    sections = []
    if len(loaded) > 1:
        sections.append(_comparison(loaded, plot))
    sections += [_run_section(run, i if len(loaded) > 1 else None, plot) for i, run in enumerate(loaded, 1)]
    stamp = time.strftime("%Y-%m-%d %H:%M")
    return ("<!doctype html><html lang='en'><head><meta charset='utf-8'>"
            "<meta name='viewport' content='width=device-width,initial-scale=1'>"
            f"<title>{_e(title)}</title><style>{CSS}</style></head><body>"
            f"<h1>{_e(title)}</h1><p class='muted'>Generated {stamp}. Every figure is interactive: hover, zoom, "
            "double-click to reset. The file needs no network.</p>"
            + "\n".join(sections) + "</body></html>")


def report_name(runs: Sequence[RunView | str | os.PathLike]) -> str:
    """A file name for the report: the run id, or the number of runs compared."""
    if len(runs) == 1:
        rid = runs[0].id if isinstance(runs[0], RunView) else Path(runs[0]).name
        return f"{rid}-report.html"
    return f"nnviz-{len(runs)}-runs-report.html"


def write_report(runs: Sequence[RunView | str | os.PathLike], path: str | os.PathLike, title: str | None = None) -> Path:
    """`build_report` written to `path` (scripts, the CLI)."""
    out = Path(path)
    out.write_text(build_report(runs, title), encoding="utf-8")
    return out

