"""The Draw page's preprocessing on real MNIST digits: it leaves them as MNIST made them."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from nnviz.data import preprocess as pp
from nnviz.data.images import load_raw
from nnviz.model import checkpoints


@pytest.fixture(scope="module")
def test_digits() -> tuple[np.ndarray, torch.Tensor]:
    _, _, x_test, y_test = load_raw("mnist_sample")
    return x_test[:, 0].numpy(), y_test  # (1000, 28, 28) uint8, (1000,)


def test_clean_digits_are_never_taken_for_uneven_lighting(test_digits):
    rule = pp.rule_for("mnist")
    flagged = [i for i, im in enumerate(test_digits[0]) if "paper" in pp.prepare(im, rule).steps]
    assert flagged == []


def test_centre_of_mass_lands_where_mnist_puts_it(test_digits):
    rule = pp.rule_for("mnist")
    rows = np.arange(28)
    for im in test_digits[0][:100]:
        out = pp.prepare(im, rule).pixels
        total = out.sum()
        cy, cx = (out.sum(1) * rows).sum() / total, (out.sum(0) * rows).sum() / total
        assert abs(cy - 14.0) < 0.15 and abs(cx - 14.0) < 0.15  # quantisation to uint8 levels moves it a little


def test_the_pipeline_costs_at_most_0_3_points_on_the_default_model(test_digits):
    images, labels = test_digits
    ckpt = checkpoints.load(checkpoints.DEFAULT_MODEL)
    model = ckpt.model()
    rule = pp.rule_for(ckpt.config.data.dataset, ckpt.input_shape, ckpt.mean, ckpt.std)
    raw = (torch.from_numpy(images).float()[:, None] / 255 - ckpt.mean[0]) / ckpt.std[0]
    piped = torch.cat([pp.prepare(im, rule).x for im in images])
    with torch.no_grad():
        acc_raw = (model(raw).argmax(1) == labels).float().mean().item()
        acc_page = (model(piped).argmax(1) == labels).float().mean().item()
    assert acc_page >= acc_raw - 0.003, f"raw {acc_raw:.1%}, through the page's pipeline {acc_page:.1%}"
