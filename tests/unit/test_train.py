"""nnviz.training.train: the training loop, its callbacks, stopping, divergence and reproducibility."""
from __future__ import annotations

import dataclasses
import math
import threading

import pytest
import torch

from nnviz.config import OPTIMIZER_NAMES, SCHEDULER_NAMES, DataConfig, ModelConfig, TrainConfig, replace
from nnviz.data import load
from nnviz.model.models import PRESETS
from nnviz.training.train import (
    OPTIMIZERS,
    Callback,
    EarlyStopping,
    History,
    TrainState,
    evaluate,
    fit,
    flush_denormals,
    flushing_denormals,
    init_model,
    predict,
    resolve_device,
    scores,
)

TIMING_KEYS = {"seconds", "elapsed", "samples_per_s"}


@pytest.fixture(scope="module")
def reg_data():
    return load(DataConfig(dataset="regression"))  # 90 train, 10 val, 100 test


@pytest.fixture(scope="module")
def digits():
    return load(DataConfig(dataset="digits"))


def small_mlp() -> ModelConfig:
    return ModelConfig(hidden=(16, 16), activation="tanh")


def cpu_cfg(**kw) -> TrainConfig:
    return TrainConfig(**{"device": "cpu", "batch_size": 16, "epochs": 2, **kw})


def flat_params(model: torch.nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().flatten().cpu() for p in model.parameters()])


def comparable(history: History) -> list[dict]:
    """History rows without wall-clock timings."""
    return [{k: v for k, v in row.items() if k not in TIMING_KEYS} for row in history.epochs]


class TestFit:
    def test_regression_loss_goes_down(self, reg_data):
        preset = PRESETS["regressor"]
        model = init_model(preset.model, reg_data, seed=0)
        history = fit(model, reg_data, replace(preset.train, epochs=40, device="cpu"))
        assert history.status == "finished" and history.reason == ""
        assert [r["epoch"] for r in history.epochs] == list(range(41))
        first, last = history.epochs[0], history.epochs[-1]
        assert last["train_loss"] < 0.5 * first["train_loss"]
        assert last["test_loss"] < 0.5 * first["test_loss"]
        assert not model.training  # left in eval mode

    def test_epoch_zero_is_the_untrained_model(self, reg_data):
        untrained = init_model(small_mlp(), reg_data, seed=3)
        expected = evaluate(untrained, reg_data.x_train, reg_data.y_train, "regression")["loss"]
        expected_test = evaluate(untrained, reg_data.x_test, reg_data.y_test, "regression")["loss"]
        history = fit(init_model(small_mlp(), reg_data, seed=3), reg_data, cpu_cfg(epochs=1))
        row = history.epochs[0]
        assert row["epoch"] == 0 and row["seconds"] == 0.0
        assert row["train_loss"] == pytest.approx(expected, rel=1e-6)
        assert row["test_loss"] == pytest.approx(expected_test, rel=1e-6)

    def test_zero_epochs_records_only_the_start(self, reg_data):
        model = init_model(small_mlp(), reg_data, seed=0)
        before = flat_params(model)
        history = fit(model, reg_data, cpu_cfg(epochs=0))
        assert history.status == "finished" and len(history.epochs) == 1
        assert flat_params(model).equal(before)

    def test_classification_records_accuracies(self, digits):
        model = init_model(ModelConfig(hidden=(32,)), digits, seed=0)
        history = fit(model, digits, cpu_cfg(epochs=2, batch_size=64, max_steps=5, log_every=2))
        for row in history.epochs:
            for key in ("train_acc", "val_acc", "test_acc"):
                assert 0.0 <= row[key] <= 1.0
        assert history.epochs[-1]["test_acc"] > history.epochs[0]["test_acc"]
        # max_steps 5, log_every 2: batch losses at 2, 4 and the last batch (5) of each epoch
        assert [round(x, 3) for x, _ in history.batch_losses] == [0.4, 0.8, 1.0, 1.4, 1.8, 2.0]

    def test_record_matches_an_independent_evaluation(self, digits):
        model = init_model(ModelConfig(hidden=(32,)), digits, seed=0)
        history = fit(model, digits, cpu_cfg(epochs=1, batch_size=64, max_steps=3))
        val = evaluate(model, digits.x_val, digits.y_val, "classification")
        test = evaluate(model, digits.x_test, digits.y_test, "classification")
        last = history.last()
        assert last["val_loss"] == pytest.approx(val["loss"], rel=1e-5)
        assert last["test_acc"] == pytest.approx(test["acc"], abs=1e-9)
        assert last["samples_per_s"] > 0 and last["seconds"] > 0


