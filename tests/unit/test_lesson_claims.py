"""Every lesson step's claim, checked at library level on 5 seeds: what the class is told is what it will see.

Each step is trained as its page trains it (nnviz.training.train.fit for a lab, nnviz.jobs.sweeps for a sweep, the search's
K-fold scoring for the grid), with the lesson's own settings, on the data the lesson resolves to with nothing
downloaded (the embedded sets a lecture hall without network gets). A seed sets the drawn points, the
validation split and the training (weights, shuffling, dropout). The per-seed figures are printed (`-s`).
Tests that train many runs are marked slow (`-m "not slow"` leaves the quick regression lessons).
"""
from __future__ import annotations

import dataclasses
import functools
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from nnviz.analysis.metrics import confusion, predict_classes, row_normalise
from nnviz.config import RunConfig
from nnviz.data import FUNCTIONS, TaskData, load
from nnviz.figures.lessons import StepResult, steps_overlay
from nnviz.jobs import sweeps
from nnviz.teaching import lessons
from nnviz.training import crossval
from nnviz.training.train import History, evaluate, fit, init_model, predict

SEEDS = range(5)
NOISE_VAR = 0.3 ** 2  # the course set's noise variance: the best any fit can do on new points
# Many lesson runs on 5 seeds: a safety net far above their time on a busy 2-core machine, not a speed check
HEAVY = pytest.mark.timeout(3600)


@pytest.fixture(autouse=True)
def _real_epochs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(lessons.EPOCH_CAP_ENV, raising=False)  # the class sees every epoch


@functools.lru_cache(maxsize=None)
def _offline(lesson_id: str) -> lessons.Lesson:
    """The lesson as a machine with no downloaded set runs it (a folder that surely has none)."""
    return lessons.resolve(lessons.get(lesson_id), root=Path("/nonexistent-nnviz-data"))


def _seeded(cfg: RunConfig, seed: int) -> RunConfig:
    return dataclasses.replace(cfg, data=dataclasses.replace(cfg.data, seed=seed),
                               train=dataclasses.replace(cfg.train, seed=seed, device="cpu", snapshot_every=0))


@dataclasses.dataclass(frozen=True)
class Lab:
    history: History
    model: torch.nn.Module
    data: TaskData

    def curve(self, key: str) -> np.ndarray:
        return np.array([r[key] for r in self.history.epochs if r["epoch"] > 0])

    def mse(self, split: str) -> float:
        """The final model's loss on a split, in eval mode (dropout off)."""
        return evaluate(self.model, *self.data.split(split), self.data.task)["loss"]


@functools.lru_cache(maxsize=None)
def lab(lesson_id: str, index: int, seed: int) -> Lab:
    """A lab step trained as the page trains it (K-fold steps: see `folds`)."""
    cfg = _seeded(_offline(lesson_id).steps[index].config, seed)
    data = load(cfg.data)
    model = init_model(cfg.model, data, cfg.train.seed)
    return Lab(fit(model, data, cfg.train), model, data)


def report(claim: str, rows: dict) -> None:
    print(f"\n{claim}")
    for seed, figures in rows.items():
        print(f"  seed {seed}: " + ", ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}"
                                            for k, v in figures.items()))


# --- linear regression ----------------------------------------------------------------------------------

