"""AppTest: the Regression lab's controls, a short training run, the after-training tabs, CSV errors.

run_every does not fire in AppTest: after Start we wait for the Run itself, then rerun.
"""
from __future__ import annotations

import json

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from tests.app.conftest import APP
from tests.waiting import GENEROUS_S, wait_until

PAGE = "app_pages/regression.py"
RUN_KEY = "run_id:regression"


@pytest.fixture
def lab(nnviz_env):
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    at.switch_page(PAGE).run()
    assert not at.exception, at.exception
    return at


def _run(at: AppTest):
    from nnviz.jobs import runs

    return runs.get(at.session_state[RUN_KEY])


def _train(at: AppTest, **widgets) -> dict:
    """Set number inputs / select boxes by key, press Start, wait for the run, rerun; returns its view."""
    for key, value in widgets.items():
        element = at.number_input(key=key) if key in ("rg_epochs", "rg_seed") else at.selectbox(key=key)
        element.set_value(value)
    at.run()
    at.button(key="rg_start").click().run()
    assert not at.exception, at.exception
    run = _run(at)
    assert run is not None
    assert run.wait(120)
    at.run()  # the page after the run (in the browser, the fragment triggers this rerun)
    assert not at.exception, at.exception
    return run.view()


def _texts(at: AppTest) -> str:
    return " ".join([m.value for m in at.markdown] + [c.value for c in at.caption] + [s.value for s in at.success]
                    + [w.value for w in at.warning] + [e.value for e in at.error] + [i.value for i in at.info])


def test_page_renders_data_and_untrained_fit(lab):
    assert lab.title[0].value == "Regression lab"
    assert [t.label for t in lab.tabs][:3] == ["Data", "Model", "Training"]
    assert not lab.button(key="rg_start").disabled
    assert lab.button(key="rg_stop").disabled and lab.button(key="rg_reset").disabled
    # the data and the untrained network's fit: one plotly chart, with the empty x-ranges shaded
    charts = lab.get("plotly_chart")
    assert len(charts) == 1, "the preview chart is missing"
    spec = json.loads(charts[0].proto.spec)
    assert len(spec["layout"]["shapes"]) == 4  # the course's two gaps and both ends beyond the training x
    assert {t["name"] for t in spec["data"]} >= {"train", "val", "test", "true function", "untrained"}
    assert "untrained network" in _texts(lab) and "σ² = 0.09" in _texts(lab)
    # architecture table of the default preset 1 -> 64 -> 64 -> 1
    table = lab.dataframe[0].value
    assert list(table["layer"]) == ["fc1", "act_fc1", "fc2", "act_fc2", "out"]
    assert int(table["parameters"].sum()) == 64 + 64 + 64 * 64 + 64 + 64 + 1
    assert "4,353 parameters" in _texts(lab)


