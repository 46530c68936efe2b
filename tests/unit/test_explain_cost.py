"""The cost estimate of an attribution: examples counted as Captum passes them through the network."""
from __future__ import annotations

import pytest
import torch

from nnviz.analysis import explain, explain_cost
from nnviz.config import ConvBlock, ModelConfig
from nnviz.model.models import build_model

SHAPE = (1, 28, 28)


@pytest.fixture(scope="module")
def cnn():
    torch.manual_seed(0)
    return build_model(ModelConfig(hidden=(8,), conv=(ConvBlock(4, 3, True, "max"),)), SHAPE, 10).eval()


def _passed(model, method: str, n: int, **params) -> int:
    """Examples that went through the model's first layer during one attribution call."""
    seen = []
    first = next(m for m in model.modules() if not list(m.children()))
    handle = first.register_forward_pre_hook(lambda _m, args: seen.append(args[0].shape[0]))
    try:
        explain.attribute(model, torch.rand(n, *SHAPE), method, 3, mean=(0.5,), std=(0.5,), **params)
    finally:
        handle.remove()
    return sum(seen) - 1  # attribute() first reads the class count from one image


@pytest.mark.parametrize("method, params", [
    ("saliency", {}), ("integrated_gradients", {"steps": 15}), ("gradient_shap", {"samples": 10}),
    ("occlusion", {"window": 6, "stride": 4}), ("deeplift", {}),
    ("integrated_gradients", {"steps": 10, "smoothgrad": True, "sg_samples": 4}),
])
def test_the_count_is_what_captum_passes_through_the_network(cnn, method, params):
    resolved = explain.resolve_params(method, params, cnn, SHAPE)
    assert explain_cost.examples(method, resolved, 2, SHAPE) == _passed(cnn, method, 2, **params)


def test_the_heavy_setting_of_the_issue_is_counted_in_full(cnn):
    params = explain.resolve_params("integrated_gradients", {"steps": 300, "smoothgrad": True, "sg_samples": 64}, cnn)
    assert explain_cost.examples("integrated_gradients", params, 8, SHAPE) == 300 * 64 * 8


def test_the_pass_rate_is_measured_without_touching_the_model(cnn):
    before = {k: v.clone() for k, v in cnn.state_dict().items()}
    rate = explain_cost.examples_per_s(cnn, SHAPE, batch=8)
    assert rate > 0 and all(p.grad is None for p in cnn.parameters())
    assert all(torch.equal(before[k], v) for k, v in cnn.state_dict().items())
    assert explain_cost.seconds(1000, 500.0) == 2.0
