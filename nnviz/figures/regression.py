"""Regression figures: data with the fit, loss with the noise floor, residuals, K-fold band, neurons.

Pure builders: arrays in, `go.Figure` out. Axes ranges are passed in and fixed, so a live
figure keeps still while the fit moves, and a diverging fit cannot squash the data.
"""
from __future__ import annotations

import math
from typing import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio
from plotly.subplots import make_subplots

from nnviz.figures.curves import ema, metric_curves
from nnviz.figures.style import SPLIT_COLORS, apply, log_ticks

XY = tuple[np.ndarray, np.ndarray]
FIT_COLOR = "#d62728"  # the model's fit: red, over blue / orange / green points
BEFORE_COLOR = "#7f7f7f"
GAP_FILL = "rgba(120, 120, 120, 0.13)"
NEURON_COLORS = ("#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#1f77b4", "#ff7f0e", "#2ca02c")


def _finish(fig: go.Figure, title: str, height: int, uirevision: str | None, legend_below: bool = True) -> go.Figure:
    """The house style, with the legend under the x axis so it never collides with the title."""
    fig = apply(fig, title, height=height, uirevision=uirevision)
    if legend_below:
        fig.update_layout(legend=dict(orientation="h", yanchor="top", y=-0.22, x=0, font=dict(size=13)),
                          margin=dict(b=20))
    return fig


def _hline(y: float, dash: str = "solid", color: str = "black") -> dict:
    """A full-width horizontal line as a plain shape (plotly's add_hline scans every trace: ~100x slower)."""
    return dict(type="line", xref="paper", x0=0, x1=1, yref="y", y0=y, y1=y, line=dict(color=color, width=1, dash=dash))


def _shade(fig: go.Figure, gaps: Sequence[tuple[float, float]], label: str = "no training data") -> None:
    fig.update_layout(shapes=[dict(type="rect", xref="x", yref="paper", x0=lo, x1=hi, y0=0, y1=1, fillcolor=GAP_FILL,
                                   line_width=0, layer="below") for lo, hi in gaps])
    if gaps:  # one legend entry for all shaded ranges
        fig.add_trace(go.Scatter(x=[None], y=[None], mode="markers", name=label, hoverinfo="skip",
                                 marker=dict(size=14, symbol="square", color=GAP_FILL)))


def fit_figure(points: Mapping[str, XY], *, gaps: Sequence[tuple[float, float]] = (), truth: XY | None = None,
               fit: XY | None = None, fit_label: str = "fit", before: XY | None = None,
               band: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None, band_label: str = "",
               extra_fits: Sequence[XY] = (), x_range: tuple[float, float] | None = None,
               y_range: tuple[float, float] | None = None, title: str = "", height: int = 400,
               uirevision: str | None = "fit") -> go.Figure:
    """Points per split ({'train': (x, y), ...}), shaded empty x-ranges, the true function,
    the fit (red), the untrained fit (`before`, grey dotted), thin `extra_fits` (one per
    K-fold model) and a `band` (x, low, high) around the fit."""
    fig = go.Figure()
    _shade(fig, gaps)
    if band is not None:
        bx, lo, hi = band
        fig.add_trace(go.Scatter(x=np.concatenate([bx, bx[::-1]]), y=np.concatenate([hi, lo[::-1]]),
                                 fill="toself", fillcolor="rgba(214, 39, 40, 0.18)", line=dict(width=0),
                                 name=band_label or "band", hoverinfo="skip"))
    for i, (ex, ey) in enumerate(extra_fits):
        fig.add_trace(go.Scatter(x=ex, y=ey, mode="lines", line=dict(color=FIT_COLOR, width=1), opacity=0.35,
                                 name="fold models", legendgroup="folds", showlegend=i == 0, hoverinfo="skip"))
    for split, (x, y) in points.items():
        if len(x) == 0:
            continue
        fig.add_trace(go.Scatter(x=x, y=y, mode="markers", name=split,
                                 marker=dict(color=SPLIT_COLORS.get(split), size=7 if split == "train" else 6,
                                             symbol="circle" if split == "train" else "diamond"),
                                 hovertemplate=f"{split} ({len(x)} points)<br>x %{{x:.3f}}<br>y %{{y:.3f}}<extra></extra>"))
    if truth is not None:
        fig.add_trace(go.Scatter(x=truth[0], y=truth[1], mode="lines", name="true function",
                                 line=dict(color="black", width=1.5, dash="dash"), hoverinfo="skip"))
    if before is not None:
        fig.add_trace(go.Scatter(x=before[0], y=before[1], mode="lines", name="untrained", meta="before",
                                 line=dict(color=BEFORE_COLOR, width=2, dash="dot"),
                                 hovertemplate="untrained<br>x %{x:.3f}<br>ŷ %{y:.3f}<extra></extra>"))
    if fit is not None:
        fig.add_trace(go.Scatter(x=fit[0], y=fit[1], mode="lines", name=fit_label, meta="fit",
                                 line=dict(color=FIT_COLOR, width=3.5),
                                 hovertemplate=f"{fit_label}<br>x %{{x:.3f}}<br>ŷ %{{y:.3f}}<extra></extra>"))
    fig.update_xaxes(title=dict(text="x", standoff=4), range=list(x_range) if x_range else None, zeroline=False)
    fig.update_yaxes(title="y", range=list(y_range) if y_range else None, zeroline=False)
    return _finish(fig, title, height, uirevision)


