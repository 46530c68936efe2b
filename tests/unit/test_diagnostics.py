"""nnviz.analysis.diagnostics: each finding on synthetic histories with known answers, and on real tiny runs."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from nnviz.analysis import diagnostics as d
from nnviz.config import DataConfig, ModelConfig, TrainConfig
from nnviz.data import load
from nnviz.training.train import fit, init_model


def history(train, val, **extra) -> list[dict]:
    """Rows like fit()'s: epoch 0 first, then one row per epoch."""
    return [{"epoch": e, "train_loss": float(t), "val_loss": float(v), **{k: float(x[e]) for k, x in extra.items()}}
            for e, (t, v) in enumerate(zip(train, val))]


def kinds(findings) -> set[str]:
    return {f.kind for f in findings}


@pytest.fixture(scope="module")
def reg_data():
    return load(DataConfig(dataset="regression"))


@pytest.fixture(scope="module")
def digits():
    return load(DataConfig(dataset="digits"))


class TestOverfitting:
    ONSET = 25

    def curve(self, seed: int, noise: float = 0.03, epochs: int = 80):
        """Training loss falls for ever; validation falls until ONSET, then climbs; both noisy."""
        rng = np.random.default_rng(seed)
        e = np.arange(epochs + 1)
        train = (0.1 + 2.0 * np.exp(-e / 8)) * np.exp(rng.normal(0, noise, len(e)))
        val = (0.3 + 2.0 * np.exp(-e / 8) + 0.01 * np.maximum(e - self.ONSET, 0)) * np.exp(rng.normal(0, noise, len(e)))
        return history(train, val)

    @pytest.mark.parametrize("seed", range(5))
    def test_onset_found_near_the_known_epoch_despite_noise(self, seed):
        found = d.overfitting_onset(self.curve(seed))
        assert found is not None and found.kind == "overfitting"
        assert abs(found.epoch - self.ONSET) <= 5, found.epoch
        assert f"epoch {int(found.epoch)}" in found.sentence and found.sentence.count(".") >= 1

    @pytest.mark.parametrize("seed", range(5))
    def test_noisy_but_improving_curve_is_not_overfitting(self, seed):
        rng = np.random.default_rng(seed)
        e = np.arange(81)
        val = (0.3 + 2.0 * np.exp(-e / 15)) * np.exp(rng.normal(0, 0.05, len(e)))
        assert d.overfitting_onset(history(val * 0.8, val)) is None

    def test_flat_noise_is_not_overfitting(self):
        rng = np.random.default_rng(1)
        val = 0.5 * np.exp(rng.normal(0, 0.05, 60))
        assert d.overfitting_onset(history(val, val)) is None

    def test_train_rising_too_is_not_called_overfitting(self):
        e = np.arange(61)
        val = 1 + 0.02 * np.abs(e - 20)
        assert d.overfitting_onset(history(val * 0.9, val)) is None  # both rise: instability, not overfitting

    def test_false_alarms_on_pure_noise_are_rare(self):
        """Validation loss that only wobbles around a level, many lengths and noise levels: < 3% flagged."""
        flagged, total = 0, 0
        for n in (10, 20, 40, 80, 200, 600):
            for sigma in (0.02, 0.1, 0.3):
                for seed in range(12):
                    rng = np.random.default_rng(seed)
                    val = 0.5 * np.exp(rng.normal(0, sigma, n + 1))
                    flagged += d.overfitting_onset(history(0.3 * np.exp(-np.arange(n + 1) / n), val)) is not None
                    total += 1
        assert flagged / total < 0.03, (flagged, total)

    def test_a_real_overfitting_run(self):
        """A wide ReLU net on 21 noisy points: validation MSE bottoms out early, then climbs."""
        data = load(DataConfig(dataset="regression", n_train=30, val_fraction=0.3, noise=0.5))
        model = init_model(ModelConfig(hidden=(256, 256), activation="relu"), data, 0)
        rows = fit(model, data, TrainConfig(device="cpu", epochs=800, lr=3e-3, batch_size=32)).epochs  # one batch an epoch
        found = d.overfitting_onset(rows)
        best = d.best_epoch(rows)
        assert found is not None and best.epoch < 300
        assert abs(found.epoch - best.epoch) <= 100  # the turn is near the lowest point, not at the end

    def test_too_short_a_run_says_nothing(self):
        assert d.overfitting_onset(history([1, 0.5, 0.4, 0.6], [1, 0.5, 0.4, 0.9])) is None


