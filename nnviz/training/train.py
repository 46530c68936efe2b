"""The one training loop: `fit(model, data, cfg, callbacks)` -> History.

Data is already on the device; batches are index slices. Losses accumulate on the
device and are read once per `log_every` batches, so CUDA never syncs per step.
"""
from __future__ import annotations

import dataclasses
import functools
import math
import threading
import time
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator

import torch
import torch.nn.functional as F
from torch import nn

from nnviz.config import ModelConfig, TrainConfig
from nnviz.data import TaskData
from nnviz.data.batching import augment_shift, batches, eval_batches, n_batches, to_device
from nnviz.model.dropout import seed_dropout
from nnviz.model.models import seeded_model
from nnviz.training.threads import capped, run_threads

OPTIMIZERS: dict[str, Callable[..., torch.optim.Optimizer]] = {  # (params, cfg, **implementation flags)
    "sgd": lambda p, c, **kw: torch.optim.SGD(p, lr=c.lr, momentum=c.momentum, weight_decay=c.weight_decay, **kw),
    "adam": lambda p, c, **kw: torch.optim.Adam(p, lr=c.lr, weight_decay=c.weight_decay, **kw),
    "adamw": lambda p, c, **kw: torch.optim.AdamW(p, lr=c.lr, weight_decay=c.weight_decay, **kw),
    "rmsprop": lambda p, c, **kw: torch.optim.RMSprop(p, lr=c.lr, momentum=c.momentum, weight_decay=c.weight_decay,
                                                      **kw),
    "adadelta": lambda p, c, **kw: torch.optim.Adadelta(p, lr=c.lr, weight_decay=c.weight_decay, **kw),
    "adagrad": lambda p, c, **kw: torch.optim.Adagrad(p, lr=c.lr, weight_decay=c.weight_decay, **kw),
}
EVAL_BATCH_CPU, EVAL_BATCH_GPU = 256, 2048  # predict()'s chunk sizes
CHANNELS_LAST_MIN_CHANNELS = 16  # CPU: narrower convs run slower in NHWC (oneDNN pads channels to vectors)
FUSED_OPTIMIZERS = ("adam", "adamw")  # one fused kernel per parameter on CPU and CUDA (torch >= 2.4)


def resolve_device(name: str = "auto") -> torch.device:
    """'auto' -> cuda > mps > cpu; a named device that is absent raises a clear ValueError."""
    has_mps = getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "mps" if has_mps else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("CUDA was requested but no CUDA GPU is available here; choose 'auto' or 'cpu'.")
    if name == "mps" and not has_mps:
        raise ValueError("MPS was requested but this machine has no Apple GPU; choose 'auto' or 'cpu'.")
    return torch.device(name)


def init_model(cfg: ModelConfig, data: TaskData, seed: int) -> nn.Sequential:
    """The model for `data`, initialised reproducibly from `seed` without disturbing other threads."""
    return seeded_model(cfg, data.input_shape, data.n_outputs, seed)


@dataclass
class History:
    """Per-epoch records (epoch 0 is the untrained model) and smoothed batch losses."""

    epochs: list[dict[str, float]] = field(default_factory=list)
    batch_losses: list[tuple[float, float]] = field(default_factory=list)  # (epoch + fraction, loss)
    status: str = "running"  # finished | stopped | early_stopped | diverged | failed
    reason: str = ""  # a sentence for the user when the run did not simply finish

    def last(self) -> dict[str, float]:
        return self.epochs[-1] if self.epochs else {}

    def best(self, key: str = "val_loss") -> dict[str, float]:
        rows = [r for r in self.epochs if math.isfinite(r.get(key, math.nan))]
        return min(rows, key=lambda r: r[key]) if rows else self.last()

    def to_dict(self) -> dict[str, Any]:
        return {"epochs": self.epochs, "batch_losses": [list(b) for b in self.batch_losses],
                "status": self.status, "reason": self.reason}

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> "History":
        return cls([dict(r) for r in raw.get("epochs", [])], [tuple(b) for b in raw.get("batch_losses", [])],
                   raw.get("status", "finished"), raw.get("reason", ""))


