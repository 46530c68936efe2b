"""Hyper-parameter search: cv_results against scikit-learn's own GridSearchCV arithmetic, pruning,
the best trial's checkpoint, stopping, and spec validation."""
from __future__ import annotations

import math
import threading

import numpy as np
import optuna
import pytest
from sklearn.base import BaseEstimator
from sklearn.model_selection import GridSearchCV, PredefinedSplit

from nnviz.config import ConfigError, replace
from nnviz.jobs import search
from nnviz.jobs.search_results import cv_results, results_frame
from nnviz.model import checkpoints
from nnviz.model.params import apply_params, quick_base
from tests.waiting import GENEROUS_S, wait_until

N_SPLITS = 2


def tiny_base():
    base = quick_base("digits", epochs=1)
    return replace(base, train=replace(base.train, max_steps=2, batch_size=32))


class LookupEstimator(BaseEstimator):
    """An estimator whose score on split i is a given number: sklearn then does its own arithmetic."""

    def __init__(self, lr=None, hidden=None, table=None):
        self.lr, self.hidden, self.table = lr, hidden, table

    def fit(self, X, y=None):
        return self

    def score(self, X, y=None):
        split = int(X[0, 0])  # the test rows of split i all hold the value i
        return self.table[(self.lr, self.hidden)][split]


def sklearn_reference(grid: dict, table: dict) -> dict:
    """GridSearchCV's cv_results_ for per-split scores `table[(lr, hidden)] = [s0, s1]`."""
    X = np.repeat(np.arange(N_SPLITS), 2)[:, None].astype(float)  # rows of split i hold i
    cv = PredefinedSplit(test_fold=X[:, 0].astype(int))
    gs = GridSearchCV(LookupEstimator(table=table), grid, cv=cv, refit=False, error_score=np.nan)
    gs.fit(X, np.zeros(len(X)))
    return gs.cv_results_


def by_params(res: dict, names=("lr", "hidden")) -> dict:
    return {tuple(p[n] for n in names): i for i, p in enumerate(res["params"])}


def test_four_trial_grid_with_2_fold_cv_matches_gridsearchcv(tmp_path):
    grid = {"lr": [1e-3, 1e-2], "hidden": ["16", "32"]}
    spec = search.SearchSpec(base=tiny_base(), space=grid, sampler="grid", kfold=N_SPLITS)
    url = f"sqlite:///{tmp_path / 'studies.db'}"
    out = search.run_worker(url, "grid4", 10, spec)
    assert sorted(out["trials"]) == [0, 1, 2, 3]  # the grid stops the study after its 4 points

    trials = optuna.load_study(study_name="grid4", storage=search.storage(url)).trials
    ours = cv_results(trials)
    assert len(ours["params"]) == 4
    table = {(p["lr"], p["hidden"]): [ours[f"split{i}_test_score"][row] for i in range(N_SPLITS)]
             for row, p in enumerate(ours["params"])}
    assert all(0 <= s <= 1 for scores in table.values() for s in scores)
    ref = sklearn_reference(grid, table)
    ref_at, our_at = by_params(ref), by_params(ours)
    assert set(ref_at) == set(our_at) == {(lr, h) for lr in grid["lr"] for h in grid["hidden"]}
    for key in ref_at:
        r, o = ref_at[key], our_at[key]
        for i in range(N_SPLITS):
            assert ours[f"split{i}_test_score"][o] == pytest.approx(ref[f"split{i}_test_score"][r], abs=1e-12)
        assert ours["mean_test_score"][o] == pytest.approx(ref["mean_test_score"][r], abs=1e-12)
        assert ours["std_test_score"][o] == pytest.approx(ref["std_test_score"][r], abs=1e-12)
        assert ours["rank_test_score"][o] == ref["rank_test_score"][r]
    # the trial's objective value is the mean score, as the study ranks it
    for t in trials:
        assert t.value == pytest.approx(np.mean(t.user_attrs["split_test_scores"]))
    frame = results_frame(trials)
    assert list(frame["rank_test_score"]) == sorted(frame["rank_test_score"])
    assert {"param_lr", "param_hidden", "split0_test_score", "split1_test_score", "std_test_score"} <= set(frame)


