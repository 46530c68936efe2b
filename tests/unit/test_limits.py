"""Hyper-parameters at their limits: lr 0 and 100, batch size 1 and larger than the data, 0 epochs, and models
whose training would exhaust memory (refused before anything is allocated, with the estimated size)."""
from __future__ import annotations

import resource

import pytest
import torch
from torch import nn

from nnviz.config import ConfigError, ConvBlock, DataConfig, ModelConfig, RunConfig, TrainConfig
from nnviz.jobs import runs
from nnviz.model import checkpoints
from nnviz.model.models import ModelTooLarge, build_model
from nnviz.training import limits

DATA = DataConfig(dataset="regression", n_train=64, n_test=32)


def _run(tmp_path, **train) -> dict:
    cfg = RunConfig(data=DATA, model=ModelConfig(hidden=(16,)), train=TrainConfig(device="cpu", **{"epochs": 3, **train}))
    run = runs.start(cfg, tmp_path)
    assert run.wait(120)
    return run.view()


def _losses(view: dict) -> list[float]:
    return [e["train_loss"] for e in view.history]


def test_lr_zero_trains_without_changing_anything(tmp_path):
    view = _run(tmp_path, lr=0.0)
    assert view.status == "finished"
    losses = _losses(view)
    assert max(losses) - min(losses) < 1e-5  # the weights never move (only float summation order varies)


def test_lr_100_diverges_with_advice(tmp_path):
    view = _run(tmp_path, lr=100.0, optimizer="sgd")
    assert view.status == "diverged"
    assert "Lower the learning rate (now 100)" in view.message


@pytest.mark.parametrize("lr", ["-0.1", "100.5", "NaN", "Infinity"])
def test_learning_rates_outside_0_to_100_are_refused(lr):
    raw = RunConfig().to_json().replace('"lr": 0.001', f'"lr": {lr}')
    assert f'"lr": {lr}' in raw
    with pytest.raises(ConfigError, match="learning rate must be in \\[0, 100\\]|finite"):
        RunConfig.from_json(raw)


def test_batch_size_one(tmp_path):
    view = _run(tmp_path, batch_size=1, epochs=2)
    assert view.status == "finished" and _losses(view)[-1] < _losses(view)[0]


def test_batch_larger_than_the_data_is_one_batch(tmp_path):
    view = _run(tmp_path, batch_size=1_000_000, epochs=2)
    assert view.status == "finished" and len(view.history) == 3  # epoch 0 (untrained) + 2
    assert limits.check_run(RunConfig(data=DATA, train=TrainConfig(batch_size=1_000_000))) < 50 * 2**20


def test_zero_epochs_keeps_the_untrained_model(tmp_path):
    view = _run(tmp_path, epochs=0)
    assert view.status == "finished" and [e["epoch"] for e in view.history] == [0]
    assert checkpoints.load(next(tmp_path.glob("*/final.pt"))).model() is not None


@pytest.mark.parametrize("train", [{"batch_size": 0}, {"epochs": -1}, {"epochs": 100_001}])
def test_out_of_range_training_values_are_refused(train):
    with pytest.raises(ConfigError):
        TrainConfig(**train)


def test_hidden_widths_beyond_65536_are_refused():
    with pytest.raises(ConfigError, match="hidden widths must be in 1..65536"):
        ModelConfig(hidden=(100_000,))


ENORMOUS = {
    "8 x 65,536-wide dense layers": (RunConfig(model=ModelConfig(hidden=(65_536,) * 8)),
                                     r"would have 30,117,330,954 parameters \(~114,889 MB .*448\.8 GB to train\); "
                                     r"the limit is 50,000,000"),
    "4 x 8,192-wide dense layers": (RunConfig(model=ModelConfig(hidden=(8192,) * 4)),
                                    r"207,863,818 parameters \(~793 MB of weights, about 3\.1 GB to train\)"),
    "512-channel CNN without pooling, batch 512": (
        RunConfig(data=DataConfig(dataset="cifar10"), train=TrainConfig(batch_size=512),
                  model=ModelConfig(hidden=(64,), global_pool=True, conv=tuple(ConvBlock(512, 3, pool="none")
                                                                              for _ in range(8)))),
        r"with batch size 512 would need about 32\.\d GB of memory .*activations.*limit is 4\.0 GB"),
}


@pytest.mark.parametrize("case", list(ENORMOUS))
def test_enormous_models_are_refused_up_front_with_the_estimated_size(tmp_path, case):
    cfg, message = ENORMOUS[case]
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(ModelTooLarge, match=message):
        runs.start(cfg, tmp_path)
    assert not any(tmp_path.iterdir())  # no run folder: refused before it existed
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 200_000  # KB: nothing big was allocated


def test_activation_estimate_matches_a_real_forward_pass():
    cfg = ModelConfig(hidden=(128, 32), dropout=0.2, batch_norm=True,
                      conv=(ConvBlock(16, 5, batch_norm=True), ConvBlock(32, 3, dropout=0.1, pool="avg"),
                            ConvBlock(8, 3, same_padding=False, pool="none")))
    model, seen = build_model(cfg, (3, 32, 32), 10).eval(), []
    hooks = [m.register_forward_hook(lambda _m, _i, out: seen.append(out[0].numel()))
             for m in model if not isinstance(m, nn.Flatten)]
    model(torch.zeros(2, 3, 32, 32))
    for h in hooks:
        h.remove()
    assert limits.activations_per_sample(cfg, (3, 32, 32), 10) == sum(seen)


def test_default_runs_are_far_under_the_limit():
    assert limits.check_run(RunConfig()) < 100 * 2**20
    assert limits.check_run(RunConfig(data=DataConfig(dataset="cifar10"),
                                      model=ModelConfig(conv=(ConvBlock(32), ConvBlock(64))))) < 1 * 2**30