class Callback:
    """Hooks into fit(); every method is a no-op unless overridden."""

    def on_train_begin(self, state: "TrainState") -> None: ...
    def on_batch_end(self, state: "TrainState") -> None: ...
    def on_epoch_end(self, state: "TrainState", record: dict[str, float]) -> None: ...
    def on_train_end(self, state: "TrainState") -> None: ...


@dataclass
class TrainState:
    """What callbacks see: the model, the history and where the loop is."""

    model: nn.Module
    data: TaskData
    cfg: TrainConfig
    history: History
    device: torch.device
    epoch: int = 0
    batch: int = 0  # batches done in this epoch
    batches_per_epoch: int = 0
    started: float = field(default_factory=time.perf_counter)
    lr: float = 0.0  # the optimizer's current learning rate
    test_outputs: torch.Tensor | None = None  # model outputs on the test set at the last record
    stop_requested: str = ""  # set by a callback (early stopping) to end after this epoch

    def request_stop(self, status: str, reason: str = "") -> None:
        self.stop_requested = status
        self.history.reason = reason


class EarlyStopping(Callback):
    """Stop when validation loss has not improved for `patience` epochs."""

    def __init__(self, patience: int) -> None:
        self.patience, self.best, self.since = patience, math.inf, 0

    def on_epoch_end(self, state: TrainState, record: dict[str, float]) -> None:
        if record["epoch"] == 0 or not math.isfinite(record["val_loss"]):
            return  # no validation set (val_fraction 0): nothing to judge improvement by
        if record["val_loss"] < self.best - 1e-12:
            self.best, self.since = record["val_loss"], 0
            return
        self.since += 1
        if self.since >= self.patience:
            state.request_stop("early_stopped", f"Validation loss did not improve for {self.patience} "
                                                f"epochs; stopped early at epoch {record['epoch']}.")


def loss_fn(task: str) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    return F.mse_loss if task == "regression" else F.cross_entropy


@torch.no_grad()
def predict(model: nn.Module, x: torch.Tensor, batch_size: int | None = None) -> torch.Tensor:
    """Outputs for all of x in eval mode, batched; the model's train/eval mode is restored.

    Default chunks: 256 samples on CPU, where activations of bigger chunks fall out of the
    caches (fast_cnn on 1,344 images: 0.10-0.2 s in chunks of 256, 0.7-0.9 s in one of
    2,048), and 2,048 on a GPU.
    """
    if batch_size is None:
        batch_size = EVAL_BATCH_CPU if x.device.type == "cpu" else EVAL_BATCH_GPU
    was_training = model.training
    model.eval()
    try:
        out = []
        for chunk in eval_batches(x, batch_size):
            out.append(model(chunk))
    finally:
        model.train(was_training)
    return torch.cat(out) if out else torch.empty(0)


def scores(out: torch.Tensor, y: torch.Tensor, task: str) -> dict[str, float]:
    """{'loss'} (MSE or cross-entropy) of outputs `out` and, for classification, {'acc'}."""
    if len(out) == 0:
        return {"loss": math.nan, **({"acc": math.nan} if task == "classification" else {})}
    out = out.float()
    result = {"loss": float(loss_fn(task)(out, y))}
    if task == "classification":
        result["acc"] = float((out.argmax(1) == y).float().mean())
    return result


def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, task: str) -> dict[str, float]:
    """`scores` of the model on (x, y), in eval mode."""
    return scores(predict(model, x), y, task)


def _scheduler(opt: torch.optim.Optimizer, cfg: TrainConfig, steps: int):  # noqa: ANN202
    total = max(1, cfg.epochs * steps)
    return {
        "none": lambda: None,
        "step": lambda: torch.optim.lr_scheduler.StepLR(opt, cfg.step_size, cfg.gamma),
        "cosine": lambda: torch.optim.lr_scheduler.CosineAnnealingLR(opt, total),
        "plateau": lambda: torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=cfg.gamma, patience=2),
        "onecycle": lambda: torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=max(cfg.lr, 1e-12), total_steps=total),
    }[cfg.scheduler]()


