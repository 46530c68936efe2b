"""Grids of small images as one heatmap: conv filters, feature maps; activation vectors; embeddings.

Small multiples are tiled into a single heatmap (a "mosaic") with blank gaps rather than
one subplot per map: one trace builds and draws in milliseconds even for 64 maps, the
colour scale is shared by construction, and hover still names the map, the pixel and
the raw value (carried in `customdata`). Row tick labels give the index of a row's first
map, column ticks the offset within the row.
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import plotly.graph_objects as go

from nnviz.figures.style import apply

DIVERGING = "RdBu_r"  # signed values (weights, pre-activation maps): blue < 0 < red, white at 0
SEQUENTIAL = "Viridis"  # non-negative values (after ReLU / pooling)
MAX_TILES = 64  # more small multiples than this are unreadable on a projector
CLASS_COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
                "#bcbd22", "#17becf"]


TICK_SIZE = 14  # explicit: the Streamlit theme would otherwise draw ticks at ~11 px
COLORBAR = dict(thickness=14, tickfont=dict(size=TICK_SIZE))


def axis(title: str = "", **settings: object) -> dict:
    """One axis as a layout dict with readable fonts. Passing axes to go.Figure at construction
    costs ~1 ms; update_xaxes / update_yaxes on a built figure cost ~8 ms each."""
    return dict(title=dict(text=title or None, font=dict(size=15)), tickfont=dict(size=TICK_SIZE), **settings)


def panel_layout(rows: int, cols: int, hspace: float = 0.06, vspace: float = 0.12,
                 **axis: object) -> tuple[dict, list[tuple[str, str, list[float], list[float]]]]:
    """Axes for a rows × cols grid of panels, as a plain layout dict: ~10× faster than make_subplots.

    Returns (layout, panels); panels[i] = (x axis id, y axis id, x domain, y domain), row-major
    from the top left. `axis` settings (and readable tick fonts) go on every axis.
    """
    w, h = (1 - hspace * (cols - 1)) / cols, (1 - vspace * (rows - 1)) / rows
    layout: dict = {}
    panels = []
    for i in range(rows * cols):
        r, c = divmod(i, cols)
        k = "" if i == 0 else str(i + 1)
        xd = [round(min(max(v, 0.0), 1.0), 6) for v in (c * (w + hspace), c * (w + hspace) + w)]
        yd = [round(min(max(v, 0.0), 1.0), 6) for v in (1 - r * (h + vspace) - h, 1 - r * (h + vspace))]
        layout[f"xaxis{k}"] = dict(domain=xd, anchor=f"y{k}", tickfont=dict(size=TICK_SIZE), **axis)
        layout[f"yaxis{k}"] = dict(domain=yd, anchor=f"x{k}", tickfont=dict(size=TICK_SIZE), **axis)
        panels.append((f"x{k}", f"y{k}", xd, yd))
    return layout, panels


def panel_title(text: str, xdomain: Sequence[float], ydomain: Sequence[float]) -> dict:
    """A subplot title above a panel (an annotation, as make_subplots writes it)."""
    return dict(text=text, x=(xdomain[0] + xdomain[1]) / 2, y=ydomain[1], xref="paper", yref="paper",
                xanchor="center", yanchor="bottom", showarrow=False, font=dict(size=15))


def grid_shape(n: int, aspect: float = 4.0, max_cols: int = 16) -> tuple[int, int]:
    """(rows, cols) for n tiles in a panel about `aspect` times wider than tall.

    Up to 10 tiles sit in one row; otherwise a column count near the ideal that divides n
    is preferred, so the last row is not left ragged (6 -> 1×6, 32 -> 4×8, 64 -> 4×16).
    """
    if n <= min(10, max_cols):
        return 1, max(n, 1)
    ideal = min(n, max_cols, math.ceil(math.sqrt(n * aspect)))
    even = [c for c in range(ideal, max(ideal - 5, 1), -1) if n % c == 0 and c <= max_cols]
    cols = even[0] if even else ideal
    return math.ceil(n / cols), cols


def mosaic(tiles: np.ndarray, gap: int = 1, fill: float = np.nan) -> np.ndarray:
    """(R, C, h, w[, k]) tiles -> one (R*(h+gap)-gap, C*(w+gap)-gap[, k]) array with `fill` in the gaps."""
    rows, cols, h, w = tiles.shape[:4]
    extra = tiles.shape[4:]
    out = np.full((rows * (h + gap) - gap, cols * (w + gap) - gap, *extra), fill, dtype=np.float32)
    for r in range(rows):
        for c in range(cols):
            out[r * (h + gap):r * (h + gap) + h, c * (w + gap):c * (w + gap) + w] = tiles[r, c]
    return out


def _gap(h: int) -> int:
    return max(1, h // 10)


def _tiled(maps: np.ndarray, ids: Sequence[int], cols: int) -> tuple[np.ndarray, np.ndarray]:
    """maps (n, h, w) -> tiles (R, cols, h, w) (NaN padding) and per-pixel hover data (R, cols, h, w, 3)."""
    n, h, w = maps.shape
    rows = math.ceil(n / cols)
    tiles = np.full((rows * cols, h, w), np.nan, np.float32)
    tiles[:n] = maps
    info = np.full((rows * cols, h, w, 3), np.nan, np.float32)  # map id, pixel row, pixel col
    info[:n, :, :, 0] = np.asarray(ids, np.float32)[:, None, None]
    info[:n, :, :, 1] = np.arange(h)[None, :, None]
    info[:n, :, :, 2] = np.arange(w)[None, None, :]
    return tiles.reshape(rows, cols, h, w), info.reshape(rows, cols, h, w, 3)


def _scale(values: np.ndarray, signed: bool | None = None) -> dict:
    """Colour-scale settings for values: diverging around 0 when any is negative."""
    finite = values[np.isfinite(values)]
    lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    signed = lo < 0 if signed is None else signed
    if signed:
        top = max(abs(lo), abs(hi)) or 1.0
        return {"colorscale": DIVERGING, "zmin": -top, "zmax": top}
    return {"colorscale": SEQUENTIAL, "zmin": min(lo, 0.0), "zmax": hi if hi > min(lo, 0.0) else 1.0}


def _normalise_each(maps: np.ndarray) -> np.ndarray:
    """Each map divided by its largest |value| (per-map colour scale); all-zero maps stay 0."""
    top = np.abs(maps).reshape(len(maps), -1).max(1)
    return maps / np.where(top > 0, top, 1.0)[:, None, None]


def _axes(tiles_shape: tuple[int, ...], gap: int, row_labels: Sequence[str], col_labels: Sequence[str],
          x_title: str = "", y_title: str = "") -> dict:
    """Layout axes for a mosaic: square pixels; one tick per tile row (its first map's index) and
    column (the offset in the row)."""
    rows, cols, h, w = tiles_shape[:4]
    xt = [c * (w + gap) + (w - 1) / 2 for c in range(cols)]
    yt = [r * (h + gap) + (h - 1) / 2 for r in range(rows)]
    step = max(1, math.ceil(cols / 16))  # at most ~16 column labels
    plain = dict(showgrid=False, zeroline=False, ticks="", constrain="domain")
    return dict(xaxis=axis(x_title, tickvals=xt[::step], ticktext=list(col_labels)[::step], **plain),
                yaxis=axis(y_title, tickvals=yt, ticktext=list(row_labels), autorange="reversed", scaleanchor="x",
                           **plain))


def _height(rows: int, cols: int, h: int, w: int, width_px: float = 420.0, lo: int = 240, hi: int = 680,
            title: bool = True) -> int:
    tile = min(110.0, width_px / max(cols, 1)) * h / max(w, 1)
    return int(np.clip(rows * tile + (95 if title else 55), lo, hi))


def tile_grid(maps: np.ndarray, ids: Sequence[int] | None = None, *, per_map_scale: bool = False,
              title: str = "", what: str = "map", value_label: str = "value", cols: int | None = None,
              signed: bool | None = None, limit: float | None = None) -> go.Figure:
    """maps (n, h, w) -> a mosaic heatmap figure; hover shows `what` id, pixel and raw value.

    `limit` fixes the shared colour scale at +-limit (0..limit) instead of these maps' own range, so
    the frames of a replay compare (values beyond it saturate); a per-map scale ignores it."""
    maps = np.asarray(maps, np.float32)[:MAX_TILES]
    ids = list(range(len(maps)) if ids is None else ids)[:len(maps)]
    rows, cols = grid_shape(len(maps)) if cols is None else (math.ceil(len(maps) / cols), cols)
    shown = _normalise_each(maps) if per_map_scale else maps
    tiles, info = _tiled(shown, ids, cols)
    raw, _ = _tiled(maps, ids, cols)
    h, w = maps.shape[1:]
    gap = _gap(h)
    custom = np.concatenate([info, raw[..., None]], -1)  # (R, C, h, w, 4)
    scale = _scale(shown, signed) if per_map_scale else _scale(maps, signed)
    if per_map_scale:  # shown values are in [-1, 1] (signed) or [0, 1]
        scale.update(zmin=-1.0 if scale["colorscale"] == DIVERGING else 0.0, zmax=1.0)
    elif limit:
        scale.update(zmin=-limit if scale["colorscale"] == DIVERGING else 0.0, zmax=limit)
    fig = go.Figure(go.Heatmap(
        z=mosaic(tiles, gap), customdata=mosaic(custom, gap), hoverongaps=False, **scale,
        colorbar=dict(title=dict(text="relative" if per_map_scale else value_label, side="right"), **COLORBAR),
        hovertemplate=f"{what} %{{customdata[0]}}<br>pixel (%{{customdata[1]}}, %{{customdata[2]}})"
                      f"<br>{value_label} %{{customdata[3]:.4g}}<extra></extra>"),
        layout=_axes(tiles.shape, gap, [str(ids[r * cols]) for r in range(rows)], [f"+{c}" for c in range(cols)]))
    return apply(fig, title, height=_height(rows, cols, h, w, title=bool(title)))


def filter_grid(filters: np.ndarray, channel: int | str = 0, *, first: int = 0, per_filter_scale: bool = False,
                title: str = "", limit: float | None = None) -> go.Figure:
    """Conv kernels (out, in, kh, kw) as a grid; `limit` fixes a shared colour scale at +-limit (a replay's).

    channel: an input-channel index (one grayscale tile per filter), 'rgb' (a first layer on
    colour input: each filter as a colour image, 3 input channels required) or 'all' (rows =
    filters, columns = input channels). At most 64 filters (32 rows for 'all') from `first`.
    """
    filters = np.asarray(filters, np.float32)
    n_out, n_in = filters.shape[:2]
    if channel == "rgb":
        if n_in != 3:
            raise ValueError(f"an RGB view needs 3 input channels, this layer has {n_in}")
        return _rgb_filters(filters[first:first + MAX_TILES], first, per_filter_scale, title, limit)
    if channel == "all":
        return _filter_matrix(filters[first:first + 32, :32], first, per_filter_scale, title, limit)
    chosen = filters[first:first + MAX_TILES, int(channel)]
    ids = range(first, first + len(chosen))
    return tile_grid(chosen, ids, per_map_scale=per_filter_scale, title=title, what="filter",
                     value_label="weight", signed=True, limit=limit)


def _filter_matrix(filters: np.ndarray, first: int, per_filter_scale: bool, title: str,
                   limit: float | None = None) -> go.Figure:
    n_out, n_in, kh, kw = filters.shape
    shown = _normalise_each(filters.reshape(n_out, n_in * kh, kw)).reshape(filters.shape) if per_filter_scale \
        else filters
    gap = _gap(kh)
    info = np.zeros((n_out, n_in, kh, kw, 5), np.float32)  # filter, input channel, row, col, weight
    info[..., 0] = np.arange(first, first + n_out)[:, None, None, None]
    info[..., 1] = np.arange(n_in)[None, :, None, None]
    info[..., 2] = np.arange(kh)[:, None]
    info[..., 3] = np.arange(kw)[None, :]
    info[..., 4] = filters
    scale = {"colorscale": DIVERGING, "zmin": -1.0, "zmax": 1.0} if per_filter_scale else \
        {"colorscale": DIVERGING, "zmin": -limit, "zmax": limit} if limit else _scale(filters, True)
    step = max(1, math.ceil(n_out / 16))
    fig = go.Figure(go.Heatmap(
        z=mosaic(shown, gap), customdata=mosaic(info, gap), hoverongaps=False, **scale,
        colorbar=dict(title=dict(text="relative" if per_filter_scale else "weight", side="right"), **COLORBAR),
        hovertemplate="filter %{customdata[0]} · input channel %{customdata[1]}<br>"
                      "pixel (%{customdata[2]}, %{customdata[3]})<br>weight %{customdata[4]:.4g}<extra></extra>"),
        layout=_axes((n_out, n_in, kh, kw), gap, [str(first + r) if r % step == 0 else "" for r in range(n_out)],
                     [str(c) for c in range(n_in)], x_title="input channel", y_title="filter"))
    return apply(fig, title, height=_height(n_out, n_in, kh, kw, title=bool(title), hi=720))


def _rgb_filters(filters: np.ndarray, first: int, per_filter_scale: bool, title: str,
                 limit: float | None = None) -> go.Figure:
    n, _, kh, kw = filters.shape
    rgb = filters.transpose(0, 2, 3, 1)  # (n, kh, kw, 3)
    if per_filter_scale:
        top = np.abs(rgb).reshape(n, -1).max(1)[:, None, None, None]
    else:
        top = np.full((n, 1, 1, 1), limit or np.abs(rgb).max())
    shown = np.clip(0.5 + 0.5 * rgb / np.where(top > 0, top, 1.0), 0, 1)  # 0 -> mid grey, so sign stays visible
    rows, cols = grid_shape(n)
    tiles = np.ones((rows * cols, kh, kw, 3), np.float32)
    tiles[:n] = shown
    raw = np.zeros((rows * cols, kh, kw, 3), np.float32)
    raw[:n] = rgb
    gap = _gap(kh)
    image = mosaic(tiles.reshape(rows, cols, kh, kw, 3), gap, fill=1.0)
    fig = go.Figure(go.Image(z=(image * 255).round().astype(np.uint8), customdata=mosaic(
        raw.reshape(rows, cols, kh, kw, 3), gap, fill=np.nan),
        hovertemplate="weights R %{customdata[0]:.3f} · G %{customdata[1]:.3f} · B %{customdata[2]:.3f}"
                      "<extra></extra>"),
        layout=dict(_axes((rows, cols, kh, kw), gap, [str(first + r * cols) for r in range(rows)],
                          [f"+{c}" for c in range(cols)]),
                    annotations=[dict(text="grey = 0, brighter = positive weights per colour", showarrow=False,
                                      xref="paper", yref="paper", x=0, y=-0.08, xanchor="left",
                                      font=dict(size=14, color="#555"))]))
    return apply(fig, title, height=_height(rows, cols, kh, kw, title=bool(title)))


def feature_map_grids(maps: Sequence[np.ndarray], labels: Sequence[str] = (), *, channels: Sequence[int] | None = None,
                      per_map_scale: bool = False, title: str = "") -> go.Figure:
    """Feature maps (C, H, W) of one or more images, side by side on one shared colour scale.

    `channels` picks which maps (default: the first 64); hover names the channel, pixel and value.
    """
    maps = [np.asarray(m, np.float32) for m in maps]
    if len(maps) == 1:
        m = maps[0]
        ids = list(range(len(m)) if channels is None else channels)[:MAX_TILES]
        return tile_grid(m[ids], ids, per_map_scale=per_map_scale, title=title, what="channel",
                         value_label="activation")
    ids = list(range(len(maps[0])) if channels is None else channels)[:MAX_TILES // 2]
    chosen = [m[ids] for m in maps]
    rows, cols = grid_shape(len(ids), aspect=2.0, max_cols=8)
    h, w = chosen[0].shape[1:]
    gap = _gap(h)
    shown = [_normalise_each(m) for m in chosen] if per_map_scale else chosen
    scale = _scale(np.stack(shown))
    layout, panels = panel_layout(1, len(maps), hspace=0.06, showgrid=False, zeroline=False, ticks="",
                                  constrain="domain")
    traces, titles = [], []
    xt = [c * (w + gap) + (w - 1) / 2 for c in range(cols)]
    yt = [r * (h + gap) + (h - 1) / 2 for r in range(rows)]
    for k, (m, sm, (xa, ya, xd, yd)) in enumerate(zip(chosen, shown, panels)):
        tiles, info = _tiled(sm, ids, cols)
        raw, _ = _tiled(m, ids, cols)
        custom = np.concatenate([info, raw[..., None]], -1)
        name = labels[k] if labels else ""
        traces.append(go.Heatmap(z=mosaic(tiles, gap), customdata=mosaic(custom, gap), hoverongaps=False,
                                 coloraxis="coloraxis", xaxis=xa, yaxis=ya,
                                 hovertemplate=f"{name} channel %{{customdata[0]}}<br>"
                                               "pixel (%{customdata[1]}, %{customdata[2]})<br>"
                                               "activation %{customdata[3]:.4g}<extra></extra>"))
        layout["xaxis" + xa[1:]].update(tickvals=xt, ticktext=[f"+{c}" for c in range(cols)])
        layout["yaxis" + ya[1:]].update(tickvals=yt, ticktext=[str(ids[r * cols]) for r in range(rows)],
                                        autorange="reversed", scaleanchor=xa)
        if name:
            titles.append(panel_title(name, xd, yd))
    layout.update(annotations=titles, coloraxis=dict(
        colorscale=scale["colorscale"], cmin=scale["zmin"], cmax=scale["zmax"],
        colorbar=dict(title=dict(text="relative" if per_map_scale else "activation", side="right"), **COLORBAR)))
    fig = apply(go.Figure(traces, layout), title, height=_height(rows, cols * len(maps), h, w, title=True))
    fig.update_layout(margin=dict(t=80))  # room for the title above the panel titles
    return fig


def feature_map_grid(maps: np.ndarray, *, channels: Sequence[int] | None = None, per_map_scale: bool = False,
                     title: str = "") -> go.Figure:
    """Feature maps (C, H, W) of one image as a grid with a colour scale (e.g. the first conv layer)."""
    return feature_map_grids([maps], channels=channels, per_map_scale=per_map_scale, title=title)


def activation_vector(vectors: np.ndarray, labels: Sequence[str] = (), unit_names: Sequence[str] | None = None,
                      title: str = "") -> go.Figure:
    """A dense layer's outputs: bars for one image; grouped bars (≤ 32 units) or a heatmap for several.

    vectors: (D,) or (n, D); labels name the images, unit_names the units (e.g. class names).
    """
    v = np.atleast_2d(np.asarray(vectors, np.float32))
    n, d = v.shape
    units = list(unit_names) if unit_names is not None else [str(i) for i in range(d)]
    labels = list(labels) or [f"image {i + 1}" for i in range(n)]
    if n > 1 and d > 32:
        scale = _scale(v)
        fig = go.Figure(go.Heatmap(z=v, x=units, y=labels, **scale, colorbar=dict(**COLORBAR),
                                   hovertemplate="%{y}<br>unit %{x}: %{z:.4g}<extra></extra>"),
                        layout=dict(xaxis=axis("unit", type="category", showgrid=False, nticks=min(d, 24)),
                                    yaxis=axis(autorange="reversed", showgrid=False)))
        return apply(fig, title, height=max(200, 90 + 60 * n))
    bars = [go.Bar(x=units, y=v[i], name=labels[i], marker_color=CLASS_COLORS[i % 10] if n > 1 else
                   np.where(v[i] >= 0, "#1f77b4", "#d62728"),
                   hovertemplate=f"{labels[i]}<br>unit %{{x}}: %{{y:.4g}}<extra></extra>") for i in range(n)]
    fig = go.Figure(bars, layout=dict(barmode="group", bargap=0.15, showlegend=n > 1,
                                      xaxis=axis("unit", type="category", nticks=min(d, 32)),
                                      yaxis=axis("activation")))
    fig = apply(fig, title, height=300)
    fig.update_layout(legend_font_size=TICK_SIZE)
    return fig


def embedding_scatter(coords: np.ndarray, labels: np.ndarray, indices: Sequence[int], classes: Sequence[str],
                      predicted: np.ndarray | None = None, title: str = "", axis_titles: Sequence[str] = ("", ""),
                      uirevision: str | None = None) -> go.Figure:
    """2-D points coloured by true class (one legend entry per class); misclassified points as ✕.

    Hover shows the test-image index, the true and the predicted label.
    """
    coords, labels, indices = np.asarray(coords), np.asarray(labels), np.asarray(indices)
    traces = []
    for k, name in enumerate(classes):
        sel = labels == k
        if not sel.any():
            continue
        pred = predicted[sel] if predicted is not None else np.full(sel.sum(), k)
        wrong = pred != k
        traces.append(go.Scatter(
            x=coords[sel, 0], y=coords[sel, 1], mode="markers", name=str(name),
            marker=dict(color=CLASS_COLORS[k % len(CLASS_COLORS)], size=np.where(wrong, 11, 7),
                        symbol=np.where(wrong, "x", "circle"), line=dict(width=0), opacity=0.85),
            customdata=np.stack([indices[sel], pred], 1),
            text=[str(classes[p]) for p in pred],
            hovertemplate=f"test image #%{{customdata[0]}}<br>true: {name}<br>predicted: %{{text}}<extra></extra>"))
    fig = go.Figure(traces, layout=dict(
        xaxis=axis(axis_titles[0], showticklabels=bool(axis_titles[0]), zeroline=False),
        yaxis=axis(axis_titles[1], showticklabels=bool(axis_titles[1]), zeroline=False)))
    fig = apply(fig, title, height=560, uirevision=uirevision)
    fig.update_layout(legend=dict(orientation="v", y=1, x=1.01, yanchor="top", title=dict(text="true class"),
                                  font=dict(size=TICK_SIZE)))
    return fig
