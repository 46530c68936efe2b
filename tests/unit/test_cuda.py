"""The device-specific paths of fit(): channels-last, fused optimizers, autocast, pinned copies.

The CPU tests run everywhere and exercise the same helpers with autocast off; the CUDA
tests skip cleanly on machines without a GPU.
"""
from __future__ import annotations

import math

import pytest
import torch

from nnviz.config import DataConfig, ModelConfig, TrainConfig, replace
from nnviz.data import load
from nnviz.data.batching import augment_shift, batches, to_device
from nnviz.model.dropout import seed_dropout
from nnviz.model.models import PRESETS
from nnviz.training.train import (
    Callback,
    TrainState,
    autocast_for,
    cpu_has_native_bf16,
    data_on,
    fit,
    init_model,
    optimizer_flags,
    uses_channels_last,
)

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
CPU, CUDA = torch.device("cpu"), torch.device("cuda")


@pytest.fixture(scope="module")
def digits():
    return load(DataConfig(dataset="digits"))


@pytest.fixture(scope="module")
def regression():
    return load(DataConfig(dataset="regression"))


class FormatProbe(Callback):
    """Records, per batch, whether the last conv's weight is NHWC (channels-last) while training."""

    def __init__(self) -> None:
        self.weight_nhwc: list[bool] = []

    def on_batch_end(self, state: TrainState) -> None:
        # the last conv: with one input channel, NCHW and NHWC strides are interchangeable
        weight = [m.weight for m in state.model.modules() if isinstance(m, torch.nn.Conv2d)][-1]
        self.weight_nhwc.append(weight.is_contiguous(memory_format=torch.channels_last)
                                and not weight.is_contiguous())


