"""The generated PyTorch code runs, and is the same network as build_model's (count, keys, outputs)."""
from __future__ import annotations

import pytest
import torch

from nnviz.config import ConvBlock, ModelConfig
from nnviz.model.codegen import module_source
from nnviz.model.models import PRESETS, build_model

CUSTOM = {
    "linear": ModelConfig(hidden=()),
    "mlp_bn_leaky": ModelConfig(hidden=(32, 16), activation="leaky_relu", dropout=0.2, batch_norm=True),
    "cnn_valid_avg": ModelConfig(hidden=(20,), activation="elu",
                                 conv=(ConvBlock(4, 5, False, "avg", dropout=0.1), ConvBlock(6, 3, True, "none"))),
    "cnn_gap_gelu": ModelConfig(hidden=(), activation="gelu", global_pool=True,
                                conv=(ConvBlock(8, 7, True, "max", batch_norm=True),)),
    "tanh_sigmoid": ModelConfig(hidden=(8,), activation="tanh"),
}
CASES = [(name, p.model) for name, p in PRESETS.items() if p.task == "classification"] + list(CUSTOM.items())


def _exec(source: str) -> dict:
    namespace: dict = {"__name__": "generated"}
    exec(compile(source, "<generated>", "exec"), namespace)  # noqa: S102 - our own generated code
    return namespace


@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 32, 32)])
@pytest.mark.parametrize("name,cfg", CASES, ids=[c[0] for c in CASES])
def test_generated_module_equals_build_model(name, cfg, shape):
    reference = build_model(cfg, shape, 10).eval()
    source = module_source(cfg, shape, 10, title=name)
    generated = _exec(source)["Net"]().eval()
    assert sum(p.numel() for p in generated.parameters()) == sum(p.numel() for p in reference.parameters())
    assert list(generated.state_dict()) == list(reference.state_dict())
    generated.load_state_dict(reference.state_dict())  # nnviz weights load unchanged
    x = torch.randn(3, *shape)
    with torch.no_grad():
        torch.testing.assert_close(generated(x), reference(x))
    assert f"\"parameters\")  # {sum(p.numel() for p in reference.parameters()):,}" in source


def test_generated_code_documents_shapes_and_normalisation():
    cfg = PRESETS["fast_cnn"].model
    source = module_source(cfg, (1, 28, 28), 10, class_name="DigitNet", mean=(0.1556,), std=(0.2772,))
    assert "class DigitNet(nn.Module)" in source
    assert "x = self.conv1(x)" in source and "# (B, 16, 28, 28)" in source
    assert "mean=(0.1556,)" in source
    assert "x = self.out(x)" in source and "# (B, 10)" in source


def test_generated_script_main_runs():
    source = module_source(PRESETS["lenet"].model, (1, 28, 28), 10)
    namespace = {"__name__": "__main__"}
    exec(compile(source, "<generated>", "exec"), namespace)  # noqa: S102 - prints the model and a shape
    assert "model" in namespace


def test_a_kernel_that_does_not_fit_is_a_value_error():
    with pytest.raises(ValueError):
        module_source(ModelConfig(conv=(ConvBlock(4, 11, False, "max"),) * 3), (1, 28, 28), 10)