def _record(state: TrainState, epoch: int, train: dict[str, float], seconds: float, samples: int) -> dict:
    data, model, task = state.data, state.model, state.data.task
    row: dict[str, float] = {"epoch": epoch, "train_loss": train["loss"]}
    state.test_outputs = predict(model, data.x_test)  # kept for callbacks (live previews, replay)
    val, test = evaluate(model, data.x_val, data.y_val, task), scores(state.test_outputs, data.y_test, task)
    row.update(val_loss=val["loss"], test_loss=test["loss"])
    if task == "classification":
        row.update(train_acc=train.get("acc", math.nan), val_acc=val["acc"], test_acc=test["acc"])
    row.update(lr=float(state.lr), seconds=seconds, elapsed=time.perf_counter() - state.started,
               samples_per_s=samples / seconds if seconds > 0 else 0.0)
    return row


def uses_channels_last(model: nn.Module, data: TaskData, device: torch.device | None = None) -> bool:
    """Whether this CNN trains in channels-last memory format (NHWC) on `device`.

    CUDA: every image CNN (cuDNN's fast kernels, tensor cores under autocast). CPU: only
    batch-normalised CNNs whose convs all have >= 16 channels, where oneDNN gains (narrower
    convs without batch norm ran slower in NHWC: docs/performance.md).
    """
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    if len(data.input_shape) != 3 or not convs:
        return False
    if device is not None and device.type == "cuda":
        return True
    has_bn = any(isinstance(m, nn.BatchNorm2d) for m in model.modules())
    return has_bn and min(c.out_channels for c in convs) >= CHANNELS_LAST_MIN_CHANNELS


def data_on(data: TaskData, device: torch.device) -> TaskData:
    """`data` resident on `device` (through pinned memory for CUDA).

    Images stay NCHW even for a channels-last model: its first conv takes NCHW batches
    as they come, and an NHWC copy of a large set (CIFAR-10: 600 MB) would double its memory.
    """
    return dataclasses.replace(data, x_train=to_device(data.x_train, device), y_train=to_device(data.y_train, device),
                               x_val=to_device(data.x_val, device), y_val=to_device(data.y_val, device),
                               x_test=to_device(data.x_test, device), y_test=to_device(data.y_test, device))


@functools.cache
def cpu_has_native_bf16() -> bool:
    """Whether this CPU runs bf16 natively (AVX512-BF16 or AMX; Linux's /proc/cpuinfo), where oneDNN's bf16
    convolutions are fast; elsewhere they are emulated, slower, and nnviz trains in float32."""
    try:
        with open("/proc/cpuinfo") as f:
            flags = next((line.split(":", 1)[1].split() for line in f if line.startswith("flags")), [])
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def autocast_for(device: torch.device, cfg: TrainConfig, task: str, model: nn.Module | None = None) -> Any:
    """bf16 autocast for classification where it pays, else a no-op context.

    CUDA (`cfg.amp`): GPUs with bf16. CPU (`cfg.cpu_amp`, on in the presets where it was measured
    to keep accuracy): CNNs on CPUs with native bf16, where the convolutions run faster; not MLPs,
    whose small matmuls ran slower (docs/performance.md). bf16 keeps float32's range, so
    no GradScaler is needed (fp16 would need one, and its per-step inf check reads the device
    from the host). Regression nets are tiny, so there is nothing to gain, and bf16's 8-bit
    mantissa would show in the fitted curve.
    """
    if task != "classification":
        return nullcontext()
    if device.type == "cuda" and cfg.amp and torch.cuda.is_bf16_supported():
        return torch.autocast("cuda", dtype=torch.bfloat16)
    has_conv = model is not None and any(isinstance(m, nn.Conv2d) for m in model.modules())
    if device.type == "cpu" and cfg.cpu_amp and has_conv and cpu_has_native_bf16():
        return torch.autocast("cpu", dtype=torch.bfloat16)
    return nullcontext()


def optimizer_flags(name: str, device: torch.device) -> dict[str, bool]:
    """Fused kernels where torch has them for this device: fewer launches and Python calls per step."""
    if name in FUSED_OPTIMIZERS and device.type in ("cpu", "cuda"):
        return {"fused": True}
    return {"foreach": True} if device.type == "cuda" else {}