def loss_figure(epochs: Sequence[dict], batch_losses: Sequence[tuple[float, float]] = (), *, smoothing: float = 0.6,
                noise_var: float = 0.0, upto_epoch: float | None = None, title: str = "",
                height: int = 360, uirevision: str | None = "loss") -> go.Figure:
    """Train / validation / test MSE per epoch on a log axis (nnviz.figures.curves.metric_curves),
    with the noise variance drawn as the floor no model can beat on noisy test points."""
    fig = metric_curves(epochs, "loss", batch_losses=batch_losses, smoothing=smoothing, upto_epoch=upto_epoch,
                        title=title, uirevision=uirevision)
    if noise_var > 0:
        fig.add_shape(_hline(noise_var, "dash"))  # beside a divergence mark, if any
        fig.add_annotation(xref="paper", x=0, y=math.log10(noise_var), yref="y", text=f"noise variance σ² = {noise_var:.3g}",
                           showarrow=False, xanchor="left", yanchor="top", font=dict(size=13))
    ys = np.concatenate([np.asarray(t.y, dtype=float) for t in fig.data if t.y is not None] or [np.empty(0)])
    ys = ys[np.isfinite(ys) & (ys > 0)]
    ticks = log_ticks(min(float(ys.min()), noise_var or math.inf), float(ys.max())) if ys.size else []
    fig.update_yaxes(title="MSE", tickvals=ticks or None, ticktext=[f"{t:g}" for t in ticks] or None)
    fig.update_xaxes(title=dict(text="epoch", standoff=4))
    return _finish(fig, title, height, uirevision)


def refresh_fit(fig: go.Figure, *, fit: XY, before: XY | None = None, title: str | None = None) -> bool:
    """Move a `fit_figure`'s fit (and untrained) curve and title in place: ~1 ms, where a rebuild
    costs ~50 ms (plotly re-validates the whole template). False if the figure lacks those traces."""
    traces = {t.meta: t for t in fig.data if t.meta in ("fit", "before")}
    if "fit" not in traces or (before is not None) != ("before" in traces):
        return False
    with fig.batch_update():
        traces["fit"].x, traces["fit"].y = fit
        if before is not None:
            traces["before"].x, traces["before"].y = before
        if title is not None:
            fig.layout.title.text = title
    return True


def loss_series(epochs: Sequence[dict], batch_losses: Sequence[tuple[float, float]] = (), smoothing: float = 0.6,
                upto_epoch: float | None = None) -> dict[str, tuple[list, list]]:
    """The (x, y) of every trace `loss_figure` draws, by trace name (as nnviz.figures.curves.metric_curves)."""
    out: dict[str, tuple[list, list]] = {}
    pts = [(x, y) for x, y in batch_losses if (upto_epoch is None or x <= upto_epoch) and math.isfinite(y)]
    if pts:
        xs, ys = map(list, zip(*pts))
        out["train (batches)"] = (xs, ys)
        out["train (smoothed)"] = (xs, ema(ys, smoothing).tolist())
    for split in ("train", "val", "test"):
        key = f"{split}_loss"
        rows = [(r["epoch"], r[key]) for r in epochs if (upto_epoch is None or r["epoch"] <= upto_epoch)
                and r.get(key) is not None and math.isfinite(r[key])]
        if rows:
            out[split] = tuple(map(list, zip(*rows)))  # type: ignore[assignment]
    return out