def _trial(number: int, lr: float, hidden: str, scores: list[float]) -> optuna.trial.FrozenTrial:
    value = float(np.mean(scores))
    t = optuna.trial.create_trial(
        value=value if math.isfinite(value) else None, params={"lr": lr, "hidden": hidden},
        distributions={"lr": optuna.distributions.CategoricalDistribution([0.1, 0.2]),
                       "hidden": optuna.distributions.CategoricalDistribution(["a", "b"])},
        user_attrs={"split_test_scores": scores, "split_train_scores": scores, "fit_time": 1.0},
        state=optuna.trial.TrialState.COMPLETE if math.isfinite(value) else optuna.trial.TrialState.FAIL)
    t.number = number
    return t


def test_ties_and_std_follow_sklearn_exactly():
    table = {(0.1, "a"): [0.5, 0.75], (0.1, "b"): [0.75, 0.5], (0.2, "a"): [1.0, 0.25], (0.2, "b"): [0.25, 0.5]}
    trials = [_trial(i, lr, h, s) for i, ((lr, h), s) in enumerate(table.items())]
    ours = cv_results(trials)
    ref = sklearn_reference({"lr": [0.1, 0.2], "hidden": ["a", "b"]}, table)
    ref_at, our_at = by_params(ref), by_params(ours)
    for key in table:
        assert ours["rank_test_score"][our_at[key]] == ref["rank_test_score"][ref_at[key]]
        assert ours["std_test_score"][our_at[key]] == pytest.approx(ref["std_test_score"][ref_at[key]])
    assert sorted(ours["rank_test_score"]) == [1, 1, 1, 4]  # three means of 0.625 tie at rank 1 ('min')


def test_failed_trials_are_left_out_of_the_table():
    trials = [_trial(0, 0.1, "a", [0.5, 0.5]), _trial(1, 0.2, "a", [float("nan"), 0.5])]
    assert list(cv_results(trials)["trial"]) == [0]


class AlwaysPrune(optuna.pruners.BasePruner):
    def prune(self, study, trial) -> bool:
        return True


def test_pruned_trials_stop_training_and_are_recorded_as_pruned(tmp_path, monkeypatch):
    monkeypatch.setattr(search, "_pruner", lambda spec: AlwaysPrune())
    base = replace(tiny_base(), train=replace(tiny_base().train, epochs=3))
    spec = search.SearchSpec(base=base, space={"lr": {"low": 1e-3, "high": 1e-2, "log": True}}, sampler="random",
                             kfold=2)
    url = f"sqlite:///{tmp_path / 's.db'}"
    search.run_worker(url, "p", 2, spec)
    trials = optuna.load_study(study_name="p", storage=search.storage(url)).trials
    assert [t.state for t in trials] == [optuna.trial.TrialState.PRUNED] * 2
    assert all(list(t.intermediate_values) == [1] for t in trials)  # stopped after its first epoch
    assert cv_results(trials)["trial"].size == 0


def test_best_trial_is_saved_as_a_loadable_checkpoint(tmp_path, nnviz_dirs):
    spec = search.SearchSpec(base=tiny_base(), space={"lr": [1e-3, 3e-2]}, sampler="grid", kfold=2)
    url = f"sqlite:///{tmp_path / 'b.db'}"
    out = search.run_worker(url, "best", 5, spec)
    study = optuna.load_study(study_name="best", storage=search.storage(url))
    ckpt = checkpoints.load(out["checkpoint"])
    assert ckpt.path.parent == nnviz_dirs["checkpoints"]
    assert ckpt.metrics["cv_score"] == pytest.approx(study.best_value)
    assert ckpt.metrics["trial"] == study.best_trial.number
    assert ckpt.config.train.lr == study.best_params["lr"]
    assert any(i.path == ckpt.path for i in checkpoints.list_checkpoints())  # the other pages can pick it


def test_a_set_stop_event_ends_the_worker_without_finished_trials(tmp_path):
    stop = threading.Event()
    stop.set()
    spec = search.SearchSpec(base=tiny_base(), space={"lr": [1e-3, 1e-2]}, sampler="grid", kfold=2)
    url = f"sqlite:///{tmp_path / 'stop.db'}"
    out = search.run_worker(url, "stop", 4, spec, stop_event=stop)
    assert out["stopped"] and out["trials"] == []