class TestBestEpoch:
    def test_lowest_validation_loss(self):
        rows = history([1, 0.5, 0.3, 0.2, 0.1], [1, 0.6, 0.4, 0.45, 0.5])
        found = d.best_epoch(rows)
        assert found.epoch == 2 and found.value == pytest.approx(0.4)
        assert "epoch 2 of 4" in found.sentence

    def test_still_improving_at_the_end(self):
        found = d.best_epoch(history([1, 0.5, 0.3], [1, 0.6, 0.4]))
        assert found.epoch == 2 and "more epochs" in found.sentence

    def test_untrained_epoch_zero_never_counts_and_nan_is_skipped(self):
        rows = history([0.1, 1, 0.5], [0.01, math.nan, 0.7])
        assert d.best_epoch(rows).epoch == 2
        assert d.best_epoch(history([1], [1])) is None


class TestLearningRate:
    def test_diverged_run_from_a_real_fit(self, reg_data):
        model = init_model(ModelConfig(hidden=(64, 64), activation="relu"), reg_data, 0)
        h = fit(model, reg_data, TrainConfig(device="cpu", epochs=5, batch_size=16, optimizer="sgd", lr=2.0),
                [d.GradNormRecorder()])
        assert h.status == "diverged"
        found = d.diagnose(h.epochs, h.status, h.reason, h.batch_losses, lr=2.0)
        assert found[0].kind == "diverged" and found[0].severity == "error"
        assert "(2)" in found[0].sentence and "lower it" in found[0].sentence

    def test_loss_rising_from_the_start(self):
        found = d.learning_rate(history([1.0, 3.0, 5.0, 9.0], [1.0, 3.0, 5.0, 9.0]), lr=0.5)
        assert found.kind == "lr_too_high" and found.epoch == 1 and "(0.5)" in found.sentence

    def test_oscillating_loss(self):
        train = [2.0, 1.0, 1.6, 0.9, 1.5, 0.8, 1.4, 0.8, 1.3, 0.7, 0.7, 0.7]
        found = d.learning_rate(history(train, train))
        assert found is not None and found.kind == "lr_too_high" and found.severity == "warning"

    def test_a_healthy_decreasing_loss_says_nothing(self):
        train = 0.2 + np.exp(-np.arange(30) / 5)
        assert d.learning_rate(history(train, train)) is None


class TestGradients:
    def test_vanishing_in_a_deep_sigmoid_net_not_in_a_shallow_relu_net(self, reg_data):
        def run(cfg: ModelConfig) -> list[dict]:
            model = init_model(cfg, reg_data, 0)
            return fit(model, reg_data, TrainConfig(device="cpu", epochs=2, batch_size=16, optimizer="sgd", lr=0.01),
                       [d.GradNormRecorder(every=1)]).epochs

        deep = run(ModelConfig(hidden=(32,) * 8, activation="sigmoid"))
        found = [f for f in d.gradient_norms(deep) if f.kind == "vanishing_gradients"]
        assert found and found[0].value < d.VANISHING_RATIO
        assert "first layer" in found[0].sentence
        shallow = run(ModelConfig(hidden=(32, 32), activation="relu"))
        assert "vanishing_gradients" not in kinds(d.gradient_norms(shallow))

    def test_exploding_norm_on_a_synthetic_history(self):
        rows = history([1] * 6, [1] * 6, grad_norm=[0, 1, 1.2, 5, 80, 300], grad_norm_max=[0, 2, 2, 30, 400, 2000])
        found = d.gradient_norms(rows)
        assert [f.kind for f in found] == ["exploding_gradients"] and found[0].epoch == 5
        steady = history([1] * 6, [1] * 6, grad_norm=[0, 1, 1, 1, 1, 1], grad_norm_max=[0, 2, 2, 2, 2, 2])
        assert d.gradient_norms(steady) == []

    def test_infinite_gradient_norm_is_an_error(self):
        rows = history([1] * 3, [1] * 3, grad_norm=[0, 1, math.inf], grad_norm_max=[0, 1, math.inf])
        assert d.gradient_norms(rows)[0].severity == "error"

    def test_recorder_matches_a_manual_gradient_norm(self, reg_data):
        """One batch, recorded every batch: the record equals the norm of the gradients left on the model."""
        model = init_model(ModelConfig(hidden=(8,), activation="tanh"), reg_data, 0)
        h = fit(model, reg_data, TrainConfig(device="cpu", epochs=1, batch_size=16, max_steps=1, optimizer="sgd",
                                             lr=0.0), [d.GradNormRecorder(every=1)])
        grads = [p.grad for p in model.parameters()]
        manual = float(torch.sqrt(sum((g ** 2).sum() for g in grads)))
        row = h.epochs[1]
        assert row["grad_norm"] == pytest.approx(manual, rel=1e-5)
        assert row["grad_norm_max"] == pytest.approx(manual, rel=1e-5)
        assert row["grad_first"] == pytest.approx(float(grads[0].norm()), rel=1e-5)  # fc weight of layer 1
        assert row["grad_last"] == pytest.approx(float(grads[-2].norm()), rel=1e-5)  # output weight
        assert "grad_norm" not in h.epochs[0]  # the untrained record has no step


