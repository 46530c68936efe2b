"""A study's trials as scikit-learn's `cv_results_`: params, per-split scores, mean, std, rank.

The arithmetic is scikit-learn's (`BaseSearchCV._format_results`): the population
standard deviation over splits, and ranks by `rankdata(-mean, method="min")` with
trials whose mean is NaN ranked last.
"""
from __future__ import annotations

import math
from typing import Any, Iterable

import numpy as np
import optuna
import pandas as pd
from scipy.stats import rankdata

COMPLETE = optuna.trial.TrialState.COMPLETE


def _rank(means: np.ndarray) -> np.ndarray:
    if len(means) == 0:
        return np.zeros(0, dtype=np.int32)
    if np.isnan(means).all():
        return np.ones(len(means), dtype=np.int32)
    filled = np.nan_to_num(means, nan=np.nanmin(means) - 1)
    return rankdata(-filled, method="min").astype(np.int32)


def cv_results(trials: Iterable[optuna.trial.FrozenTrial]) -> dict[str, Any]:
    """`cv_results_`-style columns for the finished trials (ordered by trial number).

    Keys: 'trial', 'params', 'param_<name>', 'split<i>_test_score', 'mean_test_score',
    'std_test_score', 'rank_test_score', 'split<i>_train_score', 'mean_train_score',
    'mean_fit_time'.
    """
    done = sorted((t for t in trials if t.state == COMPLETE and t.user_attrs.get("split_test_scores")),
                  key=lambda t: t.number)
    n_splits = max((len(t.user_attrs["split_test_scores"]) for t in done), default=0)
    names = sorted({k for t in done for k in t.params})
    out: dict[str, Any] = {"trial": np.array([t.number for t in done], dtype=int),
                           "params": [dict(t.params) for t in done]}
    for name in names:
        out[f"param_{name}"] = [t.params.get(name) for t in done]
    for kind in ("test", "train"):
        scores = np.full((len(done), n_splits), np.nan)
        for row, t in enumerate(done):
            values = t.user_attrs.get(f"split_{kind}_scores", [])
            scores[row, :len(values)] = values
        for i in range(n_splits):
            out[f"split{i}_{kind}_score"] = scores[:, i]
        means = scores.mean(axis=1) if n_splits else np.zeros(len(done))
        out[f"mean_{kind}_score"] = means
        # population std (ddof=0), as scikit-learn: sqrt(average((x - mean)^2))
        out[f"std_{kind}_score"] = np.sqrt(((scores - means[:, None]) ** 2).mean(axis=1)) if n_splits \
            else np.zeros(len(done))
        if kind == "test":
            out["rank_test_score"] = _rank(means)
    out["mean_fit_time"] = np.array([float(t.user_attrs.get("fit_time", math.nan)) for t in done])
    return out


def results_frame(trials: Iterable[optuna.trial.FrozenTrial]) -> pd.DataFrame:
    """`cv_results` as a table, best rank first (the 'params' dicts left out: one column per param)."""
    res = cv_results(trials)
    frame = pd.DataFrame({k: v for k, v in res.items() if k != "params"})
    if len(frame):
        frame = frame.sort_values(["rank_test_score", "trial"]).reset_index(drop=True)
    cols = ["rank_test_score", "trial"] + [c for c in frame.columns if c.startswith("param_")] + \
        ["mean_test_score", "std_test_score"] + [c for c in frame.columns if c.startswith("split") and "test" in c] + \
        ["mean_train_score", "mean_fit_time"]
    return frame[[c for c in cols if c in frame.columns]]


def state_counts(trials: Iterable[optuna.trial.FrozenTrial]) -> dict[str, int]:
    """{'complete': n, 'pruned': n, 'running': n, 'fail': n, 'waiting': n}."""
    counts = {s.name.lower(): 0 for s in optuna.trial.TrialState}
    for t in trials:
        counts[t.state.name.lower()] += 1
    return counts


def trial_rows(trials: Iterable[optuna.trial.FrozenTrial]) -> pd.DataFrame:
    """Every trial (any state) with its worker, value and duration: who did what, live."""
    rows = []
    for t in sorted(trials, key=lambda t: t.number):
        duration = (t.datetime_complete - t.datetime_start).total_seconds() \
            if t.datetime_complete and t.datetime_start else math.nan
        rows.append({"trial": t.number, "state": t.state.name.lower(), "value": t.value,
                     **{f"param_{k}": v for k, v in t.params.items()},
                     "worker": t.user_attrs.get("worker", ""), "device": t.user_attrs.get("device", ""),
                     "seconds": duration, "note": t.user_attrs.get("status", "")})
    return pd.DataFrame(rows)