def test_a_joining_worker_uses_the_stored_spec(tmp_path):
    url = f"sqlite:///{tmp_path / 'j.db'}"
    spec = search.SearchSpec(base=tiny_base(), space={"lr": [1e-3]}, sampler="grid", kfold=2)
    search.open_study(url, "j", spec)
    _, joined = search.open_study(url, "j")
    assert joined == spec
    _, other = search.open_study(url, "j", search.SearchSpec(base=tiny_base(), space={"lr": [5e-3]}, sampler="grid"))
    assert other == spec
    with pytest.raises(ConfigError, match="no study"):
        search.open_study(url, "missing")


@pytest.mark.parametrize("space, sampler, message", [
    ({"learning": [1]}, "grid", "unknown parameter"),
    ({"lr": {"low": 1e-4, "high": 1e-1}}, "grid", "grid search takes a list"),
    ({"lr": {"low": 0.0, "high": 1e-1, "log": True}}, "tpe", "log range"),
    ({"lr": []}, "random", "non-empty list"),
    ({"hidden": ["64", "abc"]}, "grid", "whole numbers"),
    ({}, "tpe", "non-empty object"),
])
def test_bad_spaces_are_refused_with_a_clear_message(space, sampler, message):
    with pytest.raises(ConfigError, match=message):
        search.SearchSpec(base=tiny_base(), space=space, sampler=sampler)


def test_params_land_in_the_right_config_fields():
    cfg = apply_params(quick_base("digits"), {"lr": 0.5, "hidden": "32,16", "activation": "tanh", "batch_size": 8,
                                              "train_fraction": 0.5})
    assert (cfg.train.lr, cfg.model.hidden, cfg.model.activation, cfg.train.batch_size, cfg.data.train_fraction) == \
        (0.5, (32, 16), "tanh", 8, 0.5)
    reg = apply_params(quick_base("regression"), {"train_fraction": 0.2})
    assert reg.data.n_train == 20  # regression sets are drawn: a fraction of the 100 points


def test_bad_storage_url_is_a_config_error():
    with pytest.raises(ConfigError, match="cannot open the study storage"):
        search.storage("nosuchdialect://x/y")


def test_stopping_a_background_search_keeps_every_finished_trial(tmp_path):
    """How soon Stop takes effect is measured by benchmarks/stop_latency.py."""
    from nnviz.jobs import search_jobs

    base = quick_base("digits", epochs=8)
    spec = search.SearchSpec(base=base, space={"lr": {"low": 1e-3, "high": 1e-2, "log": True}}, sampler="random",
                             kfold=2, pruning=False)
    url = f"sqlite:///{tmp_path / 'bg.db'}"
    job = search_jobs.start_search(url, "bg", 50, spec)
    study = optuna.load_study(study_name="bg", storage=search.storage(url))

    def third_trial_in_flight() -> bool:  # stop inside the third trial, two finished before it
        states = [t.state for t in study.trials]
        return states.count(optuna.trial.TrialState.COMPLETE) == 2 and optuna.trial.TrialState.RUNNING in states

    wait_until(third_trial_in_flight, what="two finished trials and a third in flight")
    job.stop()
    assert job.wait(GENEROUS_S), "Stop did not end the search"
    assert job.status == "stopped", job.message
    trials = study.trials
    assert len(trials) >= 3 and all(t.state == optuna.trial.TrialState.COMPLETE for t in trials[:-1])
    assert trials[-1].state == optuna.trial.TrialState.FAIL  # only the trial in flight is lost
    assert trials[-1].user_attrs["status"] == "stopped by the user"


def test_a_trial_that_never_reached_its_objective_is_failed(tmp_path, monkeypatch):
    """A worker killed between Optuna creating a trial and its first heartbeat leaves a 'running'
    trial that Optuna never judges stale; the next worker marks it failed."""
    study = optuna.create_study(study_name="s", storage=search.storage(f"sqlite:///{tmp_path / 's.db'}"))
    orphan = study.ask()  # created, nothing sampled, no heartbeat: as after a kill
    sampled = study.ask()
    sampled.suggest_float("lr", 1e-3, 1e-1)  # a worker that got this far beat first: Optuna's own check
    assert search.fail_unstarted_trials(study) == []  # within the grace period: maybe still starting
    monkeypatch.setattr(search, "HEARTBEAT_S", 0)  # the grace period is over
    assert search.fail_unstarted_trials(study) == [orphan.number]
    states = {t.number: t.state for t in study.trials}
    assert states == {orphan.number: optuna.trial.TrialState.FAIL, sampled.number: optuna.trial.TrialState.RUNNING}
