"""The house look of every figure: readable on a projector at 1280x720."""
from __future__ import annotations

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
    return fig
