"""nnviz.analysis.regression_views, nnviz.figures.regression and the regression page's settings mapping."""
from __future__ import annotations

import io
import json
import math
import zipfile

import numpy as np
import plotly.graph_objects as go
import pytest
import torch

from nnviz.analysis import regression_views as views
from nnviz.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from nnviz.data import CsvError, load
from nnviz.figures import regression as rfig
from nnviz.jobs import runs
from nnviz.model.models import PRESETS, build_model
from nnviz.training.train import init_model, predict
from nnviz.ui import regression_settings as rs

DATA = DataConfig(dataset="regression")


@pytest.fixture(scope="module")
def data():
    return load(DATA)


@pytest.fixture
def run_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("NNVIZ_RUNS_DIR", str(tmp_path / "runs"))
    yield tmp_path / "runs"
    runs.stop_all()


def _finished(cfg: RunConfig, root) -> runs.Run:
    run = runs.start(cfg, root)
    assert run.wait(120)
    assert run.view().status == "finished", run.view().message
    return run


# --- before training ----------------------------------------------------------------------

def test_initial_fit_is_the_runs_epoch_zero(data, run_dir):
    model_cfg = ModelConfig(hidden=(16,), activation="tanh")
    grid, before = views.initial_fit(model_cfg, data, seed=3)
    assert grid.shape == before.shape == (runs.FIT_GRID_POINTS,)
    np.testing.assert_array_equal(before, views.initial_fit(model_cfg, data, seed=3)[1])  # seeded
    assert not np.allclose(before, views.initial_fit(model_cfg, data, seed=4)[1])
    run = _finished(RunConfig(DATA, model_cfg, TrainConfig(epochs=1, seed=3)), run_dir)
    np.testing.assert_allclose(run.view().snapshots[0]["fit"], before, atol=1e-4)  # the page's "before" is true


def test_empty_ranges_declared_detected_and_the_ends():
    x = np.r_[np.linspace(-5, -3, 20), np.linspace(-1, 5, 60)]
    assert views.empty_ranges(x, -5.5, 5.5, declared=((-3.0, -1.8),)) == ((-5.5, -5.0), (-3.0, -1.8), (5.0, 5.5))
    found = views.empty_ranges(x, -5.5, 5.5)
    assert len(found) == 3 and found[1] == pytest.approx((-3.0, -1.0))
    dense = np.linspace(0, 1, 10)  # even spacing: no holes, and no ends when x spans the range
    assert views.empty_ranges(dense, 0.0, 1.0) == ()
    assert views.empty_ranges(np.empty(0), 0.0, 1.0) == ()


def test_y_range_keeps_every_point_inside(data):
    lo, hi = views.y_range(data)
    ys = torch.cat([data.y_train, data.y_val, data.y_test])
    assert lo < float(ys.min()) and hi > float(ys.max())


# --- after training ---------------------------------------------------------------------------

def test_split_predictions_metrics_and_residuals(data):
    model = init_model(ModelConfig(hidden=(8,)), data, 0)
    preds = views.split_predictions(model, data)
    assert set(preds) == {"train", "val", "test"}
    x, y, p = preds["test"]
    np.testing.assert_allclose(p, predict(model, data.x_test).flatten().numpy())
    rows = views.final_metrics(preds, noise=0.3)
    test = rows[-1]
    assert test["split"] == "test" and test["points"] == len(data.x_test)
    assert test["MSE"] == pytest.approx(float(np.mean((p - y) ** 2)), rel=1e-6)
    assert test["RMSE"] == pytest.approx(math.sqrt(test["MSE"]))
    assert test["MSE / σ²"] == pytest.approx(test["MSE"] / 0.09)
    assert math.isnan(views.final_metrics(preds, noise=0.0)[0]["MSE / σ²"])  # unknown noise (CSV)
    res = views.residuals(preds)
    np.testing.assert_allclose(res["train"][1], preds["train"][1] - preds["train"][2])


@pytest.mark.parametrize("cfg", [ModelConfig(hidden=(12, 7), activation="tanh"),
                                 ModelConfig(hidden=(5,), activation="relu", dropout=0.3, batch_norm=True)])
