"""The house look of every figure: readable on a projector at 1280x720."""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio

SPLIT_COLORS = {"train": "#1f77b4", "val": "#ff7f0e", "test": "#2ca02c"}
FONT_SIZE = 15  # readable from the back row


TEMPLATE = "plotly_white"
# Every figure gets the template as plotly's default, which go.Figure() attaches without
# re-validating it; passing it to update_layout deep-copies and validates the whole template
# (~40 ms a figure on a busy 2-core CPU: most of a Draw & predict rerun).
pio.templates.default = TEMPLATE


def apply(fig: go.Figure, title: str = "", height: int = 360, uirevision: str | None = None) -> go.Figure:
    """Common layout: title, font, margins, legend on top; `uirevision` keeps the user's zoom."""
    if fig.layout.template.layout.plot_bgcolor != pio.templates[TEMPLATE].layout.plot_bgcolor:
        fig.update_layout(template=TEMPLATE)  # a figure built before this module was imported
    fig.update_layout(title=title or None, height=height, font=dict(size=FONT_SIZE),
                      margin=dict(l=50, r=20, t=50 if title else 20, b=45),
                      legend=dict(orientation="h", yanchor="bottom", y=1.02, x=0))
    if uirevision is not None:
        fig.update_layout(uirevision=uirevision)
    _label_log_axes(fig)
    return fig


def nice_ticks(lo: float, hi: float, target: int = 5, integer: bool = False) -> list[float]:
    """Round ticks (1, 2, 2.5 or 5 x 10^k apart) covering [lo, hi]."""
    span = (hi - lo) or 1.0
    raw = span / target
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    if integer:
        step = max(1.0, round(step))
    first = math.ceil(lo / step - 1e-9) * step
    return [round(first + i * step, 10) for i in range(int((hi - first) / step + 1e-9) + 1)]


def log_ticks(lo: float, hi: float) -> list[float]:
    """Ticks for a log axis showing [lo, hi], to be labelled in full ('0.2', not plotly's bare '2').

    1-2-5 in each decade (decades alone where that makes over 9), a tick on either side of the data
    included; a range too narrow to hold two of them gets 1-9 in each decade, then round linear steps.
    Plotly's own ticks there are 0.3, 0.4 ... 0.9, 1, which overlap at projector size.
    """
    if not (0 < lo <= hi) or not math.isfinite(hi):
        return []
    if hi < lo * 1.1:  # one value, or nearly: ticks around it
        lo, hi = lo / 1.5, hi * 1.5
    decades = range(math.floor(math.log10(lo)), math.ceil(math.log10(hi)) + 1)

    def near(mantissas: Sequence[int]) -> list[float]:
        return [t for t in (float(f"{m}e{e}") for e in decades for m in mantissas) if lo / 1.5 <= t <= hi * 1.5]

    ticks = near((1, 2, 5))
    if len(ticks) > 9:
        ticks = near((1,))
    for candidates in (ticks, near(range(1, 10))):
        if sum(lo <= t <= hi for t in candidates) >= 2:
            return candidates
    return [t for t in nice_ticks(lo, hi) if t > 0] or [float(f"{lo:.3g}")]


def _label_log_axes(fig: go.Figure) -> None:
    """Give every log axis without ticks of its own the `log_ticks` of the data drawn on it."""
    for axis in [*fig.select_xaxes(), *fig.select_yaxes()]:
        if axis.type != "log" or axis.tickvals is not None:
            continue
        letter, ref = axis.plotly_name[0], axis.plotly_name[0] + axis.plotly_name[5:]  # 'yaxis2' is the traces' 'y2'
        values = [np.asarray(getattr(t, letter), dtype=float).ravel() for t in fig.data
                  if getattr(t, letter, None) is not None and (getattr(t, f"{letter}axis", None) or letter) == ref]
        drawn = np.concatenate(values) if values else np.empty(0)
        drawn = drawn[np.isfinite(drawn) & (drawn > 0)]
        if drawn.size:
            ticks = log_ticks(float(drawn.min()), float(drawn.max()))
            axis.update(tickvals=ticks, ticktext=[f"{t:g}" for t in ticks])