def refresh_loss(fig: go.Figure, epochs: Sequence[dict], batch_losses: Sequence[tuple[float, float]] = (), *,
                 smoothing: float = 0.6, noise_var: float = 0.0) -> bool:
    """Update a `loss_figure` in place with more epochs; False when its set of traces would change."""
    series = loss_series(epochs, batch_losses, smoothing)
    traces = {t.name: t for t in fig.data}
    if set(series) != set(traces):
        return False
    ys = np.concatenate([np.asarray(y, dtype=float) for _, y in series.values()])
    ys = ys[np.isfinite(ys) & (ys > 0)]
    ticks = log_ticks(min(float(ys.min()), noise_var or math.inf), float(ys.max())) if ys.size else []
    with fig.batch_update():
        for name, (x, y) in series.items():
            traces[name].x, traces[name].y = x, y
            if name in ("train", "val", "test"):
                traces[name].mode = "lines+markers" if len(x) < 60 else "lines"
        fig.layout.xaxis.range = [0, max(max((r["epoch"] for r in epochs), default=1), 1)]
        fig.layout.yaxis.tickvals, fig.layout.yaxis.ticktext = (ticks or None), ([f"{t:g}" for t in ticks] or None)
    return True


def residual_figure(residuals: Mapping[str, XY], *, noise: float = 0.0, gaps: Sequence[tuple[float, float]] = (),
                    x_range: tuple[float, float] | None = None, title: str = "", height: int = 340) -> go.Figure:
    """Residual y − ŷ against x per split; ±σ lines of the noise when it is known."""
    fig = go.Figure()
    _shade(fig, gaps)
    for split, (x, r) in residuals.items():
        fig.add_trace(go.Scatter(x=x, y=r, mode="markers", name=split,
                                 marker=dict(color=SPLIT_COLORS.get(split), size=6),
                                 hovertemplate=f"{split}<br>x %{{x:.3f}}<br>y − ŷ %{{y:.3f}}<extra></extra>"))
    fig.update_layout(shapes=list(fig.layout.shapes) + [_hline(0)] +
                      ([_hline(noise, "dot"), _hline(-noise, "dot")] if noise > 0 else []))
    if noise > 0:
        fig.add_annotation(x=0, xref="paper", y=noise, text="±σ of the noise", showarrow=False, xanchor="left",
                           yanchor="bottom", font=dict(size=13), bgcolor="rgba(255,255,255,0.7)")
    fig.update_xaxes(title=dict(text="x", standoff=4), range=list(x_range) if x_range else None)
    fig.update_yaxes(title="residual y − ŷ")
    return _finish(fig, title, height, "residuals")


def fold_losses_figure(val_mse: Sequence[float], title: str = "", height: int = 300) -> go.Figure:
    """Final validation MSE of each fold as bars, with the mean and a ±std band."""
    losses = np.asarray(val_mse, dtype=float)
    folds = [f"fold {i}" for i in range(1, len(losses) + 1)]
    fig = go.Figure(go.Bar(x=folds, y=losses, marker_color=SPLIT_COLORS["val"], name="validation MSE",
                           hovertemplate="%{x}: %{y:.4g}<extra></extra>"))
    finite = losses[np.isfinite(losses)]
    if finite.size:
        mean, std = float(finite.mean()), float(finite.std())
        fig.update_layout(shapes=[dict(type="rect", xref="paper", x0=0, x1=1, y0=mean - std, y1=mean + std,
                                       fillcolor="rgba(0,0,0,0.08)", line_width=0), _hline(mean, "dash")])
        # on a white box at the right end of the line: readable over the bars it crosses
        fig.add_annotation(xref="paper", x=1, y=mean, text=f"mean {mean:.4g} ± {std:.2g}", showarrow=False,
                           xanchor="right", yanchor="bottom", font=dict(size=13), bgcolor="rgba(255,255,255,0.9)",
                           bordercolor="#555", borderwidth=1, borderpad=3)
    fig.update_yaxes(title="validation MSE", rangemode="tozero")
    fig.update_layout(showlegend=False)
    return apply(fig, title, height=height, uirevision="folds")


def neuron_heatmap(x: np.ndarray, activations: np.ndarray, order: Sequence[int] | None = None, *,
                   title: str = "", height: int = 380) -> go.Figure:
    """Each hidden neuron's output (rows) across x (columns); rows in `order` (e.g. by where they switch)."""
    order = np.arange(len(activations)) if order is None else np.asarray(order)
    z = activations[order]
    lo, hi = float(np.min(z)) if z.size else 0.0, float(np.max(z)) if z.size else 1.0
    diverging = lo < 0 < hi
    fig = go.Figure(go.Heatmap(
        x=x, y=[f"n{int(i)}" for i in order], z=z, colorscale="RdBu_r" if diverging else "Viridis",
        zmid=0 if diverging else None, colorbar=dict(title="output", thickness=14),
        hovertemplate="neuron %{y}<br>x %{x:.2f}<br>output %{z:.3f}<extra></extra>"))
    fig.update_xaxes(title="x")
    fig.update_yaxes(title=f"neuron ({len(order)})", showticklabels=len(order) <= 24, autorange="reversed")
    return apply(fig, title, height=height, uirevision="neurons")