def warm_up() -> None:
    """Do once, ahead of the first run, what a process's first fit() would spend its first second on.

    Building the first torch.optim optimizer imports torch._dynamo (and sympy with it): ~1 s of
    imports holding the GIL. A long-lived process (the dashboard's server) calls this at start-up
    so a run begins training when its Start is pressed. Nothing is computed: the calling thread
    opens no OpenMP pool and its thread count is left alone.
    """
    OPTIMIZERS["adamw"]([nn.Parameter(torch.zeros(1))], TrainConfig(), **optimizer_flags("adamw", torch.device("cpu")))


def flushing_denormals() -> bool:
    """Whether this thread's CPU float ops read and write denormal (subnormal) numbers as zero."""
    return torch.tensor([1e-39]).mul(1.0).item() == 0.0


@contextmanager
def flush_denormals(on: bool = True) -> Iterator[None]:
    """This thread's CPU float ops treat denormal numbers as zero in the block (or, `on=False`, compute
    them); the mode before is restored.

    An optimizer's running averages of a weight whose gradient stays zero (a pixel that is always
    blank) decay into denormals after some hundred steps, and the CPU computes with those many times
    slower: the optimizer step, then the epoch, slows down as a run goes on (docs/performance.md).
    Flushing them changes numbers no one can see (below 1e-38) and the same way on every run. The
    mode is the calling thread's own (and of threads it starts, OpenMP's included), never the process's.
    """
    before = flushing_denormals()
    torch.set_flush_denormal(on)
    try:
        yield
    finally:
        torch.set_flush_denormal(before)


def fit(model: nn.Module, data: TaskData, cfg: TrainConfig, callbacks: Iterable[Callback] = (),
        stop_event: threading.Event | None = None) -> History:
    """Train `model` on `data` (moved to cfg's device) and return its History.

    Honours `stop_event` within one batch; a NaN/inf loss ends the run with status
    'diverged'. Epoch 0 records the untrained model so "before" is always visible.
    """
    # a fixed thread count (same seed, same numbers) and no slow denormals, both set before this thread computes
    with capped(run_threads(data.task, resolve_device(cfg.device))), flush_denormals():
        return _fit(model, data, cfg, callbacks, stop_event)


