"""Weights and activations as figures: histograms, distributions over epochs, activation statistics.

Histograms are computed here with numpy and drawn as bars, so a 200,000-weight layer
sends 60 numbers to the browser, not 200,000.
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import plotly.graph_objects as go

from nnviz.figures.maps import COLORBAR, axis, filter_grid, panel_layout, panel_title, tile_grid
from nnviz.figures.style import apply

WEIGHT_COLOR, BIAS_COLOR = "#1f77b4", "#ff7f0e"
RIDGE_MAX_EPOCHS = 40  # more ridges than this overlap into a smear; the heatmap shows them all


def _bars(values: np.ndarray, bins: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    values = np.asarray(values, np.float64).ravel()
    lo, hi = (float(values.min()), float(values.max())) if values.size else (0.0, 1.0)
    if not hi > lo:
        lo, hi = lo - 0.5, hi + 0.5
    counts, edges = np.histogram(values, bins=bins, range=(lo, hi))
    return counts, edges, (edges[:-1] + edges[1:]) / 2


def weight_histograms(params: dict[str, dict[str, np.ndarray]], bins: int = 50, cols: int = 3,
                      title: str = "") -> go.Figure:
    """One histogram panel per parameter tensor: {layer: {'weight': array, 'bias': array}}.

    Weights are blue, biases orange; each panel's title gives the layer, the tensor, its
    size and standard deviation (the scale the initialisation set and training changed).
    """
    panels = [(layer, kind, np.asarray(v)) for layer, d in params.items() for kind, v in d.items()]
    if not panels:
        return apply(go.Figure(), title or "No parameters")
    cols = min(cols, len(panels))
    rows = math.ceil(len(panels) / cols)
    layout, axes = panel_layout(rows, cols, hspace=0.05, vspace=min(0.5 / rows, 0.28 if rows < 3 else 0.12),
                                nticks=5)
    traces, titles = [], []
    for (layer, kind, values), (xa, ya, xd, yd) in zip(panels, axes):
        counts, edges, centers = _bars(values, int(np.clip(2 * np.sqrt(values.size), 8, bins)))  # few values: wide bins
        traces.append(go.Bar(x=centers, y=counts, width=edges[1] - edges[0], showlegend=False, xaxis=xa, yaxis=ya,
                             marker=dict(color=WEIGHT_COLOR if kind == "weight" else BIAS_COLOR, line_width=0),
                             customdata=np.stack([edges[:-1], edges[1:]], 1),
                             hovertemplate=f"{layer} {kind}<br>[%{{customdata[0]:.3g}}, %{{customdata[1]:.3g}}): "
                                           "%{y}<extra></extra>"))
        layout["xaxis" + xa[1:]].update(zeroline=True, zerolinecolor="#999")
        titles.append(panel_title(f"{layer} {kind} ({values.size:,}, σ {values.std():.2g})", xd, yd))
    for i in range(len(panels), rows * cols):  # unused panels of the last row stay blank
        k = str(i + 1)
        layout[f"xaxis{k}"]["visible"] = layout[f"yaxis{k}"]["visible"] = False
    layout.update(annotations=titles, bargap=0)
    fig = apply(go.Figure(traces, layout), title, height=60 + 240 * rows)
    fig.update_layout(margin=dict(t=80 if title else 45))
    return fig


def weights_over_epochs(epochs: np.ndarray, edges: np.ndarray, counts: np.ndarray, kind: str = "ridge",
                        title: str = "", name: str = "weight") -> go.Figure:
    """How a tensor's value distribution changed during training (TensorBoard's histograms).

    epochs (E,), shared bin edges (B+1,), counts (E, B). 'ridge': one filled curve per
    epoch, the first epoch at the back (top), the last in front (bottom), at most 40
    epochs evenly spaced; 'heatmap': value × epoch with the count as colour (log scale).
    """
    epochs, counts, edges = np.asarray(epochs), np.asarray(counts, np.float64), np.asarray(edges)
    centers = (edges[:-1] + edges[1:]) / 2
    if kind == "heatmap":
        fig = go.Figure(go.Heatmap(x=centers, y=epochs, z=np.log10(1 + counts), colorscale="Blues",
                                   customdata=counts, colorbar=dict(title=dict(text="log₁₀(1+count)", side="right"),
                                                                    **COLORBAR),
                                   hovertemplate=f"epoch %{{y}}<br>{name} ≈ %{{x:.3g}}<br>count %{{customdata}}"
                                                 "<extra></extra>"),
                        layout=dict(xaxis=axis(name, showgrid=False),
                                    yaxis=axis("epoch", autorange="reversed", showgrid=False)))
        return apply(fig, title, height=420)
    if kind != "ridge":
        raise ValueError(f"kind must be 'ridge' or 'heatmap', not {kind!r}")
    keep = np.unique(np.linspace(0, len(epochs) - 1, min(len(epochs), RIDGE_MAX_EPOCHS)).round().astype(int))
    epochs, counts = epochs[keep], counts[keep]
    n = len(epochs)
    scale = 2.2 / max(counts.max(), 1.0)  # the tallest ridge covers ~2 rows: overlap like TensorBoard
    traces = []
    for i in range(n):  # back (first epoch, top) to front (last epoch, bottom)
        base = n - 1 - i
        shade = i / max(n - 1, 1)
        color = f"rgb({int(255 - 200 * shade)},{int(140 - 60 * shade)},{int(60 + 20 * shade)})"
        y = base + counts[i] * scale
        traces.append(go.Scatter(x=np.r_[centers, centers[::-1]], y=np.r_[y, np.full(len(centers), base)],
                                 fill="toself", fillcolor=color, line=dict(color="white", width=1),
                                 mode="lines", hoverinfo="skip", showlegend=False))
        traces.append(go.Scatter(x=centers, y=y, mode="lines", line=dict(color="rgba(0,0,0,0)"), showlegend=False,
                                 customdata=counts[i], hovertemplate=f"epoch {epochs[i]}<br>{name} ≈ %{{x:.3g}}"
                                                                     "<br>count %{customdata:.0f}<extra></extra>"))
    step = max(1, math.ceil(n / 12))
    fig = go.Figure(traces, layout=dict(
        xaxis=axis(name, zeroline=True, zerolinecolor="#999"),
        yaxis=axis("epoch", tickvals=[n - 1 - i for i in range(0, n, step)], ticktext=[str(e) for e in epochs[::step]],
                   showgrid=False, zeroline=False)))
    return apply(fig, title, height=min(640, 260 + 14 * n))


def activation_stats_figure(rows: Sequence[dict], title: str = "") -> go.Figure:
    """Left: mean ± std of each layer's outputs. Right: dead ReLU units, zero outputs and saturated
    sigmoid/tanh outputs, in percent. `rows` as from nnviz.analysis.inspect.activation_stats."""
    layers = [r["layer"] for r in rows]
    layout, axes = panel_layout(1, 2, hspace=0.1, type="category")
    traces = [go.Scatter(x=layers, y=[r["mean"] for r in rows], mode="markers", xaxis="x", yaxis="y",
                         error_y=dict(type="data", array=[r["std"] for r in rows], thickness=2),
                         marker=dict(size=11, color=WEIGHT_COLOR), name="mean ± std", showlegend=False,
                         hovertemplate="%{x}: mean %{y:.3g} ± %{error_y.array:.3g}<extra></extra>")]
    for key, label, color in (("dead_fraction", "dead ReLU units", "#d62728"),
                              ("zero_fraction", "zero outputs (ReLU)", "#9ab"),
                              ("saturated_fraction", "saturated (sigmoid/tanh)", "#9467bd")):
        values = [r.get(key, math.nan) for r in rows]
        if all(not math.isfinite(v) for v in values):
            continue
        traces.append(go.Bar(x=layers, y=[v * 100 if math.isfinite(v) else None for v in values], name=label,
                             marker_color=color, texttemplate="%{y:.0f}%", textposition="outside", xaxis="x2",
                             yaxis="y2", hovertemplate=f"%{{x}}: %{{y:.1f}}% {label}<extra></extra>"))
    layout["yaxis"].update(title=dict(text="activation", font=dict(size=15)), type="linear")
    layout["yaxis2"].update(title=dict(text="%", font=dict(size=15)), type="linear", range=[0, 110])
    layout.update(barmode="group", annotations=[
        panel_title("mean ± std of outputs", *axes[0][2:]), panel_title("share of units / outputs", *axes[1][2:])])
    fig = apply(go.Figure(traces, layout), title, height=420)
    fig.update_layout(margin=dict(t=80 if title else 50, b=90),
                      legend=dict(orientation="h", y=-0.16, x=1, xanchor="right", yanchor="top", font_size=14))
    return fig


def first_layer_images(images: np.ndarray, *, first: int = 0, count: int = 32, per_unit_scale: bool = True,
                       title: str = "") -> go.Figure:
    """An MLP's first-layer weights as images, (units, C, H, W): one template per hidden unit.

    Shows `count` units from `first` (32 by default: 28×28 templates stay legible on a
    projector). Blue = the unit is inhibited by ink there, red = excited. A per-unit colour
    scale (default) shows each template's pattern; a shared one compares their strengths.
    """
    images = np.asarray(images, np.float32)[first:first + min(count, 64)]
    if images.shape[1] == 3:
        return filter_grid(images, "rgb", first=0, per_filter_scale=per_unit_scale, title=title)
    return tile_grid(images[:, 0], range(first, first + len(images)), per_map_scale=per_unit_scale, title=title,
                     what="unit", value_label="weight", signed=True)


def weight_histogram(weights: dict[str, np.ndarray], bins: int = 50, cols: int = 4, title: str = "") -> go.Figure:
    """Generic form: one histogram panel per named array, {'fc1.weight': array, ...}.

    Names ending in 'bias' are drawn orange, the rest blue.
    """
    params = {name.rsplit(".", 1)[0] if "." in name else name: {} for name in weights}
    for name, values in weights.items():
        layer, _, kind = name.rpartition(".") if "." in name else (name, "", "weight")
        params[layer or name][kind or "weight"] = np.asarray(values)
    return weight_histograms(params, bins=bins, cols=cols, title=title)