def test_neuron_contributions_add_up_to_the_fit(cfg):
    model = build_model(cfg, (1,), 1)
    model.train()  # must be evaluated in eval mode anyway, and left as it was
    x = np.linspace(-4, 4, 50, dtype=np.float32)
    layers = views.neuron_layers(model, x)
    assert model.training
    assert [lay.name for lay in layers] == [f"act_fc{i}" for i in range(1, len(cfg.hidden) + 1)]
    assert [lay.activations.shape for lay in layers] == [(w, 50) for w in cfg.hidden]
    assert all(lay.contributions is None for lay in layers[:-1])
    last = layers[-1]
    fit = predict(model, torch.from_numpy(x)[:, None]).flatten().numpy()
    np.testing.assert_allclose(last.contributions.sum(0) + last.bias, fit, atol=1e-5)
    assert sorted(last.order.tolist()) == list(range(cfg.hidden[-1]))
    top = views.top_neurons(last, 3)
    spread = np.ptp(last.contributions, axis=1)
    assert spread[top[0]] == spread.max() and len(top) == 3


def test_linear_model_has_no_neurons():
    assert views.neuron_layers(build_model(ModelConfig(hidden=()), (1,), 1), np.zeros(5, np.float32)) == []


def test_layer_weights_match_the_state_dict():
    model = build_model(ModelConfig(hidden=(4, 3)), (1,), 1)
    weights = views.layer_weights(model)
    assert list(weights) == ["fc1.weight", "fc2.weight", "out.weight"]
    assert weights["fc2.weight"].shape == (12,)
    assert views.state_weights(model.state_dict()).keys() == weights.keys()
    assert "fc1.bias" in views.layer_weights(model, biases=True)


def test_fold_fits_replay_archive_of_real_runs(data, run_dir):
    kfold = _finished(RunConfig(DATA, ModelConfig(hidden=(8,)), TrainConfig(epochs=3, kfold=3)), run_dir)
    grid = runs.fit_grid(data)
    folds = views.fold_fits(kfold.dir, grid)
    assert folds.fits.shape == (3, len(grid)) and folds.val_mse.shape == (3,)
    assert np.all(np.isfinite(folds.val_mse)) and np.all(folds.std >= 0)
    np.testing.assert_allclose(folds.mean, folds.fits.mean(0))
    assert views.fold_fits(run_dir, grid) is None  # no fold files there

    single = _finished(RunConfig(DATA, ModelConfig(hidden=(8,)), TrainConfig(epochs=4)), run_dir)
    snaps = single.view().snapshots
    assert views.replay_epoch(snaps, 2) == 2 and views.replay_epoch(snaps, 2.7) == 2
    assert views.replay_epoch(snaps, 99) == 4 and views.replay_epoch({}, 1) is None
    initial = single.folder.epoch_weights(0)
    assert initial is not None and "fc1.weight" in initial
    assert single.folder.epoch_weights(999) is None

    blob = views.run_archive(single.dir)
    with zipfile.ZipFile(io.BytesIO(blob)) as zf:
        names = {n.split("/", 1)[1] for n in zf.namelist()}
        assert {"config.json", "status.json", "final.pt", "best.pt", "history.csv", "batches.csv"} <= names
        history = zf.read(f"{single.dir.name}/history.csv").decode().splitlines()
        assert history[0].startswith("epoch,train_loss,val_loss,test_loss") and len(history) == 1 + 5
        assert RunConfig.from_json(zf.read(f"{single.dir.name}/config.json").decode()) == single.config
    with zipfile.ZipFile(io.BytesIO(views.run_archive(kfold.dir))) as zf:
        assert {f"fold_{k}.pt" for k in (1, 2, 3)} <= {n.split("/", 1)[1] for n in zf.namelist()}


def test_rows_csv_keeps_every_column():
    text = views.rows_csv([{"a": 1, "b": 2}, {"a": 3, "c": 4}])
    assert text.splitlines() == ["a,b,c", "1,2,", "3,,4"]


