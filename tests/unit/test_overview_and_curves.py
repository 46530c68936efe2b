"""Home-page tables (nnviz.analysis.overview) and the shared curve figure (nnviz.figures.curves)."""
from __future__ import annotations

import math

import numpy as np

from nnviz.analysis import overview
from nnviz.config import DataConfig, RunConfig, TrainConfig
from nnviz.figures.curves import ema, metric_curves
from nnviz.jobs import runs


def test_dataset_rows_mark_only_embedded_set_present_in_empty_dir(tmp_path):
    rows = {r["dataset"]: r for r in overview.dataset_rows(str(tmp_path))}
    assert rows["digits"]["present"] is True
    assert not any(rows[n]["present"] for n in ("mnist", "fashion_mnist", "cifar10"))
    assert rows["mnist"]["location"].endswith("MNIST/raw")


def test_checkpoint_rows_list_the_shipped_digits_models(tmp_path, monkeypatch):
    monkeypatch.setenv("NNVIZ_CHECKPOINT_DIR", str(tmp_path))
    rows = {r["name"]: r for r in overview.checkpoint_rows()}
    assert {"digits_cnn", "digits_mlp"} <= set(rows)
    assert rows["digits_cnn"]["kind"] == "shipped"
    assert rows["digits_cnn"]["result"].startswith("test accuracy 9")


def test_run_rows_show_a_finished_run(tmp_path, monkeypatch):
    monkeypatch.setenv("NNVIZ_RUNS_DIR", str(tmp_path))
    cfg = RunConfig(data=DataConfig(dataset="regression"), train=TrainConfig(epochs=2, batch_size=32))
    run = runs.start(cfg)
    assert run.wait(30)
    (row,) = overview.run_rows()
    assert row["run"] == run.id and row["status"] == "finished" and row["epochs"] == 2
    assert row["result"].startswith("test loss")


def test_ema_matches_a_hand_computed_bias_corrected_average():
    values = [1.0, 3.0, 2.0]
    out = ema(values, 0.5)
    # avg_t = 0.5 avg_{t-1} + 0.5 v_t, divided by 1 - 0.5^t
    assert np.allclose(out, [1.0, 1.75 / 0.75, (0.5 * 1.75 + 1.0) / 0.875])
    assert np.allclose(ema(values, 0.0), values)


def test_metric_curves_cut_at_replay_epoch_and_skip_nan():
    epochs = [{"epoch": e, "train_loss": 1 / (e + 1), "val_loss": 1.5 / (e + 1), "test_loss": math.nan} for e in range(5)]
    fig = metric_curves(epochs, "loss", upto_epoch=2)
    names = [t.name for t in fig.data]
    assert names == ["train", "val"]  # test is all NaN: no trace
    assert list(fig.data[0].x) == [0, 1, 2]
    assert fig.layout.yaxis.type == "log"
    assert tuple(fig.layout.xaxis.range) == (0, 4)  # the axis keeps the whole run while replaying


def test_a_run_that_diverges_is_marked_where_its_curve_stops():
    """A loss that turns NaN or infinite leaves no point to draw: a red line at that epoch says why."""
    from nnviz.figures import curves, regression

    rows = [{"epoch": 1, "train_loss": 2.0, "val_loss": 2.5}, {"epoch": 2, "train_loss": float("inf"),
                                                                "val_loss": float("nan")}]
    fig = regression.loss_figure(rows, noise_var=0.09)
    marks = [s for s in fig.layout.shapes if s.line.color == curves.DIVERGED_COLOR]
    assert len(marks) == 1 and marks[0].x0 == 2  # beside the noise floor's line, not instead of it
    assert len(fig.layout.shapes) == 2 and any("diverged" in a.text for a in fig.layout.annotations)
    healthy = curves.metric_curves(rows[:1])
    assert not healthy.layout.shapes and not healthy.layout.annotations
