"""Experiment figures: runs' curves overlaid, and the plot of each ready-made sweep. Pure builders."""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.colors import qualitative

from nnviz.figures.curves import ema
from nnviz.figures.style import SPLIT_COLORS, apply

PALETTE = qualitative.Plotly + qualitative.D3  # distinct colours for up to 20 runs
X_AXES = {"epoch": "epoch", "elapsed": "wall time (s)"}


def _finite(pts: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    return [(x, y) for x, y in pts if x is not None and y is not None and math.isfinite(x) and math.isfinite(y)]


def compare_curves(histories: Sequence[Sequence[dict]], labels: Sequence[str], metric: str = "val_loss",
                   x: str = "epoch", smoothing: float = 0.0, log_y: bool | None = None, title: str = "",
                   dashed: Sequence[bool] | None = None, uirevision: str | None = "compare") -> go.Figure:
    """One line per history (a list of per-epoch dicts) of `metric` against `x` ('epoch' or 'elapsed').

    `smoothing` is TensorBoard's EMA weight (0 is raw); loss axes are logarithmic unless told.
    A history without the metric is left out (its label is not shown).
    """
    log_y = metric.endswith("loss") if log_y is None else log_y
    fig = go.Figure()
    for i, (rows, label) in enumerate(zip(histories, labels)):
        pts = _finite([(r.get(x), r.get(metric)) for r in rows if r.get("epoch", 0) > 0 or x == "epoch"])
        if not pts:
            continue
        xs, ys = zip(*pts)
        ys = ema(ys, smoothing) if smoothing else np.asarray(ys)
        dash = "dash" if dashed is not None and dashed[i] else "solid"
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines+markers" if len(xs) <= 30 else "lines", name=label,
                                 line=dict(color=PALETTE[i % len(PALETTE)], width=2.5, dash=dash),
                                 marker=dict(size=6),
                                 hovertemplate=f"{label}<br>{metric}: %{{y:.4g}}<br>{x}: %{{x:.3g}}<extra></extra>"))
    last = max((r.get("epoch", 0) for rows in histories for r in rows), default=0)
    fig.update_xaxes(title=X_AXES.get(x, x), dtick=1 if x == "epoch" and last <= 12 else None)
    fig.update_yaxes(title=metric.replace("_", " "), type="log" if log_y else "linear",
                     tickformat=".0%" if metric.endswith("acc") and not log_y else None)
    return apply(fig, title, height=420, uirevision=uirevision)


def _final(result: dict, key: str) -> float:
    value = result.get("final", {}).get(key)
    return float(value) if value is not None else math.nan


def sweep_xy(results: Sequence[dict], x_param: str, log_x: bool, metric: str = "acc", title: str = "") -> go.Figure:
    """Final train / val / test `metric` against the swept parameter (lr, batch size, train fraction)."""
    fig = go.Figure()
    xs = [float(r["params"][x_param]) for r in results]
    for split in ("train", "val", "test"):
        pts = _finite([(x, _final(r, f"{split}_{metric}")) for x, r in zip(xs, results)])
        if pts:
            px, py = zip(*sorted(pts))
            fig.add_trace(go.Scatter(x=px, y=py, mode="lines+markers", name=split,
                                     line=dict(color=SPLIT_COLORS[split], width=2.5), marker=dict(size=9)))
    failed = [(x, r) for x, r in zip(xs, results) if r.get("status") == "diverged"]
    if failed:  # diverged points have no final loss: mark where they were
        fig.add_trace(go.Scatter(x=[x for x, _ in failed], y=[0 if metric == "acc" else None] * len(failed),
                                 mode="markers", name="diverged", marker=dict(symbol="x", size=13, color="#d62728")))
    label = {"lr": "learning rate", "batch_size": "batch size", "train_fraction": "share of the training set"}
    ticks = sorted(set(xs))  # the swept values themselves: '0.0003' reads better than plotly's '300µ'
    fig.update_xaxes(title=label.get(x_param, x_param), type="log" if log_x else "linear",
                     tickformat=".0%" if x_param == "train_fraction" else None,
                     tickvals=ticks if log_x else None, ticktext=[f"{v:g}" for v in ticks] if log_x else None)
    fig.update_yaxes(title=f"final {metric}", tickformat=".0%" if metric == "acc" else ".2~g",
                     type="log" if metric == "loss" else "linear")
    return apply(fig, title, height=420, uirevision=f"sweep-{x_param}")


def train_test_bars(results: Sequence[dict], metric: str = "acc", title: str = "") -> go.Figure:
    """Final train and test `metric` per point, with the train-test gap written above each pair."""
    labels = [r["label"] for r in results]
    train = [_final(r, f"train_{metric}") for r in results]
    test = [_final(r, f"test_{metric}") for r in results]
    fig = go.Figure([go.Bar(x=labels, y=train, name="train", marker_color=SPLIT_COLORS["train"]),
                     go.Bar(x=labels, y=test, name="test", marker_color=SPLIT_COLORS["test"])])
    for label, a, b in zip(labels, train, test):
        if math.isfinite(a) and math.isfinite(b):
            fig.add_annotation(x=label, y=max(a, b), text=f"gap {a - b:+.1%}" if metric == "acc" else f"{a - b:+.3g}",
                               showarrow=False, yshift=14,
                               font=dict(size=12, color="#d62728" if a - b > 0.03 else "#555"))
    fig.update_layout(barmode="group")
    fig.update_yaxes(title=f"final {metric}", tickformat=".0%" if metric == "acc" else None,
                     range=[0, 1.08] if metric == "acc" else None)
    return apply(fig, title, height=420, uirevision="sweep-bars")


def sweep_figure(key: str, results: Sequence[dict], task: str = "classification",
                 current: tuple[str, Sequence[dict]] | None = None, metric: str = "val_loss") -> go.Figure:
    """The figure of ready-made sweep `key` for its finished results (and the point in flight, dashed)."""
    acc = "acc" if task == "classification" else "loss"
    if key in ("optimizers",) or not results and current is None:
        histories = [r["history"] for r in results]
        labels = [r["label"] for r in results]
        if current is not None and current[1]:
            histories.append(list(current[1]))
            labels.append(f"{current[0]} (training)")
        return compare_curves(histories, labels, metric=metric, dashed=[False] * len(results) + [True],
                              title="", uirevision=f"sweep-{key}")
    if key == "activation_depth":
        return train_test_bars(results, acc)
    x_param = {"learning_rate": "lr", "batch_size": "batch_size", "train_fraction": "train_fraction"}[key]
    return sweep_xy(results, x_param, log_x=key in ("learning_rate", "batch_size"), metric=acc)