def test_save_csv_upload_keeps_good_files_once_and_refuses_bad(tmp_path):
    good = b"x,y\n" + b"".join(b"%d,%d\n" % (i, i * i) for i in range(10))
    path, n = views.save_csv_upload(good, tmp_path)
    assert n == 10 and path.read_bytes() == good and path.parent == tmp_path
    assert views.save_csv_upload(good, tmp_path)[0] == path  # same bytes, same file
    for bad in (b"", b"x,y\n1,2\n", b"\x00\x01\x02" * 100, b"a,b\nu,v\nw,z\n"):
        with pytest.raises(CsvError):
            views.save_csv_upload(bad, tmp_path)
    assert len(list(tmp_path.iterdir())) == 1


# --- figures ----------------------------------------------------------------------------------

def test_fit_figure_traces_shading_and_fixed_axes():
    pts = {"train": (np.arange(5.0), np.arange(5.0)), "val": (np.array([]), np.array([])),
           "test": (np.arange(3.0), np.ones(3))}
    grid = np.linspace(0, 4, 9)
    fig = rfig.fit_figure(pts, gaps=((1.0, 2.0), (3.0, 3.5)), truth=(grid, grid), fit=(grid, grid * 0.9),
                          before=(grid, 0 * grid), band=(grid, grid - 1, grid + 1), extra_fits=[(grid, grid)] * 2,
                          x_range=(-1, 5), y_range=(-2, 6), title="t")
    assert isinstance(fig, go.Figure)
    names = [t.name for t in fig.data]
    assert names.count("fold models") == 2 and "val" not in names  # empty splits are skipped
    assert {"no training data", "band", "train", "test", "true function", "untrained", "fit"} <= set(names)
    assert len(fig.layout.shapes) == 2 and fig.layout.xaxis.range == (-1, 5) and fig.layout.yaxis.range == (-2, 6)
    assert fig.layout.uirevision == "fit"


def test_loss_figure_log_axis_noise_floor_and_readable_ticks():
    epochs = [{"epoch": e, "train_loss": 2.0 / (e + 1), "val_loss": 2.2 / (e + 1), "test_loss": 2.1 / (e + 1)}
              for e in range(30)]
    fig = rfig.loss_figure(epochs, [(e + 0.5, 2.0 / (e + 1)) for e in range(30)], noise_var=0.09, upto_epoch=20)
    assert fig.layout.yaxis.type == "log"
    assert any(s.y0 == 0.09 for s in fig.layout.shapes)
    assert "0.1" in fig.layout.yaxis.ticktext and "0.2" in fig.layout.yaxis.ticktext
    test = next(t for t in fig.data if t.name == "test")
    assert max(test.x) == 20  # replay: cut at the epoch, axis keeps the whole run


def test_other_figures_build(tmp_path):
    x = np.linspace(0, 1, 20)
    assert len(rfig.residual_figure({"test": (x, x - 0.5)}, noise=0.3).layout.shapes) == 3
    folds = rfig.fold_losses_figure([0.1, 0.12, 0.09])
    assert len(folds.data[0].y) == 3 and "±" in folds.layout.annotations[0].text
    heat = rfig.neuron_heatmap(x, np.vstack([np.tanh(x), -np.tanh(x)]), order=[1, 0])
    assert heat.data[0].y == ("n1", "n0") and heat.data[0].zmid == 0
    curves = rfig.neuron_curves(x, {"neuron 0": x, "neuron 1": -x}, total=0 * x)
    assert [t.name for t in curves.data] == ["neuron 0", "neuron 1", "network output"]
    hist = rfig.weight_change_histograms({"fc1.weight": np.random.randn(64), "out.weight": np.random.randn(8)},
                                         {"fc1.weight": np.random.randn(64), "out.weight": np.random.randn(8)})
    assert len(hist.data) == 4 and "→" in hist.layout.annotations[0].text
    html = rfig.html_report({"a": heat, "b": curves}, "report")
    assert html.count("<h2>") == 2 and html.count("plotly.js v") <= 2 and "Plotly.newPlot" in html


# --- the page's settings <-> config ---------------------------------------------------------------

