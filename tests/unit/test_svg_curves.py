"""The live view's SVG curves: valid SVG, points where the data says, the axes the plotly figures use."""
from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET

from nnviz.figures import svg_curves
from nnviz.figures.style import SPLIT_COLORS
from nnviz.figures.svg_curves import HEIGHT, LEFT, TOP, WIDTH, curves_svg, training_curves_svg

NS = "{http://www.w3.org/2000/svg}"
EPOCHS = [{"epoch": e, "train_loss": 2.3 / (e + 1), "val_loss": 2.3 / (e + 0.8), "train_acc": 0.1 + 0.2 * e,
           "val_acc": 0.08 + 0.19 * e} for e in range(4)]


def _tree(svg: str) -> ET.Element:
    return ET.fromstring(svg)  # raises on malformed markup


def _lines(root: ET.Element) -> dict[str, list[tuple[float, float]]]:
    """stroke colour -> points of the solid polylines."""
    out = {}
    for line in root.iter(f"{NS}polyline"):
        if line.get("stroke-dasharray") is None and line.get("stroke-opacity") == "1.0":
            out[line.get("stroke")] = [tuple(map(float, p.split(","))) for p in line.get("points").split()]
    return out


def test_accuracy_points_sit_on_a_0_to_100_percent_axis_over_all_planned_epochs():
    root = _tree(training_curves_svg(EPOCHS, "acc", total_epochs=10, title="Accuracy"))
    labels = [t.text for t in root.iter(f"{NS}text")]
    assert "Accuracy" in labels and "0%" in labels and "100%" in labels and "10" in labels  # x spans 10 epochs
    train = _lines(root)[SPLIT_COLORS["train"]]
    plot_w, plot_h = WIDTH - LEFT - svg_curves.RIGHT, HEIGHT - TOP - svg_curves.BOTTOM
    for (px, py), row in zip(train, EPOCHS):
        assert math.isclose(px, LEFT + plot_w * row["epoch"] / 10, abs_tol=0.1)
        assert math.isclose(py, TOP + plot_h * (1 - row["train_acc"] / 1.02), abs_tol=0.1)
    assert len(list(root.iter(f"{NS}circle"))) == 2 * len(EPOCHS)  # markers on both splits


def test_loss_is_on_a_log_axis_with_the_batch_losses_raw_and_smoothed():
    batches = [(e / 4, 2.4 * math.exp(-e / 5)) for e in range(1, 13)]
    svg = training_curves_svg(EPOCHS, "loss", total_epochs=4, batch_losses=batches, title="Loss")
    root = _tree(svg)
    names = [t.text for t in root.iter(f"{NS}text")]
    assert {"train (smoothed)", "train", "val"} <= set(names)
    ticks = [float(t) for t in names if t and re.fullmatch(r"[\d.]+", t)]
    assert {0.5, 1.0, 2.0} <= set(ticks)  # log ticks 1-2-5 inside the data's decade
    train = _lines(root)[SPLIT_COLORS["train"]]
    ys = [y for _, y in train]
    # equal loss ratios are equal distances on a log axis: 2.3/1 -> 2.3/2 and 2.3/2 -> 2.3/4
    assert math.isclose(ys[1] - ys[0], ys[3] - ys[1], rel_tol=1e-2)


def test_nonfinite_and_nonpositive_values_are_left_out_and_empty_input_still_draws_axes():
    rows = [{"epoch": 0, "train_loss": math.nan}, {"epoch": 1, "train_loss": 0.0}, {"epoch": 2, "train_loss": 0.5}]
    root = _tree(training_curves_svg(rows, "loss", total_epochs=3, splits=("train",)))
    assert len(_lines(root)[SPLIT_COLORS["train"]]) == 1
    empty = _tree(curves_svg([], 5, title="nothing yet"))
    assert any(t.text == "epoch" for t in empty.iter(f"{NS}text"))


def test_titles_are_escaped():
    root = _tree(curves_svg([], 3, title="a < b & c"))
    assert any(t.text == "a < b & c" for t in root.iter(f"{NS}text"))