class TestReproducibility:
    def run(self, preset: str, data, seed: int, **train) -> tuple[History, torch.Tensor]:
        torch.rand(100)  # disturb the global RNG: fit must not depend on it
        p = PRESETS[preset]
        model = init_model(p.model, data, seed)
        history = fit(model, data, replace(p.train, device="cpu", seed=seed, **train))
        return history, flat_params(model)

    def test_classification_with_dropout_and_augmentation(self, digits):
        kw = {"epochs": 2, "max_steps": 6, "log_every": 2, "augment": True}
        (h1, w1), (h2, w2) = self.run("mlp_dropout", digits, 7, **kw), self.run("mlp_dropout", digits, 7, **kw)
        assert h1.status == h2.status == "finished"
        assert comparable(h1) == comparable(h2)  # every loss and accuracy, exactly
        assert h1.batch_losses == h2.batch_losses
        assert w1.equal(w2)
        h3, w3 = self.run("mlp_dropout", digits, 8, **kw)
        assert comparable(h3) != comparable(h1) and not w3.equal(w1)

    def test_cnn_with_spatial_dropout(self, digits):
        few = dataclasses.replace(digits, x_train=digits.x_train[:64], y_train=digits.y_train[:64],
                                  x_val=digits.x_val[:32], y_val=digits.y_val[:32],
                                  x_test=digits.x_test[:32], y_test=digits.y_test[:32])
        kw = {"epochs": 2, "max_steps": 2, "batch_size": 16}
        (h1, w1), (h2, w2) = self.run("pytorch_example", few, 1, **kw), self.run("pytorch_example", few, 1, **kw)
        assert comparable(h1) == comparable(h2) and w1.equal(w2)

    def test_regression_with_dropout(self, reg_data):
        (h1, w1), (h2, w2) = (self.run("dropout_leaky", reg_data, 3, epochs=5) for _ in range(2))
        assert comparable(h1) == comparable(h2)
        assert h1.batch_losses == h2.batch_losses and w1.equal(w2)
        h3, _ = self.run("dropout_leaky", reg_data, 4, epochs=5)
        assert comparable(h3) != comparable(h1)


class FlushSeen(Callback):
    def __init__(self) -> None:
        self.seen: set[bool] = set()

    def on_batch_end(self, state: TrainState) -> None:
        self.seen.add(flushing_denormals())


class TestDenormals:
    """fit() computes with denormals flushed on its own thread and leaves every thread as it found it."""

    def test_fit_flushes_on_its_thread_and_restores(self, digits):
        assert not flushing_denormals()
        seen = FlushSeen()
        fit(init_model(small_mlp(), digits, 0), digits, cpu_cfg(epochs=1, max_steps=3), [seen])
        assert seen.seen == {True}
        assert not flushing_denormals()

    def test_a_run_on_another_thread_leaves_this_one_alone(self, digits):
        seen = FlushSeen()
        worker = threading.Thread(target=fit, args=(init_model(small_mlp(), digits, 0), digits,
                                                    cpu_cfg(epochs=1, max_steps=2), [seen]))
        worker.start()
        worker.join()
        assert seen.seen == {True}
        assert not flushing_denormals()

    def test_threads_the_run_starts_inherit_its_mode(self, digits):
        """As OpenMP's workers do: their ops flush denormals too."""
        during: list[bool] = []

        class StartThread(Callback):
            def on_batch_end(self, state: TrainState) -> None:
                child = threading.Thread(target=lambda: during.append(flushing_denormals()))
                child.start()
                child.join()

        fit(init_model(small_mlp(), digits, 0), digits, cpu_cfg(epochs=1, max_steps=1), [StartThread()])
        assert during == [True]

    def test_a_caller_that_flushes_keeps_flushing(self, digits):
        with flush_denormals():
            fit(init_model(small_mlp(), digits, 0), digits, cpu_cfg(epochs=1, max_steps=1))
            assert flushing_denormals()
        assert not flushing_denormals()


