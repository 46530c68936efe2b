"""nnviz's CPU Dropout behaves as torch's nn.Dropout: same statistics, gradients, modes and state."""
from __future__ import annotations

import threading

import pytest
import torch
from torch import nn

from nnviz import dropout
from nnviz.codegen import _layer
from nnviz.config import ModelConfig
from nnviz.dropout import RESOLUTION, Dropout
from nnviz.models import build_model


def test_keeps_one_minus_p_of_the_units_and_scales_survivors_exactly():
    dropout.seed(0)
    layer = Dropout(0.2).train()
    x = torch.ones(1000, 1000)
    out = layer(x)
    kept = out != 0
    p_rounded = round(0.2 * RESOLUTION) / RESOLUTION
    assert abs(kept.float().mean().item() - (1 - 0.2)) < 0.002  # 1e6 draws: sd 0.0004
    assert torch.all(out[kept] == torch.tensor(1 / (1 - p_rounded), dtype=torch.float32))
    assert abs(out.mean().item() - 1.0) < 0.003  # expectation kept
    # no structure across rows or columns: both marginals look like the whole
    assert (kept.float().mean(0) - 0.8).abs().max() < 0.07 and (kept.float().mean(1) - 0.8).abs().max() < 0.07


@pytest.mark.parametrize("p", [0.05, 0.5, 0.9])
def test_drop_rate_follows_p(p):
    dropout.seed(1)
    kept = (Dropout(p).train()(torch.ones(400, 500)) != 0).float().mean().item()
    assert abs(kept - (1 - p)) < 0.005


def test_gradient_is_the_mask():
    dropout.seed(2)
    x = torch.randn(64, 256, requires_grad=True)
    out = Dropout(0.3).train()(x)
    out.sum().backward()
    mask = torch.where(out != 0, out / x.detach(), torch.zeros(()))
    assert torch.allclose(x.grad, mask, atol=1e-5)
    values = torch.unique(x.grad).tolist()
    assert len(values) == 2 and values[0] == 0.0 and values[1] == pytest.approx(1 / (1 - 0.3), rel=1e-4)


def test_eval_mode_and_p_zero_pass_inputs_through_and_p_one_drops_everything():
    x = torch.randn(8, 16)
    assert torch.equal(Dropout(0.5).eval()(x), x)
    assert torch.equal(Dropout(0.0).train()(x), x)
    assert torch.count_nonzero(Dropout(1.0).train()(x)) == 0


def test_same_seed_same_masks_and_successive_layers_differ():
    x = torch.ones(32, 64)
    dropout.seed(7)
    a1, a2 = Dropout(0.5).train()(x), Dropout(0.5).train()(x)
    dropout.seed(7)
    b1, b2 = Dropout(0.5).train()(x), Dropout(0.5).train()(x)
    assert torch.equal(a1, b1) and torch.equal(a2, b2)
    assert not torch.equal(a1, a2)


def test_each_thread_draws_from_its_own_seeded_stream():
    x = torch.ones(16, 32)
    results: dict[str, torch.Tensor] = {}

    def run(name: str) -> None:
        dropout.seed(3)
        results[name] = Dropout(0.5).train()(x)

    dropout.seed(99)  # this thread's stream must not leak into the others
    threads = [threading.Thread(target=run, args=(n,)) for n in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert torch.equal(results["a"], results["b"])


def test_an_unseeded_thread_follows_torch_manual_seed():
    x = torch.ones(16, 32)
    outs = []
    for _ in range(2):
        def run() -> None:
            torch.manual_seed(5)
            outs.append(Dropout(0.5).train()(x))
        t = threading.Thread(target=run)
        t.start()
        t.join()
    assert torch.equal(outs[0], outs[1])


def test_bfloat16_inputs_stay_bfloat16():
    out = Dropout(0.2).train()(torch.ones(4, 8, dtype=torch.bfloat16))
    assert out.dtype == torch.bfloat16


def test_it_is_an_nn_dropout_to_every_other_part_of_nnviz():
    model = build_model(ModelConfig(hidden=(8,), dropout=0.25), (4,), 2)
    layer = model.drop_fc1
    assert isinstance(layer, nn.Dropout) and type(layer) is Dropout
    assert repr(layer) == repr(nn.Dropout(0.25))
    assert _layer(layer) == "nn.Dropout(0.25)"
    plain = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Dropout(0.25), nn.Linear(8, 2))
    plain.load_state_dict({k.replace("fc1", "0").replace("out", "3"): v for k, v in model.state_dict().items()})
