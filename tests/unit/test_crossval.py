"""nnviz.training.crossval: K-fold splits of the pooled train+val set, one fit per fold."""
from __future__ import annotations

import dataclasses
import threading

import numpy as np
import pytest
import torch

from nnviz.config import DataConfig, ModelConfig, TrainConfig
from nnviz.data import load
from nnviz.training.crossval import cross_validate, fold_data, summary


@pytest.fixture(scope="module")
def reg_data():
    return load(DataConfig(dataset="regression"))


def pooled(data) -> torch.Tensor:
    return torch.cat([data.x_train, data.x_val])


@pytest.mark.parametrize("k", [2, 3, 5, 10])
def test_folds_partition_the_pooled_set(reg_data, k):
    everything = pooled(reg_data)
    n = len(everything)
    folds = fold_data(reg_data, k, seed=0)
    assert len(folds) == k
    all_val = np.concatenate([val_idx for _, val_idx in folds])
    assert sorted(all_val.tolist()) == list(range(n))  # each point validates exactly once
    sizes = [len(v) for _, v in folds]
    assert max(sizes) - min(sizes) <= 1
    for fold, val_idx in folds:
        assert fold.x_val.equal(everything[torch.from_numpy(val_idx)])
        assert len(fold.x_train) + len(fold.x_val) == n
        train_and_val = torch.sort(torch.cat([fold.x_train, fold.x_val]).flatten()).values
        assert train_and_val.equal(torch.sort(everything.flatten()).values)
        assert fold.x_test.equal(reg_data.x_test)  # the test set is never folded
        # labels travel with their points
        pairs = {(float(x), float(y)) for x, y in zip(pooled(reg_data).flatten(),
                                                      torch.cat([reg_data.y_train, reg_data.y_val]).flatten())}
        assert {(float(x), float(y)) for x, y in zip(fold.x_val.flatten(), fold.y_val.flatten())} <= pairs


def test_folds_follow_the_seed(reg_data):
    a = [v.tolist() for _, v in fold_data(reg_data, 4, seed=1)]
    b = [v.tolist() for _, v in fold_data(reg_data, 4, seed=1)]
    c = [v.tolist() for _, v in fold_data(reg_data, 4, seed=2)]
    assert a == b and a != c


def test_cross_validate_returns_one_result_per_fold(reg_data):
    cfg = TrainConfig(device="cpu", epochs=2, batch_size=16, seed=3)
    results = cross_validate(reg_data, ModelConfig(hidden=(8,)), cfg, k=3)
    assert [r.fold for r in results] == [1, 2, 3]
    assert all(r.history.status == "finished" and len(r.history.epochs) == 3 for r in results)
    assert len({id(r.model) for r in results}) == 3
    expected = [v for _, v in fold_data(reg_data, 3, seed=3)]
    for r, val_idx in zip(results, expected):
        np.testing.assert_array_equal(r.val_index, val_idx)
        assert r.val_loss == r.history.last()["val_loss"]
    # fold i is its own seeded model: different folds end with different weights
    w = [torch.cat([p.flatten() for p in r.model.parameters()]) for r in results]
    assert not w[0].equal(w[1])


def test_summary_equals_numpy(reg_data):
    results = cross_validate(reg_data, ModelConfig(hidden=(8,)), TrainConfig(device="cpu", epochs=1, batch_size=16), k=4)
    losses = np.array([r.history.last()["val_loss"] for r in results])
    s = summary(results)
    assert s["folds"] == 4
    assert s["val_loss_mean"] == pytest.approx(float(np.mean(losses)), rel=1e-12)
    assert s["val_loss_std"] == pytest.approx(float(np.std(losses)), rel=1e-12)
    assert s["val_loss_std"] > 0


def test_summary_of_nothing_is_nan():
    s = summary([])
    assert s["folds"] == 0 and np.isnan(s["val_loss_mean"]) and np.isnan(s["val_loss_std"])


def test_too_few_points_for_k(reg_data):
    tiny = dataclasses.replace(reg_data, x_train=reg_data.x_train[:2], y_train=reg_data.y_train[:2],
                               x_val=reg_data.x_val[:1], y_val=reg_data.y_val[:1])
    with pytest.raises(ValueError, match="at least 4"):
        cross_validate(tiny, ModelConfig(hidden=(4,)), TrainConfig(device="cpu"), k=4)


def test_stop_event_ends_after_the_current_fold(reg_data):
    event = threading.Event()
    event.set()
    results = cross_validate(reg_data, ModelConfig(hidden=(4,)), TrainConfig(device="cpu", epochs=3), k=5,
                             stop_event=event)
    assert len(results) == 1 and results[0].history.status == "stopped"
