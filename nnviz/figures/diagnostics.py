"""Diagnostics drawn onto curves: a marked best epoch, a shaded overfitting region, where a run blew up;
and the gradient-norm curves the gradient findings come from. Pure: figures in, new figures out."""
from __future__ import annotations

import math
from typing import Sequence

import plotly.graph_objects as go

from nnviz.analysis.diagnostics import Finding
from nnviz.figures.style import apply

# kind -> (line colour, dash, short label on the curve)
MARKS = {
    "best_epoch": ("#2ca02c", "dot", "best"),
    "overfitting": ("#d62728", "dash", "overfitting →"),
    "diverged": ("#d62728", "solid", "diverged"),
    "lr_too_high": ("#ff7f0e", "dash", "lr too high"),
    "exploding_gradients": ("#9467bd", "dash", "gradients explode"),
}
SEVERITY_ICON = {"error": "⛔", "warning": "⚠️", "info": "ℹ️"}  # noqa: RUF001 - shown to the user


def annotate(fig: go.Figure, findings: Sequence[Finding], label: bool = True) -> go.Figure:
    """A copy of `fig` (x axis in epochs) with each finding that has an epoch marked on it.

    Best epoch: a dotted green line; overfitting: a dashed red line and the epochs after it
    shaded; divergence, a too-high learning rate, exploding gradients: a line where it shows.
    """
    out = go.Figure(fig)
    x_max = _x_max(out)
    for i, f in enumerate(findings):
        if f.kind not in MARKS or f.epoch is None or not math.isfinite(f.epoch):
            continue
        color, dash, text = MARKS[f.kind]
        if f.kind == "overfitting" and x_max is not None and x_max > f.epoch:
            out.add_vrect(x0=f.epoch, x1=x_max, fillcolor=color, opacity=0.06, line_width=0, layer="below")
        out.add_vline(x=f.epoch, line=dict(color=color, dash=dash, width=2))
        if label:
            near_end = x_max is not None and f.epoch > 0.8 * x_max  # label left of the line, inside the plot
            out.add_annotation(x=f.epoch, y=1.0 - 0.09 * (i % 3), xref="x", yref="paper", text=text, showarrow=False,
                               xanchor="right" if near_end else "left", yanchor="top", font=dict(color=color, size=13),
                               bgcolor="rgba(255,255,255,0.7)", hovertext=f.sentence)
    return out


def _x_max(fig: go.Figure) -> float | None:
    """The right end of the x axis: its fixed range, else the largest x of any trace."""
    rng = fig.layout.xaxis.range
    if rng is not None and len(rng) == 2:
        return float(rng[1])
    xs = [float(x) for t in fig.data if getattr(t, "x", None) is not None for x in t.x if x is not None]
    return max(xs) if xs else None


def gradient_norm_figure(rows: Sequence[dict], findings: Sequence[Finding] = (), title: str = "Gradient norms",
                         height: int = 320) -> go.Figure:
    """Per epoch: the global gradient norm (mean and largest over the sampled batches) and the first and
    last weight layers' norms, on a log axis; a widening gap between first and last is vanishing."""
    series = {"grad_norm": ("all parameters (mean)", "#1f77b4", "solid"),
              "grad_norm_max": ("all parameters (largest)", "#1f77b4", "dot"),
              "grad_first": ("first layer", "#ff7f0e", "solid"),
              "grad_last": ("last layer", "#2ca02c", "solid")}
    fig = go.Figure()
    for key, (name, color, dash) in series.items():
        pts = [(r["epoch"], r[key]) for r in rows if isinstance(r.get(key), (int, float))
               and math.isfinite(r[key]) and r[key] > 0]
        if pts:
            xs, ys = zip(*pts)
            fig.add_trace(go.Scatter(x=xs, y=ys, name=name, mode="lines+markers" if len(xs) < 60 else "lines",
                                     line=dict(color=color, dash=dash, width=2),
                                     hovertemplate=f"{name}: %{{y:.3g}}<br>epoch %{{x}}<extra></extra>"))
    if not fig.data:
        fig.add_annotation(text="No gradient norms were recorded for this run.", showarrow=False,
                           xref="paper", yref="paper", x=0.5, y=0.5)
    fig.update_xaxes(title="epoch")
    fig.update_yaxes(title="gradient norm", type="log", exponentformat="power")  # 10⁻⁶, not "1µ"
    fig = apply(fig, title, height=height)
    grad_kinds = ("exploding_gradients", "diverged")
    return annotate(fig, [f for f in findings if f.kind in grad_kinds]) if findings else fig