class TestDeadRelu:
    def test_huge_learning_rate_kills_relus_a_small_one_does_not(self, digits):
        def dead(lr: float) -> tuple[float, list]:
            model = init_model(ModelConfig(hidden=(64, 64), activation="relu"), digits, 0)
            fit(model, digits, TrainConfig(device="cpu", epochs=3, batch_size=32, optimizer="sgd", momentum=0.0,
                                           lr=lr, max_steps=20))
            frac, stats = d.dead_relu_fraction(model, digits.x_train[:512])
            return frac, stats

        frac, stats = dead(1.0)
        assert frac > 0.8
        found = d.dead_relu(stats)
        assert found.kind == "dead_relu" and found.severity == "error" and f"{frac:.0%}" in found.sentence
        frac, stats = dead(0.01)
        assert frac < d.DEAD_RELU_WARN and d.dead_relu(stats) is None

    def test_no_relu_layers_no_finding(self):
        assert d.dead_relu([{"module": "Tanh", "units": 5, "dead_fraction": math.nan}]) is None


def test_diagnose_orders_by_severity():
    e = np.arange(41)
    val = 0.3 + np.exp(-e / 4) + 0.02 * np.maximum(e - 10, 0)
    rows = history(0.1 + np.exp(-e / 4), val)
    found = d.diagnose(rows, activation_stats=[{"module": "ReLU", "layer": "act1", "units": 10, "dead_fraction": 0.6}])
    assert [f.kind for f in found] == ["dead_relu", "overfitting", "best_epoch"]
    assert [f["severity"] for f in d.summary(found)] == ["error", "warning", "info"]


def test_a_learning_rate_too_high_is_not_also_called_overfitting():
    """Adam at lr 1 on the regressor: the loss jumps about early and its validation ends above its low."""
    e = np.arange(41)
    jumps = (e % 2) * (e <= 20)  # up every other epoch in the first half
    rows = history(0.1 + 0.5 * np.exp(-e / 15) + 0.15 * jumps, 0.4 + 0.3 * np.exp(-e / 4) + 0.01 * np.maximum(e - 15, 0)
                   + 0.05 * jumps)
    assert d.overfitting_onset(rows) is not None and d.learning_rate(rows) is not None  # each alone would say so
    assert [f.kind for f in d.diagnose(rows)] == ["lr_too_high", "best_epoch"]


class TestFigures:
    def test_annotate_marks_a_copy(self):
        from nnviz.figures.curves import metric_curves
        from nnviz.figures.diagnostics import annotate

        rows = history([1, 0.5, 0.3, 0.2, 0.1] + [0.1] * 20, [1, 0.6, 0.4, 0.45, 0.5] + [0.6] * 20)
        fig = metric_curves(rows, "loss")
        found = [d.Finding("best_epoch", "info", "best", 2.0), d.Finding("overfitting", "warning", "over", 3.0),
                 d.Finding("vanishing_gradients", "warning", "no epoch")]
        marked = annotate(fig, found)
        assert fig.layout.shapes == () and fig.layout.annotations == ()  # the input is left alone
        kinds = [(s.type, s.x0) for s in marked.layout.shapes]
        assert ("line", 2.0) in kinds and ("line", 3.0) in kinds and ("rect", 3.0) in kinds
        assert [a.text for a in marked.layout.annotations] == ["best", "overfitting →"]
        assert marked.layout.annotations[0].hovertext == "best"  # the full sentence on hover

    def test_gradient_norm_figure(self):
        from nnviz.figures.diagnostics import gradient_norm_figure

        rows = history([1] * 4, [1] * 4, grad_norm=[0, 1, 2, 3], grad_norm_max=[0, 2, 3, 4],
                       grad_first=[0, 1e-6, 1e-6, 1e-6], grad_last=[0, 1, 1, 1])
        fig = gradient_norm_figure(rows)
        assert [t.name for t in fig.data] == ["all parameters (mean)", "all parameters (largest)", "first layer",
                                              "last layer"]
        assert list(fig.data[0].x) == [1, 2, 3]  # epoch 0 (no step yet) and zeros are left out
        assert fig.layout.yaxis.type == "log"
        empty = gradient_norm_figure(history([1, 1], [1, 1]))
        assert not empty.data and "No gradient norms" in empty.layout.annotations[0].text


