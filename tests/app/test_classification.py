"""AppTest: the Classification lab renders, trains, shows results, saves / loads checkpoints,
and turns bad input (a missing set, NaN loss, out of memory, a broken checkpoint) into messages."""
from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from nnviz.config import ConvBlock, DataConfig, ModelConfig, RunConfig, TrainConfig
from nnviz.data import DatasetMissing
from nnviz.jobs import runs
from nnviz.model import checkpoints
from nnviz.ui import access
from nnviz.ui import classification_config as cc
from tests.app.conftest import live_data
from tests.waiting import GENEROUS_S, wait_until

PAGE = "app_pages/classification.py"


@pytest.fixture(autouse=True)
def _restore_torch_threads():
    """A run sets torch's thread count (nnviz.training.threads): give later tests the process as it was."""
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def page(app):
    app.switch_page(PAGE).run()
    assert not app.exception, app.exception
    return app


def _metric(at, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def _train(at, timeout: float = 240) -> runs.Run:
    """Press Start, wait for the background run, rerun the page (run_every does not fire in AppTest)."""
    at.button(key="cls_start").click().run()
    assert not at.exception, at.exception
    run = runs.get(at.session_state["run_id:classification"])
    assert run is not None and run.wait(timeout), "the run did not finish"
    at.run()
    assert not at.exception, at.exception
    return run


def _frame(at, column: str):
    """The first table with this column (AppTest does not expose dataframe keys)."""
    return next(df.value for df in at.dataframe if column in df.value.columns)


def _errors(at) -> str:
    return " ".join(e.value for e in at.error)


def test_page_renders_the_default_set_up(page):
    assert any("Classification lab" in t.value for t in page.title)
    assert page.selectbox(key="cls_dataset").value == "digits"
    assert page.selectbox(key="cls_model").value == "fast_cnn"
    assert not page.button(key="cls_start").disabled
    assert page.button(key="cls_stop").disabled
    arch = _frame(page, "layer")
    assert {"conv1", "bn1", "gap", "out"} <= set(arch["layer"])
    assert arch["parameters"].sum() == 24_058
    code = page.code[0].value
    assert "class Net(nn.Module)" in code and "24,058" in code
    ns: dict = {}
    exec(compile(code, "<page code>", "exec"), ns)  # noqa: S102 - the code the page shows runs
    assert sum(p.numel() for p in ns["Net"]().parameters()) == 24_058
    assert any("1,294" in c.value for c in page.caption)  # class counts: 1,294 training images
    assert not page.error


def test_train_the_default_cnn_then_read_results_replay_and_mistakes(page):
    page.number_input(key="cls_epochs").set_value(2).run()
    run = _train(page)
    assert run.view().status == "finished"
    acc = float(_metric(page, "Test accuracy").rstrip("%")) / 100
    assert acc >= 0.9
    assert acc == pytest.approx(run.view().history[-1]["test_acc"], abs=1e-4)
    per_class = _frame(page, "f1")
    assert list(per_class["class"]) == [str(i) for i in range(10)]
    assert per_class["support"].sum() == 359
    # replay: the untrained network (epoch 0) is at chance level
    page.select_slider(key="cls_replay").set_value(0).run()
    assert not page.exception, page.exception
    assert _metric(page, "Epoch") == "0"
    assert float(_metric(page, "Test accuracy").rstrip("%")) < 30
    assert not any("chance level" in w.value for w in page.warning)  # untrained is expected to guess
    page.select_slider(key="cls_replay").set_value(2).run()
    page.segmented_control(key="cls_cm_mode").set_value("row-normalised").run()
    assert not page.exception, page.exception
    # gallery filters: a true class with no mistakes leaves an empty, explained gallery
    page.selectbox(key="cls_err_true").set_value(0).run()
    assert not page.exception, page.exception
    assert any("misclassified test images match" in m.value for m in page.markdown)
    # a widget click while nothing trains leaves the results in place
    page.selectbox(key="cls_err_true").set_value(None).run()
    assert _metric(page, "Epoch") == "2"


def test_saved_checkpoint_loads_back_with_identical_accuracy(page, nnviz_env):
    page.number_input(key="cls_epochs").set_value(1).run()
    run = _train(page)
    run_acc = _metric(page, "Test accuracy")
    page.text_input(key="cls_save_name").input("lecture demo").run()
    page.button(key="cls_save").click().run()
    assert not page.exception, page.exception
    saved = nnviz_env / "checkpoints" / "lecture_demo.pt"
    assert saved.is_file(), _errors(page)
    assert any("Saved to" in s.value for s in page.success)
    ckpt = checkpoints.load(saved)
    assert set(ckpt.history["snapshots"]) == {"0", "1"}  # per-epoch test predictions travel along
    # load it back: its results come from the reloaded weights, its history from the file
    names = [i.name for i in checkpoints.list_checkpoints()]
    page.selectbox(key="cls_ckpt_choice").set_value(names.index("lecture_demo")).run()
    page.button(key="cls_load").click().run()
    assert not page.exception, page.exception
    assert page.session_state["cls:checkpoint"] == str(saved)
    assert any("Results · checkpoint lecture_demo" in m.value for m in page.markdown)
    assert _metric(page, "Test accuracy") == run_acc
    # and the model itself, re-scored from the file, gives the very same predictions
    from nnviz.analysis.metrics import predict_classes
    from nnviz.data import load
    data = load(ckpt.config.data)
    pred, _ = predict_classes(ckpt.model(), data.x_test)
    assert pred.tolist() == run.view().snapshots[1]["test_pred"]


def test_shipped_checkpoint_loads_with_no_data_download(page, nnviz_env):
    assert not any((nnviz_env / "data").glob("*"))  # an empty data folder: a fresh clone
    names = [i.name for i in checkpoints.list_checkpoints()]
    page.selectbox(key="cls_ckpt_choice").set_value(names.index("digits_cnn")).run()
    page.button(key="cls_load").click().run()
    assert not page.exception, page.exception
    shipped = checkpoints.load(checkpoints.SHIPPED_DIR / "digits_cnn.pt")
    shown = float(_metric(page, "Test accuracy").rstrip("%")) / 100
    assert shown >= 0.98
    assert shown == pytest.approx(shipped.metrics["test_acc"], abs=0.003)  # float16 weights
    assert page.selectbox(key="cls_model").value == "fast_cnn"  # its settings came into the panels
    assert _frame(page, "f1")["support"].sum() == 359
    assert not any((nnviz_env / "data").glob("*"))


def test_loading_a_checkpoint_while_the_run_trains_is_refused(page):
    """Start redraws only the run panel, so Load can still be pressed on a panel drawn before it."""
    names = [i.name for i in checkpoints.list_checkpoints()]
    page.selectbox(key="cls_ckpt_choice").set_value(names.index("digits_cnn")).run()
    run = runs.start(cc.run_config({**cc.default_settings(), "cls_epochs": 200}))
    access._owners[run.id] = ("this browser", "local")  # what live.start records  # noqa: SLF001
    try:
        page.session_state["run_id:classification"] = run.id  # started from the run panel since the set-up was drawn
        page.button(key="cls_load").click().run()
        assert not page.exception, page.exception
        assert "Stop the training run first" in _errors(page)
        assert "cls:checkpoint" not in page.session_state and page.session_state["run_id:classification"] == run.id
        assert run.active and not page.button(key="cls_stop").disabled  # still followed, still stoppable
    finally:
        run.stop()
        run.wait(10)


def test_divergence_stops_the_run_with_a_clear_message(page):
    page.selectbox(key="cls_model").set_value("mlp_dropout").run()
    page.selectbox(key="cls_optimizer").set_value("sgd").run()
    page.select_slider(key="cls_lr").set_value(10.0).run()
    page.number_input(key="cls_epochs").set_value(2).run()
    run = _train(page)
    assert run.view().status == "diverged"
    assert "diverged" in _errors(page) and "learning rate" in _errors(page)
    assert not page.button(key="cls_start").disabled  # the page keeps working
    page.select_slider(key="cls_lr").set_value(1e-3).run()
    assert not page.exception, page.exception


def test_a_typed_learning_rate_is_what_start_trains(page):
    page.text_input(key="cls_lr_typed").input("42").run()
    assert not page.exception, page.exception
    assert page.select_slider(key="cls_lr").value == 42.0  # the slider lists the typed value among its stops
    assert cc.run_config(page.session_state["cls:settings"]).train.lr == 42.0


def test_out_of_memory_suggests_a_smaller_batch(page, monkeypatch):
    def oom(*args, **kwargs):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")

    monkeypatch.setattr(runs, "fit", oom)
    run = _train(page)
    assert run.view().status == "failed"
    assert "smaller batch size" in _errors(page)
    assert not page.button(key="cls_start").disabled


def test_missing_dataset_offers_download_then_the_embedded_sample(page, monkeypatch):
    from nnviz.data import images

    page.selectbox(key="cls_dataset").set_value("mnist").run()
    assert not page.exception, page.exception
    assert any("not on this machine" in w.value for w in page.warning)
    assert page.button(key="cls_start").disabled
    calls = []

    def offline(name, root=None, progress=None):
        calls.append(name)
        raise DatasetMissing(images.missing_message(name, root, reason="URLError: no network"))

    monkeypatch.setattr(images, "download", offline)
    page.button(key="cls_download").click().run()
    assert calls == ["mnist"]
    assert not page.exception, page.exception
    assert "offline" in _errors(page)
    assert page.button(key="cls_use_sample").label == "Use the embedded MNIST sample"
    page.button(key="cls_use_sample").click().run()
    assert page.selectbox(key="cls_dataset").value == "mnist_sample"
    assert not page.warning and not page.button(key="cls_start").disabled


def _write_idx(folder: Path, n_train: int = 80, n_test: int = 30) -> None:
    """Tiny MNIST in torchvision's IDX layout (magic 2051 images, 2049 labels)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for split, n in (("train", n_train), ("t10k", n_test)):
        x = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        y = (np.arange(n) % 10).astype(np.uint8)
        (folder / f"{split}-images-idx3-ubyte").write_bytes(struct.pack(">IIII", 2051, n, 28, 28) + x.tobytes())
        (folder / f"{split}-labels-idx1-ubyte").write_bytes(struct.pack(">II", 2049, n) + y.tobytes())


def test_a_set_on_disk_is_read_and_trains(page, nnviz_env):
    _write_idx(nnviz_env / "data" / "MNIST" / "raw")
    page.run()  # the select box now lists MNIST as present
    page.selectbox(key="cls_dataset").set_value("mnist").run()
    assert not page.exception, page.exception
    assert not page.warning
    assert any("72" in c.value and "training" in c.value for c in page.caption)  # 80 - 10% validation
    page.number_input(key="cls_epochs").set_value(1).run()
    run = _train(page)
    assert run.view().status == "finished"
    assert _frame(page, "f1")["support"].sum() == 30


def test_custom_cnn_table_code_and_bad_layer_input(page):
    page.selectbox(key="cls_model").set_value("custom_cnn").run()
    page.number_input(key="cls_n_conv").set_value(2).run()
    page.number_input(key="cls_conv1_channels").set_value(24).run()
    page.text_input(key="cls_hidden").input("64").run()
    assert not page.exception, page.exception
    arch = _frame(page, "layer")
    assert {"conv1", "conv2", "fc1", "out"} <= set(arch["layer"])
    assert "self.conv2 = nn.Conv2d(" in page.code[0].value and ", 24, " in page.code[0].value
    page.text_input(key="cls_hidden").input("64, lots").run()
    assert "whole numbers" in _errors(page)
    assert page.button(key="cls_start").disabled
    page.text_input(key="cls_hidden").input("64").run()
    for i in range(2):  # 11x11 valid convolutions and pooling do not fit 28x28 twice
        page.selectbox(key=f"cls_conv{i}_kernel").set_value(7).run()
        page.checkbox(key=f"cls_conv{i}_same").uncheck().run()
    page.number_input(key="cls_n_conv").set_value(3).run()
    page.selectbox(key="cls_conv2_kernel").set_value(7).run()
    page.checkbox(key="cls_conv2_same").uncheck().run()
    assert not page.exception, page.exception
    assert "cannot be built" in _errors(page)


def test_a_broken_checkpoint_is_a_message(page, nnviz_env):
    bad = nnviz_env / "checkpoints" / "broken.pt"
    bad.parent.mkdir(parents=True, exist_ok=True)
    bad.write_bytes(b"not a checkpoint at all")
    page.session_state["cls:checkpoint"] = str(bad)
    page.run()
    assert not page.exception, page.exception
    assert "cannot be shown" in _errors(page)
    page.run()  # and the page recovers
    assert not page.exception and not page.error


def test_settings_survive_a_page_switch(page):
    page.number_input(key="cls_epochs").set_value(7).run()
    page.selectbox(key="cls_dataset").set_value("fashion_mnist").run()
    page.switch_page("app_pages/home.py").run()
    page.switch_page(PAGE).run()
    assert page.number_input(key="cls_epochs").value == 10  # the dataset's suggestion replaced 7
    assert page.selectbox(key="cls_dataset").value == "fashion_mnist"
    page.number_input(key="cls_epochs").set_value(12).run()
    page.switch_page("app_pages/home.py").run()
    page.switch_page(PAGE).run()
    assert page.number_input(key="cls_epochs").value == 12


def test_a_run_survives_widget_clicks_and_stops(page):
    page.number_input(key="cls_epochs").set_value(200).run()
    page.button(key="cls_start").click().run()
    run = runs.get(page.session_state["run_id:classification"])
    wait_until(lambda: not run.active or run.view().history, what="the first recorded epoch")
    page.run()
    view = live_data(page.main, f"nnviz-live-run-{run.id}")  # drawn by the browser from the live feed
    assert view["kind"] == "run" and view["feed"] == f"/nnviz/live/run/{run.id}"
    assert len(view["tiles"]) == 20 and {t["label"] for t in view["tiles"]} == set(range(10))
    assert all(t["src"].startswith("data:image/png;base64,") for t in view["tiles"])
    assert view["frame"]["active"] and view["frame"]["epochs"] >= 1 and "loss" in view["frame"]
    sidebar = live_data(page.sidebar, "nnviz-live-activity")["frame"]["items"]
    assert [i["text"].split(":")[0] for i in sidebar] == ["digits · fast_cnn"]
    page.select_slider(key="cls_lr").set_value(3e-3).run()  # a click reruns the page, not the run
    assert not page.exception, page.exception
    assert run.active and not page.button(key="cls_stop").disabled
    page.button(key="cls_stop").click().run()
    assert run.wait(GENEROUS_S) and run.view().status == "stopped"
    assert not page.exception, page.exception
    assert any("Results · run" in m.value and "Stopped" in m.value for m in page.markdown)  # the reason, in its heading


# ---- the settings dict <-> RunConfig (no Streamlit)

def test_default_settings_are_the_fast_cnn_preset():
    cfg = cc.run_config(cc.default_settings())
    from nnviz.model.models import PRESETS
    assert cfg.model == PRESETS["fast_cnn"].model and cfg.train == PRESETS["fast_cnn"].train
    assert cfg.data == DataConfig(dataset="digits") and cfg.preset == "fast_cnn"


@pytest.mark.parametrize("cfg", [
    RunConfig(DataConfig("fashion_mnist", train_fraction=0.5, data_dir="/x"), ModelConfig(hidden=(32, 16), dropout=0.1),
              TrainConfig(optimizer="sgd", lr=0.05, epochs=3, augment=True)),
    RunConfig(DataConfig("cifar10"), ModelConfig(hidden=(), global_pool=True, activation="gelu",
                                                 conv=(ConvBlock(8, 5, False, "avg", True, 0.1),)),
              TrainConfig(scheduler="step", step_size=2, gamma=0.3)),
])
def test_settings_round_trip_custom_configs(cfg):
    back = cc.run_config(cc.settings_from_config(cfg))
    assert (back.data, back.model, back.train) == (cfg.data, cfg.model, cfg.train)


def test_dataset_suggestions_raise_epochs_only():
    assert cc.train_settings(TrainConfig(epochs=5), "fashion_mnist")["cls_epochs"] == 10
    assert cc.train_settings(TrainConfig(epochs=20), "fashion_mnist")["cls_epochs"] == 20
    assert cc.train_settings(TrainConfig(epochs=5), "digits")["cls_epochs"] == 5


def test_a_run_from_another_tab_can_be_followed_and_stopped(page):
    other = runs.start(cc.run_config({**cc.default_settings(), "cls_epochs": 200}))
    access._owners[other.id] = ("another tab", "local")  # started by a tab of this browser  # noqa: SLF001
    page.run()
    assert any("another tab" in i.value for i in page.info)
    page.button(key="cls_follow").click().run()
    assert not page.exception, page.exception
    assert page.session_state["run_id:classification"] == other.id
    assert not page.button(key="cls_stop").disabled
    page.button(key="cls_stop").click().run()
    assert other.wait(GENEROUS_S) and other.view().status == "stopped"


def test_a_finished_run_is_rebuilt_from_its_folder_after_a_restart(page):
    page.number_input(key="cls_epochs").set_value(1).run()
    run = _train(page)
    shown = _metric(page, "Test accuracy")
    runs._registry.forget(run.id)  # what a server restart forgets (the run has finished)  # noqa: SLF001
    page.run()
    assert not page.exception, page.exception
    assert any(f"Results · run {run.id}" in m.value for m in page.markdown)
    assert _metric(page, "Test accuracy") == shown
    page.select_slider(key="cls_replay").set_value(0).run()  # replay from snapshots.jsonl
    assert _metric(page, "Epoch") == "0"
