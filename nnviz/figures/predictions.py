"""Predicted probabilities as figures."""
from __future__ import annotations

from typing import Sequence

import numpy as np
import plotly.graph_objects as go

from nnviz.figures.style import apply

RIGHT, WRONG, OTHER = "#2ca02c", "#d62728", "#9ab"


def top_k_bar(probs: np.ndarray, classes: Sequence[str], k: int = 5, true_class: int | None = None,
              title: str = "", height: int = 260) -> go.Figure:
    """Horizontal bars of the k most likely classes, most likely on top.

    The predicted class is green when it is the true class and red when not; with no
    true class (a drawing) it is green.
    """
    order = np.argsort(-probs, kind="stable")[:k]
    predicted = int(order[0])
    ok = true_class is None or predicted == true_class
    colors = [(RIGHT if ok else WRONG) if i == predicted else OTHER for i in order]
    labels = [f"{classes[i]} ✓" if true_class is not None and i == true_class else str(classes[i]) for i in order]
    fig = go.Figure(go.Bar(x=probs[order], y=labels, orientation="h", marker_color=colors,
                           text=[f"{p:.1%}" for p in probs[order]], textposition="auto",
                           hovertemplate="%{y}: %{x:.2%}<extra></extra>"))
    fig.update_xaxes(range=[0, 1], tickformat=".0%", title="probability")
    fig.update_yaxes(autorange="reversed", type="category")
    return apply(fig, title, height=height)