def _fit(model: nn.Module, data: TaskData, cfg: TrainConfig, callbacks: Iterable[Callback],
         stop_event: threading.Event | None) -> History:
    device = resolve_device(cfg.device)
    callbacks = list(callbacks) + ([EarlyStopping(cfg.early_stopping)] if cfg.early_stopping else [])
    model.to(device)
    if uses_channels_last(model, data, device):  # oneDNN (CPU) and cuDNN (CUDA) convolutions run fastest on NHWC tensors
        model.to(memory_format=torch.channels_last)
    data = data_on(data, device)
    step_model = torch.compile(model) if (cfg.compile and device.type == "cuda") else model
    autocast = autocast_for(device, cfg, data.task, model)
    generator = torch.Generator().manual_seed(cfg.seed)
    seed_dropout(model, cfg.seed)  # the run's own masks: torch's global RNG is shared by every thread
    n_train = len(data.x_train)
    steps = n_batches(n_train, cfg.batch_size, cfg.max_steps)
    optimizer = OPTIMIZERS[cfg.optimizer](model.parameters(), cfg, **optimizer_flags(cfg.optimizer, device))
    scheduler = _scheduler(optimizer, cfg, steps)
    per_batch_schedule = cfg.scheduler in ("cosine", "onecycle")
    state = TrainState(model, data, cfg, History(), device, batches_per_epoch=steps)
    state.lr = cfg.lr
    criterion, task = loss_fn(data.task), data.task
    flip = data.name == "cifar10"

    for cb in callbacks:
        cb.on_train_begin(state)
    first = evaluate(model, data.x_train, data.y_train, task)
    _emit(state, callbacks, _record(state, 0, first, 0.0, 0))

    for epoch in range(1, cfg.epochs + 1):
        state.epoch, state.batch = epoch, 0
        model.train()
        started, seen = time.perf_counter(), 0
        losses: list[torch.Tensor] = []  # per batch, on the device; read at log points and at the epoch's end
        outputs: list[tuple[torch.Tensor, torch.Tensor]] = []  # (outputs, labels): accuracy counted once per epoch
        logged = 0  # batches already in a recorded batch loss
        for idx in batches(n_train, cfg.batch_size, generator, device):
            if state.batch >= steps:
                break
            if stop_event is not None and stop_event.is_set():
                return _finish(state, callbacks, "stopped", "Stopped by the user.")
            # index_select, not x[idx]: same rows, ~6x less time on CPU (42 -> 7 us for a 64 x 784 batch)
            xb, yb = data.x_train.index_select(0, idx), data.y_train.index_select(0, idx)
            if cfg.augment and task == "classification":
                xb = augment_shift(xb, generator, flip=flip)
            with autocast:
                out = step_model(xb)
                loss = criterion(out.float(), yb)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.grad_clip:
                nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            optimizer.step()
            if per_batch_schedule:
                scheduler.step()
            # no arithmetic per step: small nets feel every op (~5 us each on a CPU)
            losses.append(loss.detach())
            if task == "classification":
                outputs.append((out.detach(), yb))
            seen += len(idx)
            state.batch += 1
            if state.batch - logged == cfg.log_every or state.batch == steps:
                value = float(torch.stack(losses[logged:]).mean())  # the one host sync per log interval
                if not math.isfinite(value):
                    return _finish(state, callbacks, "diverged",
                                   f"The loss became {value} at epoch {epoch}, batch {state.batch}: training "
                                   f"diverged. Lower the learning rate (now {cfg.lr:g}) or clip gradients.")
                state.history.batch_losses.append((epoch - 1 + state.batch / steps, value))
                logged = state.batch
            for cb in callbacks:
                cb.on_batch_end(state)
        train_metrics = _epoch_train_metrics(losses, outputs, cfg.batch_size, seen)  # waits for the device
        seconds = time.perf_counter() - started
        state.lr = optimizer.param_groups[0]["lr"]
        record = _record(state, epoch, train_metrics, seconds, seen)
        if not math.isfinite(record["train_loss"]) or not math.isfinite(record["val_loss"] if len(data.x_val) else 0.0):
            state.history.epochs.append(record)
            return _finish(state, callbacks, "diverged", f"The loss became NaN or infinite in epoch {epoch}: "
                           f"training diverged. Lower the learning rate (now {cfg.lr:g}).")
        if scheduler is not None and not per_batch_schedule:
            scheduler.step(record["val_loss"]) if cfg.scheduler == "plateau" else scheduler.step()
        _emit(state, callbacks, record)
        if state.stop_requested:
            return _finish(state, callbacks, state.stop_requested, state.history.reason)
    return _finish(state, callbacks, "finished", "")


def _epoch_train_metrics(losses: list[torch.Tensor], outputs: list[tuple[torch.Tensor, torch.Tensor]],
                         batch_size: int, seen: int) -> dict[str, float]:
    """The epoch's mean training loss (per sample: a short last batch weighs less) and accuracy."""
    if not losses:
        return {"loss": math.nan}
    per_batch = torch.stack(losses)
    last = seen - batch_size * (len(losses) - 1)  # every batch but the last is full
    total = per_batch[:-1].sum() * batch_size + per_batch[-1] * last
    metrics = {"loss": float(total) / seen}
    if outputs:
        out, labels = torch.cat([o for o, _ in outputs]), torch.cat([y for _, y in outputs])
        metrics["acc"] = float(out.argmax(1).eq_(labels).sum()) / seen
    return metrics


def _emit(state: TrainState, callbacks: list[Callback], record: dict[str, float]) -> None:
    state.history.epochs.append(record)
    for cb in callbacks:
        cb.on_epoch_end(state, record)


def _finish(state: TrainState, callbacks: list[Callback], status: str, reason: str) -> History:
    state.history.status, state.history.reason = status, reason
    state.model.eval()
    state.model.to(memory_format=torch.contiguous_format)  # hand back plain tensors (views, numpy, safetensors)
    for cb in callbacks:
        cb.on_train_end(state)
    return state.history
