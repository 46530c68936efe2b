"""Image grids as figures: a class-by-class sample grid, a prediction strip, a gallery.

Every builder is one `image_grid` call: the images are tiled into one mosaic (sent as a
small PNG, drawn pixelated so digits stay crisp on a projector), with optional coloured
frames (green right / red wrong), captions under each tile, row labels and a hover text
per tile. Images come in as arrays: (N, H, W), (N, C, H, W) or (N, H, W, C) with C in
{1, 3}, floats in [0, 1] or uint8.
"""
from __future__ import annotations

import base64
import io
from typing import Sequence

import numpy as np
import plotly.graph_objects as go
from PIL import Image

from nnviz.figures.style import apply

RIGHT, WRONG = "#2ca02c", "#d62728"
BACKGROUND = (255, 255, 255)


def to_rgb_uint8(images: np.ndarray) -> np.ndarray:
    """Any supported image batch -> (N, H, W, 3) uint8."""
    x = np.asarray(images)
    if x.ndim == 3:  # (N, H, W)
        x = x[..., None]
    elif x.ndim == 4 and x.shape[1] in (1, 3) and x.shape[-1] not in (1, 3):  # (N, C, H, W)
        x = x.transpose(0, 2, 3, 1)
    if x.ndim != 4 or x.shape[-1] not in (1, 3):
        raise ValueError(f"expected images (N, H, W), (N, C, H, W) or (N, H, W, C); got shape {images.shape}")
    if x.dtype != np.uint8:
        x = (np.clip(x.astype(np.float32), 0, 1) * 255).round().astype(np.uint8)
    return np.repeat(x, 3, axis=-1) if x.shape[-1] == 1 else x


def _hex_rgb(color: str) -> tuple[int, int, int]:
    color = color.lstrip("#")
    return int(color[0:2], 16), int(color[2:4], 16), int(color[4:6], 16)


def png_uri(mosaic: np.ndarray) -> str:
    """An (H, W, 3) uint8 image as a PNG data URI."""
    buf = io.BytesIO()
    Image.fromarray(mosaic).save(buf, format="PNG", optimize=False)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def image_grid(images: np.ndarray, ncols: int = 10, *, captions: Sequence[str] | None = None,
               borders: Sequence[str | None] | None = None, caption_colors: Sequence[str] | None = None,
               row_labels: Sequence[str] | None = None, col_labels: Sequence[str] | None = None,
               hover: Sequence[str] | None = None,
               tile_px: int = 56, title: str = "", caption_lines: int = 1) -> go.Figure:
    """Images tiled `ncols` per row into one figure.

    `borders`: a colour (or None) per image, drawn as a frame; `captions`: text under
    each tile (`caption_lines` lines, '<br>' separated); `row_labels` / `col_labels`: one
    label per row (left) / column (top); `hover`: a text per tile. `tile_px` is the
    on-screen size of one image.
    """
    rgb = to_rgb_uint8(images)
    n, h, w, _ = rgb.shape
    ncols = max(1, min(ncols, n)) if n else 1
    nrows = max(1, -(-n // ncols))
    frame = max(1, round(h / 14)) if borders is not None else 0  # 2 px on a 28 px digit
    gap = max(1, round(h / 10))
    scale = tile_px / h  # screen pixels per image pixel
    font = max(9, min(12, tile_px // 5))
    cap = round((caption_lines * (font + 3) + 4) / scale) if captions is not None else 0  # in image pixels
    cell_h, cell_w = h + 2 * frame + gap + cap, w + 2 * frame + gap
    mosaic = np.full((nrows * cell_h, ncols * cell_w, 3), BACKGROUND, dtype=np.uint8)
    centers = []
    for i in range(n):
        r, c = divmod(i, ncols)
        top, left = r * cell_h, c * cell_w
        if frame and borders[i]:
            mosaic[top:top + h + 2 * frame, left:left + w + 2 * frame] = _hex_rgb(borders[i])
        mosaic[top + frame:top + frame + h, left + frame:left + frame + w] = rgb[i]
        centers.append((left + frame + w / 2, top + frame + h / 2))
    fig = go.Figure(go.Image(source=png_uri(mosaic), hoverinfo="skip"))
    if n and hover is not None:
        xs, ys = zip(*centers)
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="markers", marker=dict(size=tile_px * 0.8, opacity=0),
                                 hovertext=list(hover), hoverinfo="text", showlegend=False))
    if n and captions is not None:
        xs = [x for x, _ in centers]
        ys = [y + h / 2 + frame + cap / 2 for _, y in centers]
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="text", text=list(captions), showlegend=False, hoverinfo="skip",
                                 textfont=dict(size=font, color=list(caption_colors) if caption_colors else "#333")))
    # Square pixels, the mosaic pinned top-left (not centred in a wide container).
    fig.update_xaxes(visible=col_labels is not None, range=[0, ncols * cell_w], fixedrange=True, constrain="domain",
                     constraintoward="left", showgrid=False, zeroline=False)
    fig.update_yaxes(visible=row_labels is not None, range=[nrows * cell_h, 0], fixedrange=True, showgrid=False,
                     zeroline=False, scaleanchor="x", constrain="domain", constraintoward="top")
    if row_labels is not None:
        fig.update_yaxes(tickvals=[r * cell_h + frame + h / 2 for r in range(nrows)],
                         ticktext=list(row_labels)[:nrows], ticks="", tickfont=dict(size=13))
    if col_labels is not None:
        fig.update_xaxes(side="top", tickvals=[c * cell_w + frame + w / 2 for c in range(ncols)],
                         ticktext=list(col_labels)[:ncols], ticks="", tickfont=dict(size=12))
    left = 110 if row_labels is not None else 5
    top = (40 if title else 5) + (25 if col_labels is not None else 0)
    fig = apply(fig, title, height=int(nrows * cell_h * scale) + top + 5)
    fig.update_layout(margin=dict(l=left, r=5, t=top, b=5), hovermode="closest",
                      plot_bgcolor="white", dragmode=False)
    return fig


