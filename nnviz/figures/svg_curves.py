"""Training curves as a small static SVG: the live view's charts while a run trains.

A plotly chart that changes costs the browser ~45 ms to redraw on a 2-core laptop, and the live
view redraws its curves every refresh while the run trains on the same cores. The same curves
as an SVG image cost it a few ms. After training, the results use the interactive plotly
figures (nnviz.figures.curves), in the same colours and type.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from html import escape
from typing import Sequence

from nnviz.figures.curves import ema
from nnviz.figures.style import FONT_SIZE, SPLIT_COLORS, log_ticks, nice_ticks

WIDTH, HEIGHT = 480, 300  # about the size a half-width column shows it at, so the type stays readable
LEFT, RIGHT, TOP, BOTTOM = 58, 12, 60, 44  # plot area margins: tick labels, title and legend, axis title
GRID, AXIS_TEXT = "#e5e9f0", "#444"
MAX_MARKERS = 60  # epochs drawn with dots up to this many


@dataclass(frozen=True)
class Series:
    name: str
    xs: Sequence[float]
    ys: Sequence[float]
    color: str
    width: float = 2.5
    dash: str = ""  # SVG stroke-dasharray
    opacity: float = 1.0
    markers: bool = False


def training_curves_svg(epochs: Sequence[dict], metric: str, total_epochs: int,
                        batch_losses: Sequence[tuple[float, float]] = (), splits: Sequence[str] = ("train", "val"),
                        title: str = "", smoothing: float = 0.6) -> str:
    """The live counterpart of figures.classification.training_curves: per-epoch splits, and for
    the loss the raw and smoothed batch losses; log axis for loss, 0-100 % for accuracy."""
    series: list[Series] = []
    if metric == "loss":
        pts = [(x, y) for x, y in batch_losses if math.isfinite(y) and y > 0]
        if pts:
            xs, ys = zip(*pts)
            series.append(Series("train (batches)", xs, ys, SPLIT_COLORS["train"], width=1, opacity=0.25))
            series.append(Series("train (smoothed)", xs, ema(list(ys), smoothing), SPLIT_COLORS["train"], width=1.5,
                                 dash="2 4"))
    for split in splits:
        key = f"{split}_{metric}"
        pts = [(r["epoch"], r[key]) for r in epochs
               if r.get(key) is not None and math.isfinite(r[key]) and (metric != "loss" or r[key] > 0)]
        if pts:
            xs, ys = zip(*pts)
            series.append(Series(split, xs, ys, SPLIT_COLORS.get(split, "#555"), markers=len(xs) <= MAX_MARKERS))
    if metric == "acc":
        return curves_svg(series, total_epochs, title=title, y_title="accuracy", y_range=(0.0, 1.02), percent=True)
    return curves_svg(series, total_epochs, title=title, y_title=metric, log_y=metric == "loss")


def curves_svg(series: Sequence[Series], x_max: float, *, title: str = "", y_title: str = "",
               y_range: tuple[float, float] | None = None, log_y: bool = False, percent: bool = False) -> str:
    """Lines over x in [0, x_max] as an SVG document (a fixed 480 x 300 canvas, scaled to its box)."""
    x_max = max(float(x_max), 1.0)
    values = [y for s in series for y in s.ys if math.isfinite(y) and (y > 0 or not log_y)]
    lo, hi = y_range if y_range else _data_range(values, log_y)
    ticks = log_ticks(lo, hi) if log_y else nice_ticks(lo, hi)
    if log_y:
        lo, hi = min(lo, ticks[0]), max(hi, ticks[-1])
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def px(x: float) -> float:
        return LEFT + plot_w * x / x_max

    def py(y: float) -> float:
        a, b, v = (math.log10(lo), math.log10(hi), math.log10(y)) if log_y else (lo, hi, y)
        return TOP + plot_h * (1 - (v - a) / ((b - a) or 1.0))

    small = FONT_SIZE - 1
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
           f'font-family="Open Sans, Verdana, Arial, sans-serif" font-size="{small}">',
           f'<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>']
    for y in ticks:
        out.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{py(y):.1f}" y2="{py(y):.1f}" stroke="{GRID}"/>')
        out.append(f'<text x="{LEFT - 6}" y="{py(y) + 4:.1f}" text-anchor="end" fill="{AXIS_TEXT}">'
                   f'{_label(y, percent)}</text>')
    for x in nice_ticks(0.0, x_max, integer=True):
        out.append(f'<line x1="{px(x):.1f}" x2="{px(x):.1f}" y1="{TOP}" y2="{TOP + plot_h}" stroke="{GRID}"/>')
        out.append(f'<text x="{px(x):.1f}" y="{TOP + plot_h + 18}" text-anchor="middle" fill="{AXIS_TEXT}">'
                   f'{x:g}</text>')
    out.append(f'<text x="{LEFT + plot_w / 2:.0f}" y="{HEIGHT - 6}" text-anchor="middle" fill="{AXIS_TEXT}">epoch</text>')
    if y_title:
        out.append(f'<text transform="translate(14 {TOP + plot_h / 2:.0f}) rotate(-90)" text-anchor="middle" '
                   f'fill="{AXIS_TEXT}">{escape(y_title)}</text>')
    out.append(f'<clipPath id="plot"><rect x="{LEFT}" y="{TOP - 4}" width="{plot_w}" height="{plot_h + 8}"/></clipPath>'
               '<g clip-path="url(#plot)">')
    for s in series:
        pts = [(px(x), py(y)) for x, y in zip(s.xs, s.ys) if math.isfinite(y) and (y > 0 or not log_y)]
        if not pts:
            continue
        dash = f' stroke-dasharray="{s.dash}"' if s.dash else ""
        out.append(f'<polyline fill="none" stroke="{s.color}" stroke-width="{s.width}" stroke-opacity="{s.opacity}" '
                   f'stroke-linejoin="round"{dash} points="{" ".join(f"{a:.1f},{b:.1f}" for a, b in pts)}"/>')
        if s.markers:
            out.extend(f'<circle cx="{a:.1f}" cy="{b:.1f}" r="3.5" fill="{s.color}"/>' for a, b in pts)
    out.append("</g>")
    out.extend(_legend([s for s in series if s.opacity >= 0.5]))
    if title:
        out.append(f'<text x="6" y="20" font-size="{FONT_SIZE + 2}" fill="#222">{escape(title)}</text>')
    out.append("</svg>")
    return "".join(out)


def _legend(series: Sequence[Series]) -> list[str]:
    out, x = [], float(LEFT)
    for s in series:
        dash = f' stroke-dasharray="{s.dash}"' if s.dash else ""
        out.append(f'<line x1="{x:.0f}" x2="{x + 22:.0f}" y1="40" y2="40" stroke="{s.color}" stroke-width="{s.width}"{dash}/>')
        out.append(f'<text x="{x + 28:.0f}" y="45" fill="{AXIS_TEXT}">{escape(s.name)}</text>')
        x += 42 + 7.8 * len(s.name)
    return out


def _data_range(values: Sequence[float], log_y: bool) -> tuple[float, float]:
    if not values:
        return (0.1, 10.0) if log_y else (0.0, 1.0)
    lo, hi = min(values), max(values)
    if log_y:
        return (lo / 1.15, hi * 1.15) if hi > lo else (lo / 2, hi * 2)
    pad = (hi - lo) * 0.05 or abs(hi) * 0.1 or 1.0
    return lo - pad, hi + pad


def _label(y: float, percent: bool) -> str:
    return f"{y:.0%}" if percent else f"{y:g}"
