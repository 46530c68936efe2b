"""The preprocessing steps of a drawing as one strip of small images (pure: arrays in, go.Figure out).

Every step becomes a square tile: small images are enlarged with nearest-neighbour so
single pixels stay visible on a projector, large ones are reduced; the aspect ratio is
kept (letterboxed on light grey). The tiles are sent as one small PNG, like
nnviz.figures.images, so the strip costs a few milliseconds per redraw.
"""
from __future__ import annotations

import base64
import io
from typing import Mapping

import numpy as np
import plotly.graph_objects as go
from PIL import Image

from nnviz.figures.style import FONT_SIZE

TILE = 120  # px of one tile in the PNG (and about on screen)
GAP = 22  # px between tiles (room for the captions)
CAPTION = 46  # px under each tile for two caption lines
LETTERBOX = (150, 156, 166)  # mid grey: both white paper and a black 28x28 input keep a visible edge


def _display(image: np.ndarray) -> tuple[np.ndarray, str]:
    """A step's array -> uint8 (h, w, 3) for display and a size / range note.

    Values outside [0, 1] (the normalised input) are rescaled from their own range.
    """
    a = np.nan_to_num(np.asarray(image, np.float32))
    h, w = a.shape[:2]
    note = f"{w}×{h}"
    lo, hi = float(a.min()), float(a.max())
    if lo < -1e-6 or hi > 1 + 1e-6:
        note = f"{lo:.2f} … {hi:.2f}"
        a = (a - lo) / (hi - lo) if hi > lo else np.zeros_like(a)
    u8 = (np.clip(a, 0, 1) * 255).round().astype(np.uint8)
    return (np.repeat(u8[..., None], 3, 2) if u8.ndim == 2 else u8), note


def _tile(rgb: np.ndarray, size: int) -> np.ndarray:
    h, w = rgb.shape[:2]
    scale = size / max(h, w)
    new = (max(1, round(w * scale)), max(1, round(h * scale)))
    resample = Image.Resampling.NEAREST if scale >= 1 else Image.Resampling.BOX
    small = np.asarray(Image.fromarray(rgb).resize(new, resample))
    out = np.full((size, size, 3), LETTERBOX, np.uint8)
    top, left = (size - new[1]) // 2, (size - new[0]) // 2
    out[top:top + new[1], left:left + new[0]] = small
    return out


def steps_strip(steps: Mapping[str, np.ndarray], title: str = "", tile: int = TILE) -> go.Figure:
    """One tile per step, left to right, captioned with the step's name and its size (or value range)."""
    names = list(steps)
    n = max(1, len(names))
    width = n * tile + (n - 1) * GAP
    mosaic = np.full((tile, width, 3), 255, np.uint8)
    notes = []
    for i, name in enumerate(names):
        rgb, note = _display(steps[name])
        mosaic[:, i * (tile + GAP):i * (tile + GAP) + tile] = _tile(rgb, tile)
        notes.append(note)
    buf = io.BytesIO()
    Image.fromarray(mosaic).save(buf, format="PNG", compress_level=1)
    uri = "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")
    captions = [dict(x=i * (tile + GAP) + tile / 2, y=tile + 6, text=f"<b>{i + 1}. {name}</b><br>{note}",
                     showarrow=False, yanchor="top", font=dict(size=14, color="#333"))
                for i, (name, note) in enumerate(zip(names, notes))]
    # The house style's `apply` sets template="plotly_white", which plotly deep-copies (~10 ms per figure):
    # this strip has no axes or grid for a template to style, so it sets its few layout values itself.
    return go.Figure(go.Image(source=uri, hoverinfo="skip"), layout=dict(
        template="none", annotations=captions, dragmode=False, plot_bgcolor="white", paper_bgcolor="white",
        title=dict(text=title) if title else None, font=dict(size=FONT_SIZE),
        height=tile + CAPTION + (45 if title else 10),
        margin=dict(l=0, r=0, t=40 if title else 5, b=5),
        xaxis=dict(visible=False, range=[0, width], fixedrange=True, constrain="domain", constraintoward="left"),
        yaxis=dict(visible=False, range=[tile + CAPTION, 0], fixedrange=True, scaleanchor="x", constrain="domain",
                   constraintoward="top")))
