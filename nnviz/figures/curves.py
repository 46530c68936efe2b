"""Training curves from History rows: loss (log axis) and accuracy, per epoch and smoothed per batch."""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import plotly.graph_objects as go

from nnviz.figures.style import SPLIT_COLORS, apply


def ema(values: Sequence[float], smoothing: float) -> np.ndarray:
    """Bias-corrected exponential moving average (TensorBoard's smoothing); 0 leaves values as they are."""
    out, avg, weight = np.empty(len(values)), 0.0, 0.0
    for i, v in enumerate(values):
        avg = smoothing * avg + (1 - smoothing) * v
        weight = smoothing * weight + (1 - smoothing)
        out[i] = avg / weight if weight else v
    return out


DIVERGED_COLOR = "#d62728"


def first_non_finite(epochs: Sequence[dict], keys: Sequence[str]) -> float | None:
    """The first epoch where one of `keys` is NaN or infinite (a diverged run), else None."""
    for r in epochs:
        if any(isinstance(r.get(k), (int, float)) and not math.isfinite(r[k]) for k in keys):
            return r["epoch"]
    return None


def metric_curves(epochs: Sequence[dict], metric: str = "loss", splits: Sequence[str] = ("train", "val", "test"),
                  batch_losses: Sequence[tuple[float, float]] = (), smoothing: float = 0.6,
                  log_y: bool | None = None, upto_epoch: float | None = None, title: str = "",
                  uirevision: str | None = "curves") -> go.Figure:
    """`{split}_{metric}` per epoch for each split, plus smoothed batch losses when given.

    `upto_epoch` cuts the curves there (replay); the x axis keeps the full range so
    the picture does not jump. Loss axes are logarithmic unless `log_y` says otherwise.
    """
    log_y = metric == "loss" if log_y is None else log_y
    fig = go.Figure()
    last_epoch = max((r["epoch"] for r in epochs), default=1)
    keep = [r for r in epochs if upto_epoch is None or r["epoch"] <= upto_epoch]
    if metric == "loss" and batch_losses:
        pts = [(x, y) for x, y in batch_losses if (upto_epoch is None or x <= upto_epoch) and math.isfinite(y)]
        if pts:
            xs, ys = zip(*pts)
            fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", name="train (batches)", opacity=0.25,
                                     line=dict(color=SPLIT_COLORS["train"], width=1), hoverinfo="skip"))
            fig.add_trace(go.Scatter(x=xs, y=ema(ys, smoothing), mode="lines", name="train (smoothed)",
                                     line=dict(color=SPLIT_COLORS["train"], width=1.5, dash="dot")))
    for split in splits:
        key = f"{split}_{metric}"
        pts = [(r["epoch"], r[key]) for r in keep if key in r and r[key] is not None and math.isfinite(r[key])]
        if not pts:
            continue
        xs, ys = zip(*pts)
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines+markers" if len(xs) < 60 else "lines", name=split,
                                 line=dict(color=SPLIT_COLORS.get(split), width=2.5),
                                 hovertemplate=f"{split} {metric}: %{{y:.4g}}<br>epoch %{{x}}<extra></extra>"))
    broken = first_non_finite(keep, [f"{split}_{metric}" for split in splits])
    if broken is not None:  # the curve stops there: say why, where it stops
        fig.add_shape(type="line", xref="x", x0=broken, x1=broken, yref="paper", y0=0, y1=1,
                      line=dict(color=DIVERGED_COLOR, width=2, dash="dot"))
        fig.add_annotation(x=broken, xref="x", y=0.5, yref="paper", text=f"{metric} not finite: diverged",
                           showarrow=False, textangle=-90, xanchor="right", font=dict(color=DIVERGED_COLOR))
    fig.update_xaxes(title="epoch", range=[0, max(last_epoch, 1)])
    fig.update_yaxes(title=metric, type="log" if log_y else "linear",
                     tickformat=".0%" if metric == "acc" else None)
    return apply(fig, title, uirevision=uirevision)
