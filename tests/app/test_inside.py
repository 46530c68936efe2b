"""AppTest: 'Inside the network' on the shipped digits CNN and MLP, and on a finished run.

The page opens the shipped MNIST CNN by default; these tests pick the digits CNN first (its small,
known architecture), as the model select box would.
"""
from __future__ import annotations

import json

import pytest
from streamlit.testing.v1 import AppTest

from nnviz.model import checkpoints
from tests.app.conftest import APP

PAGE = "app_pages/inside.py"


def _open(tab: str | None = None, model: str = "digits_cnn") -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    if model:
        at.session_state["picked_model_path"] = str(checkpoints.SHIPPED_DIR / f"{model}.pt")  # the picker's choice
    at.switch_page(PAGE).run()
    if tab:
        at.session_state["inside_tab"] = tab
        at.run()
    assert not at.exception, at.exception
    return at


def _specs(at: AppTest) -> list[dict]:
    """The plotly figures on the page, as the JSON the browser receives."""
    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


def _titles(at: AppTest) -> list[str]:
    return [(s["layout"].get("title") or {}).get("text", "") for s in _specs(at)]


def _select_model(at: AppTest, name: str) -> None:
    box = at.selectbox(key="inside_model")  # options are indices into the model list, shown as labels
    box.select(next(i for i, label in enumerate(box.options) if name in label)).run()
    assert not at.exception, at.exception


def test_the_page_opens_the_shipped_mnist_cnn(nnviz_env):
    at = _open(model="")
    box = at.selectbox(key="inside_model")
    assert "mnist_cnn" in box.options[box.index]
    row = at.dataframe[0].value.set_index("layer")
    assert row.loc["conv1", "output shape"] == "32×28×28"


def test_architecture_of_the_shipped_cnn(nnviz_env):
    at = _open()
    assert "Inside the network" in at.title[0].value
    assert "digits_cnn" in at.selectbox(key="inside_model").options[at.selectbox(key="inside_model").index]
    table = at.dataframe[0].value
    assert list(table["layer"])[:4] == ["conv1", "bn1", "act1", "pool1"]
    row = table.set_index("layer")
    assert row.loc["conv1", "output shape"] == "16×28×28" and row.loc["conv1", "receptive field"] == "3×3 px"
    assert row.loc["conv2", "receptive field"] == "8×8 px" and row.loc["conv1", "parameters"] == 144
    assert [m.label for m in at.metric][:2] == ["Parameters", "Layers"]


def test_filters_tab_draws_every_conv_layer(nnviz_env):
    at = _open("Filters")
    assert at.selectbox(key="inside_filter_layer").options == ["conv1", "conv2", "conv3"]
    assert any("conv1: 16 filters" in t for t in _titles(at))
    at.radio(key="inside_filter_scale").set_value("per filter").run()
    assert _specs(at)[0]["data"][0]["colorbar"]["title"]["text"] == "relative"
    at.selectbox(key="inside_filter_layer").select("conv2").run()
    assert not at.exception
    spec = _specs(at)[0]
    assert "conv2: 32 filters" in spec["layout"]["title"]["text"]
    assert spec["layout"]["xaxis"]["title"]["text"] == "input channel"  # filters × input channels by default
    at.selectbox(key="inside_filter_channel_16").select(5).run()
    assert not at.exception and "filter" in _specs(at)[0]["data"][0]["hovertemplate"]


def test_feature_maps_for_a_chosen_digit_and_a_comparison(nnviz_env):
    at = _open("Feature maps")
    assert at.multiselect(key="inside_fm_layers").value == ["act1", "act2", "act3"]
    at.selectbox(key="inside_img_mode").select("class").run()
    at.selectbox(key="inside_img_cls").select(3).run()  # a test image of the digit 3
    assert not at.exception
    assert any("true: **3**" in m.value for m in at.markdown)
    titles = _titles(at)
    assert any(t.startswith("act1 · 16×28×28") for t in titles) and any(t.startswith("act3") for t in titles)
    assert "Top-5 prediction" in titles
    at.multiselect(key="inside_fm_layers").set_value(["conv1", "pool2", "out"]).run()
    at.toggle(key="inside_fm_compare").set_value(True).run()
    assert not at.exception
    specs = {s["layout"]["title"]["text"].split(" ")[0]: s for s in _specs(at) if s["layout"].get("title")}
    assert len(specs["conv1"]["data"]) == 2  # two images side by side
    assert specs["out:"]["data"][0]["type"] == "bar" and len(specs["out:"]["data"]) == 2
    at.radio(key="inside_fm_order").set_value("strongest first").run()
    assert not at.exception and any("most active" in t for t in _titles(at))