class StopAfter(Callback):
    def __init__(self, n: int, event: threading.Event) -> None:
        self.n, self.event, self.batches, self.ended = n, event, 0, False

    def on_batch_end(self, state: TrainState) -> None:
        self.batches += 1
        if self.batches == self.n:
            self.event.set()

    def on_train_end(self, state: TrainState) -> None:
        self.ended = True


class TestStopping:
    @pytest.mark.parametrize("n, epochs_recorded", [(3, 1), (12, 2), (17, 2)])
    def test_stop_event_ends_within_one_batch(self, reg_data, n, epochs_recorded):
        event = threading.Event()
        cb = StopAfter(n, event)
        model = init_model(small_mlp(), reg_data, seed=0)
        history = fit(model, reg_data, cpu_cfg(epochs=1000, batch_size=8), [cb], stop_event=event)  # 12 batches/epoch
        assert history.status == "stopped" and "Stopped" in history.reason
        assert cb.batches == n  # not a single batch after the event
        assert cb.ended
        assert len(history.epochs) == epochs_recorded

    def test_stop_before_the_first_batch(self, reg_data):
        event = threading.Event()
        event.set()
        model = init_model(small_mlp(), reg_data, seed=0)
        before = flat_params(model)
        history = fit(model, reg_data, cpu_cfg(epochs=5), stop_event=event)
        assert history.status == "stopped" and len(history.epochs) == 1
        assert flat_params(model).equal(before)

    def test_huge_learning_rate_diverges_with_a_reason(self, reg_data):
        model = init_model(PRESETS["linear"].model, reg_data, seed=0)
        cfg = cpu_cfg(optimizer="sgd", lr=100.0, epochs=50, log_every=1)
        history = fit(model, reg_data, cfg)
        assert history.status == "diverged"
        assert "learning rate" in history.reason and "100" in history.reason
        assert len(history.epochs) < 51
        assert math.isfinite(history.epochs[0]["train_loss"])

    def test_early_stopping_when_validation_stalls(self, reg_data):
        model = init_model(small_mlp(), reg_data, seed=0)
        history = fit(model, reg_data, cpu_cfg(optimizer="sgd", lr=0.0, epochs=50, early_stopping=2))
        assert history.status == "early_stopped"
        assert [r["epoch"] for r in history.epochs] == [0, 1, 2, 3]
        assert "2 epochs" in history.reason

    def test_early_stopping_counts_epochs_since_the_best(self, reg_data):
        state = TrainState(torch.nn.Linear(1, 1), reg_data, TrainConfig(), History(), torch.device("cpu"))
        stopper = EarlyStopping(patience=2)
        for epoch, val in enumerate([9.0, 5.0, 4.0, 4.5, 3.9, 4.0, 3.95, 4.2], start=0):
            stopper.on_epoch_end(state, {"epoch": epoch, "val_loss": val})
            if state.stop_requested:
                break
        assert state.stop_requested == "early_stopped" and epoch == 6  # best 3.9 at epoch 4

    def test_early_stopping_without_a_validation_set_never_fires(self):
        data = load(DataConfig(dataset="regression", val_fraction=0.0))
        assert len(data.x_val) == 0
        history = fit(init_model(small_mlp(), data, 0), data, cpu_cfg(epochs=4, early_stopping=1))
        assert history.status == "finished" and len(history.epochs) == 5