def class_grid(images: np.ndarray, labels: Sequence[int], classes: Sequence[str], per_class: int = 4,
               tile_px: int = 48, title: str = "") -> go.Figure:
    """One column per class (named on top) with its first `per_class` images (blank where a class has fewer)."""
    labels = np.asarray(labels)
    rgb = to_rgb_uint8(images)
    blank = np.full(rgb.shape[1:], 255, dtype=np.uint8)
    columns = [np.flatnonzero(labels == c)[:per_class] for c in range(len(classes))]
    tiles, hover = [], []
    for j in range(per_class):  # row-major: row j holds the j-th image of every class
        for c, idx in enumerate(columns):
            tiles.append(rgb[idx[j]] if j < len(idx) else blank)
            hover.append(f"{classes[c]} (#{idx[j]})" if j < len(idx) else "")
    grid = np.stack(tiles) if tiles else np.zeros((0, *rgb.shape[1:]), dtype=np.uint8)
    return image_grid(grid, len(classes), col_labels=[_short(c) for c in classes], hover=hover,
                      tile_px=tile_px, title=title)


def prediction_strip(images: np.ndarray, true: Sequence[int], pred: Sequence[int], conf: Sequence[float],
                     classes: Sequence[str], ncols: int = 20, tile_px: int = 52, title: str = "") -> go.Figure:
    """Test images framed green (right) or red (wrong), each captioned with its current prediction."""
    ok = [int(p) == int(t) for t, p in zip(true, pred)]
    colors = [RIGHT if good else WRONG for good in ok]
    captions = [f"{_short(classes[p])}<br>{c:.0%}" for p, c in zip(pred, conf)]
    hover = [f"true: {classes[t]}<br>predicted: {classes[p]} ({c:.1%})" for t, p, c in zip(true, pred, conf)]
    return image_grid(images, ncols, captions=captions, borders=colors, caption_colors=colors, hover=hover,
                      tile_px=tile_px, title=title, caption_lines=2)


def gallery(images: np.ndarray, true: Sequence[int], pred: Sequence[int], conf: Sequence[float],
            classes: Sequence[str], indices: Sequence[int] | None = None, ncols: int = 10,
            tile_px: int = 64, title: str = "") -> go.Figure:
    """Misclassified (or any) images captioned 'true → predicted' and the confidence."""
    indices = list(indices) if indices is not None else list(range(len(true)))
    colors = [RIGHT if int(p) == int(t) else WRONG for t, p in zip(true, pred)]
    captions = [f"{_short(classes[t])}<br>→ {_short(classes[p])}<br>{c:.0%}" for t, p, c in zip(true, pred, conf)]
    hover = [f"test image #{i}<br>true: {classes[t]}<br>predicted: {classes[p]} ({c:.1%})"
             for i, t, p, c in zip(indices, true, pred, conf)]
    return image_grid(images, ncols, captions=captions, borders=colors, caption_colors=colors, hover=hover,
                      tile_px=tile_px, title=title, caption_lines=3)


def _short(name: str, n: int = 8) -> str:
    """Class names fit under a tile: 'T-shirt/top' -> 'T-shirt'."""
    name = name.split("/")[0]
    return name if len(name) <= n else name[: n - 1] + "…"