def test_controls_cover_every_option(lab):
    assert lab.selectbox(key="rg_function").options[0].startswith("Course function")
    assert len(lab.selectbox(key="rg_function").options) >= 4
    assert set(lab.selectbox(key="rg_optimizer").options) == {"SGD with momentum", "Adam", "AdamW", "RMSprop", "Adadelta"}
    assert lab.selectbox(key="rg_kfold").options == ["off"] + [f"{k} folds" for k in range(2, 11)]
    assert lab.selectbox(key="rg_device").options[:2] == ["auto", "CPU"]
    lr = lab.select_slider(key="rg_lr")
    assert lr.options[0] == "0.0001" and lr.options[-1] == "100" and "10" in lr.options and lr.value == 0.01
    models = lab.selectbox(key="rg_model").options
    for title in ("Linear regression", "1 hidden layer, sigmoid", "3 hidden layers, sigmoid", "Dropout LeakyReLU",
                  "Custom MLP"):
        assert any(m.startswith(title) for m in models), title

    # a preset fills the model and its tuned training; the model fields stay read-only
    lab.selectbox(key="rg_model").set_value("linear").run()
    assert lab.slider(key="rg_layers").value == 0 and lab.slider(key="rg_layers").disabled
    assert lab.selectbox(key="rg_optimizer").value == "sgd" and lab.number_input(key="rg_epochs").value == 100
    assert list(lab.dataframe[0].value["layer"]) == ["out"]
    lab.selectbox(key="rg_model").set_value("mlp3_sigmoid").run()
    assert lab.slider(key="rg_layers").value == 3 and lab.selectbox(key="rg_activation").value == "sigmoid"

    # custom: 0-5 layers, a width per layer, six activations, dropout, batch-norm
    lab.selectbox(key="rg_model").set_value("custom").run()
    assert not lab.slider(key="rg_layers").disabled
    lab.slider(key="rg_layers").set_value(5).run()
    for i in range(1, 6):
        lab.number_input(key=f"rg_w{i}").set_value(8 * i)
    lab.selectbox(key="rg_activation").set_value("gelu")
    lab.slider(key="rg_dropout").set_value(0.2)
    lab.checkbox(key="rg_bn").check()
    lab.run()
    assert not lab.exception
    assert set(lab.selectbox(key="rg_activation").options) == {"Sigmoid", "Tanh", "ReLU", "LeakyReLU", "ELU", "GELU"}
    layers = list(lab.dataframe[0].value["layer"])
    assert layers.count("drop_fc1") == 1 and "bn_fc5" in layers and "fc5" in layers

    # training controls: momentum appears for SGD, step size and gamma for the step schedule
    lab.selectbox(key="rg_optimizer").set_value("sgd").run()
    assert lab.slider(key="rg_momentum").value == 0.9
    lab.selectbox(key="rg_scheduler").set_value("step").run()
    lab.number_input(key="rg_step_size").set_value(5)
    lab.select_slider(key="rg_lr").set_value(0.003)
    lab.select_slider(key="rg_weight_decay").set_value(1e-4)
    lab.select_slider(key="rg_batch_size").set_value(32)
    lab.number_input(key="rg_patience").set_value(7)
    lab.selectbox(key="rg_kfold").set_value(4)
    lab.number_input(key="rg_seed").set_value(3)
    lab.run()
    from nnviz.ui import regression_settings as rs

    cfg = rs.run_config(lab.session_state["regression:settings"])
    assert cfg.model.hidden == (8, 16, 24, 32, 40) and cfg.model.activation == "gelu" and cfg.model.batch_norm
    assert (cfg.train.optimizer, cfg.train.lr, cfg.train.weight_decay, cfg.train.batch_size) == ("sgd", 0.003, 1e-4, 32)
    assert (cfg.train.scheduler, cfg.train.step_size, cfg.train.early_stopping, cfg.train.kfold, cfg.train.seed) == \
        ("step", 5, 7, 4, 3)

    # a typed learning rate off the slider's stops: the slider moves to it, the run trains with it
    lab.text_input(key="rg_lr_typed").input("7").run()
    assert lab.select_slider(key="rg_lr").value == 7.0 and lab.text_input(key="rg_lr_typed").value == ""
    assert rs.run_config(lab.session_state["regression:settings"]).train.lr == 7.0
    for bad in ("fast", "1e9", "-1", "nan"):  # one sentence under the box; the learning rate stays
        lab.text_input(key="rg_lr_typed").input(bad).run()
        assert not lab.exception and lab.select_slider(key="rg_lr").value == 7.0
        assert any("is not a learning rate from 1e-06 to 100" in c.value for c in lab.caption), bad

    # data controls change the preview without an exception
    lab.selectbox(key="rg_function").set_value("sine")
    lab.slider(key="rg_noise").set_value(0.5)
    lab.slider(key="rg_n_train").set_value(200)
    lab.slider(key="rg_n_test").set_value(50)
    lab.number_input(key="rg_data_seed").set_value(7).run()
    assert not lab.exception
    assert "σ² = 0.25" in _texts(lab)

    lab.button(key="rg_defaults").click().run()
    assert lab.selectbox(key="rg_model").value == "regressor" and lab.slider(key="rg_noise").value == 0.3


