"""nnviz.model.models: builders, presets, parameter counts, size guard, summaries."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from nnviz.config import ACTIVATIONS, ConvBlock, ModelConfig
from nnviz.model import models
from nnviz.model.models import (
    ACTIVATION_MODULES,
    DEFAULT_PRESET,
    MAX_PARAMETERS,
    PRESETS,
    ModelTooLarge,
    build_model,
    count_parameters,
    presets_for,
    summarize,
)

SHAPES = {"regression": [((1,), 1)], "classification": [((1, 28, 28), 10), ((3, 32, 32), 10)]}
CASES = [(name, shape, n_out) for name, p in PRESETS.items() for shape, n_out in SHAPES[p.task]]


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("name, shape, n_out", CASES, ids=[f"{c[0]}-{'x'.join(map(str, c[1]))}" for c in CASES])
def test_every_preset_builds_and_runs(name, shape, n_out):
    torch.manual_seed(0)
    model = build_model(PRESETS[name].model, shape, n_out)
    x = torch.randn(3, *shape)
    model.train()
    assert model(x).shape == (3, n_out)
    model.eval()
    with torch.no_grad():
        assert model(x).shape == (3, n_out)
    assert count_parameters(PRESETS[name].model, shape, n_out) == n_params(model)


@pytest.mark.parametrize("cfg, shape", [
    (ModelConfig(hidden=()), (1,)),
    (ModelConfig(hidden=(7, 5), batch_norm=True, dropout=0.2), (1, 8, 8)),
    (ModelConfig(hidden=(4,), conv=(ConvBlock(3, 5, False, "none"), ConvBlock(6, 3, True, "avg", True))), (2, 11, 9)),
    (ModelConfig(hidden=(), conv=(ConvBlock(5, 3, True, "max", True), ConvBlock(7, 1, True, "max")),
                 global_pool=True), (3, 7, 7)),
    (ModelConfig(hidden=(), conv=(ConvBlock(4, 2, False, "max"),)), (1, 5, 5)),  # odd map before pooling
])
def test_count_parameters_matches_the_built_model(cfg, shape):
    model = build_model(cfg, shape, 3)
    assert count_parameters(cfg, shape, 3) == n_params(model)
    assert model(torch.randn(2, *shape)).shape == (2, 3)


def test_layer_names_are_readable():
    cfg = ModelConfig(hidden=(8,), dropout=0.1, conv=(ConvBlock(4, 3, batch_norm=True, dropout=0.1),))
    names = [n for n, _ in build_model(cfg, (1, 8, 8), 10).named_children()]
    assert names == ["conv1", "bn1", "act1", "pool1", "drop1", "flatten", "fc1", "act_fc1", "drop_fc1", "out"]


def test_regression_model_maps_one_number_to_one_number():
    model = build_model(PRESETS[DEFAULT_PRESET["regression"]].model, (1,), 1)
    assert model(torch.linspace(-5, 5, 11)[:, None]).shape == (11, 1)


def test_too_large_is_refused_before_allocating(monkeypatch):
    def must_not_build(*args, **kwargs):
        raise AssertionError("the oversized model was being allocated")

    monkeypatch.setattr(models, "_assemble", must_not_build)
    cfg = ModelConfig(hidden=(65_536,) * 8)  # ~30 billion parameters
    with pytest.raises(ModelTooLarge) as info:
        build_model(cfg, (3, 32, 32), 10)
    assert f"{MAX_PARAMETERS:,}" in str(info.value) and "parameters" in str(info.value)


def test_just_under_the_limit_is_allowed():
    cfg = ModelConfig(hidden=(1000,))
    assert count_parameters(cfg, (1,), 1) < MAX_PARAMETERS
    assert isinstance(build_model(cfg, (1,), 1), nn.Sequential)


def test_conv_on_1d_input_is_a_clear_error():
    with pytest.raises(ValueError, match="MLP"):
        build_model(ModelConfig(conv=(ConvBlock(),)), (1,), 1)


def test_kernel_larger_than_image_is_a_clear_error():
    with pytest.raises(ValueError, match="does not fit"):
        build_model(ModelConfig(conv=(ConvBlock(4, 11, False, "none"),)), (1, 8, 8), 10)


def test_pooling_below_one_pixel_is_a_clear_error():
    blocks = (ConvBlock(4, 3, True, "max"),) * 3
    with pytest.raises(ValueError, match="below 1 pixel"):
        build_model(ModelConfig(conv=blocks), (1, 4, 4), 10)


def test_summary_shapes_match_a_real_forward_pass():
    model = build_model(PRESETS["lenet"].model, (1, 28, 28), 10)
    model.train()
    rows = summarize(model, (1, 28, 28))
    assert model.training  # mode restored
    x = torch.zeros(1, 1, 28, 28)
    for row, (name, module) in zip(rows, model.named_children(), strict=True):
        x = module.eval()(x)
        assert row.name == name and row.kind == type(module).__name__
        assert row.output_shape == tuple(x.shape[1:])
        assert row.parameters == n_params(module)
    assert [r.output_shape for r in rows if r.name.startswith("conv")] == [(6, 28, 28), (16, 10, 10)]
    assert sum(r.parameters for r in rows) == n_params(model)
    assert rows[-1].output_shape == (10,)


def test_receptive_field_of_two_3x3_convs_is_5():
    cfg = ModelConfig(hidden=(), conv=(ConvBlock(2, 3, True, "none"), ConvBlock(2, 3, True, "none")))
    rows = summarize(build_model(cfg, (1, 10, 10), 2), (1, 10, 10))
    fields = {r.name: r.receptive_field for r in rows}
    assert fields["conv1"] == 3 and fields["conv2"] == 5
    assert fields["act1"] is None and fields["out"] is None


def test_receptive_field_grows_with_pooling_stride():
    cfg = ModelConfig(hidden=(), conv=(ConvBlock(2, 3, True, "max"), ConvBlock(2, 3, True, "max")))
    fields = {r.name: r.receptive_field for r in summarize(build_model(cfg, (1, 16, 16), 2), (1, 16, 16))}
    # conv 3 -> pool (+1) 4, stride 2 -> conv (+2*2) 8 -> pool (+1*2) 10
    assert [fields[n] for n in ("conv1", "pool1", "conv2", "pool2")] == [3, 4, 8, 10]


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_activation_modules_are_distinct_and_not_inplace(activation):
    cfg = ModelConfig(hidden=(4, 4, 4), activation=activation,
                      conv=(ConvBlock(2, 3, True, "none"), ConvBlock(2, 3, True, "none")))
    model = build_model(cfg, (1, 6, 6), 2)
    acts = [m for n, m in model.named_children() if n.startswith("act")]
    assert len(acts) == 5
    assert all(isinstance(m, ACTIVATION_MODULES[activation]) for m in acts)
    assert len({id(m) for m in acts}) == 5
    assert not any(getattr(m, "inplace", False) for m in model.modules())


def test_presets_split_by_task_and_defaults_exist():
    reg, cls = presets_for("regression"), presets_for("classification")
    assert set(reg) | set(cls) == set(PRESETS) and not set(reg) & set(cls)
    assert DEFAULT_PRESET["regression"] in reg and DEFAULT_PRESET["classification"] in cls
    assert all(not p.model.conv for p in reg.values())  # regression inputs are 1-D
