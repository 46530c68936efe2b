"""A study in pictures: the grid as a heat map, and Optuna's plotly views (history, importances, parallel
coordinates, slice), in the house style."""
from __future__ import annotations

import warnings
from typing import Callable

import numpy as np
import optuna
import plotly.graph_objects as go

from nnviz.figures.style import apply
from nnviz.jobs.search_results import GridCells

VIEWS: dict[str, tuple[str, Callable[..., go.Figure], int]] = {
    # key: (title, builder, finished trials it needs)
    "history": ("Optimisation history", optuna.visualization.plot_optimization_history, 1),
    "importances": ("Parameter importances", optuna.visualization.plot_param_importances, 3),
    "parallel": ("Parallel coordinates", optuna.visualization.plot_parallel_coordinate, 2),
    "slice": ("Slice", optuna.visualization.plot_slice, 1),
}


def study_view(study: optuna.Study, view: str) -> go.Figure | None:
    """Optuna's `view` figure for the study, or None while it has too few finished trials for it.

    Importances need at least two parameters' worth of variation: with fewer, Optuna raises
    and this returns None.
    """
    title, build, needs = VIEWS[view]
    done = [t for t in study.get_trials(deepcopy=False) if t.state == optuna.trial.TrialState.COMPLETE]
    if len(done) < needs:
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Optuna flags some views 'experimental'
            fig = build(study)
    except (ValueError, RuntimeError, ZeroDivisionError):
        return None
    fig.update_layout(title=None)
    return apply(fig, "", height=440, uirevision=f"study-{view}")


DIVERGED = "diverged"


def _tick(v) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


def grid_heatmap(cells: GridCells, height: int = 380) -> go.Figure:
    """`cells.y` down, `cells.x` across, each cell its mean validation score written in it; cells
    whose trials diverged are grey and say so. Lower MSE (or higher accuracy) is darker."""
    text = [["" if np.isnan(v) else f"{v:.3g}" for v in row] for row in cells.value]
    xs, ys = [_tick(v) for v in cells.xs], [_tick(v) for v in cells.ys]
    fig = go.Figure()
    fig.add_trace(go.Heatmap(  # diverged cells underneath, in grey: the scores' scale never sees them
        z=np.where(cells.diverged, 1.0, np.nan), x=xs, y=ys, colorscale=[[0, "#9e9e9e"], [1, "#9e9e9e"]],
        showscale=False, hoverinfo="skip", name=DIVERGED))
    fig.add_trace(go.Heatmap(
        z=cells.value, x=xs, y=ys, text=text, texttemplate="%{text}", textfont=dict(size=16),
        colorscale="Viridis", reversescale=cells.lower_is_better, name=cells.metric,
        colorbar=dict(title=dict(text=cells.metric.replace(" ", "<br>"))),
        hovertemplate=f"{cells.x}=%{{x}}<br>{cells.y}=%{{y}}<br>mean {cells.metric}: %{{text}}<extra></extra>"))
    for i, row in enumerate(cells.diverged):  # the word on grey cells (the scores' trace has no value there)
        for j, d in enumerate(row):
            if d:
                fig.add_annotation(x=xs[j], y=ys[i], text=DIVERGED, showarrow=False, font=dict(size=15, color="white"))
    fig.update_xaxes(title_text=cells.x, type="category")
    fig.update_yaxes(title_text=cells.y, type="category")
    return apply(fig, "", height=height, uirevision=f"grid-{cells.x}-{cells.y}")
