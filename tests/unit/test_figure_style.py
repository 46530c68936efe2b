"""The projector scale of figures (presenter view): every text at least projector size, the original untouched."""
from __future__ import annotations

import plotly.graph_objects as go
import pytest
from plotly.subplots import make_subplots

from nnviz.figures import experiments, style


def _figure() -> go.Figure:
    fig = make_subplots(rows=1, cols=2, subplot_titles=("left", "right"))
    fig.add_trace(go.Scatter(x=[0, 1], y=[1, 2], name="a"), row=1, col=1)
    fig.add_trace(go.Heatmap(z=[[0, 1], [1, 0]], colorbar=dict(tickfont=dict(size=9))), row=1, col=2)
    fig.update_xaxes(tickfont=dict(size=10))
    return style.apply(fig, title="t")


def test_every_text_reaches_projector_size_and_the_figure_is_left_alone():
    fig = _figure()
    before = fig.to_dict()
    big = style.for_projector(fig)
    layout = big["layout"]
    assert layout["font"]["size"] >= style.PROJECTOR_FONT
    assert layout["hoverlabel"]["font"]["size"] >= style.PROJECTOR_TICKS
    assert layout["legend"]["font"]["size"] >= style.PROJECTOR_TICKS
    axes = [k for k in layout if k.startswith(("xaxis", "yaxis"))]
    assert len(axes) == 4
    assert all(layout[k]["tickfont"]["size"] >= style.PROJECTOR_TICKS and layout[k]["automargin"] for k in axes)
    assert all(a["font"]["size"] >= style.PROJECTOR_TICKS for a in layout["annotations"])  # subplot titles
    assert big["data"][1]["colorbar"]["tickfont"]["size"] >= style.PROJECTOR_TICKS
    assert go.Figure(big).layout.xaxis.tickfont.size == style.PROJECTOR_TICKS  # still a valid figure
    assert fig.to_dict() == before


@pytest.mark.parametrize("lo, hi, ticks", [
    (0.05, 3, [0.05, 0.1, 0.2, 0.5, 1.0, 2.0]),  # 1-2-5 and one tick beyond the data each side
    (1e-6, 1e3, [10.0**e for e in range(-6, 4)]),  # 1-2-5 would make over 9: decades
    (0.29, 2.1, [0.2, 0.5, 1.0, 2.0]),
    (0.3, 0.45, [0.2, 0.3, 0.4, 0.5, 0.6]),  # no two of 1-2-5 inside: 1-9 of each decade
    (0.31, 0.38, [0.32, 0.34, 0.36, 0.38]),  # not even two of those: round linear steps
])
def test_log_ticks_put_a_few_full_labels_inside_any_range(lo, hi, ticks):
    assert style.log_ticks(lo, hi) == pytest.approx(ticks)


def test_log_ticks_around_a_single_value():
    ticks = style.log_ticks(0.5, 0.5)
    assert 0.5 in ticks and 3 <= len(ticks) <= 9


def test_every_log_axis_gets_a_few_full_tick_labels_from_its_own_data():
    """The optimizer race's losses (0.29-2.1) drew 0.3, 0.4 ... 0.9, 1 on top of each other in presenter view."""
    race = [[{"epoch": e, "val_loss": v} for e, v in enumerate(vals)]
            for vals in ((2.1, 0.41, 0.37, 0.31), (2.05, 0.37, 0.32, 0.29))]
    fig = experiments.compare_curves(race, ["SGD", "SGD + momentum"])
    assert list(fig.layout.yaxis.ticktext) == ["0.2", "0.5", "1", "2"]
    assert fig.layout.xaxis.tickvals is None  # a linear axis keeps plotly's ticks
    big = style.for_projector(fig)["layout"]["yaxis"]
    assert big["tickfont"]["size"] == style.PROJECTOR_TICKS  # full-size labels: no 3/4-size minor labels to enlarge

    grid = make_subplots(rows=1, cols=2)  # each subplot's axis from its own traces
    grid.add_trace(go.Scatter(x=[1, 2], y=[1000, 5000]), row=1, col=1)
    grid.add_trace(go.Scatter(x=[1, 2], y=[0.3, 0.45]), row=1, col=2)
    grid.update_yaxes(type="log")
    grid.update_yaxes(tickvals=[1, 10], row=1, col=1)  # ticks of its own are kept
    style.apply(grid)
    assert list(grid.layout.yaxis.tickvals) == [1, 10]
    assert list(grid.layout.yaxis2.ticktext) == ["0.2", "0.3", "0.4", "0.5", "0.6"]


def test_larger_sizes_are_kept():
    fig = go.Figure(go.Scatter(x=[0], y=[0]))
    fig.update_layout(font=dict(size=30), xaxis=dict(tickfont=dict(size=24)))
    big = style.for_projector(fig)
    assert big["layout"]["font"]["size"] == 30
    assert big["layout"]["xaxis"]["tickfont"]["size"] == 24
    assert big["layout"]["yaxis"]["tickfont"]["size"] == style.PROJECTOR_TICKS


def test_a_legend_that_would_wrap_moves_right_of_the_plot_and_a_short_one_stays_on_top():
    """At projector size a row of legend entries wraps into one per line: under the axis the larger ticks overrun
    it, above the plot it stacks into the plot. A column right of the plot has room."""
    from nnviz.figures import regression

    below = style.for_projector(regression.loss_figure([{"epoch": 1, "train_loss": 1.0, "val_loss": 1.1}]))
    legend = below["layout"]["legend"]
    assert (legend["orientation"], legend["x"], legend["xanchor"], legend["y"]) == ("v", 1.02, "left", 1)
    assert legend["maxheight"] == below["layout"]["height"]  # in pixels: the whole column, no scroll bar
    above = style.for_projector(_figure())["layout"]["legend"]  # one entry, in the house place on top
    assert (above["orientation"], above["y"]) == ("h", 1.02)


def test_every_chart_a_page_draws_goes_through_presenter_view():
    """A figure handed to st.plotly_chart without presenter.figure keeps 12-15 px ticks on the projector."""
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    skipped = []
    for path in [*root.glob("nnviz/ui/*.py"), *root.glob("app_pages/*.py"), root / "dashboard.py"]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "plotly_chart":
                first = node.args[0] if node.args else None
                wrapped = isinstance(first, ast.Call) and ast.unparse(first.func).endswith("presenter.figure")
                if not wrapped:
                    skipped.append(f"{path.relative_to(root)}:{node.lineno}")
    assert not skipped, f"charts drawn without presenter.figure: {skipped}"
