"""AppTest: the Explain page on the shipped checkpoints — every method, view and target, bad parameters."""
from __future__ import annotations

import pytest
import torch
from streamlit.testing.v1 import AppTest

from nnviz.analysis import explain
from nnviz.model import checkpoints
from tests.app.conftest import APP

PAGE = "app_pages/explain.py"


@pytest.fixture
def at(nnviz_env):
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    at.switch_page(PAGE).run()
    assert not at.exception, at.exception
    return at


def _charts(at) -> int:
    return len(at.get("plotly_chart"))


def _ok(at) -> None:
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]


def test_page_renders_heatmap_and_overlay_for_the_shipped_cnn(at):
    _ok(at)
    assert any("Explain" in t.value for t in at.title)
    assert at.selectbox(key="explain_method").value == "integrated_gradients"
    assert at.radio(key="explain_view").value == "single"
    assert _charts(at) >= 3  # top-5, heatmap, overlay
    # the one-line explanation is shown beside the selector
    assert any("baseline" in c.value for c in at.sidebar.caption)


@pytest.mark.parametrize("method", list(explain.ATTRIBUTION_METHODS))
def test_every_method_renders(at, method):
    at.selectbox(key="explain_method").set_value(method).run()
    _ok(at)
    assert _charts(at) >= 3
    assert any(explain.ATTRIBUTION_METHODS[method].explanation == c.value for c in at.sidebar.caption)


def test_every_view_with_several_images(at):
    at.slider(key="explain_n_images").set_value(3).run()
    _ok(at)
    assert _charts(at) >= 4  # top-5, heatmap, overlay, the method on every image
    for view in ("compare", "targets", "sanity"):
        at.radio(key="explain_view").set_value(view).run()
        _ok(at)
        assert _charts(at) >= 2, view
    at.radio(key="explain_view").set_value("compare").run()
    assert at.multiselect(key="explain_compare_methods").value == list(explain.DEFAULT_GRID)


def test_compare_grid_follows_the_chosen_methods(at):
    at.radio(key="explain_view").set_value("compare").run()
    at.multiselect(key="explain_compare_methods").set_value(["deeplift", "guided_backprop"]).run()
    _ok(at)
    at.multiselect(key="explain_compare_methods").set_value([]).run()
    assert any("at least one method" in i.value for i in at.info)


def test_target_modes_and_a_chosen_class(at):
    for mode in ("true", "predicted", "chosen"):
        at.radio(key="explain_target_mode").set_value(mode).run()
        _ok(at)
    at.selectbox(key="explain_target_class").set_value(3).run()
    _ok(at)
    at.radio(key="explain_view").set_value("targets").run()
    _ok(at)


def test_sign_views_and_opacity(at):
    for sign in ("positive", "negative", "absolute", "all"):
        at.radio(key="explain_sign").set_value(sign).run()
        _ok(at)
    at.slider(key="explain_opacity").set_value(0.3).run()
    at.toggle(key="explain_overlay").set_value(False).run()
    _ok(at)


def test_parameters_smoothgrad_and_baselines(at):
    at.slider(key="explain_integrated_gradients_steps").set_value(20).run()
    at.selectbox(key="explain_integrated_gradients_baseline").set_value("blurred").run()
    _ok(at)
    at.slider(key="explain_integrated_gradients_blur_sigma").set_value(2.0).run()
    at.toggle(key="explain_integrated_gradients_smoothgrad").set_value(True).run()
    _ok(at)
    at.slider(key="explain_integrated_gradients_sg_samples").set_value(4).run()
    _ok(at)
    # parameters survive a method switch
    at.selectbox(key="explain_method").set_value("saliency").run()
    at.selectbox(key="explain_method").set_value("integrated_gradients").run()
    assert at.slider(key="explain_integrated_gradients_steps").value == 20
    assert at.toggle(key="explain_integrated_gradients_smoothgrad").value is True


def test_bad_occlusion_parameters_show_a_message_not_a_traceback(at):
    at.selectbox(key="explain_method").set_value("occlusion").run()
    at.slider(key="explain_occlusion_window").set_value(30).run()
    assert not at.exception
    assert any("larger than the image" in e.value for e in at.error)
    at.slider(key="explain_occlusion_window").set_value(4).run()
    at.slider(key="explain_occlusion_stride").set_value(8).run()
    assert not at.exception
    assert any("stride" in e.value and "larger than the window" in e.value for e in at.error)
    at.slider(key="explain_occlusion_stride").set_value(2).run()
    _ok(at)


def test_sanity_check_with_cascading_randomisation(at):
    at.radio(key="explain_view").set_value("sanity").run()
    _ok(at)
    assert at.success or at.warning  # the verdict
    at.selectbox(key="explain_sanity_layer").set_value("out").run()
    at.selectbox(key="explain_method").set_value("guided_backprop").run()
    _ok(at)
    assert any("rank correlation" in c.value for c in at.caption)


def test_mlp_offers_no_grad_cam(at):
    box = at.selectbox(key="explain_model")
    mlp = next(i for i in box.options if "digits_mlp" in i)
    box.set_value(box.options.index(mlp) if isinstance(box.value, int) else mlp).run()
    _ok(at)
    assert "grad_cam" not in at.selectbox(key="explain_method").options
    at.radio(key="explain_view").set_value("compare").run()
    _ok(at)
    assert "grad_cam" not in at.multiselect(key="explain_compare_methods").value


def test_shared_cached_model_is_untouched(at):
    """After every method and view, the model in st.cache_resource is the checkpoint's, in eval mode, hook-free."""
    for method in explain.ATTRIBUTION_METHODS:
        at.selectbox(key="explain_method").set_value(method).run()
        for view in ("single", "sanity"):
            at.radio(key="explain_view").set_value(view).run()
    _ok(at)
    from nnviz.ui.resources import checkpoint_model

    path = checkpoints.DEFAULT_MODEL  # the page's default
    _, shared = checkpoint_model(path)
    fresh = checkpoints.load(path).state_dict
    assert not shared.training
    assert all(torch.equal(v, fresh[k]) for k, v in shared.state_dict().items())
    hooks = ("_forward_hooks", "_forward_pre_hooks", "_backward_hooks", "_backward_pre_hooks")
    assert sum(len(getattr(m, h)) for m in shared.modules() for h in hooks) == 0
    assert all(p.grad is None for p in shared.parameters())
