"""Classification figures: confusion-matrix heatmaps, class counts, per-class scores."""
from __future__ import annotations

from typing import Sequence

import numpy as np
import plotly.graph_objects as go

from nnviz.figures.curves import metric_curves
from nnviz.figures.style import SPLIT_COLORS, apply


def training_curves(epochs: Sequence[dict], metric: str, total_epochs: int | None = None,
                    batch_losses: Sequence[tuple[float, float]] = (), splits: Sequence[str] = ("train", "val", "test"),
                    upto_epoch: float | None = None, title: str = "", uirevision: str = "curves") -> go.Figure:
    """`metric_curves` with axes that do not jump while a run grows: x spans all planned
    epochs, accuracy spans 0-100%."""
    fig = metric_curves(epochs, metric, splits, batch_losses, upto_epoch=upto_epoch, title=title,
                        uirevision=uirevision)
    if total_epochs:
        fig.update_xaxes(range=[0, max(total_epochs, 1)])
    if metric == "acc":
        fig.update_yaxes(range=[0, 1.02])
    return fig


def confusion_heatmap(cm: np.ndarray, classes: Sequence[str], normalise: bool = False, title: str = "",
                      height: int = 460, uirevision: str | None = None) -> go.Figure:
    """Rows = true class, columns = predicted class; the cell text is the count or the row rate.

    Hover always shows both: the count and the share of that true class.
    """
    cm = np.asarray(cm)
    totals = cm.sum(1, keepdims=True)
    rates = np.divide(cm, totals, out=np.zeros(cm.shape, dtype=np.float64), where=totals > 0)
    z = rates if normalise else cm
    text = [[f"{v:.0%}" if normalise else f"{int(v)}" for v in row] for row in z]
    if normalise:  # hide the zeros' text: the eye goes to the mistakes
        text = [[t if t != "0%" else "" for t in row] for row in text]
    else:
        text = [[t if t != "0" else "" for t in row] for row in text]
    labels = list(classes)
    custom = np.dstack([cm, rates])  # (K, K, 2): count and rate per cell
    fig = go.Figure(go.Heatmap(
        z=z, x=labels, y=labels, text=text, texttemplate="%{text}", customdata=custom,
        colorscale="Blues", zmin=0, zmax=1 if normalise else max(int(cm.max()), 1), showscale=False,
        xgap=1, ygap=1, textfont=dict(size=12),
        hovertemplate="true: %{y}<br>predicted: %{x}<br>count: %{customdata[0]:,}"
                      "<br>rate: %{customdata[1]:.1%}<extra></extra>"))
    fig.update_xaxes(title="predicted class", type="category", tickangle=-40 if max(map(len, labels)) > 3 else 0,
                     side="bottom")
    fig.update_yaxes(title="true class", type="category", autorange="reversed")
    fig = apply(fig, title, height=height, uirevision=uirevision)
    fig.update_layout(margin=dict(l=10, r=10, t=50 if title else 10, b=10))
    return fig


def class_counts(counts: dict[str, np.ndarray], classes: Sequence[str], title: str = "",
                 height: int = 300) -> go.Figure:
    """Grouped bars: images per class for each split ({'train': counts, 'val': ..., 'test': ...})."""
    fig = go.Figure()
    for split, values in counts.items():
        fig.add_trace(go.Bar(x=list(classes), y=np.asarray(values), name=split,
                             marker_color=SPLIT_COLORS.get(split),
                             hovertemplate=f"{split}: %{{y:,}} %{{x}}<extra></extra>"))
    fig.update_layout(barmode="group")
    fig.update_xaxes(type="category")
    fig.update_yaxes(title="images")
    return _legend_right(apply(fig, title, height=height))


def per_class_bars(rows: Sequence[dict], title: str = "", height: int = 300) -> go.Figure:
    """Precision, recall and F1 per class (rows from nnviz.analysis.metrics.per_class)."""
    names = [r["class"] for r in rows]
    fig = go.Figure()
    for key, color in (("precision", "#636efa"), ("recall", "#ef553b"), ("f1", "#00cc96")):
        fig.add_trace(go.Bar(x=names, y=[r[key] for r in rows], name=key, marker_color=color,
                             hovertemplate=f"{key}: %{{y:.1%}} %{{x}}<extra></extra>"))
    fig.update_layout(barmode="group")
    fig.update_xaxes(type="category")
    fig.update_yaxes(range=[0, 1.02], tickformat=".0%")
    return _legend_right(apply(fig, title, height=height))


def _legend_right(fig: go.Figure) -> go.Figure:
    """The legend above the plot on the right, clear of a title on the left."""
    return fig.update_layout(legend=dict(orientation="h", yanchor="bottom", y=1.02, x=1, xanchor="right"))
