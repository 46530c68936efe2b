"""The grid heat map's numbers: mean validation MSE per lr x epochs cell, positive, diverged cells marked."""
from __future__ import annotations

import math

import numpy as np
import optuna
from optuna.distributions import CategoricalDistribution
from optuna.trial import TrialState, create_trial

from nnviz.figures.search import DIVERGED, grid_heatmap
from nnviz.jobs.search_results import grid_axes, grid_cells

DISTS = {"lr": CategoricalDistribution([0.001, 0.01, 0.1]), "epochs": CategoricalDistribution([50, 150]),
         "hidden": CategoricalDistribution(["32", "64"])}


def _trial(lr, epochs, value, hidden="32", state=TrialState.COMPLETE, status=""):
    params = {"lr": lr, "epochs": epochs, "hidden": hidden}
    return create_trial(params=params, distributions=DISTS, value=value if state == TrialState.COMPLETE else None,
                        state=state, user_attrs={"status": status} if status else {})


def test_cells_hold_the_positive_mean_validation_mse_and_mark_diverged_ones():
    trials = [_trial(0.001, 50, -0.30), _trial(0.001, 50, -0.10, hidden="64"),  # two trials in one cell: mean 0.2
              _trial(0.01, 150, -0.05),
              _trial(0.1, 150, None, state=TrialState.FAIL, status="The loss became NaN: training diverged."),
              _trial(0.1, 50, None, state=TrialState.FAIL, status="stopped by the user")]
    cells = grid_cells(trials, "lr", "epochs", "regression")
    assert cells.xs == [0.001, 0.01, 0.1] and cells.ys == [50, 150]
    assert cells.metric == "validation MSE" and cells.lower_is_better
    assert math.isclose(cells.value[0, 0], 0.2) and math.isclose(cells.value[1, 1], 0.05)
    assert (cells.value[~np.isnan(cells.value)] > 0).all()  # MSE, not scikit-learn's negated score
    assert cells.diverged.tolist() == [[False, False, False], [False, False, True]]  # a stopped trial did not diverge
    assert np.isnan(cells.value[1, 2]) and np.isnan(cells.value[0, 2])


def test_a_cell_with_a_finite_score_is_not_called_diverged():
    trials = [_trial(0.1, 50, -0.4), _trial(0.1, 50, None, hidden="64", state=TrialState.FAIL, status="diverged")]
    cells = grid_cells(trials, "lr", "epochs", "regression")
    assert not cells.diverged.any() and math.isclose(cells.value[0, 0], 0.4)


def test_classification_cells_keep_accuracy():
    cells = grid_cells([_trial(0.01, 50, 0.9), _trial(0.01, 150, 0.95)], "lr", "epochs", "classification")
    assert cells.metric == "validation accuracy" and not cells.lower_is_better
    assert cells.value[:, 0].tolist() == [0.9, 0.95]


def test_axes_prefer_lr_by_epochs_and_need_two_parameters():
    assert grid_axes({"hidden": ["32"], "epochs": [1], "lr": [0.1]}) == ("lr", "epochs")
    assert grid_axes({"hidden": ["32"], "dropout": [0.1]}) == ("hidden", "dropout")
    assert grid_axes({"hidden": ["32"], "lr": [0.1]}) == ("lr", "hidden")
    assert grid_axes({"lr": [0.1, 0.2]}) is None


def test_heat_map_writes_each_score_and_names_diverged_cells():
    trials = [_trial(0.001, 50, -0.25), _trial(0.1, 150, None, state=TrialState.FAIL, status="diverged")]
    fig = grid_heatmap(grid_cells(trials, "lr", "epochs", "regression"))
    scores = fig.data[1]
    assert scores.text[0][0] == "0.25" and scores.reversescale  # low MSE is the dark end
    assert [a.text for a in fig.layout.annotations] == [DIVERGED]
    assert fig.layout.xaxis.title.text == "lr" and fig.layout.yaxis.title.text == "epochs"


def test_grid_cells_read_a_real_study():
    study = optuna.create_study(direction="maximize")
    for t in [_trial(0.001, 50, -0.3), _trial(0.01, 50, -0.1)]:
        study.add_trial(t)
    cells = grid_cells(study.get_trials(), "lr", "epochs", "regression")
    assert np.allclose(cells.value, [[0.3, 0.1]])