def test_settings_survive_a_page_switch(lab):
    lab.slider(key="rg_noise").set_value(0.45)
    lab.selectbox(key="rg_model").set_value("mlp1_sigmoid").run()
    lab.switch_page("app_pages/home.py").run()
    lab.switch_page(PAGE).run()
    assert lab.slider(key="rg_noise").value == 0.45
    assert lab.selectbox(key="rg_model").value == "mlp1_sigmoid"
    assert lab.number_input(key="rg_epochs").value == 400


def test_short_run_then_every_result_tab(lab):
    view = _train(lab, rg_epochs=12)
    assert view.status == "finished" and len(view.history) == 13
    assert lab.button(key="rg_reset").disabled is False and lab.button(key="rg_stop").disabled
    # live panel in its final state: progress text, metrics, fit and loss
    assert any(m.label == "test MSE" for m in lab.metric)
    assert [t.label for t in lab.tabs][3:] == ["Results", "Replay", "Neurons", "Weights", "Download"]
    metrics = lab.dataframe[-1].value
    assert list(metrics["split"]) == ["train", "val", "test"]
    assert metrics["MSE"].iloc[2] == pytest.approx(view.history[-1]["test_loss"], rel=1e-4)
    assert "Test MSE" in _texts(lab)

    for tab in ("Replay", "Neurons", "Weights", "Download"):
        lab.session_state["rg_result_tab"] = tab
        lab.run()
        assert not lab.exception, (tab, lab.exception)
    lab.session_state["rg_result_tab"] = "Replay"
    lab.run()
    lab.select_slider(key="rg_replay_epoch").set_value(5).run()
    assert not lab.exception
    lab.session_state["rg_result_tab"] = "Neurons"
    lab.run()
    assert lab.selectbox(key="rg_neuron_layer").value == 1  # the last hidden layer first
    lab.selectbox(key="rg_neuron_layer").set_value(0).run()
    assert not lab.exception
    lab.session_state["rg_result_tab"] = "Download"
    lab.run()
    labels = [b.label for b in lab.get("download_button")]
    assert labels == ["Run (zip)", "History (CSV)", "Config (JSON)", "Checkpoint (.pt)", "Figures (HTML)"]

    # Reset forgets the run and shows the untrained model again
    lab.button(key="rg_reset").click().run()
    assert RUN_KEY not in lab.session_state and "untrained network" in _texts(lab)


def test_default_preset_reaches_one_and_a_half_noise_variances(lab):
    """Done-when: the default preset on the default data, default epochs: test MSE <= 1.5 x noise variance."""
    view = _train(lab)
    assert view.status == "finished" and len(view.history) == 301
    test_mse = view.history[-1]["test_loss"]
    assert test_mse <= 1.5 * 0.3**2, test_mse
    assert any("within the 1.5 × σ² target" in s.value for s in lab.success)


def test_kfold_run_shows_the_band_and_fold_losses(lab):
    _train(lab, rg_epochs=8, rg_kfold=3)
    assert "K-fold" in [t.label for t in lab.tabs]
    lab.session_state["rg_result_tab"] = "K-fold"
    lab.run()
    assert not lab.exception, lab.exception
    text = _texts(lab)
    assert "3-fold cross-validation" in text and "±" in text


def test_stop_ends_the_run_while_the_page_keeps_working(lab):
    """How soon Stop takes effect is measured by benchmarks/stop_latency.py."""
    lab.number_input(key="rg_epochs").set_value(5000).run()
    lab.button(key="rg_start").click().run()
    run = _run(lab)
    wait_until(lambda: not run.active or len(run.view().history) >= 3, what="three epochs")
    assert run.active
    # interactions while training: a rerun renders the live panel, widgets still work
    lab.slider(key="rg_noise").set_value(0.4).run()
    assert not lab.exception and lab.button(key="rg_start").disabled and not lab.button(key="rg_stop").disabled
    assert any("epoch" in m.label for m in lab.metric)
    status = lab.get("progress")[0].proto.text
    assert "samples/s" in status and "ETA" in status, status
    # a page switch does not stop the run, and coming back shows it again
    lab.switch_page("app_pages/home.py").run()
    assert run.active
    lab.switch_page(PAGE).run()
    assert not lab.exception and lab.session_state[RUN_KEY] == run.id and not lab.button(key="rg_stop").disabled
    lab.button(key="rg_stop").click().run()
    assert run.wait(GENEROUS_S), "Stop did not end the run"
    assert run.view().status == "stopped" and len(run.view().history) < 5000
    lab.run()
    assert not lab.exception
    assert any(p.proto.text.startswith("Stopped") for p in lab.get("progress"))