# --- projector scale ------------------------------------------------------------------------------
PROJECTOR_FONT = 20  # body text of a figure in presenter view
PROJECTOR_TICKS = 18  # tick labels, legends, hover boxes: the smallest text a back row must read
LEGEND_ROW_ENTRIES = 3  # legend entries that still fit in one row above a half-width plot at projector size


def _at_least(font: dict | None, size: int) -> dict:
    font = dict(font or {})
    font["size"] = max(size, font.get("size") or 0)
    return font


def for_projector(fig: go.Figure | dict) -> go.Figure:
    """A copy of `fig` (as plotly's dict) with every text at least projector size: the base font,
    titles, ticks, legends, hover boxes, colour bars and annotations. Axes grow their margins to
    fit the larger labels. The figure itself is left alone (it may be cached and shared)."""
    spec = fig.to_dict() if isinstance(fig, go.Figure) else dict(fig)
    layout = dict(spec.get("layout") or {})
    layout["font"] = _at_least(layout.get("font"), PROJECTOR_FONT)
    layout["hoverlabel"] = {**(layout.get("hoverlabel") or {}),
                            "font": _at_least((layout.get("hoverlabel") or {}).get("font"), PROJECTOR_TICKS)}
    legend = dict(layout.get("legend") or {})
    legend["font"] = _at_least(legend.get("font"), PROJECTOR_TICKS)
    entries = sum(1 for t in spec.get("data") or [] if t.get("showlegend", True) is not False and t.get("name"))
    if legend.get("orientation") == "h" and ((legend.get("y") or 0) < 0 or entries > LEGEND_ROW_ENTRIES):
        # At projector size a row of legend entries wraps into one entry per line: under the axis, the larger
        # ticks and axis title overrun it; above, it stacks into the plot. A column right of the plot keeps the
        # plot area square-ish instead of a strip.
        legend.update(orientation="v", xref="paper", x=1.02, xanchor="left", yref="paper", y=1, yanchor="top",
                      maxheight=layout.get("height") or 450)  # pixels: up to the figure's height, no scroll bar
        layout["margin"] = {**(layout.get("margin") or {}), "b": 10}
    layout["legend"] = legend
    title = layout.get("title")
    if isinstance(title, dict):
        layout["title"] = {**title, "font": _at_least(title.get("font"), PROJECTOR_FONT + 2)}
    for key in [k for k in layout if k.startswith(("xaxis", "yaxis"))]:
        axis = dict(layout[key] or {})
        # plotly's own log ticks label 2 and 5 between decades at 3/4 of the tick size: those reach projector size too
        minor_labels = axis.get("type") == "log" and axis.get("tickvals") is None
        axis["tickfont"] = _at_least(axis.get("tickfont"), PROJECTOR_TICKS * (4 / 3 if minor_labels else 1))
        if isinstance(axis.get("title"), dict):
            axis["title"] = {**axis["title"], "font": _at_least(axis["title"].get("font"), PROJECTOR_TICKS)}
        axis["automargin"] = True
        layout[key] = axis
    for key in ("xaxis", "yaxis"):  # figures whose axes were never touched still get larger ticks
        layout.setdefault(key, {"tickfont": {"size": PROJECTOR_TICKS}, "automargin": True})
    if "annotations" in layout:
        layout["annotations"] = [{**a, "font": _at_least(a.get("font"), PROJECTOR_TICKS)}
                                 for a in layout["annotations"]]
    if "coloraxis" in layout and isinstance(layout["coloraxis"].get("colorbar"), dict):
        bar = layout["coloraxis"]["colorbar"]
        bar = {**bar, "tickfont": _at_least(bar.get("tickfont"), PROJECTOR_TICKS)}
        layout["coloraxis"] = {**layout["coloraxis"], "colorbar": bar}
    traces = []
    for trace in spec.get("data") or []:
        trace = dict(trace)
        if isinstance(trace.get("colorbar"), dict):
            bar = trace["colorbar"]
            trace["colorbar"] = {**bar, "tickfont": _at_least(bar.get("tickfont"), PROJECTOR_TICKS)}
        if "textfont" in trace and isinstance(trace["textfont"], dict) and isinstance(
                trace["textfont"].get("size"), (int, float)):
            trace["textfont"] = _at_least(trace["textfont"], PROJECTOR_TICKS - 2)
        traces.append(trace)
    return go.Figure({**spec, "data": traces, "layout": layout})  # a Figure: st.plotly_chart refuses a dict with no data