class TestCpuPath:
    def test_cnns_train_channels_last_and_come_back_contiguous(self, digits):
        model = init_model(PRESETS["fast_cnn"].model, digits, 0)
        probe = FormatProbe()
        history = fit(model, digits, replace(PRESETS["fast_cnn"].train, device="cpu", epochs=1, max_steps=3),
                      [probe])
        assert history.status == "finished"
        assert probe.weight_nhwc == [True, True, True]  # NHWC while training
        assert all(p.is_contiguous() for p in model.parameters())  # plain tensors handed back

    def test_channels_last_where_it_was_measured_faster(self, digits, regression):
        def nhwc(preset: str, device: torch.device) -> bool:
            return uses_channels_last(init_model(PRESETS[preset].model, digits, 0), digits, device)

        assert nhwc("fast_cnn", CPU) and nhwc("bn_cnn", CPU)  # batch-normalised, >= 16 channels
        assert not nhwc("lenet", CPU) and not nhwc("pytorch_example", CPU)  # no BN (lenet: 6 channels)
        assert nhwc("lenet", CUDA) and nhwc("pytorch_example", CUDA)  # every CNN on a GPU
        assert not nhwc("mlp_dropout", CUDA)
        assert not uses_channels_last(init_model(ModelConfig(hidden=(8,)), regression, 0), regression, CUDA)

    def test_other_cnns_train_in_the_default_layout(self, digits):
        probe = FormatProbe()
        fit(init_model(PRESETS["lenet"].model, digits, 0), digits,
            replace(PRESETS["lenet"].train, device="cpu", epochs=1, max_steps=2), [probe])
        assert probe.weight_nhwc == [False, False]

    def test_channels_last_gives_the_same_training_as_contiguous(self, digits):
        """NHWC is a memory layout, not a different computation: same losses to float tolerance."""
        p = PRESETS["bn_cnn"]
        cfg = replace(p.train, device="cpu", epochs=1, max_steps=4, log_every=1, cpu_amp=False)  # layout only
        nhwc = fit(init_model(p.model, digits, 0), digits, cfg)
        model = init_model(p.model, digits, 0)
        plain = [], []
        gen = torch.Generator().manual_seed(cfg.seed)
        opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, fused=True)  # fit's optimizer: only the layout differs
        seed_dropout(model, cfg.seed)  # fit seeds the model's dropout layers the same way
        model.train()
        for i, idx in enumerate(batches(len(digits.x_train), cfg.batch_size, gen, CPU)):
            if i == 4:
                break
            loss = torch.nn.functional.cross_entropy(model(digits.x_train[idx]), digits.y_train[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            plain[0].append(float(loss.detach()))
        losses = [b for _, b in nhwc.batch_losses]
        assert losses[0] == pytest.approx(plain[0][0], rel=1e-5)  # same function before any update
        # then float summation order differs and early Adam steps amplify it a little (measured <= 0.1%)
        assert losses == pytest.approx(plain[0], rel=1e-2)

    def test_data_on_cpu_is_the_same_tensors(self, digits):
        moved = data_on(digits, CPU)
        assert moved.x_train is digits.x_train and moved.y_test is digits.y_test  # no copy of the set

    def test_autocast_is_off_on_cpu_and_for_regression(self):
        cfg = TrainConfig(amp=True)
        for device, task in ((CPU, "classification"), (CPU, "regression"), (CUDA, "regression")):
            ctx = autocast_for(device, cfg, task)
            assert not isinstance(ctx, torch.autocast)
        assert not isinstance(autocast_for(CUDA, replace(cfg, amp=False), "classification"), torch.autocast)

    def test_optimizer_flags(self):
        assert optimizer_flags("adam", CPU) == {"fused": True}
        assert optimizer_flags("adamw", CUDA) == {"fused": True}
        assert optimizer_flags("sgd", CPU) == {}
        assert optimizer_flags("adadelta", CUDA) == {"foreach": True}

    def test_fused_adam_matches_the_plain_one(self, digits):
        """The fused kernel is the same update: a short run ends at the same weights (float tolerance)."""
        p = PRESETS["mlp_dropout"]
        cfg = replace(p.train, device="cpu", epochs=1, max_steps=5)
        model = init_model(p.model, digits, 0)
        fit(model, digits, cfg)
        fused = torch.cat([q.detach().flatten() for q in model.parameters()])
        import nnviz.training.train as train

        original = train.optimizer_flags
        train.optimizer_flags = lambda name, device: {}
        try:
            model = init_model(p.model, digits, 0)
            fit(model, digits, cfg)
        finally:
            train.optimizer_flags = original
        plain = torch.cat([q.detach().flatten() for q in model.parameters()])
        assert torch.allclose(fused, plain, rtol=1e-4, atol=1e-6)

    def test_to_device_on_cpu_is_the_same_tensor(self):
        t = torch.arange(5)
        assert to_device(t, CPU) is t


@needs_cuda
class TestCudaPath:
    def test_to_device_goes_through_pinned_memory(self):
        t = torch.arange(1000)
        moved = to_device(t, CUDA)
        assert moved.device.type == "cuda" and torch.equal(moved.cpu(), t)

    def test_data_resident_on_the_gpu(self, digits):
        moved = data_on(digits, CUDA)
        assert all(t.device.type == "cuda" for t in (moved.x_train, moved.y_train, moved.x_test, moved.y_val))
        assert torch.equal(moved.x_test.cpu(), digits.x_test)

    def test_bf16_autocast_where_supported(self):
        ctx = autocast_for(CUDA, TrainConfig(amp=True), "classification")
        assert isinstance(ctx, torch.autocast) == torch.cuda.is_bf16_supported()

    def test_augmentation_on_the_gpu(self, digits):
        x = digits.x_train[:8].to(CUDA)
        out = augment_shift(x, torch.Generator().manual_seed(0), flip=True)
        assert out.device.type == "cuda" and out.shape == x.shape

    @pytest.mark.parametrize("amp", [True, False])
    def test_fast_cnn_reaches_the_cpu_accuracy(self, digits, amp):
        p = PRESETS["fast_cnn"]
        model = init_model(p.model, digits, 0)
        probe = FormatProbe()
        history = fit(model, digits, replace(p.train, device="cuda", amp=amp), [probe])
        assert history.status == "finished"
        assert all(probe.weight_nhwc)
        assert all(q.device.type == "cuda" and q.is_contiguous() for q in model.parameters())
        assert all(math.isfinite(v) for r in history.epochs for v in r.values())
        assert history.epochs[-1]["test_acc"] >= 0.97  # 98.6% on CPU with this config

    def test_no_host_sync_inside_the_training_loop(self, digits):
        """Between log points the loop never waits for the GPU (torch's sync debug mode raises)."""
        p = PRESETS["fast_cnn"]
        model = init_model(p.model, digits, 0)

        class SyncGuard(Callback):
            def on_batch_end(self, state: TrainState) -> None:
                # log_every is larger than the steps, so only the epoch's last batch reads the loss
                torch.cuda.set_sync_debug_mode("error" if state.batch < state.batches_per_epoch - 1 else 0)

            def on_epoch_end(self, state: TrainState, record: dict) -> None:
                torch.cuda.set_sync_debug_mode(0)

        try:
            history = fit(model, digits, replace(p.train, device="cuda", epochs=1, max_steps=12, log_every=100),
                          [SyncGuard()])
        finally:
            torch.cuda.set_sync_debug_mode(0)
        assert history.status == "finished", history.reason

    def test_compile_flag(self, digits):
        pytest.importorskip("triton", reason="torch.compile on CUDA needs triton")
        p = PRESETS["fast_cnn"]
        model = init_model(p.model, digits, 0)
        history = fit(model, digits, replace(p.train, device="cuda", epochs=1, max_steps=3, compile=True))
        assert history.status == "finished"


def test_cpu_bf16_only_for_opted_in_cnns(digits):
    cnn = init_model(PRESETS["pytorch_example"].model, digits, seed=0)
    mlp = init_model(PRESETS["mlp_dropout"].model, digits, seed=0)
    on = TrainConfig(cpu_amp=True)
    ctx = autocast_for(CPU, on, "classification", cnn)
    assert isinstance(ctx, torch.autocast) == cpu_has_native_bf16()
    assert not isinstance(autocast_for(CPU, TrainConfig(), "classification", cnn), torch.autocast)  # off by default
    assert not isinstance(autocast_for(CPU, on, "classification", mlp), torch.autocast)  # no convs: no gain
    assert not isinstance(autocast_for(CPU, on, "regression", cnn), torch.autocast)
    assert PRESETS["pytorch_example"].train.cpu_amp and not PRESETS["fast_cnn"].train.cpu_amp


def test_a_cpu_bf16_fit_learns(digits):
    cfg = replace(PRESETS["bn_cnn"].train, epochs=1, max_steps=20, snapshot_every=0)
    history = fit(init_model(PRESETS["bn_cnn"].model, digits, seed=0), digits, cfg)
    assert history.status == "finished"
    assert history.epochs[0]["val_acc"] < 0.3 < 0.8 < history.epochs[-1]["val_acc"]
