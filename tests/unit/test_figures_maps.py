"""nnviz.figures.maps and nnviz.figures.weights: pure builders, arrays in, figures out."""
from __future__ import annotations

import json

import numpy as np
import plotly.graph_objects as go
import pytest

from nnviz.figures import maps, weights
from nnviz.figures.style import FONT_SIZE

RNG = np.random.default_rng(0)


def _z(fig: go.Figure, i: int = 0) -> np.ndarray:
    return np.asarray(fig.data[i].z, dtype=float)


def _house(fig: go.Figure) -> None:
    assert fig.layout.font.size == FONT_SIZE
    assert fig.layout.xaxis.tickfont.size == maps.TICK_SIZE  # explicit: readable under Streamlit's theme
    json.loads(fig.to_json())  # serialisable, as st.plotly_chart needs


@pytest.mark.parametrize("rows,cols", [(1, 1), (1, 2), (4, 3), (7, 5)])
def test_panel_layout_domains_tile_the_figure(rows, cols):
    layout, panels = maps.panel_layout(rows, cols)
    assert len(panels) == rows * cols and len(layout) == 2 * rows * cols
    for _, _, xd, yd in panels:
        assert 0 <= xd[0] < xd[1] <= 1 and 0 <= yd[0] < yd[1] <= 1
    go.Figure(layout=layout)  # plotly accepts every domain


def test_grid_shape_and_mosaic():
    assert maps.grid_shape(16) == (2, 8)
    assert maps.grid_shape(1) == (1, 1) and maps.grid_shape(6) == (1, 6)
    assert maps.grid_shape(32) == (4, 8) and maps.grid_shape(64) == (4, 16)
    rows, cols = maps.grid_shape(64)
    assert rows * cols >= 64 and cols <= 16
    tiles = np.arange(2 * 3 * 4 * 5, dtype=np.float32).reshape(2, 3, 4, 5)
    m = maps.mosaic(tiles, gap=1)
    assert m.shape == (2 * 5 - 1, 3 * 6 - 1)
    np.testing.assert_array_equal(m[5:9, 6:11], tiles[1, 1])
    assert np.isnan(m[4]).all() and np.isnan(m[:, 5]).all()


def test_filter_grid_one_channel_values_and_hover():
    w = RNG.normal(size=(16, 1, 3, 3)).astype(np.float32)
    fig = maps.filter_grid(w, 0, title="conv1")
    _house(fig)
    assert len(fig.data) == 1 and isinstance(fig.data[0], go.Heatmap)
    z = _z(fig)
    rows, cols = maps.grid_shape(16)
    assert z.shape == (rows * 4 - 1, cols * 4 - 1)
    np.testing.assert_allclose(z[0:3, 4:7], w[1, 0])  # filter 1 is the second tile of row 0
    custom = np.asarray(fig.data[0].customdata, dtype=float)
    assert custom[1, 5].tolist() == pytest.approx([1, 1, 1, w[1, 0, 1, 1]])  # filter, row, col, weight
    assert fig.data[0].zmin == -fig.data[0].zmax == pytest.approx(-np.abs(w).max())  # symmetric around 0
    assert "weight" in fig.data[0].hovertemplate


def test_filter_grid_per_filter_scale_keeps_raw_values_in_hover():
    w = RNG.normal(size=(4, 1, 3, 3)).astype(np.float32) * np.array([1, 10, 100, 1000])[:, None, None, None]
    fig = maps.filter_grid(w, 0, per_filter_scale=True)
    z = _z(fig)
    assert np.nanmax(np.abs(z)) == pytest.approx(1.0)
    custom = np.asarray(fig.data[0].customdata, dtype=float)
    assert custom[0, 4 + 2, 3] == pytest.approx(w[1, 0, 0, 2], rel=1e-6)


def test_filter_grid_matrix_and_rgb_views():
    w = RNG.normal(size=(40, 20, 3, 3)).astype(np.float32)
    fig = maps.filter_grid(w, "all")
    assert _z(fig).shape == (32 * 4 - 1, 20 * 4 - 1)  # at most 32 filters as rows
    np.testing.assert_allclose(_z(fig)[4:7, 8:11], w[1, 2])
    later = maps.filter_grid(w, "all", first=32)
    assert _z(later).shape[0] == 8 * 4 - 1
    rgb = RNG.normal(size=(8, 3, 5, 5)).astype(np.float32)
    fig = maps.filter_grid(rgb, "rgb")
    _house(fig)
    assert isinstance(fig.data[0], go.Image)
    with pytest.raises(ValueError, match="3 input channels"):
        maps.filter_grid(w, "rgb")


def test_feature_map_grids_cap_channels_and_share_one_scale():
    a = RNG.random((100, 7, 7)).astype(np.float32)
    fig = maps.feature_map_grid(a)
    _house(fig)
    custom = np.asarray(fig.data[0].customdata, dtype=float)
    assert np.nanmax(custom[..., 0]) == maps.MAX_TILES - 1  # capped at 64 maps
    assert fig.data[0].colorscale is not None and fig.data[0].zmin == 0  # non-negative: sequential from 0
    picked = maps.feature_map_grid(a, channels=[5, 9])
    custom = np.asarray(picked.data[0].customdata, dtype=float)
    assert sorted(set(custom[..., 0][~np.isnan(custom[..., 0])].astype(int))) == [5, 9]
    b = -a
    pair = maps.feature_map_grids([a, b], ["#1", "#2"], channels=range(8))
    _house(pair)
    assert len(pair.data) == 2 and all(t.coloraxis == "coloraxis" for t in pair.data)
    assert pair.layout.coloraxis.cmin == -pair.layout.coloraxis.cmax  # signed across both images
    assert [a.text for a in pair.layout.annotations][:2] == ["#1", "#2"]