class TestOptimizersAndSchedules:
    def test_registry_matches_the_config_choices(self):
        assert set(OPTIMIZERS) == set(OPTIMIZER_NAMES)

    @pytest.mark.parametrize("name", OPTIMIZER_NAMES)
    def test_every_optimizer_trains(self, reg_data, name):
        model = init_model(small_mlp(), reg_data, seed=0)
        before = flat_params(model)
        lr = 1.0 if name == "adadelta" else 0.01
        history = fit(model, reg_data, cpu_cfg(optimizer=name, lr=lr, epochs=3, weight_decay=1e-4))
        assert history.status == "finished"
        assert all(math.isfinite(r["train_loss"]) for r in history.epochs)
        assert not flat_params(model).equal(before)
        assert history.epochs[-1]["train_loss"] < history.epochs[0]["train_loss"]

    @pytest.mark.parametrize("name", SCHEDULER_NAMES)
    def test_every_scheduler_runs_and_shapes_the_learning_rate(self, reg_data, name):
        cfg = cpu_cfg(scheduler=name, lr=0.01, epochs=4, step_size=1, gamma=0.5)
        history = fit(init_model(small_mlp(), reg_data, seed=0), reg_data, cfg)
        assert history.status == "finished"
        lrs = [r["lr"] for r in history.epochs[1:]]
        if name == "none":
            assert lrs == [0.01] * 4
        elif name == "step":
            assert lrs == pytest.approx([0.01, 0.005, 0.0025, 0.00125])
        elif name == "cosine":
            assert all(a > b for a, b in zip(lrs, lrs[1:])) and lrs[-1] == pytest.approx(0.0, abs=1e-9)
        elif name == "onecycle":
            # warms up from lr/25 towards the peak, then anneals far below the start
            assert max(lrs) <= 0.01 + 1e-12 and lrs[0] > 0.01 / 25 and lrs[-1] < 0.01 / 25
        else:  # plateau: the loss still improves here, so the rate holds
            assert all(0 < lr <= 0.01 for lr in lrs)

    def test_plateau_lowers_the_rate_when_validation_stalls(self, reg_data):
        # a tiny clip norm freezes the weights, so the validation loss stalls
        cfg = cpu_cfg(optimizer="sgd", momentum=0.0, lr=0.5, grad_clip=1e-9, scheduler="plateau", gamma=0.5, epochs=6)
        history = fit(init_model(small_mlp(), reg_data, seed=0), reg_data, cfg)
        lrs = [r["lr"] for r in history.epochs[1:]]
        assert lrs[0] == 0.5 and lrs[-1] == 0.25
        assert all(a >= b for a, b in zip(lrs, lrs[1:]))

    def test_onecycle_with_max_steps(self, digits):
        cfg = cpu_cfg(scheduler="onecycle", epochs=2, max_steps=2, batch_size=32)
        history = fit(init_model(ModelConfig(hidden=(8,)), digits, 0), digits, cfg)
        assert history.status == "finished"

    def test_grad_clip_bounds_the_update(self, reg_data):
        def update_norm(clip: float) -> float:
            model = init_model(small_mlp(), reg_data, seed=0)
            before = flat_params(model)
            fit(model, reg_data, cpu_cfg(optimizer="sgd", momentum=0.0, lr=1.0, grad_clip=clip, epochs=1,
                                         max_steps=1))
            return float((flat_params(model) - before).norm())

        clipped, free = update_norm(1e-3), update_norm(0.0)
        assert 0 < clipped <= 1e-3 * 1.001
        assert free > 100 * clipped


