"""The closing figure of a multi-step lesson: every step's fit and loss curves overlaid. A pure builder."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from nnviz.figures.experiments import PALETTE
from nnviz.figures.style import apply


@dataclass(frozen=True)
class StepResult:
    """What one lesson step's run left: its label, per-epoch history and (regression) its final fit."""

    label: str
    history: Sequence[dict]
    fit_x: Sequence[float] = field(default_factory=tuple)
    fit_y: Sequence[float] = field(default_factory=tuple)


def _curve(rows: Sequence[dict], key: str) -> tuple[list[float], list[float]]:
    pts = [(r["epoch"], r[key]) for r in rows
           if r.get("epoch", 0) > 0 and isinstance(r.get(key), (int, float)) and math.isfinite(r[key])]
    return [p[0] for p in pts], [p[1] for p in pts]


def steps_overlay(steps: Sequence[StepResult], points: tuple[Sequence[float], Sequence[float]] | None = None,
                  title: str = "") -> go.Figure:
    """Left: each step's final fit over the training points; right: each step's validation loss (solid)
    and training loss (dotted), one colour per step. Without fits (classification) only the curves."""
    with_fits = any(len(s.fit_x) for s in steps)
    fig = make_subplots(rows=1, cols=2 if with_fits else 1, horizontal_spacing=0.14)  # room for the loss axis' title
    curves_col = 2 if with_fits else 1
    if with_fits and points is not None:
        fig.add_trace(go.Scatter(x=list(points[0]), y=list(points[1]), mode="markers", name="training points",
                                 marker=dict(size=6, color="rgba(80, 80, 80, 0.45)")), row=1, col=1)
    for i, step in enumerate(steps):
        color = PALETTE[i % len(PALETTE)]
        if len(step.fit_x):
            fig.add_trace(go.Scatter(x=list(step.fit_x), y=list(step.fit_y), mode="lines", name=step.label,
                                     legendgroup=step.label, line=dict(color=color, width=3)), row=1, col=1)
        for key, dash, suffix in (("val_loss", "solid", "validation"), ("train_loss", "dot", "training")):
            xs, ys = _curve(step.history, key)
            if xs:
                fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", name=f"{step.label}: {suffix}",
                                         legendgroup=step.label, showlegend=not len(step.fit_x) or key != "val_loss",
                                         line=dict(color=color, width=2.5 if dash == "solid" else 1.8, dash=dash),
                                         hovertemplate=f"{step.label}, {suffix}<br>epoch %{{x}}<br>"
                                                       "loss %{y:.4g}<extra></extra>"),
                              row=1, col=curves_col)
    fig.update_yaxes(type="log", title="loss (solid: validation, dotted: training)", row=1, col=curves_col)
    fig.update_xaxes(title="epoch", row=1, col=curves_col)
    if with_fits:
        fig.update_xaxes(title="x", row=1, col=1)
        fig.update_yaxes(title="y (final fit of each step)", row=1, col=1)
    return apply(fig, title, height=440, uirevision="lesson-overlay")
