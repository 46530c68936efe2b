"""nnviz's seeded dropout layers: torch's statistics, gradients, modes and state, masks from their own stream."""
from __future__ import annotations

import threading

import pytest
import torch
from torch import nn

from nnviz.config import ConvBlock, ModelConfig
from nnviz.model.codegen import _layer
from nnviz.model.dropout import RESOLUTION, SeededDropout, SeededDropout2d, seed_dropout
from nnviz.model.models import build_model


def _seeded(layer: nn.Module, seed: int) -> nn.Module:
    seed_dropout(layer, seed)
    return layer.train()


def test_keeps_one_minus_p_of_the_units_and_scales_survivors_exactly():
    out = _seeded(SeededDropout(0.2), 0)(torch.ones(1000, 1000))
    kept = out != 0
    p_rounded = round(0.2 * RESOLUTION) / RESOLUTION
    assert abs(kept.float().mean().item() - (1 - 0.2)) < 0.002  # 1e6 draws: sd 0.0004
    assert torch.all(out[kept] == torch.tensor(1 / (1 - p_rounded), dtype=torch.float32))
    assert abs(out.mean().item() - 1.0) < 0.003  # expectation kept
    # no structure across rows or columns: both marginals look like the whole
    assert (kept.float().mean(0) - 0.8).abs().max() < 0.07 and (kept.float().mean(1) - 0.8).abs().max() < 0.07


@pytest.mark.parametrize("p", [0.05, 0.5, 0.9])
def test_drop_rate_follows_p(p):
    kept = (_seeded(SeededDropout(p), 1)(torch.ones(400, 500)) != 0).float().mean().item()
    assert abs(kept - (1 - p)) < 0.005


def test_2d_drops_whole_channels_at_rate_p():
    out = _seeded(SeededDropout2d(0.3), 4)(torch.ones(200, 50, 3, 3))
    per_channel = out.flatten(2)
    assert torch.all(per_channel.amin(2) == per_channel.amax(2))  # a channel is kept or dropped whole
    assert abs((per_channel[:, :, 0] != 0).float().mean().item() - 0.7) < 0.02  # 10,000 channels


def test_gradient_is_the_mask():
    x = torch.randn(64, 256, requires_grad=True)
    out = _seeded(SeededDropout(0.3), 2)(x)
    out.sum().backward()
    mask = torch.where(out != 0, out / x.detach(), torch.zeros(()))
    assert torch.allclose(x.grad, mask, atol=1e-5)
    values = torch.unique(x.grad).tolist()
    assert len(values) == 2 and values[0] == 0.0 and values[1] == pytest.approx(1 / (1 - 0.3), rel=1e-4)


@pytest.mark.parametrize("layer_type", [SeededDropout, SeededDropout2d])
def test_eval_mode_and_p_zero_pass_inputs_through_and_p_one_drops_everything(layer_type):
    x = torch.randn(8, 16, 2, 2)
    assert torch.equal(layer_type(0.5).eval()(x), x)
    assert torch.equal(layer_type(0.0).train()(x), x)
    assert torch.count_nonzero(layer_type(1.0).train()(x)) == 0


def test_same_seed_same_masks_successive_calls_and_layers_differ():
    x = torch.ones(32, 64)
    model = nn.Sequential(SeededDropout(0.5), SeededDropout(0.5)).train()
    seed_dropout(model, 7)
    a1, a2 = model[0](x), model[0](x)
    b = model[1](x)
    seed_dropout(model, 7)
    assert torch.equal(model[0](x), a1) and torch.equal(model[1](x), b)
    assert not torch.equal(a1, a2) and not torch.equal(a1, b)


def test_masks_ignore_torch_global_rng_and_other_threads():
    """Two runs training at once, or a page drawing random numbers, must not change a run's masks."""
    x = torch.ones(16, 32)
    results: dict[str, list[torch.Tensor]] = {}

    def run(name: str) -> None:
        layer = _seeded(SeededDropout(0.5), 3)
        outs = []
        for _ in range(50):
            torch.rand(100)  # another user of torch's global generator, in between every draw
            outs.append(layer(x))
        results[name] = outs

    workers = [threading.Thread(target=run, args=(n,)) for n in ("a", "b")]
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    run("alone")
    assert all(torch.equal(a, b) and torch.equal(a, c) for a, b, c in zip(results["a"], results["b"], results["alone"]))


def test_an_unseeded_layer_follows_torch_manual_seed():
    x = torch.ones(16, 32)
    outs = []
    for _ in range(2):
        torch.manual_seed(5)
        outs.append(SeededDropout(0.5).train()(x))
    assert torch.equal(outs[0], outs[1])


def test_bfloat16_inputs_stay_bfloat16():
    out = _seeded(SeededDropout(0.2), 0)(torch.ones(4, 8, dtype=torch.bfloat16))
    assert out.dtype == torch.bfloat16


def test_it_says_what_it_is_and_exports_as_torch_layers():
    model = build_model(ModelConfig(hidden=(8,), dropout=0.25, conv=(ConvBlock(4, dropout=0.1),)), (1, 8, 8), 2)
    dense, conv = model.drop_fc1, model.drop1
    assert isinstance(dense, nn.Dropout) and isinstance(conv, nn.Dropout2d)  # every other part of nnviz sees dropout
    assert repr(dense).startswith("SeededDropout(p=0.25") and repr(conv).startswith("SeededDropout2d(p=0.1")
    assert _layer(dense) == "nn.Dropout(0.25)" and _layer(conv) == "nn.Dropout2d(0.1)"
    plain = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Dropout(0.25), nn.Linear(8, 2))
    mlp = build_model(ModelConfig(hidden=(8,), dropout=0.25), (4,), 2)
    plain.load_state_dict({k.replace("fc1", "0").replace("out", "3"): v for k, v in mlp.state_dict().items()})