class TestHelpers:
    def test_resolve_device_auto(self):
        mps = getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
        expected = "cuda" if torch.cuda.is_available() else "mps" if mps else "cpu"
        assert resolve_device("auto").type == expected
        assert resolve_device("cpu") == torch.device("cpu")

    @pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
    def test_resolve_device_cuda_missing_is_a_clear_error(self, reg_data):
        with pytest.raises(ValueError, match="no CUDA GPU"):
            resolve_device("cuda")
        with pytest.raises(ValueError, match="CUDA"):
            fit(init_model(small_mlp(), reg_data, 0), reg_data, TrainConfig(device="cuda", epochs=1))

    def test_predict_restores_the_mode_and_batches(self, digits):
        model = init_model(ModelConfig(hidden=(8,), dropout=0.5), digits, 0)
        model.train()
        out = predict(model, digits.x_test, batch_size=50)
        assert model.training and out.shape == (len(digits.x_test), 10)
        model.eval()
        with torch.no_grad():
            torch.testing.assert_close(out, model(digits.x_test))

    def test_scores(self):
        out = torch.tensor([[2.0, 0.0], [0.0, 3.0], [1.0, 0.0]])
        y = torch.tensor([0, 1, 1])
        result = scores(out, y, "classification")
        assert result["acc"] == pytest.approx(2 / 3)
        assert result["loss"] == pytest.approx(float(torch.nn.functional.cross_entropy(out, y)))
        assert scores(torch.tensor([[1.0], [3.0]]), torch.tensor([[0.0], [1.0]]), "regression") == {"loss": 2.5}
        empty = scores(torch.empty(0, 1), torch.empty(0, 1), "regression")
        assert math.isnan(empty["loss"])

    def test_history_round_trip_and_best(self):
        h = History([{"epoch": 0, "val_loss": 3.0}, {"epoch": 1, "val_loss": 1.0}, {"epoch": 2, "val_loss": 2.0}],
                    [(0.5, 4.0), (1.0, 3.5)], "early_stopped", "why")
        back = History.from_dict(h.to_dict())
        assert back == h
        assert h.best()["epoch"] == 1 and h.last()["epoch"] == 2
        assert History().last() == {} and History().best() == {}

    def test_init_model_is_seeded_and_leaves_the_global_rng_alone(self, reg_data):
        torch.manual_seed(123)
        expected_next = torch.rand(3)
        torch.manual_seed(123)
        a = flat_params(init_model(small_mlp(), reg_data, 5))
        assert torch.rand(3).equal(expected_next)
        assert a.equal(flat_params(init_model(small_mlp(), reg_data, 5)))
        assert not a.equal(flat_params(init_model(small_mlp(), reg_data, 6)))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
class TestCuda:
    def test_regression_on_cuda(self, reg_data):
        model = init_model(small_mlp(), reg_data, 0)
        history = fit(model, reg_data, TrainConfig(device="cuda", epochs=3, batch_size=16, lr=0.01))
        assert history.status == "finished"
        assert all(p.device.type == "cuda" for p in model.parameters())
        assert all(math.isfinite(v) for r in history.epochs for v in r.values())
        assert history.epochs[-1]["train_loss"] < history.epochs[0]["train_loss"]

    @pytest.mark.parametrize("amp", [True, False])
    def test_cnn_on_cuda(self, digits, amp):
        p = PRESETS["fast_cnn"]
        model = init_model(p.model, digits, 0)
        history = fit(model, digits, replace(p.train, device="cuda", epochs=3, amp=amp, augment=True))
        assert history.status == "finished"
        assert all(p.device.type == "cuda" for p in model.parameters())
        assert all(math.isfinite(v) for r in history.epochs for v in r.values())
        assert history.epochs[-1]["test_acc"] > 0.8  # ~0.97 on CPU with this config
        assert resolve_device("cuda").type == "cuda"


class HostReads(Callback):
    """Counts tensor -> Python reads (float(), .item(), .tolist()) made during each batch."""

    def __init__(self, counter: list[int]) -> None:
        self.counter, self.per_batch, self.mark = counter, [], None

    def on_batch_end(self, state: TrainState) -> None:
        if self.mark is not None:
            self.per_batch.append(self.counter[0] - self.mark)
        self.mark = self.counter[0]


class TestHostReads:
    @pytest.mark.parametrize("preset", ["mlp_dropout", "fast_cnn"])
    def test_the_loop_reads_the_loss_once_per_log_interval(self, digits, monkeypatch, preset):
        """No per-batch .item() storm: between log points the loop never reads a tensor on the host."""
        counter = [0]
        for name in ("__float__", "item", "tolist"):
            original = getattr(torch.Tensor, name)

            def counted(self, *a, _original=original, **kw):
                counter[0] += 1
                return _original(self, *a, **kw)

            monkeypatch.setattr(torch.Tensor, name, counted)
        reads = HostReads(counter)
        p = PRESETS[preset]
        history = fit(init_model(p.model, digits, 0), digits,
                      replace(p.train, device="cpu", epochs=1, max_steps=10, log_every=5), [reads])
        assert history.status == "finished"
        # batches 2..10: one read at batch 5 and one at batch 10 (the log points), none elsewhere
        assert reads.per_batch == [0, 0, 0, 1, 0, 0, 0, 0, 1]