class TestDivergence:
    """One verdict per run: a diverged run gets the divergence sentence alone, in compact numbers."""

    def test_a_finite_blow_up_is_the_only_verdict(self):
        # SGD + momentum at the top rate: the losses end 4e+38, finite, and the run "finished"
        train = [2.8, 0.9, 0.5, 30.0, 2e9, 4.1e38]
        val = [3.2, 1.0, 0.6, 40.0, 2e9, 2.015e15]
        rows = history(train, val, grad_norm_max=[1, 1, 2, 1e4, 1e9, 1e19], grad_norm=[1, 1, 1, 1e3, 1e8, 1e18])
        found = d.diagnose(rows, "finished", lr=1.0)
        assert [f.kind for f in found] == ["diverged"] and found[0].severity == "error"
        sentence = found[0].sentence
        assert "epoch 3" in sentence and "4.1e+38" not in sentence  # where it began, said compactly
        assert "more epochs" not in sentence and "longer" not in sentence and "(1)" in sentence
        assert all(len(word) < 16 for word in sentence.split())  # no 39-digit numbers

    def test_nan_ends_the_run_with_the_divergence_sentence_only(self):
        rows = history([2.0, 1.0, math.nan], [2.0, 1.0, math.nan])
        found = d.diagnose(rows, "diverged", lr=10.0)
        assert [f.kind for f in found] == ["diverged"] and "epoch 2" in found[0].sentence

    def test_live_alarm_as_soon_as_the_loss_is_ten_times_its_best(self):
        rows = history([2.0, 0.5, 0.4, 3.0], [2.0, 0.5, 0.4, 3.0])
        assert d.divergence(rows[:3], "running") is None
        assert d.divergence(rows[:4], "running") is None  # 7.5x its best: not yet
        rows = history([2.0, 0.5, 0.4, 4.5], [2.0, 0.5, 0.4, 4.5])
        found = d.divergence(rows, "running", lr=1.0)
        assert found is not None and "epoch 3" in found.sentence and "11x" in found.sentence, found.sentence
        assert d.divergence(history([2.0, math.inf], [2.0, 1.0]), "running") is not None

    def test_no_false_alarms(self):
        # a near-zero loss that wobbles 10x is not a blow-up; nor is a missing validation set (NaN throughout)
        assert d.divergence(history([2.3, 0.01, 0.002, 0.03], [2.3, 0.05, 0.04, 0.05]), "finished") is None
        assert d.divergence(history([2.0, 1.0, 0.5], [math.nan] * 3), "finished") is None
        # a spike it recovered from: no divergence verdict at the end
        assert d.divergence(history([2.0, 0.1, 5.0, 0.1], [2.0, 0.1, 5.0, 0.1]), "finished") is None
        e = np.arange(41)
        healthy = history(0.1 + np.exp(-e / 4), 0.3 + np.exp(-e / 4))
        assert "diverged" not in kinds(d.diagnose(healthy))

    def test_a_real_adam_run_at_lr_10_is_called_diverged(self, reg_data):
        model = init_model(ModelConfig(hidden=(64, 64), activation="tanh"), reg_data, 0)
        h = fit(model, reg_data, TrainConfig(device="cpu", epochs=15, batch_size=16, optimizer="adam", lr=10.0))
        found = d.diagnose(h.epochs, h.status, h.reason, h.batch_losses, lr=10.0)
        assert [f.kind for f in found] == ["diverged"] and "(10)" in found[0].sentence

    @pytest.mark.parametrize("value, text", [(0.031234, "0.0312"), (4.1066e38, "4.1e+38"), (2.015e15, "2.0e+15"),
                                             (123.4567, "123.5"), (2595.31, "2595"),
                                             (25953.1, "2.6e+04"), (0.0, "0.0000"), (2e-7, "2.0e-07"),
                                             (math.nan, "NaN"), (math.inf, "∞"), (None, "—")])
    def test_compact_numbers(self, value, text):
        assert d.compact(value) == text