def neuron_curves(x: np.ndarray, curves: Mapping[str, np.ndarray], *, total: np.ndarray | None = None,
                  total_label: str = "network output", y_title: str = "output", title: str = "",
                  height: int = 380) -> go.Figure:
    """A few neurons' curves across x, and optionally their sum (the fit) in bold."""
    fig = go.Figure()
    for i, (name, y) in enumerate(curves.items()):
        fig.add_trace(go.Scatter(x=x, y=y, mode="lines", name=name,
                                 line=dict(color=NEURON_COLORS[i % len(NEURON_COLORS)], width=2),
                                 hovertemplate=f"{name}<br>x %{{x:.2f}}<br>%{{y:.3f}}<extra></extra>"))
    if total is not None:
        fig.add_trace(go.Scatter(x=x, y=total, mode="lines", name=total_label,
                                 line=dict(color=FIT_COLOR, width=3.5)))
    fig.update_xaxes(title=dict(text="x", standoff=4))
    fig.update_yaxes(title=y_title)
    return _finish(fig, title, height, "neuron-curves")


def _finite(values: np.ndarray) -> np.ndarray:
    values = np.asarray(values, dtype=float).ravel()
    return values[np.isfinite(values)]


def html_report(figures: Mapping[str, go.Figure], title: str = "nnviz figures") -> str:
    """All figures in one self-contained HTML page (plotly.js embedded once: opens offline)."""
    parts = []
    for i, (name, fig) in enumerate(figures.items()):
        parts.append(f"<h2>{name}</h2>" + pio.to_html(fig, full_html=False, include_plotlyjs=i == 0,
                                                       config={"displaylogo": False}))
    body = "\n".join(parts)
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title></head>"
            f"<body style='font-family:sans-serif;max-width:1100px;margin:auto'><h1>{title}</h1>{body}</body></html>")


def weight_change_histograms(trained: Mapping[str, np.ndarray], initial: Mapping[str, np.ndarray] | None = None, *,
                             bins: int = 40, cols: int = 3, title: str = "", row_height: int = 230) -> go.Figure:
    """One panel per layer ({'fc1.weight': values}): the trained values (blue) over the initial ones (grey).

    Both histograms of a panel share bin edges, so the shapes compare directly; each title
    gives the layer, its size and how the std moved (initial -> trained).
    """
    names = list(trained)
    if not names:
        return apply(go.Figure(), title or "No weights")
    cols = max(1, min(cols, len(names)))
    rows = math.ceil(len(names) / cols)
    trained = {n: _finite(v) for n, v in trained.items()}  # a diverged run's inf / nan would break the bins
    initial = {n: _finite(v) for n, v in initial.items()} if initial else None
    titles = []
    for n in names:
        moved = f"{float(np.std(initial[n])):.2g} → " if initial and n in initial else ""
        titles.append(f"{n} · {np.size(trained[n]):,} · std {moved}{float(np.std(trained[n])):.2g}")
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=titles, horizontal_spacing=0.06,
                        vertical_spacing=min(0.2, 0.5 / rows))
    for i, name in enumerate(names):
        values = np.asarray(trained[name], dtype=float).ravel()
        prior = np.asarray(initial[name], dtype=float).ravel() if initial and name in initial else None
        both = values if prior is None else np.concatenate([values, prior])
        lo, hi = (float(both.min()), float(both.max())) if both.size else (-1.0, 1.0)
        if not hi > lo:
            lo, hi = lo - 0.5, hi + 0.5
        edges = np.linspace(lo, hi, bins + 1)
        centers, width = (edges[:-1] + edges[1:]) / 2, edges[1] - edges[0]
        r, c = divmod(i, cols)
        for label, data, color, opacity in (("initial", prior, BEFORE_COLOR, 0.5),
                                            ("trained", values, SPLIT_COLORS["train"], 0.75)):
            if data is None:
                continue
            counts = np.histogram(data, edges)[0]  # binned here: 60 bars sent, not every weight
            fig.add_trace(go.Bar(x=centers, y=counts, width=width, marker=dict(color=color, line_width=0),
                                 opacity=opacity, name=label, legendgroup=label,
                                 showlegend=i == 0 and prior is not None,
                                 hovertemplate=f"{name} {label}<br>%{{x:.3g}}: %{{y}}<extra></extra>"),
                          row=r + 1, col=c + 1)
    fig.update_layout(barmode="overlay", bargap=0)
    fig.update_annotations(font_size=13)
    fig = _finish(fig, title, 110 + row_height * rows, "weights")
    fig.update_layout(margin=dict(t=80 if title else 40), legend=dict(y=-0.5 / rows))
    return fig