def test_linear_regression_converges_to_the_best_line_which_underfits():
    rows = {}
    for seed in SEEDS:
        run = lab("linear_regression", 0, seed)
        x, y = (t.numpy().ravel() for t in run.data.split("train"))
        best_line = float(np.mean((np.polyval(np.polyfit(x, y, 1), x) - y) ** 2))  # least squares
        train = run.curve("train_loss")
        rows[seed] = {"train MSE": run.mse("train"), "least squares": best_line,
                      "last-10% change": float(train[-len(train) // 10] / train[-1] - 1)}
    report("linear_regression: converges to the least-squares line, far above the noise", rows)
    for row in rows.values():
        assert row["train MSE"] < 1.05 * row["least squares"], "gradient descent finds the best line"
        assert row["least squares"] > 3 * NOISE_VAR, "far above the noise level: a line cannot bend"
        assert abs(row["last-10% change"]) < 0.05, "the loss has stopped falling"


# --- sigmoid MLP ----------------------------------------------------------------------------------------

def _fit_error(run: Lab) -> tuple[float, float]:
    """Mean squared distance of the fit from the true function where the training points are, and beyond
    them (the fit's drawn range: 10 % of the data range past either end)."""
    x_train = run.data.x_train.numpy().ravel()
    lo, hi = float(x_train.min()), float(x_train.max())
    pad = 0.1 * (hi - lo)
    xs = np.linspace(lo - pad, hi + pad, 1201, dtype=np.float32)
    err = (predict(run.model, torch.from_numpy(xs).reshape(-1, 1)).numpy().ravel() - FUNCTIONS["course"].fn(xs)) ** 2
    in_gaps = np.zeros(len(xs), dtype=bool)
    for g_lo, g_hi in run.data.regression.gaps:
        in_gaps |= (xs > g_lo) & (xs < g_hi)
    inside = (xs >= lo) & (xs <= hi)
    return float(err[inside & ~in_gaps].mean()), float(err[~inside].mean())


def test_sigmoid_mlp_bends_into_the_curve_and_drifts_off_beyond_the_data():
    rows = {}
    for seed in SEEDS:
        run = lab("sigmoid_mlp", 0, seed)
        x, y = (t.numpy().ravel() for t in run.data.split("train"))
        best_line = float(np.mean((np.polyval(np.polyfit(x, y, 1), x) - y) ** 2))
        where_data, beyond = _fit_error(run)
        rows[seed] = {"train MSE": run.mse("train"), "best line": best_line, "fit error where data": where_data,
                      "beyond the data": beyond}
    report("sigmoid_mlp: the curve, near the noise; off the curve beyond the data", rows)
    for row in rows.values():
        assert row["train MSE"] < 0.12 * row["best line"], "about a tenth of the straight line's loss"
        assert row["train MSE"] < 2 * NOISE_VAR, "within twice the noise level"
        assert row["beyond the data"] > 5 * row["fit error where data"], "drifts off beyond the data"


# --- regularisation -------------------------------------------------------------------------------------

def _weight_norm(model: torch.nn.Module) -> float:
    with torch.no_grad():
        return float(sum((p ** 2).sum() for n, p in model.named_parameters() if n.endswith("weight")) ** 0.5)


@pytest.mark.slow
@HEAVY
def test_l2_dropout_claims():
    rows = {}
    for seed in SEEDS:
        plain, l2, drop = (lab("l2_dropout", i, seed) for i in range(3))
        val, train = plain.curve("val_loss"), plain.curve("train_loss")
        low = int(np.argmin(val))
        rows[seed] = {"val low at epoch": low + 1, "of": len(val), "train loss at val low": float(train[low]),
                      "at end": float(train[-1]), "gap none": plain.mse("test") - plain.mse("train"),
                      "gap L2": l2.mse("test") - l2.mse("train"), "gap dropout": drop.mse("test") - drop.mse("train"),
                      "test none": plain.mse("test"), "test L2": l2.mse("test"), "test dropout": drop.mse("test"),
                      "|w| none": _weight_norm(plain.model), "|w| L2": _weight_norm(l2.model),
                      "train none": plain.mse("train"), "train dropout": drop.mse("train"),
                      "val none": plain.mse("val"), "val end/low": float(val[-1] / val[low])}
    plain_test, l2_test, drop_test = (np.array([r[k] for r in rows.values()])
                                      for k in ("test none", "test L2", "test dropout"))
    noise = float(np.std(plain_test - l2_test) + np.std(plain_test - drop_test)) / 2 / math.sqrt(len(SEEDS))
    report(f"l2_dropout (noise of the mean test-MSE difference {noise:.3g})", rows)
    for row in rows.values():
        # step 1: validation loss has its low well before the last epoch, then climbs
        assert row["of"] - row["val low at epoch"] >= row["of"] // 8, "the validation low is well before the end"
        assert 1.1 < row["val end/low"] < 1.5, "validation loss ends 10-50 % above its low"
        # step 2: L2 shrinks the weights (to about half) without worsening test MSE beyond noise
        assert row["|w| L2"] < 0.7 * row["|w| none"]
        # step 3: dropout keeps the training loss up, and here it costs test MSE
        assert row["train dropout"] > row["train none"]
        assert row["test dropout"] > row["test none"]
    assert l2_test.mean() <= plain_test.mean() + 2 * noise, "L2 does not worsen test MSE beyond noise"
    assert drop_test.mean() > plain_test.mean() + 2 * noise, "dropout worsens test MSE beyond noise"


def test_the_last_step_of_the_regularisation_lesson_overlays_all_three():
    runs = [lab("l2_dropout", i, 0) for i in range(3)]
    labels = [step.caption.split(":")[0] for step in _offline("l2_dropout").steps]
    xs = torch.linspace(-5, 5, 50).reshape(-1, 1)
    results = [StepResult(label, run.history.epochs, xs.ravel().tolist(), predict(run.model, xs).ravel().tolist())
               for label, run in zip(labels, runs)]
    fig = steps_overlay(results, (runs[0].data.x_train.ravel().tolist(), runs[0].data.y_train.ravel().tolist()))
    names = [t.name for t in fig.data]
    assert names[0] == "training points"
    assert [n for n in names if n in labels] == labels, "one fit per step"
    assert sum(n.endswith(": validation") for n in names) == 3 and sum(n.endswith(": training") for n in names) == 3
    assert len(fig.data) == 1 + 3 * 3, "points, then per step: fit, validation and training curves"


# --- K-fold and grid search -----------------------------------------------------------------------------

@functools.lru_cache(maxsize=None)
def folds(seed: int, k: int, lr: float, epochs: int) -> list[crossval.FoldResult]:
    """The regressor's K-fold runs as the regression lab's K-fold step trains them."""
    cfg = _seeded(_offline("kfold_grid").steps[0].config, seed)
    train = dataclasses.replace(cfg.train, lr=lr, epochs=epochs)
    return crossval.cross_validate(load(cfg.data), cfg.model, train, k)


@pytest.mark.slow
@HEAVY
def test_kfold_step_1_shows_the_spread_of_single_splits():
    cfg = _offline("kfold_grid").steps[0].config
    rows = {}
    for seed in SEEDS:
        losses = [r.val_loss for r in folds(seed, cfg.train.kfold, cfg.train.lr, cfg.train.epochs)]
        rows[seed] = {"fold val MSE": " ".join(f"{v:.3f}" for v in losses), "max/min": max(losses) / min(losses)}
    report("kfold_grid step 1: the 5 folds' validation MSE", rows)
    for row in rows.values():
        assert len(row["fold val MSE"].split()) == 5 and 1.2 < row["max/min"] < 3, "the worst fold 1.2 to 3 times the best"


@pytest.mark.slow
@HEAVY
def test_kfold_step_2_grid_claims():
    """Scored as the search scores a cell (mean validation MSE over 3 folds). A fit of E epochs is the first E
    epochs of a longer fit with the same seed (no schedule here), so one fit per rate and fold gives a column."""
    import json

    step = _offline("kfold_grid").steps[1]
    space = json.loads(step.space)
    from nnviz.jobs.search import SearchSpec
    from nnviz.model.params import apply_params, quick_base

    rows = {}
    for seed in SEEDS:
        spec = SearchSpec(base=quick_base(step.dataset), space=space, sampler="grid", kfold=step.kfold,
                          pruning=False, seed=seed)
        base = _seeded(spec.base, seed)
        data = load(base.data)
        grid = {}
        for lr in space["lr"]:
            cfg = apply_params(base, {"lr": lr, "epochs": max(space["epochs"])})
            scores = {e: [] for e in space["epochs"]}
            for i, (fold_set, _) in enumerate(crossval.fold_data(data, spec.kfold, spec.seed)):
                train = dataclasses.replace(cfg.train, seed=cfg.train.seed + i + 1, kfold=0)
                history = fit(init_model(cfg.model, fold_set, train.seed), fold_set, train)
                by_epoch = {r["epoch"]: r["val_loss"] for r in history.epochs}
                for e in space["epochs"]:
                    scores[e].append(by_epoch[e])
            for e in space["epochs"]:
                grid[lr, e] = float(np.mean(scores[e]))
        rows[seed] = grid
        report(f"kfold_grid step 2, seed {seed}: mean validation MSE per (lr x epochs)",
               {seed: {f"{lr:g}x{e}": v for (lr, e), v in grid.items()}})
    small, middle, large = sorted(space["lr"])
    epochs = sorted(space["epochs"])
    for grid in rows.values():
        assert all(math.isfinite(v) for v in grid.values())
        assert min(grid, key=grid.get)[0] == middle, "the middle rate wins"
        assert all(grid[small, a] > grid[small, b] for a, b in zip(epochs, epochs[1:])), "crawls: every step helps"
        assert grid[middle, epochs[-1]] < grid[middle, epochs[0]]
        assert all(grid[large, e] > grid[middle, e] for e in epochs), "the large rate never catches up"
        assert grid[small, epochs[-1]] > grid[middle, epochs[-1]], "the small rate crawls: still behind"


# --- image lessons --------------------------------------------------------------------------------------

@pytest.mark.slow
@HEAVY
def test_fashion_cnn_levels_off_and_confuses_the_tops():
    rows = {}
    for seed in SEEDS:
        run = lab("fashion_cnn", 0, seed)
        pred, _ = predict_classes(run.model, run.data.x_test)
        cm = row_normalise(confusion(run.data.y_test.numpy(), pred, len(run.data.classes)))
        names = list(run.data.classes)
        recall = dict(zip(names, np.diag(cm)))
        shirt = names.index("Shirt")
        mistaken = {names[j] for j in np.argsort(-cm[shirt])[1:4]}
        acc = run.curve("test_acc")
        rows[seed] = {"test acc": float(acc[-1]), "after epoch 2": float(acc[1]), "Shirt recall": recall["Shirt"],
                      "hardest": min(recall, key=recall.get), "Shirt taken for": ", ".join(sorted(mistaken)),
                      "Trouser": recall["Trouser"], "Bag": recall["Bag"]}
    report("fashion_cnn: levels off, Shirt is the hard case", rows)
    for row in rows.values():
        assert 0.80 <= row["test acc"] <= 0.90, "levels off between 80 and 90 %"
        assert row["hardest"] == "Shirt"
        assert set(row["Shirt taken for"].split(", ")) <= {"T-shirt/top", "Pullover", "Coat", "Dress"}
        assert row["Trouser"] > 0.9 and row["Bag"] > 0.9


@pytest.mark.slow
@HEAVY
def test_mnist_cnn_reaches_about_98_percent():
    rows = {}
    for seed in SEEDS:
        acc = lab("mnist_cnn", 0, seed).curve("test_acc")
        rows[seed] = {"test acc per epoch": " ".join(f"{a:.3f}" for a in acc), "final": float(acc[-1])}
    report("mnist_cnn: test accuracy", rows)
    assert all(row["final"] >= 0.975 for row in rows.values()), "about 98 % in three epochs"


@functools.lru_cache(maxsize=None)
def sweep(lesson_id: str, seed: int) -> dict[str, dict]:
    """The lesson's sweep as the experiments page runs it (its base config, the lesson's epochs), by label."""
    step = _offline(lesson_id).steps[0]
    base = sweeps.base_config(step.dataset, lessons.sweep_epochs(step))
    base = dataclasses.replace(base, train=dataclasses.replace(base.train, seed=seed, device="cpu"))
    return {r["label"]: r for r in sweeps.run_sweep(step.sweep, base)}


@pytest.mark.slow
@HEAVY
def test_optimizer_race_plain_sgd_finishes_last_and_someone_overtakes():
    rows = {}
    for seed in SEEDS:
        results = sweep("optimizer_race", seed)
        first = {k: r["history"][1]["val_loss"] for k, r in results.items()}
        last = {k: r["history"][-1]["val_loss"] for k, r in results.items()}
        order_first, order_last = sorted(first, key=first.get), sorted(last, key=last.get)
        rows[seed] = {"after epoch 1": " < ".join(order_first), "at the end": " < ".join(order_last)}
    report("optimizer_race: validation loss order after epoch 1 and at the end", rows)
    for row in rows.values():
        assert row["at the end"].endswith("< SGD"), "plain SGD finishes last"
        assert row["after epoch 1"] != row["at the end"], "someone overtakes"


@pytest.mark.slow
@HEAVY
def test_activation_depth_deep_sigmoid_underfits_and_relu_learns():
    rows, checks = {}, {}
    for seed in SEEDS:
        results = sweep("activation_depth", seed)
        acc = {k: (r["final"]["train_acc"], r["final"]["test_acc"]) for k, r in results.items()}
        verdicts = {k: sweeps.fit_verdict(*v) for k, v in acc.items()}
        rows[seed] = {k: f"{a:.0%}/{b:.0%} {verdicts[k]}" for k, (a, b) in acc.items()}
        checks[seed] = (verdicts["sigmoid × 3"], acc["relu × 3"][0] - acc["sigmoid × 3"][0])
    report("activation_depth (train/test accuracy, verdict)", rows)
    for verdict, relu_lead in checks.values():
        assert verdict == "underfitting"
        assert relu_lead > 0.1, "deep ReLU learns its training set where deep sigmoid barely does"


@pytest.mark.slow
@HEAVY
def test_train_fraction_at_equal_updates_a_fifth_of_the_data_is_within_a_few_points():
    rows, checks = {}, {}
    for seed in SEEDS:
        results = sweep("train_fraction", seed)
        steps = {k: r["n_train"] * r["epochs"] for k, r in results.items()}
        acc = [results[k]["final"]["test_acc"] for k in ("20%", "40%", "60%", "80%", "100%")]
        rows[seed] = {"test acc": " ".join(f"{a:.3f}" for a in acc),
                      "samples seen": " ".join(str(v) for v in steps.values())}
        checks[seed] = (max(steps.values()) / min(steps.values()), acc)
    report("train_fraction: test accuracy at 20..100 % with equal updates", rows)
    for spread, acc in checks.values():
        assert spread < 1.1, "every point gets the same number of updates"
        assert 0 < acc[4] - acc[0] < 0.05, "all the data gains only a few points over a fifth of it"


def test_every_lesson_step_has_a_claim_test():
    """A new lesson needs its claim here too."""
    covered = {"linear_regression", "sigmoid_mlp", "l2_dropout", "kfold_grid", "fashion_cnn", "mnist_cnn",
               "optimizer_race", "activation_depth", "train_fraction"}
    covered_elsewhere = {"xor_hidden_layer", "spiral_depth_features"}  # tests/unit/test_playground_lessons.py
    no_claim = {"class_canvas"}  # its steps are instructions: what it shows is the class's own drawings
    assert set(lessons.LESSONS) == covered | covered_elsewhere | no_claim
