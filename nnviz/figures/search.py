"""Optuna's plotly views of a study (history, importances, parallel coordinates, slice) in the house style."""
from __future__ import annotations

import warnings
from typing import Callable

import optuna
import plotly.graph_objects as go

from nnviz.figures.style import apply

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