def test_weights_tab_histograms_statistics_and_no_history_for_shipped(nnviz_env):
    at = _open("Weights & activations")
    titles = _titles(at)
    assert "Weight and bias histograms" in titles
    assert any("Activation statistics" in t for t in titles)
    assert any("per-epoch weights" in i.value for i in at.info)
    hist = next(s for s in _specs(at) if s["layout"]["title"]["text"] == "Weight and bias histograms")
    assert not any("bn1" in a["text"] for a in hist["layout"]["annotations"])
    at.multiselect(key="inside_w_layers").set_value(["bn1", "out"]).run()
    hist = next(s for s in _specs(at) if s["layout"]["title"]["text"] == "Weight and bias histograms")
    assert [a["text"].split(" (")[0] for a in hist["layout"]["annotations"]] == \
        ["bn1 weight", "bn1 bias", "out weight", "out bias"]


def test_embedding_pca_then_tsne_on_demand(nnviz_env):
    at = _open("Embedding")
    spec = _specs(at)[0]
    assert "PCA" in spec["layout"]["title"]["text"] and len(spec["data"]) == 10
    at.radio(key="inside_emb_method").set_value("tsne").run()
    assert not _specs(at) and at.button(key="inside_emb_tsne")  # nothing runs until asked
    at.button(key="inside_emb_tsne").click().run()
    assert not at.exception
    assert "t-SNE" in _specs(at)[0]["layout"]["title"]["text"]


def test_the_mlp_shows_first_layer_templates_and_dense_activations(nnviz_env):
    at = _open()
    _select_model(at, "digits_mlp")
    at.session_state["inside_tab"] = "Filters"
    at.run()
    assert any("no convolutional layers" in i.value for i in at.info)
    at.session_state["inside_tab"] = "Weights & activations"
    at.run()
    assert any(t.startswith("256 hidden units") and "28×28 image" in t for t in _titles(at))
    at.session_state["inside_tab"] = "Feature maps"
    at.run()
    assert not at.exception
    specs = [s for s in _specs(at) if (s["layout"].get("title") or {}).get("text", "").startswith("act_fc")]
    assert specs and specs[0]["data"][0]["type"] == "bar"
    assert not at.slider and not at.radio  # no map controls for a model without maps
    _select_model(at, "digits_cnn")  # back to the CNN: its own layers and the full channel range
    assert at.multiselect(key="inside_fm_layers").value == ["act1", "act2", "act3"]
    assert at.slider(key="inside_fm_channels_64").value == (0, 63)


@pytest.mark.slow
def test_a_finished_run_shows_weights_over_epochs(nnviz_env):
    from nnviz.config import DataConfig, RunConfig, replace
    from nnviz.jobs import runs
    from nnviz.model.models import PRESETS

    preset = PRESETS["fast_cnn"]
    cfg = RunConfig(data=DataConfig(dataset="digits"), model=preset.model,
                    train=replace(preset.train, epochs=3, max_steps=3, snapshot_every=1), preset="fast_cnn")
    run = runs.start(cfg)
    assert run.wait(120) and run.status == "finished", run.message
    at = _open()
    _select_model(at, run.id)
    at.session_state["inside_tab"] = "Weights & activations"
    at.run()
    assert not at.exception
    assert any("recorded epochs" in t for t in _titles(at))
    at.selectbox(key="inside_w_epoch_param").select("conv2.weight").run()
    at.radio(key="inside_w_epoch_kind").set_value("heatmap").run()
    spec = next(s for s in _specs(at) if "recorded epochs" in s["layout"]["title"]["text"])
    assert spec["data"][0]["type"] == "heatmap" and "conv2.weight" in spec["layout"]["title"]["text"]


def test_the_shared_model_has_no_hooks_after_the_page_ran(nnviz_env):
    from nnviz.analysis import inspect
    from nnviz.model import checkpoints
    from nnviz.ui.resources import checkpoint_model

    at = _open("Feature maps")
    at.toggle(key="inside_fm_compare").set_value(True).run()
    at.session_state["inside_tab"] = "Weights & activations"
    at.run()
    at.session_state["inside_tab"] = "Embedding"
    at.run()
    assert not at.exception
    _, model = checkpoint_model(checkpoints.SHIPPED_DIR / "digits_cnn.pt")
    assert inspect.count_hooks(model) == 0 and not model.training


def test_choices_survive_switching_tabs(nnviz_env):
    at = _open("Filters")
    at.selectbox(key="inside_filter_layer").select("conv3").run()
    at.session_state["inside_tab"] = "Feature maps"
    at.run()
    at.multiselect(key="inside_fm_layers").set_value(["pool1"]).run()
    at.session_state["inside_tab"] = "Filters"
    at.run()
    assert at.selectbox(key="inside_filter_layer").value == "conv3"
    at.session_state["inside_tab"] = "Feature maps"
    at.run()
    assert not at.exception and at.multiselect(key="inside_fm_layers").value == ["pool1"]
