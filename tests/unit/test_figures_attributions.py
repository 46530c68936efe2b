"""nnviz.figures.attributions: pure builders, arrays in, figures out."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import pytest

from nnviz.figures import attributions as fa
from nnviz.figures.style import FONT_SIZE

RNG = np.random.default_rng(0)
MAP = RNG.normal(size=(28, 28))
GRAY = RNG.uniform(size=(28, 28))
RGB = RNG.uniform(size=(32, 32, 3))


def test_signed_views():
    a = np.array([[-2.0, 0.0, 3.0]])
    np.testing.assert_array_equal(fa.signed(a, "all"), a)
    np.testing.assert_array_equal(fa.signed(a, "positive"), [[0, 0, 3]])
    np.testing.assert_array_equal(fa.signed(a, "negative"), [[2, 0, 0]])
    np.testing.assert_array_equal(fa.signed(a, "absolute"), [[2, 0, 3]])
    np.testing.assert_array_equal(fa.signed(np.array([np.nan, 1.0]), "all"), [0, 1])
    with pytest.raises(ValueError, match="unknown sign"):
        fa.signed(a, "sideways")


def test_color_limit_is_robust_to_one_outlier_and_safe_on_zero_maps():
    values = np.ones(1000)
    values[0] = 1e6
    assert fa.color_limit(values) == pytest.approx(1.0)
    assert fa.color_limit(np.zeros((4, 4))) == 1.0
    sparse = np.zeros(1000)
    sparse[:2] = 5.0  # fewer nonzero pixels than the percentile ignores: fall back to the max
    assert fa.color_limit(sparse) == 5.0


def test_heatmap_is_diverging_and_centred_for_signed_maps():
    fig = fa.attribution_heatmap(MAP, "all", title="IG")
    (trace,) = fig.data
    assert isinstance(trace, go.Heatmap)
    assert trace.zmin == pytest.approx(-trace.zmax) and trace.zmax > 0
    np.testing.assert_allclose(np.asarray(trace.z), MAP)  # raw values: hover shows real attributions
    assert fig.layout.font.size == FONT_SIZE and fig.layout.title.text == "IG"
    assert fig.layout.yaxis.autorange == "reversed" and fig.layout.yaxis.scaleanchor == "x"


@pytest.mark.parametrize("sign", ["positive", "negative", "absolute"])
def test_heatmap_is_sequential_from_zero_for_one_sided_views(sign):
    fig = fa.attribution_heatmap(MAP, sign)
    trace = fig.data[0]
    assert trace.zmin == 0 and trace.zmax > 0
    assert np.asarray(trace.z).min() >= 0
    assert [c for _, c in trace.colorscale] != [c for _, c in fa.colorscale("all")]


def test_overlay_lays_a_see_through_map_over_the_image():
    fig = fa.attribution_overlay(GRAY, MAP, "all", opacity=0.4)
    image, heat = fig.data
    assert isinstance(image, go.Heatmap) and image.showscale is False
    assert np.asarray(image.z).max() <= 1.0
    assert heat.opacity == pytest.approx(0.4)
    assert "0)" in heat.colorscale[len(heat.colorscale) // 2][1]  # transparent at zero
    rgb = fa.attribution_overlay(RGB, RNG.normal(size=(32, 32)), "absolute")
    assert isinstance(rgb.data[0], go.Image) and np.asarray(rgb.data[0].z).shape == (32, 32, 3)


def test_grid_for_one_image_is_a_row_of_methods():
    maps = RNG.normal(size=(4, 1, 28, 28))
    fig = fa.attribution_grid(GRAY[None], maps, ["Saliency", "IG", "Grad-CAM", "Occlusion"], ["#0 · 3→3"],
                              overlay=True)
    titles = [a.text for a in fig.layout.annotations]
    assert titles == ["#0 · 3→3", "Saliency", "IG", "Grad-CAM", "Occlusion"]
    heat = [t for t in fig.data if getattr(t, "coloraxis", None)]
    assert len(heat) == 4 and len(fig.data) == 1 + 4 * 2  # input + (image, map) per method
    for t in heat:  # each map scaled to its own robust maximum, the outliers clipped
        assert np.abs(np.asarray(t.z)).max() == pytest.approx(1.0)
    assert fig.layout.coloraxis.cmin == -1 and fig.layout.coloraxis.cmax == 1


def test_grid_for_several_images_has_a_row_per_method_with_labels():
    maps = RNG.normal(size=(2, 3, 28, 28))
    fig = fa.attribution_grid(np.stack([GRAY] * 3), maps, ["Saliency", "DeepLift"], ["a", "b", "c"],
                              sign="absolute", overlay=False)
    texts = [a.text for a in fig.layout.annotations]
    assert {"a", "b", "c", "<b>input</b>", "<b>Saliency</b>", "<b>DeepLift</b>"} <= set(texts)
    assert len(fig.data) == 3 + 6  # opaque maps: no image under them
    assert fig.layout.coloraxis.cmin == 0
    assert 500 < fig.layout.height < 1000  # three rows of square cells, readable at 1280x720


def test_grid_accepts_rgb_images():
    fig = fa.attribution_grid(np.stack([RGB] * 2), RNG.normal(size=(1, 2, 32, 32)), ["IG"], ["a", "b"],
                              overlay=True)
    assert sum(isinstance(t, go.Image) for t in fig.data) == 4


def test_target_strip_and_sanity_pair():
    strip = fa.target_strip(GRAY, RNG.normal(size=(10, 28, 28)), [f"{k}" for k in range(10)])
    assert [a.text for a in strip.layout.annotations][:3] == ["input", "0", "1"]
    assert len([t for t in strip.data if getattr(t, "coloraxis", None)]) == 10
    pair = fa.sanity_pair(np.stack([GRAY] * 2), RNG.normal(size=(2, 28, 28)), RNG.normal(size=(2, 28, 28)),
                          [0.12, float("nan")], image_titles=["#1", "#2"])
    texts = [a.text for a in pair.layout.annotations]
    assert "random weights · ρ = 0.12" in texts and any("undefined" in t for t in texts)
    assert texts.count("trained weights") == 2


def test_all_zero_map_draws_without_errors():
    fig = fa.attribution_overlay(GRAY, np.zeros((28, 28)), "all")
    assert np.isfinite(np.asarray(fig.data[1].z)).all()
    grid = fa.attribution_grid(GRAY[None], np.zeros((1, 1, 28, 28)), ["Grad-CAM"], ["#0"])
    assert all(np.isfinite(np.asarray(t.z)).all() for t in grid.data if getattr(t, "coloraxis", None))


def _heat_max(fig: go.Figure, index: int) -> float:
    heatmaps = [t for t in fig.data if isinstance(t, go.Heatmap) and t.coloraxis == "coloraxis"]
    return float(np.nanmax(np.abs(np.asarray(heatmaps[index].z, dtype=float))))


def test_side_by_side_maps_in_the_same_units_share_one_colour_scale():
    strong, weak = MAP, MAP / 10  # the same pattern, a tenth as strong (an untrained network's map)
    images = np.stack([GRAY, GRAY])
    maps = np.stack([[strong, weak]])  # one method, two images
    shared = fa.attribution_grid(images, maps, ["Saliency"], ["a", "b"])
    assert _heat_max(shared, 0) == pytest.approx(1.0) and 0.05 < _heat_max(shared, 1) < 0.2
    own = fa.attribution_grid(images, maps, ["Saliency"], ["a", "b"], shared=False)  # the per-frame toggle
    assert _heat_max(own, 1) == pytest.approx(1.0)
    # two methods on one image never share: their units differ
    methods = fa.attribution_grid(GRAY[None], np.stack([[strong], [weak]]), ["A", "B"], ["a"])
    assert _heat_max(methods, 1) == pytest.approx(1.0)
    pair = fa.sanity_pair(GRAY[None], strong[None], weak[None], [0.9])
    assert 0.05 < _heat_max(pair, 1) < 0.2
    targets = fa.target_strip(GRAY, np.stack([strong, weak]), ["0", "1"])
    assert 0.05 < _heat_max(targets, 1) < 0.2


def test_a_replay_frame_can_take_a_fixed_colour_limit():
    fig = fa.attribution_heatmap(MAP / 1000, limit=2.5)
    assert (fig.data[0].zmin, fig.data[0].zmax) == (-2.5, 2.5)
    own = fa.attribution_heatmap(MAP / 1000)
    assert own.data[0].zmax == pytest.approx(fa.color_limit(MAP / 1000))
    overlay = fa.attribution_overlay(GRAY, MAP, "absolute", limit=4.0)
    assert (overlay.data[1].zmin, overlay.data[1].zmax) == (0.0, 4.0)