def test_activation_vector_bars_and_heatmap():
    one = maps.activation_vector(RNG.normal(size=10), unit_names=[str(i) for i in range(10)])
    _house(one)
    assert isinstance(one.data[0], go.Bar) and len(one.data[0].y) == 10
    two_small = maps.activation_vector(RNG.normal(size=(2, 10)), ["a", "b"])
    assert len(two_small.data) == 2 and two_small.layout.barmode == "group"
    two_wide = maps.activation_vector(RNG.normal(size=(2, 128)), ["a", "b"])
    assert isinstance(two_wide.data[0], go.Heatmap) and _z(two_wide).shape == (2, 128)


def test_embedding_scatter_one_trace_per_class_with_hover():
    coords = RNG.normal(size=(30, 2))
    labels = np.repeat([0, 1, 2], 10)
    predicted = labels.copy()
    predicted[0] = 2
    fig = maps.embedding_scatter(coords, labels, np.arange(100, 130), ["zero", "one", "two", "three"], predicted)
    _house(fig)
    assert [t.name for t in fig.data] == ["zero", "one", "two"]  # absent classes get no entry
    assert "test image #" in fig.data[0].hovertemplate
    assert fig.data[0].customdata[0][0] == 100 and fig.data[0].marker.symbol[0] == "x"


def test_weight_histograms_one_panel_per_tensor():
    params = {"conv1": {"weight": RNG.normal(size=(16, 1, 3, 3))},
              "out": {"weight": RNG.normal(size=(10, 64)), "bias": RNG.normal(size=10)}}
    fig = weights.weight_histograms(params, bins=30)
    _house(fig)
    assert len(fig.data) == 3
    assert sum(fig.data[1].y) == 640 and sum(fig.data[2].y) == 10 and len(fig.data[2].y) == 8  # 10 values: 8 bins
    assert fig.data[0].marker.color != fig.data[2].marker.color  # biases in another colour
    assert "conv1 weight" in fig.layout.annotations[0].text
    generic = weights.weight_histogram({"fc1.weight": np.ones(5), "fc1.bias": np.zeros(2)})
    assert len(generic.data) == 2
    assert len(weights.weight_histograms({}).data) == 0
    many = weights.weight_histograms({f"l{i}": {"weight": RNG.normal(size=20)} for i in range(11)})
    assert len(many.data) == 11 and many.layout.xaxis12.visible is False  # 4 rows of 3, one blank


def test_weights_over_epochs_ridge_and_heatmap():
    epochs = np.arange(0, 60)
    edges = np.linspace(-1, 1, 21)
    counts = RNG.integers(0, 50, size=(60, 20))
    ridge = weights.weights_over_epochs(epochs, edges, counts, "ridge")
    _house(ridge)
    assert len(ridge.data) == 2 * weights.RIDGE_MAX_EPOCHS  # at most 40 ridges (+ a hover line each)
    heat = weights.weights_over_epochs(epochs, edges, counts, "heatmap")
    assert _z(heat).shape == (60, 20)
    with pytest.raises(ValueError):
        weights.weights_over_epochs(epochs, edges, counts, "violin")


def test_activation_stats_figure_and_first_layer_images():
    rows = [{"layer": "act1", "mean": 0.3, "std": 0.5, "dead_fraction": 0.1, "zero_fraction": 0.5,
             "saturated_fraction": float("nan")},
            {"layer": "sig", "mean": 0.5, "std": 0.2, "dead_fraction": float("nan"),
             "zero_fraction": float("nan"), "saturated_fraction": 0.25}]
    fig = weights.activation_stats_figure(rows, "stats")
    _house(fig)
    bars = {t.name: t.y for t in fig.data if isinstance(t, go.Bar)}
    assert bars["dead ReLU units"][0] == pytest.approx(10) and bars["saturated (sigmoid/tanh)"][1] == 25
    images = RNG.normal(size=(100, 1, 28, 28)).astype(np.float32)
    fig = weights.first_layer_images(images, first=64, count=64)
    _house(fig)
    custom = np.asarray(fig.data[0].customdata, dtype=float)
    assert np.nanmin(custom[..., 0]) == 64 and np.nanmax(custom[..., 0]) == 99
    assert weights.first_layer_images(RNG.normal(size=(4, 3, 8, 8))).data[0].type == "image"


def test_filter_grid_takes_a_fixed_limit_for_replays():
    filters = np.random.default_rng(1).normal(0, 0.2, size=(8, 3, 3, 3)).astype(np.float32)
    one = maps.filter_grid(filters, 0, limit=0.4)
    assert (one.data[0].zmin, one.data[0].zmax) == (-0.4, 0.4)
    matrix = maps.filter_grid(filters, "all", limit=0.4)
    assert (matrix.data[0].zmin, matrix.data[0].zmax) == (-0.4, 0.4)
    own = maps.filter_grid(filters, 0)
    assert own.data[0].zmax == pytest.approx(float(np.abs(filters[:, 0]).max()))
    per = maps.filter_grid(filters, 0, per_filter_scale=True, limit=0.4)  # per filter wins: relative
    assert per.data[0].zmax == 1.0
    rgb_small = maps.filter_grid(filters / 10, "rgb", limit=float(np.abs(filters).max()))
    pixels = np.asarray(rgb_small.data[0].z, dtype=float)
    tiles = pixels[pixels < 250]  # the white gaps between tiles left out
    assert tiles.size and np.abs(tiles - 127.5).max() < 20  # a tenth as strong: close to grey
