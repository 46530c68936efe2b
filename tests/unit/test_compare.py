"""Run comparison: differing settings, final metrics and the overlay figure."""
from __future__ import annotations

import dataclasses
import math

import pytest

from nnviz.analysis.compare import config_table, distinct_labels, final_metrics, run_label
from nnviz.config import replace
from nnviz.figures.experiments import compare_curves
from nnviz.jobs import runs
from nnviz.model.params import quick_base


def _run(**train):
    base = quick_base("digits", epochs=2)
    run = runs.start(replace(base, train=replace(base.train, max_steps=2, **train)))
    assert run.wait(120) and run.status == "finished", run.message
    return runs.read_view(run.dir)


def test_config_table_marks_exactly_the_fields_that_differ():
    a, b = _run(lr=1e-3), _run(lr=1e-2, batch_size=32)
    table, differing = config_table([a, b])
    assert sorted(differing) == ["train.batch_size", "train.lr"]
    assert table.loc["train.lr"].tolist() == ["0.001", "0.01"]
    assert "model.hidden" in table.index and table.loc["model.hidden"].tolist() == ["64", "64"]
    assert config_table([a])[1] == []


def test_runs_with_the_same_name_keep_a_column_and_a_label_each():
    a, b = _run(), _run()  # e.g. one lesson run twice: the same name
    named = [dataclasses.replace(r, config=replace(r.config, name="lesson")) for r in (a, b)]
    table, _ = config_table(named)
    assert table.shape[1] == 2
    labels = distinct_labels(named)
    assert len(labels) == len(set(labels)) == 2 and len(final_metrics(named)) == 2


def test_final_metrics_are_the_last_epoch_of_each_run():
    a = _run()
    frame = final_metrics([a])
    assert frame.loc[0, "epochs"] == 2 and frame.loc[0, "run"] == run_label(a)
    assert frame.loc[0, "val_acc"] == pytest.approx(a.history[-1]["val_acc"])
    assert frame.loc[0, "best_val_loss"] == pytest.approx(min(h["val_loss"] for h in a.history[1:]))


def test_compare_curves_one_line_per_history_aligned_by_epoch_or_time_with_smoothing():
    h1 = [{"epoch": e, "val_loss": 1.0 / (e + 1), "elapsed": 0.5 * e} for e in range(5)]
    h2 = [{"epoch": e, "val_loss": 2.0 / (e + 1), "elapsed": 2.0 * e} for e in range(5)]
    fig = compare_curves([h1, h2, [{"epoch": 0}]], ["a", "b", "no metric"], "val_loss")
    assert [t.name for t in fig.data] == ["a", "b"] and fig.layout.yaxis.type == "log"
    assert list(fig.data[1].y) == [2.0 / (e + 1) for e in range(5)]
    timed = compare_curves([h1, h2], ["a", "b"], "val_loss", x="elapsed")
    assert list(timed.data[1].x) == [2.0, 4.0, 6.0, 8.0]  # epoch 0 has no wall time to align by
    smooth = compare_curves([h1], ["a"], "val_loss", smoothing=0.9)
    assert smooth.data[0].y[0] == pytest.approx(1.0) and smooth.data[0].y[-1] > 0.2  # EMA lags the raw curve
    nan = compare_curves([[{"epoch": 1, "val_loss": math.nan}]], ["x"])
    assert len(nan.data) == 0


def test_distinct_labels_name_the_differing_settings():
    a, b = _run(lr=1e-3), _run(lr=1e-2)
    assert distinct_labels([a, b]) == ["mlp · lr=0.001", "mlp · lr=0.01"]
    same = distinct_labels([a, _run(lr=1e-3)])
    assert len(set(same)) == 2  # identical settings: the id tails tell them apart


def test_two_runs_of_one_lab_set_up_are_told_apart_by_their_start_time():
    a, b = _run(), _run()
    named = [dataclasses.replace(r, config=replace(r.config, name="Small MLP on course"), id=i)
             for r, i in zip((a, b), ("20261203-101500-regression-aaaaaa", "20261203-102012-regression-bbbbbb"))]
    assert [run_label(r) for r in named] == ["Small MLP on course · 10:15:00", "Small MLP on course · 10:20:12"]
    assert distinct_labels(named) == [run_label(r) for r in named]
    assert list(config_table(named)[0].columns) == [run_label(r) for r in named]
    odd = dataclasses.replace(a, id="imported-run")  # an id without a time: its tail
    assert run_label(odd).endswith("ed-run")
