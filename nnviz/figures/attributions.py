"""Attribution maps as figures: heatmap, overlay on the image, methods × images grid, sanity-check pairs.

Pure builders: numpy arrays in, `go.Figure` out. Images are (H, W) grayscale or
(H, W, 3) RGB in [0, 1]; maps are (H, W) attributions (channels already summed). Signed
maps use a diverging scale centred on 0 (red raises the class score, blue lowers it);
positive / negative / absolute views use sequential scales. Colour limits are robust
(a high percentile of |map|), so one extreme pixel does not wash out the rest.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from nnviz.figures.style import FONT_SIZE, apply

SIGNS = {
    "all": "Signed (red: for the class, blue: against)",
    "positive": "Positive only",
    "negative": "Negative only",
    "absolute": "Absolute value",
}
WIDTH_HINT = 820  # px: the main column of a wide page at 1280x720 (the sidebar takes the rest)
PERCENTILE = 99.5  # colour limit: ignores the 0.5% most extreme pixels
_RED, _BLUE, _ORANGE = (178, 24, 43), (33, 102, 172), (230, 85, 13)
_OPAQUE = {
    "all": [[0.0, "#2166ac"], [0.25, "#92c5de"], [0.5, "#f7f7f7"], [0.75, "#f4a582"], [1.0, "#b2182b"]],
    "positive": [[0.0, "#fff5f0"], [0.5, "#fb6a4a"], [1.0, "#67000d"]],
    "negative": [[0.0, "#f7fbff"], [0.5, "#6baed6"], [1.0, "#08306b"]],
    "absolute": [[0.0, "#000004"], [0.35, "#781c6d"], [0.7, "#ed6925"], [1.0, "#fcffa4"]],
}


def _rgba(rgb: tuple[int, int, int], alpha: float) -> str:
    return f"rgba({rgb[0]},{rgb[1]},{rgb[2]},{alpha})"


_SEE_THROUGH = {  # overlays: zero attribution is fully transparent, so the image shows through
    "all": [[0.0, _rgba(_BLUE, 1)], [0.5, _rgba(_BLUE, 0)], [0.5, _rgba(_RED, 0)], [1.0, _rgba(_RED, 1)]],
    "positive": [[0.0, _rgba(_RED, 0)], [1.0, _rgba(_RED, 1)]],
    "negative": [[0.0, _rgba(_BLUE, 0)], [1.0, _rgba(_BLUE, 1)]],
    "absolute": [[0.0, _rgba(_ORANGE, 0)], [1.0, _rgba(_ORANGE, 1)]],
}


def signed(attr: np.ndarray, sign: str = "all") -> np.ndarray:
    """The part of a map a SIGNS view shows: all, max(a, 0), max(-a, 0) (as magnitudes) or |a|."""
    a = np.nan_to_num(np.asarray(attr, dtype=np.float64))
    if sign == "all":
        return a
    if sign == "positive":
        return np.maximum(a, 0)
    if sign == "negative":
        return np.maximum(-a, 0)
    if sign == "absolute":
        return np.abs(a)
    raise ValueError(f"unknown sign view {sign!r}; choose from {', '.join(SIGNS)}")


def color_limit(values: np.ndarray, percentile: float = PERCENTILE) -> float:
    """A robust max |value| for the colour scale; 1 for an all-zero map (so it draws as 'nothing')."""
    v = np.abs(np.asarray(values, dtype=np.float64)).ravel()
    limit = float(np.percentile(v, percentile)) if v.size else 0.0
    if limit <= 0:
        limit = float(v.max()) if v.size else 0.0
    return limit if limit > 0 else 1.0


def colorscale(sign: str, overlay: bool = False) -> list:
    """Diverging (signed) or sequential colour scale; see-through at zero for overlays."""
    return (_SEE_THROUGH if overlay else _OPAQUE)[sign]


def _colorbar(title: str, side: str = "top", **kw) -> dict:
    return dict(title=dict(text=title, side=side, font_size=FONT_SIZE - 2), thickness=14, **kw)


def _range(sign: str, limit: float) -> tuple[float, float]:
    return (-limit, limit) if sign == "all" else (0.0, limit)


DIM = 0.6  # under an overlay the image is darkened, so light strokes do not wash out the colours


def _image_trace(image: np.ndarray, dim: float = 1.0) -> go.BaseTraceType:
    img = np.clip(np.asarray(image, dtype=np.float64), 0, 1) * dim
    if img.ndim == 3:
        return go.Image(z=(img * 255).astype(np.uint8), hoverinfo="skip")
    return go.Heatmap(z=img, colorscale="gray", zmin=0, zmax=1, showscale=False, hoverinfo="skip")


def _image_axes(fig: go.Figure) -> None:
    """Pixels square, row 0 on top, no ticks: in every subplot."""
    fig.update_xaxes(visible=False, constrain="domain")
    fig.update_yaxes(visible=False, autorange="reversed", constrain="domain")
    for name in [k for k in fig.layout if k.startswith("yaxis")]:
        fig.layout[name].scaleanchor = "x" + name[5:]


def attribution_heatmap(attr: np.ndarray, sign: str = "all", title: str = "", height: int = 360,
                        limit: float | None = None) -> go.Figure:
    """One (H, W) map as a heatmap with its raw values (hover) and a colour bar; `limit` fixes the colour
    scale (a replay's frames compare; beyond it colours saturate), else the map's own robust maximum."""
    values = signed(attr, sign)
    zmin, zmax = _range(sign, limit or color_limit(values))
    fig = go.Figure(go.Heatmap(z=values, colorscale=colorscale(sign), zmin=zmin, zmax=zmax,
                               colorbar=_colorbar("attribution"),
                               hovertemplate="x %{x}, y %{y}<br>attribution %{z:.3g}<extra></extra>"))
    _image_axes(fig)
    return _tight(apply(fig, title, height=height), title)


def attribution_overlay(image: np.ndarray, attr: np.ndarray, sign: str = "all", opacity: float = 0.7,
                        title: str = "", height: int = 360, limit: float | None = None) -> go.Figure:
    """The map laid over the image: zero is see-through, `opacity` (0-1) sets how strongly the map covers it;
    `limit` as in `attribution_heatmap`."""
    values = signed(attr, sign)
    zmin, zmax = _range(sign, limit or color_limit(values))
    fig = go.Figure([_image_trace(image, DIM),
                     go.Heatmap(z=values, colorscale=colorscale(sign, overlay=True), zmin=zmin, zmax=zmax,
                                opacity=float(opacity), colorbar=_colorbar("attribution"),
                                hovertemplate="x %{x}, y %{y}<br>attribution %{z:.3g}<extra></extra>")])
    _image_axes(fig)
    return _tight(apply(fig, title, height=height), title)


def _tight(fig: go.Figure, title: str) -> go.Figure:
    fig.update_layout(margin=dict(l=10, r=10, t=50 if title else 10, b=10))
    return fig


@dataclass(frozen=True)
class Cell:
    """One panel of a grid: a title, the image (or None), a map (or None), and the group of maps it shares
    a colour scale with (maps in the same units: one method's; None: its own scale)."""

    title: str = ""
    image: np.ndarray | None = None
    attr: np.ndarray | None = None
    group: object = None


def _limits(cells: Sequence[Cell], sign: str, shared: bool) -> list[float]:
    """Each cell's colour limit: its own robust maximum, or (`shared`) the largest of its group's."""
    own = [color_limit(signed(c.attr, sign)) if c.attr is not None else 1.0 for c in cells]
    if not shared:
        return own
    top: dict[object, float] = {}
    for c, limit in zip(cells, own):
        if c.attr is not None and c.group is not None:
            top[c.group] = max(top.get(c.group, 0.0), limit)
    return [top.get(c.group, limit) if c.group is not None else limit for c, limit in zip(cells, own)]


def panel_grid(cells: Sequence[Cell], ncols: int, sign: str = "all", overlay: bool = False, opacity: float = 0.7,
               row_labels: Sequence[str] = (), title: str = "", cell_px: int = 170,
               width_hint: int = WIDTH_HINT, shared: bool = True) -> go.Figure:
    """Cells in rows of `ncols`; each map is scaled to a robust maximum (-1..1 or 0..1): its group's
    when `shared` (maps in the same units then compare in strength), else its own.

    Maps share one colour bar of *relative* attribution: methods differ in units by
    orders of magnitude, so maps of different methods never share a scale. The height is
    set so that square cells of at most `cell_px` fill a chart about `width_hint` px wide.
    """
    ncols = max(1, min(ncols, len(cells)))
    nrows = max(1, -(-len(cells) // ncols))
    title_px = 26 if any(c.title for c in cells) else 0
    left = 16 + int(8.5 * max(len(s) for s in row_labels)) if row_labels else 10
    gap, bar = 8, 90  # px between cells; the colour bar and its labels
    cell = max(60.0, min(cell_px, (width_hint - left - bar - gap * (ncols - 1)) / ncols))
    plot_h = nrows * cell + (nrows - 1) * (gap + title_px)
    fig = make_subplots(rows=nrows, cols=ncols, subplot_titles=[c.title for c in cells],
                        horizontal_spacing=gap / max(200, width_hint - left - bar),
                        vertical_spacing=(gap + title_px) / plot_h if nrows > 1 else 0.0)
    limits = _limits(cells, sign, shared)
    for i, cell_ in enumerate(cells):
        row, col = i // ncols + 1, i % ncols + 1
        if cell_.image is not None and (cell_.attr is None or overlay):
            fig.add_trace(_image_trace(cell_.image, DIM if cell_.attr is not None else 1.0), row=row, col=col)
        if cell_.attr is not None:
            values = signed(cell_.attr, sign)
            fig.add_trace(go.Heatmap(z=np.clip(values / limits[i], -1, 1), coloraxis="coloraxis",
                                     opacity=float(opacity) if overlay else 1.0,
                                     hovertemplate="x %{x}, y %{y}<br>relative %{z:.2f}<extra></extra>"),
                          row=row, col=col)
    cmin, cmax = _range(sign, 1.0)
    fig.update_layout(coloraxis=dict(colorscale=colorscale(sign, overlay), cmin=cmin, cmax=cmax,
                                     colorbar=_colorbar("relative attribution", side="right",
                                                        len=1.0 if nrows > 1 else 1.15)))
    fig.update_annotations(font_size=FONT_SIZE - 1)
    for r, label in enumerate(row_labels, start=1):
        axis = fig.layout["yaxis" if r == 1 else f"yaxis{(r - 1) * ncols + 1}"]
        fig.add_annotation(text=f"<b>{label}</b>", xref="paper", yref="paper", x=0, xanchor="right", xshift=-8,
                           y=sum(axis.domain) / 2, showarrow=False, font_size=FONT_SIZE - 1)
    _image_axes(fig)
    top = (45 if title else 8) + title_px
    apply(fig, title, height=int(top + plot_h + 12))
    fig.update_layout(margin=dict(l=left, r=10, t=top, b=12))
    return fig


def attribution_grid(images: np.ndarray, maps: np.ndarray, method_titles: Sequence[str],
                     image_titles: Sequence[str], sign: str = "all", overlay: bool = False, opacity: float = 0.7,
                     title: str = "", max_cols: int = 6, shared: bool = True) -> go.Figure:
    """Methods × images: `maps` (M, N, H, W) for `images` (N, H, W[, 3]).

    One image: a single row (input, then one panel per method). Several: the inputs on
    top, then a row per method, labelled on the left; `shared`: one colour scale per method.
    """
    maps = np.asarray(maps)
    m, n = maps.shape[:2]
    if n == 1:
        cells = [Cell(image_titles[0], images[0])] + [Cell(method_titles[j], images[0], maps[j, 0]) for j in range(m)]
        return panel_grid(cells, min(len(cells), max_cols), sign, overlay, opacity, title=title)
    cells = [Cell(image_titles[i], images[i]) for i in range(n)]
    cells += [Cell("", images[i], maps[j, i], group=j) for j in range(m) for i in range(n)]
    return panel_grid(cells, n, sign, overlay, opacity, row_labels=["input", *method_titles], title=title,
                      shared=shared)


def target_strip(image: np.ndarray, maps: np.ndarray, target_titles: Sequence[str], sign: str = "all",
                 overlay: bool = False, opacity: float = 0.7, title: str = "", ncols: int = 6,
                 shared: bool = True) -> go.Figure:
    """One image explained towards every class: `maps` (K, H, W), one panel per target (`shared`: one scale)."""
    cells = [Cell("input", image)] + [Cell(t, image, a, group="targets") for t, a in zip(target_titles, maps)]
    return panel_grid(cells, ncols, sign, overlay, opacity, title=title, cell_px=150, shared=shared)


def sanity_pair(images: np.ndarray, trained: np.ndarray, randomized: np.ndarray, correlations: Sequence[float],
                sign: str = "all", overlay: bool = False, opacity: float = 0.7, image_titles: Sequence[str] = (),
                title: str = "", shared: bool = True) -> go.Figure:
    """Per image: input | map of the trained model | map of the randomised model (with the rank correlation);
    `shared`: the two maps of an image on one scale."""
    cells = []
    for i, (img, a, b, rho) in enumerate(zip(images, trained, randomized, correlations)):
        name = image_titles[i] if i < len(image_titles) else "input"
        rho_text = "ρ undefined (flat map)" if not np.isfinite(rho) else f"ρ = {rho:.2f}"
        cells += [Cell(name, img), Cell("trained weights", img, a, group=i),
                  Cell(f"random weights · {rho_text}", img, b, group=i)]
    return panel_grid(cells, 3, sign, overlay, opacity, title=title, cell_px=190, shared=shared)