def test_default_settings_build_the_default_preset_run():
    cfg = rs.run_config(rs.default_settings())
    preset = PRESETS["regressor"]
    assert cfg.preset == "regressor" and cfg.model == preset.model and cfg.data == DATA
    assert cfg.train == TrainConfig(**{**json.loads(json.dumps(preset.train.__dict__)), "kfold": 0, "seed": 0,
                                       "device": "auto"})


@pytest.mark.parametrize("name", list(rs.PRESETS))
def test_every_preset_round_trips_through_the_widgets(name):
    settings = {**rs.default_settings(), **rs.preset_settings(name)}
    cfg = rs.run_config(settings)
    preset = rs.PRESETS[name]
    assert cfg.model == preset.model
    for field in ("optimizer", "lr", "weight_decay", "batch_size", "epochs", "scheduler"):
        assert getattr(cfg.train, field) == getattr(preset.train, field), field
    custom = rs.run_config({**settings, "rg_model": rs.CUSTOM})
    assert custom.model.hidden == preset.model.hidden and custom.preset == ""


def test_csv_settings_need_an_upload():
    settings = {**rs.default_settings(), "rg_source": "csv"}
    with pytest.raises(Exception, match="Upload a CSV"):
        rs.run_config(settings)
    assert rs.run_config(settings, "/tmp/x.csv").data.dataset == "csv"
    assert rs.settings_complete({"rg_noise": 0.5, "gone": 1})["rg_noise"] == 0.5
    assert "gone" not in rs.settings_complete({"gone": 1})


def test_in_place_refresh_matches_a_rebuild():
    """The live view moves curves in place (~1 ms) instead of rebuilding (~50 ms): same result."""
    epochs = [{"epoch": e, "train_loss": 1 / (e + 1), "val_loss": 1.1 / (e + 1), "test_loss": 1.2 / (e + 1)}
              for e in range(80)]
    batches = [(e + 0.5, 1 / (e + 1)) for e in range(80)]
    fig = rfig.loss_figure(epochs[:10], batches[:10], noise_var=0.09)
    assert rfig.refresh_loss(fig, epochs, batches, noise_var=0.09)
    fresh = rfig.loss_figure(epochs, batches, noise_var=0.09)
    for a, b in zip(fig.data, fresh.data, strict=True):
        assert (a.name, list(a.x), a.mode) == (b.name, list(b.x), b.mode)
        np.testing.assert_allclose(a.y, b.y)
    assert fig.layout.yaxis.tickvals == fresh.layout.yaxis.tickvals
    assert tuple(fig.layout.xaxis.range) == tuple(fresh.layout.xaxis.range)
    assert not rfig.refresh_loss(rfig.loss_figure(epochs[:1]), epochs, batches)  # new traces: rebuild

    x = np.linspace(0, 1, 5)
    fit = rfig.fit_figure({"train": (x, x)}, fit=(x, x), before=(x, 0 * x), title="epoch 1")
    assert rfig.refresh_fit(fit, fit=(x, 2 * x), before=(x, 0 * x), title="epoch 2")
    assert fit.layout.title.text == "epoch 2"
    np.testing.assert_allclose(next(t for t in fit.data if t.meta == "fit").y, 2 * x)
    assert not rfig.refresh_fit(rfig.fit_figure({"train": (x, x)}), fit=(x, x))  # no fit trace yet


def test_batch_norm_on_one_sample_batches_is_refused_before_training():
    base = {**rs.default_settings(), "rg_model": rs.CUSTOM, "rg_bn": True}
    with pytest.raises(Exception, match="at least 2 samples"):
        rs.run_config({**base, "rg_batch_size": 1})
    # 100 points, 10% validation: 90 train points; batches of 89 would leave a last batch of 1
    with pytest.raises(Exception, match="last batch of 1"):
        rs.run_config({**base, "rg_batch_size": 89})
    assert rs.run_config({**base, "rg_batch_size": 16}).model.batch_norm
    assert rs.run_config({**base, "rg_bn": False, "rg_batch_size": 1}).train.batch_size == 1