def test_another_device_follows_the_run_training_in_the_lab_until_reset(lab, monkeypatch):
    from nnviz.ui import access

    lab.number_input(key="rg_epochs").set_value(5000).run()
    lab.button(key="rg_start").click().run()
    run = _run(lab)
    wait_until(lambda: not run.active or len(run.view().history) >= 2, what="two epochs")
    monkeypatch.setattr(access, "client", lambda: "10.0.0.7")  # from here on, sessions come from a student's device
    other = AppTest.from_file(APP, default_timeout=120)  # a second tab: its own session, no ?regression_run
    other.run()
    other.switch_page(PAGE).run()
    assert not other.exception, other.exception
    assert other.session_state[RUN_KEY] == run.id and other.query_params["regression_run"] in (run.id, [run.id])
    assert any("epoch" in m.label for m in other.metric)  # the live view, not the untrained preview
    assert other.button(key="rg_stop").disabled  # watching only: the run is not the student's to stop
    link = f"/regression?regression_run={run.id}"  # the Share popover's link (its QR code is the same text)
    assert any(c.value.endswith(link) for c in other.code), [c.value for c in other.code]
    other.button(key="rg_reset").click().run()  # back to its own preview, though the run still trains
    assert run.active and RUN_KEY not in other.session_state and not any("epoch" in m.label for m in other.metric)
    other.run()
    assert RUN_KEY not in other.session_state
    lab.button(key="rg_stop").click().run()
    assert run.wait(GENEROUS_S)


BAD_CSVS = {
    "no numeric columns": ("words.csv", b"name,colour\nann,red\nbob,blue\ncid,green\ndan,grey\n", "numeric"),
    "NaN": ("nan.csv", b"x,y\n0,1\n1,nan\n2,3\n3,4\n4,5\n", "NaN"),
    "one row": ("one.csv", b"x,y\n0.5,1.5\n", "at least 4"),
    "a million rows": ("big.csv", b"x,y\n" + b"0.5,1.5\n" * 1_000_000, "limit is 100,000"),
    "wrong delimiter": ("pipes.csv", b"x|y\n" + b"".join(b"%d|%d\n" % (i, i * i) for i in range(20)), "one column"),
    "binary junk": ("junk.csv", bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8)), "binary"),
    "empty": ("empty.csv", b"", "empty"),
}


@pytest.mark.parametrize("case", list(BAD_CSVS))
def test_bad_csv_gives_a_clear_message_and_the_page_keeps_working(lab, case):
    name, content, words = BAD_CSVS[case]
    lab.radio(key="rg_source").set_value("csv").run()
    lab.file_uploader(key="rg_upload").set_value((name, content, "text/csv")).run()
    assert not lab.exception, lab.exception
    errors = [e.value for e in lab.error]
    assert errors and name in errors[0] and words in errors[0], errors
    assert lab.button(key="rg_start").disabled
    # the page still works: back to a synthetic function, preview and Start come back
    lab.radio(key="rg_source").set_value("synthetic").run()
    assert not lab.exception and not lab.button(key="rg_start").disabled


def test_good_csv_trains(lab):
    x = np.linspace(-3, 3, 60)
    rows = "".join(f"{a:.4f};{np.sin(a) + 0.1 * np.cos(7 * a):.4f}\n" for a in x)
    lab.radio(key="rg_source").set_value("csv").run()
    lab.file_uploader(key="rg_upload").set_value(("sine.csv", ("x;y\n" + rows).encode(), "text/csv")).run()
    assert not lab.exception and not lab.error
    assert "60 points" in _texts(lab)
    view = _train(lab, rg_epochs=5)
    assert view.status == "finished" and view.config.data.dataset == "csv"
    assert any("Final metrics" in m.value for m in lab.markdown)
