"""Automatic diagnostics of a run: what a teacher would point at on its curves.

Pure functions over History rows (`RunView.history`, `history.jsonl`, a checkpoint's
history) return `Finding`s: a kind, a severity, one plain sentence, and the epoch to mark
on a curve. `diagnose` runs them all.

Gradient norms come from `GradNormRecorder`, a `fit()` callback that the run recorder
registers: every `every` batches it sums the squared gradient norms on the device (no host
sync) and writes `grad_norm`, `grad_norm_max`, `grad_first` and `grad_last` (first and last
weight tensors) into the epoch's record, once per epoch.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import torch
from torch import nn

from nnviz.analysis import inspect
from nnviz.training.train import Callback, TrainState

# Thresholds, each with its reason.
OVERFIT_MIN_EPOCHS = 6  # fewer validated epochs cannot tell a trend from noise
OVERFIT_MIN_RISE = 0.05  # validation loss must end >= 5% (in log terms) above its smoothed minimum
OVERFIT_NOISE_SIGMAS = 3.0  # ... and exceed 3 standard errors of that difference (epoch-to-epoch noise)
DEAD_RELU_WARN = 0.20  # >= 20% of ReLU units silent on every input (a 1-D regression net starts near 15%)
VANISHING_RATIO = 1e-3  # first layer's gradient < 1/1000 of the last layer's: it barely learns
EXPLODING_RATIO = 100.0  # gradient norm grew 100x above its first-epoch level
EXPLODING_ABS = 1e3  # ... or simply above this (a loss of order 1 rarely needs more)
OSCILLATION_UPS = 0.4  # train loss rose in >= 40% of the early epochs ...
OSCILLATION_JUMP = 0.10  # ... by >= 10% each time
DIVERGED_RISE = 10.0  # a loss 10x above its best so far has blown up (a finite divergence: 4e+38 is not a fit)


@dataclass(frozen=True)
class Finding:
    """One diagnostic: `sentence` is what the user reads; `epoch` is where a curve is marked."""

    kind: str  # best_epoch | overfitting | dead_relu | vanishing_gradients | exploding_gradients | lr_too_high | diverged
    severity: str  # info | warning | error
    sentence: str
    epoch: float | None = None
    value: float | None = None  # the measured quantity behind the sentence (a loss, a fraction, a ratio)


def _finite(rows: Sequence[dict], key: str, first: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """(epochs, values) of rows from epoch `first` on where `key` is a finite number."""
    pts = [(float(r["epoch"]), float(r[key])) for r in rows
           if r.get(key) is not None and isinstance(r.get(key), (int, float)) and math.isfinite(r[key])
           and float(r.get("epoch", 0)) >= first]
    if not pts:
        return np.empty(0), np.empty(0)
    e, v = zip(*pts)
    return np.asarray(e), np.asarray(v)


def _loss_name(rows: Sequence[dict]) -> str:
    """'loss' for classification rows (cross-entropy), 'MSE' for regression rows."""
    return "loss" if any("val_acc" in r or "train_acc" in r for r in rows) else "MSE"


def best_epoch(rows: Sequence[dict], key: str = "val_loss") -> Finding | None:
    """The epoch of the lowest validation loss (what early stopping would keep)."""
    epochs, values = _finite(rows, key)
    if len(values) == 0:
        return None
    i = int(np.argmin(values))
    last = int(epochs[-1])
    where = "the last epoch" if i == len(values) - 1 else f"epoch {int(epochs[i])} of {last}"
    tail = ": it was still improving, so more epochs may help." if i == len(values) - 1 else \
        "; a checkpoint from there is the one to keep."
    return Finding("best_epoch", "info", f"The lowest validation {_loss_name(rows)} ({values[i]:.4g}) is at "
                   f"{where}{tail}", float(epochs[i]), float(values[i]))


def _running_median(values: np.ndarray, window: int) -> tuple[np.ndarray, np.ndarray]:
    """(median of the points within window // 2 of each point, how many points that was).

    The window shrinks at the ends instead of repeating the end point, which would let one
    low first epoch pass for a minimum."""
    half, n = window // 2, len(values)
    bounds = [(max(0, i - half), min(n, i + half + 1)) for i in range(n)]
    return (np.array([np.median(values[lo:hi]) for lo, hi in bounds]),
            np.array([hi - lo for lo, hi in bounds]))


def overfitting_onset(rows: Sequence[dict]) -> Finding | None:
    """The epoch where validation loss turns up while training loss keeps falling, or None.

    Robust to noise: the curve is judged in log space after a running median; the onset is
    the smoothed minimum, and it counts only when the loss ends clearly above it (more than
    OVERFIT_MIN_RISE and more than OVERFIT_NOISE_SIGMAS standard errors of the difference), the
    rise lasts for a fair share of the run, and the training loss did not rise with it
    (that would be instability, not overfitting).
    """
    epochs, val = _finite(rows, "val_loss")
    if len(val) < OVERFIT_MIN_EPOCHS or (val <= 0).any():
        return None
    log_v = np.log(val)
    window = max(3, (len(val) // 8) | 1)  # odd, ~1/8 of the run
    smooth, sizes = _running_median(log_v, window)
    i = int(np.argmin(smooth))
    after = len(val) - 1 - i
    if after < max(3, len(val) // 8):
        return None  # the minimum is (nearly) at the end: still improving
    steps = np.diff(log_v)  # epoch-to-epoch noise (a slow trend barely moves it); / sqrt 2: a difference of two
    noise = 1.4826 * float(np.median(np.abs(steps - np.median(steps)))) / math.sqrt(2)
    tail = log_v[-max(3, after // 3):]
    rise = float(np.median(tail)) - float(smooth[i])
    # both ends are medians: their standard errors shrink with the points behind them (1.25: a median's)
    error = 1.25 * noise * math.sqrt(1 / sizes[i] + 1 / len(tail))
    if rise < max(OVERFIT_MIN_RISE, OVERFIT_NOISE_SIGMAS * error):
        return None
    t_epochs, train = _finite(rows, "train_loss")
    onset = float(epochs[i])
    at_onset = train[t_epochs <= onset]
    if len(at_onset) and len(train) and np.median(train[-max(3, after // 3):]) > at_onset[-1] * 1.05:
        return None
    grown = math.expm1(rise)
    return Finding("overfitting", "warning", f"Overfitting from epoch {int(onset)}: validation {_loss_name(rows)} "
                   f"turns up there (ending {grown:.0%} above its low) while the training loss keeps falling. "
                   "Stop earlier, add data, or regularise (weight decay, dropout).", onset, rise)


def compact(value: float | None, digits: int = 4) -> str:
    """A number as a person reads it, in at most ~7 characters: 0.0312 (`digits` decimals below 10), 123.5 and
    2596 (`digits` significant figures below 10,000), 4.1e+38 when huge, 2.0e-07 when tiny, 'NaN' / '∞' when
    not finite, '—' when missing (a diverged run's 39-digit losses do not fit a metric or a sentence)."""
    if value is None:
        return "—"
    v = float(value)
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "∞" if v > 0 else "−∞"
    if v != 0 and not 10.0 ** -digits <= abs(v) < 1e4:
        return f"{v:.1e}"
    if abs(v) >= 10:
        return f"{v:.{max(0, digits - 1 - int(math.floor(math.log10(abs(v)))))}f}"
    return f"{v:.{digits}f}"


def _lr_text(rows: Sequence[dict], lr: float | None) -> str:
    lr = lr if lr is not None else next((float(r["lr"]) for r in rows if r.get("epoch", 0) >= 1 and "lr" in r), None)
    return f" ({lr:g})" if lr else ""


def blow_ups(rows: Sequence[dict]) -> list[tuple[int, str, float, float] | None]:
    """Per row: (row index, loss key, value, best before it) if its training or validation loss is NaN/inf,
    or DIVERGED_RISE x above its best so far and above where it started; else None. One pass."""
    best: dict[str, float] = {}
    first: dict[str, float] = {}
    out: list[tuple[int, str, float, float] | None] = []
    for i, row in enumerate(rows):
        hit = None
        for key in ("train_loss", "val_loss"):
            value = row.get(key)
            if not isinstance(value, (int, float)):
                continue
            value = float(value)
            if not math.isfinite(value):
                if hit is None and (key == "train_loss" or key in best):  # NaN validation from the start: no set
                    hit = (i, key, value, best.get(key, math.nan))
                continue
            # above the untrained network's too: a near-zero loss that wobbles 10x (0.002 -> 0.02) has not blown up
            if hit is None and key in best and best[key] > 0 and value >= DIVERGED_RISE * best[key] \
                    and value > first[key]:
                hit = (i, key, value, best[key])
            first.setdefault(key, value)
            best[key] = min(best.get(key, value), value)
        out.append(hit)
    return out


def divergence(rows: Sequence[dict], status: str = "finished", batch_losses: Sequence[tuple[float, float]] = (),
               lr: float | None = None) -> Finding | None:
    """The run diverged: its loss became NaN/inf (status 'diverged') or ended DIVERGED_RISE x above its best.

    Live, on the rows so far, this is the banner's verdict (the epoch the latest blow-up began); after the
    run it is the only verdict (`diagnose`): advice about the best epoch or training longer means nothing
    for a blown-up run."""
    rate = _lr_text(rows, lr)
    advice = f"The learning rate{rate} is too high; lower it 3-10x or clip the gradients."
    if status == "diverged":
        epoch = next((float(r["epoch"]) for r in rows if not all(
            math.isfinite(float(r.get(k, 0.0))) for k in ("train_loss", "val_loss"))), None)
        if epoch is None and batch_losses:
            epoch = float(math.ceil(batch_losses[-1][0]))
        when = f" at epoch {int(epoch)}" if epoch is not None else ""
        return Finding("diverged", "error", f"Training diverged{when}: the loss became NaN or infinite. {advice}",
                       epoch)
    hits = blow_ups(rows)
    if not hits or hits[-1] is None:
        return None  # it did not end blown up (a spike it recovered from is a learning-rate warning at most)
    start = len(hits) - 1
    while start > 0 and hits[start - 1] is not None:
        start -= 1  # the epoch this blow-up began
    index, key, value, best = hits[start]  # type: ignore[misc]
    epoch = float(rows[index].get("epoch", index))
    which = "training" if key == "train_loss" else "validation"
    if not math.isfinite(value):
        what = f"the {which} loss became {compact(value)}"
    else:
        what = f"the {which} {_loss_name(rows)} rose to {compact(value)}, {compact(value / best, 0)}x its best " \
               f"({compact(best)})"
    return Finding("diverged", "error", f"Training diverged at epoch {int(epoch)}: {what}. {advice}", epoch, value)


def learning_rate(rows: Sequence[dict], status: str = "finished", reason: str = "",
                  batch_losses: Sequence[tuple[float, float]] = (), lr: float | None = None) -> Finding | None:
    """A learning rate that is too high: the run diverged, the loss rose at once, or it oscillates."""
    diverged = divergence(rows, status, batch_losses, lr)
    if diverged is not None:
        return diverged
    rate = _lr_text(rows, lr)
    epochs, train = _finite(rows, "train_loss", first=0)
    if len(train) < 2:
        return None
    start = train[0]  # epoch 0: the untrained model
    early = train[1:min(len(train), 4)]
    if start > 0 and np.all(early > start * 1.1):
        return Finding("lr_too_high", "error", f"The training loss rose above the untrained network's "
                       f"({early[0]:.3g} vs {start:.3g}) right from the start: the learning rate{rate} is too high.",
                       float(epochs[1]), float(early[0] / start))
    window = train[1:max(4, len(train) // 2 + 1)]  # the first half of training
    if len(window) >= 4:
        ratio = window[1:] / np.maximum(window[:-1], 1e-12)
        ups = ratio > 1 + OSCILLATION_JUMP
        if ups.mean() >= OSCILLATION_UPS:
            first_up = float(epochs[1 + int(np.argmax(ups)) + 1])
            return Finding("lr_too_high", "warning", f"The training loss jumps up in {ups.sum()} of the first "
                           f"{len(ratio)} epochs instead of falling steadily: the learning rate{rate} is probably "
                           "too high.", first_up, float(ups.mean()))
    return None


def gradient_norms(rows: Sequence[dict]) -> list[Finding]:
    """Vanishing (first layer's gradient tiny next to the last's) and exploding gradient norms."""
    found: list[Finding] = []
    epochs, ratio_first = _finite([dict(r, ratio=r["grad_first"] / r["grad_last"]) for r in rows
                                   if r.get("grad_last") and math.isfinite(r.get("grad_first", math.nan))], "ratio")
    if len(ratio_first):
        early = ratio_first[: max(1, len(ratio_first) // 2)]
        worst = float(np.median(early))
        if worst < VANISHING_RATIO:
            found.append(Finding("vanishing_gradients", "warning", f"Vanishing gradients: the first layer's "
                                 f"gradient is {worst:.1e} of the last layer's, so the early layers hardly learn. "
                                 "Use ReLU-like activations, batch-norm or a shallower network.",
                                 float(epochs[0]), worst))
    e_mean, mean = _finite(rows, "grad_norm")
    e_max, peak = _finite(rows, "grad_norm_max")
    nonfinite = next((float(r["epoch"]) for r in rows if "grad_norm_max" in r
                      and not math.isfinite(float(r["grad_norm_max"]))), None)
    if nonfinite is not None:
        found.append(Finding("exploding_gradients", "error", f"Exploding gradients: the gradient norm became "
                             f"infinite or NaN in epoch {int(nonfinite)}. Lower the learning rate or clip gradients.",
                             nonfinite, math.inf))
    elif len(peak) and len(mean):
        base = max(float(mean[0]), 1e-12)
        j = int(np.argmax(peak))
        if peak[j] > EXPLODING_RATIO * base or peak[j] > EXPLODING_ABS:
            found.append(Finding("exploding_gradients", "warning", f"Exploding gradients: the gradient norm reached "
                                 f"{peak[j]:.3g} in epoch {int(e_max[j])}, {peak[j] / base:.0f}x its first-epoch "
                                 "level. Lower the learning rate or clip gradients.", float(e_max[j]), float(peak[j])))
    return found


def dead_relu(stats: Sequence[dict]) -> Finding | None:
    """From `inspect.activation_stats` rows: the share of ReLU units silent on every input."""
    relu = [r for r in stats if r.get("module") == "ReLU" and math.isfinite(r.get("dead_fraction", math.nan))]
    units = sum(r["units"] for r in relu)
    if not units:
        return None
    fraction = sum(r["dead_fraction"] * r["units"] for r in relu) / units
    if fraction < DEAD_RELU_WARN:
        return None
    worst = max(relu, key=lambda r: r["dead_fraction"])
    return Finding("dead_relu", "error" if fraction >= 0.5 else "warning",
                   f"{fraction:.0%} of the ReLU units are dead (output 0 for every input; {worst['layer']}: "
                   f"{worst['dead_fraction']:.0%}): they get no gradient and stopped learning. A lower learning "
                   "rate or LeakyReLU avoids this.", None, fraction)


def dead_relu_fraction(model: nn.Module, x: torch.Tensor) -> tuple[float, list[dict]]:
    """(share of dead ReLU units over all ReLU layers, the per-layer statistics) on inputs x."""
    stats = inspect.activation_stats(model, x)
    relu = [r for r in stats if r["module"] == "ReLU" and math.isfinite(r["dead_fraction"])]
    units = sum(r["units"] for r in relu)
    return (sum(r["dead_fraction"] * r["units"] for r in relu) / units if units else math.nan), stats


def diagnose(rows: Sequence[dict], status: str = "finished", reason: str = "",
             batch_losses: Sequence[tuple[float, float]] = (), activation_stats: Sequence[dict] | None = None,
             lr: float | None = None) -> list[Finding]:
    """Every finding for a run, most serious first; a diverged run gets that verdict alone, and a run whose
    learning rate is too high is not also called overfitting."""
    diverged = divergence(rows, status, batch_losses, lr)
    if diverged is not None:
        return [diverged]
    too_high = learning_rate(rows, status, reason, batch_losses, lr)
    # a loss that jumps about makes its validation rise too: that is the learning rate, not overfitting
    found = [best_epoch(rows), too_high or overfitting_onset(rows), *gradient_norms(rows)]
    if activation_stats:
        found.append(dead_relu(activation_stats))
    order = {"error": 0, "warning": 1, "info": 2}
    return sorted((f for f in found if f is not None), key=lambda f: order[f.severity])


class GradNormRecorder(Callback):
    """Records gradient norms into each epoch's record, reading the device once per epoch.

    At `on_batch_end` the step's gradients are still on the parameters (the loop zeroes them
    before the next backward); after clipping when the run clips. Every `every` batches the
    per-tensor norms are added on the device; `on_epoch_end` turns them into plain floats.
    """

    def __init__(self, every: int = 5) -> None:
        self.every = max(1, every)
        self._params: list[torch.nn.Parameter] = []
        self._first = self._last = -1
        self._reset()

    def _reset(self) -> None:
        self._sq_sum: torch.Tensor | None = None  # (P,) summed squared norm of each tensor's gradient
        self._max: torch.Tensor | None = None  # () largest global norm seen
        self._n = 0

    def on_train_begin(self, state: TrainState) -> None:
        self._params = [p for p in state.model.parameters() if p.requires_grad]
        weights = [i for i, p in enumerate(self._params) if p.dim() >= 2]  # biases / BN scales are not layers
        self._first, self._last = (weights[0], weights[-1]) if weights else (-1, -1)
        self._reset()

    def on_batch_end(self, state: TrainState) -> None:
        if (state.batch - 1) % self.every:
            return
        grads = [p.grad for p in self._params if p.grad is not None]
        if len(grads) != len(self._params) or not grads:
            return
        with torch.no_grad():
            sq = torch.stack([torch.linalg.vector_norm(g) for g in grads]).float() ** 2  # (P,)
            total = sq.sum().sqrt()
            self._sq_sum = sq if self._sq_sum is None else self._sq_sum + sq
            self._max = total if self._max is None else torch.maximum(self._max, total)
        self._n += 1

    def on_epoch_end(self, state: TrainState, record: dict[str, float]) -> None:
        if self._n and self._sq_sum is not None and self._max is not None:
            rms = (self._sq_sum / self._n).sqrt().cpu()  # (P,) the one host sync per epoch
            record["grad_norm"] = float(rms.pow(2).sum().sqrt())
            record["grad_norm_max"] = float(self._max)
            if self._first >= 0:
                record["grad_first"] = float(rms[self._first])
                record["grad_last"] = float(rms[self._last])
        self._reset()


def summary(findings: Sequence[Finding]) -> list[dict[str, Any]]:
    """Findings as plain dicts (tables, JSON)."""
    return [{"kind": f.kind, "severity": f.severity, "sentence": f.sentence, "epoch": f.epoch} for f in findings]
