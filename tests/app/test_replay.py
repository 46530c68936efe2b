"""AppTest: replay with play / pause, diagnostics next to the curves and the HTML report button,
on the Regression and Classification labs after a short real run.

run_every does not fire in AppTest: a rerun after one frame interval (on a clock moved by hand) stands in
for the timer.
"""
from __future__ import annotations

import json

import pytest
import torch
from streamlit.testing.v1 import AppTest

from nnviz.jobs import runs
from nnviz.ui.replay import PLAY_S
from tests.app.conftest import APP


@pytest.fixture(autouse=True)
def _restore_torch_threads():
    threads = torch.get_num_threads()  # a run sets torch's thread count: give later tests the process back
    yield
    torch.set_num_threads(threads)


def _open(page: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    at.switch_page(page).run()
    assert not at.exception, at.exception
    return at


def _wait(at: AppTest, slot: str) -> dict:
    run = runs.get(at.session_state[f"run_id:{slot}"])
    assert run is not None and run.wait(180), "the run did not finish"
    at.run()
    assert not at.exception, at.exception
    return run.view()


def _tick(at: AppTest, clock) -> None:
    clock.advance(PLAY_S)
    at.run()
    assert not at.exception, at.exception


def _texts(at: AppTest) -> str:
    return " ".join([c.value for c in at.caption] + [w.value for w in at.warning] + [e.value for e in at.error])


def test_regression_replay_plays_and_pauses(nnviz_env, replay_clock):
    at = _open("app_pages/regression.py")
    at.number_input(key="rg_epochs").set_value(8).run()
    at.button(key="rg_start").click().run()
    view = _wait(at, "regression")
    assert view.status == "finished" and "grad_norm" in view.history[-1]  # gradient norms were recorded
    # diagnostics under the loss chart, and marked on it (the best epoch's line)
    assert "lowest validation MSE" in _texts(at)
    loss = next(json.loads(c.proto.spec) for c in at.get("plotly_chart") if "rg_loss_live" in c.proto.id)
    assert any(s.get("type") == "line" for s in loss["layout"].get("shapes", []))
    # the report button on the Results tab
    assert "Download HTML report" in [b.label for b in at.get("download_button")]

    at.session_state["rg_result_tab"] = "Replay"
    at.run()
    slider = at.select_slider(key="rg_replay_epoch")
    assert slider.value == 8
    slider.set_value(0).run()
    at.button(key="rg_replay_epoch_play").click().run()
    assert at.button(key="rg_replay_epoch_play").label == "Pause"
    _tick(at, replay_clock)
    assert at.select_slider(key="rg_replay_epoch").value == 1
    _tick(at, replay_clock)
    assert at.select_slider(key="rg_replay_epoch").value == 2
    fit = next(json.loads(c.proto.spec) for c in at.get("plotly_chart") if "rg_replay_fit" in c.proto.id)
    assert "Fit at epoch 2" in json.dumps(fit["layout"]["title"])  # the figure follows the slider
    at.button(key="rg_replay_epoch_play").click().run()  # pause
    assert at.button(key="rg_replay_epoch_play").label == "Play"
    _tick(at, replay_clock)
    assert at.select_slider(key="rg_replay_epoch").value == 2


def test_classification_replay_plays_and_pauses(nnviz_env, replay_clock):
    at = _open("app_pages/classification.py")
    at.number_input(key="cls_epochs").set_value(3).run()
    at.button(key="cls_start").click().run()
    view = _wait(at, "classification")
    assert view.status == "finished"
    assert "Download HTML report" in [b.label for b in at.get("download_button")]
    assert "lowest validation loss" in _texts(at)
    at.select_slider(key="cls_replay").set_value(0).run()
    assert next(m.value for m in at.metric if m.label == "Epoch") == "0"
    at.button(key="cls_replay_play").click().run()
    assert at.session_state["cls_replay:playing"]
    _tick(at, replay_clock)
    assert at.select_slider(key="cls_replay").value == 1
    assert next(m.value for m in at.metric if m.label == "Epoch") == "1"  # metrics, strip and tabs follow
    _tick(at, replay_clock)
    _tick(at, replay_clock)
    assert at.select_slider(key="cls_replay").value == 3
    assert not at.session_state["cls_replay:playing"]  # paused itself at the last epoch
    assert at.button(key="cls_replay_play").label == "Play"


def _finished_cnn(epochs: int = 3) -> runs.Run:
    """A tiny CNN run on digits with weights kept for every epoch."""
    from nnviz.config import DataConfig, RunConfig, replace
    from nnviz.model.models import PRESETS

    preset = PRESETS["fast_cnn"]
    cfg = RunConfig(data=DataConfig(dataset="digits"), model=preset.model,
                    train=replace(preset.train, epochs=epochs, max_steps=3, snapshot_every=1), preset="fast_cnn")
    run = runs.start(cfg)
    assert run.wait(120) and run.status == "finished", run.message
    return run


def _pick(at: AppTest, key: str, run_id: str) -> None:
    box = at.selectbox(key=key)
    box.select(next(i for i, label in enumerate(box.options) if run_id in label)).run()
    assert not at.exception, at.exception


def _titles(at: AppTest) -> list[str]:
    return [(json.loads(c.proto.spec)["layout"].get("title") or {}).get("text", "") for c in at.get("plotly_chart")]


def test_inside_filters_replay_the_run(nnviz_env, replay_clock):
    run = _finished_cnn()
    at = _open("app_pages/inside.py")
    _pick(at, "inside_model", run.id)
    at.session_state["inside_tab"] = "Filters"
    at.run()
    assert at.select_slider(key="inside_filter_epoch").options == ["0", "1", "2", "3"]
    assert any(t.endswith("epoch 3") for t in _titles(at))
    final = json.loads(at.get("plotly_chart")[0].proto.spec)["data"][0]["z"]
    at.select_slider(key="inside_filter_epoch").set_value(0).run()
    untrained = json.loads(at.get("plotly_chart")[0].proto.spec)["data"][0]["z"]
    assert untrained != final  # the epoch-0 weights file, not the trained model
    at.button(key="inside_filter_epoch_play").click().run()
    _tick(at, replay_clock)
    assert at.select_slider(key="inside_filter_epoch").value == 1 and any(t.endswith("epoch 1") for t in _titles(at))


def _heatmap(at: AppTest) -> list:
    chart = next(c for c in at.get("plotly_chart") if "explain_fig_epoch_heatmap" in c.proto.id)
    return json.loads(chart.proto.spec)["data"][0]["z"]


def test_explain_replays_one_image_over_training(nnviz_env, replay_clock):
    run = _finished_cnn()
    at = _open("app_pages/explain.py")
    _pick(at, "explain_model", run.id)
    at.radio(key="explain_view").set_value("epochs").run()
    assert not at.exception, at.exception
    assert at.select_slider(key="explain_epoch").options == ["0", "1", "2", "3"]
    assert any("epoch 3" in t for t in _titles(at))
    trained = _heatmap(at)
    at.select_slider(key="explain_epoch").set_value(0).run()
    assert not at.exception, at.exception
    assert any("epoch 0" in t for t in _titles(at))
    assert _heatmap(at) != trained
    at.button(key="explain_epoch_play").click().run()
    _tick(at, replay_clock)
    assert at.select_slider(key="explain_epoch").value == 1 and any("epoch 1" in t for t in _titles(at))


def test_explain_replay_with_heavy_settings_asks_once_then_draws_every_epoch(nnviz_env, replay_clock, monkeypatch):
    from nnviz.analysis import explain_cost

    monkeypatch.setattr(explain_cost, "BUDGET_S", 0.0)  # every setting counts as heavy: asked for first
    run = _finished_cnn()
    at = _open("app_pages/explain.py")
    _pick(at, "explain_model", run.id)
    at.radio(key="explain_view").set_value("epochs").run()
    assert not at.exception, at.exception
    assert not [c for c in at.get("plotly_chart") if "explain_fig_epoch" in c.proto.id]  # nothing computed yet
    go = [b for b in at.button if b.label.startswith("Compute anyway")]
    assert len(go) == 1  # one question for the whole replay
    go[0].click().run()
    for epoch in (3, 0, 3):  # the trained frame (computed once, with the question), an earlier one, back
        at.select_slider(key="explain_epoch").set_value(epoch).run()
        assert not at.exception, at.exception
        assert not at.error, [e.value for e in at.error]
        assert any(f"epoch {epoch}" in t for t in _titles(at)) and _heatmap(at)


def test_explain_over_training_explains_itself_for_a_checkpoint(nnviz_env):
    at = _open("app_pages/explain.py")  # the shipped default CNN: no per-epoch weights
    at.radio(key="explain_view").set_value("epochs").run()
    assert not at.exception and any("Only a training run keeps" in i.value for i in at.info)


def test_regression_diverged_run_is_marked_and_explained(nnviz_env):
    at = _open("app_pages/regression.py")
    at.selectbox(key="rg_optimizer").set_value("sgd").run()
    at.select_slider(key="rg_lr").set_value(1.0).run()
    at.number_input(key="rg_epochs").set_value(30).run()
    at.button(key="rg_start").click().run()
    view = _wait(at, "regression")
    assert view.status == "diverged"
    assert any("diverged" in e.value for e in at.error)  # the run's own message, once
    assert not any("Training diverged" in e.value for e in at.error)  # the finding is not repeated in words ...
    loss = next(json.loads(c.proto.spec) for c in at.get("plotly_chart") if "rg_loss_live" in c.proto.id)
    assert any(a.get("text") == "diverged" for a in loss["layout"].get("annotations", []))  # ... but marked
