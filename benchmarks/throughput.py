"""Training throughput: nnviz's fit() against the course reference loop, in one process run.

Same preset model with the same initial weights, same data, same batch size (64), same
optimizer (no learning-rate schedule on either side) and the same number of steps. The reference is
benchmarks/course_reference.py (per-sample ToTensor/Normalize, DataLoader, float32,
loss.item() per batch, torch's own layers); nnviz is one `nnviz.training.train.fit` run on its
tensor-resident data. Epochs of the two sides alternate (a reference epoch runs after each
nnviz epoch, a warm-up round first); samples/s is each side's best epoch, and the ratio of
the median epochs is printed too. The reference trains as a student's notebook process does:
on torch's default thread count (every core) with denormal numbers computed, not on the thread
count and float mode fit() sets for its own run (its epochs run from a callback inside fit()).

Also printed per model: training FLOP/s achieved by nnviz (FLOPs of one forward+backward
counted with torch.utils.flop_counter) as a fraction of this machine's dense matmul FLOP/s,
measured in the same run, and peak memory (process RSS; CUDA: max_memory_allocated).

    .venv/bin/python benchmarks/throughput.py [--dataset digits|fashion_mnist] [--data-dir ../shared/datasets]
        [--device cpu|cuda] [--rounds 5] [--models mlp_dropout pytorch_example ...] [--compile]
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from nnviz import process  # noqa: E402

process.configure()  # as the CLI and the dashboard do, before torch loads

import torch  # noqa: E402
from course_reference import CourseImages, as_course_model, loader, train_epochs  # noqa: E402

from nnviz.config import DataConfig, replace  # noqa: E402
from nnviz.data import DATASETS, is_present, load, load_raw  # noqa: E402
from nnviz.model.models import PRESETS  # noqa: E402
from nnviz.training.threads import CORES, capped  # noqa: E402
from nnviz.training.train import (  # noqa: E402
    OPTIMIZERS,
    Callback,
    TrainState,
    fit,
    flush_denormals,
    init_model,
    resolve_device,
)

TARGETS = {"mlp_dropout": 5.0, "pytorch_example": 1.2}  # nnviz / reference samples/s, from the issue
MODELS = ("mlp_dropout", "pytorch_example", "lenet", "bn_cnn", "fast_cnn")
BATCH = 64  # the course's DataLoader batch size


def dense_matmul_flops(device: torch.device, n: int = 1024, seconds: float = 1.0) -> float:
    """This machine's float32 dense matmul FLOP/s (n x n @ n x n, best of repeated timings)."""
    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    best = 0.0
    for _ in range(3):  # warm-up
        a @ b
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        _sync(device)
        t = time.perf_counter()
        for _ in range(4):
            a @ b
        _sync(device)
        best = max(best, 4 * 2 * n**3 / (time.perf_counter() - t))
    return best


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def train_flops_per_sample(model: torch.nn.Module, shape: tuple[int, ...], device: torch.device) -> float:
    """FLOPs of one forward + backward pass, per sample (counted by torch, not estimated)."""
    from torch.utils.flop_counter import FlopCounterMode

    x = torch.randn(BATCH, *shape, device=device)
    y = torch.randint(0, 10, (BATCH,), device=device)
    with FlopCounterMode(display=False) as counter:
        torch.nn.functional.cross_entropy(model(x), y).backward()
    model.zero_grad(set_to_none=True)
    return counter.get_total_flops() / BATCH


def rss_peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: kilobytes


def measure(name: str, data_cfg: DataConfig, device: torch.device, rounds: int, compile_model: bool = False) -> dict:
    """One nnviz run of `rounds` + 1 epochs with a reference epoch after each (the first pair warms up).

    Alternating gives both sides the same share of a shared machine's quiet and busy
    moments; each side's best and median epoch rate are reported.
    """
    preset = PRESETS[name]
    data = load(data_cfg)
    cfg = replace(preset.train, batch_size=BATCH, epochs=rounds + 1, device=device.type, snapshot_every=0,
                  augment=False, early_stopping=0, scheduler="none", compile=compile_model)
    info = DATASETS[data_cfg.dataset]

    # reference: the same raw images (nnviz's training split), transformed per sample
    pixels, labels, _, _ = load_raw(data_cfg.dataset, data_cfg.data_dir or None)
    keep = _train_indices(labels, data, data_cfg.val_fraction)
    ref_set = CourseImages(pixels[keep], labels[keep], info.mean, info.std)
    assert torch.allclose(ref_set[0][0], data.x_train[0], atol=1e-5), "both sides must see the same numbers"
    reference = _ReferenceEpochs(as_course_model(init_model(preset.model, data, seed=0)), ref_set, cfg, device)
    flops = train_flops_per_sample(init_model(preset.model, data, seed=0).to(device), data.input_shape, device)
    _reset_cuda_peak(device)
    history = fit(init_model(preset.model, data, seed=0), data, cfg, callbacks=[reference])
    assert history.status == "finished", history.reason
    nn_rates = [row["samples_per_s"] for row in history.epochs[2:]]  # epoch 0: untrained, epoch 1: warm-up
    ref_rates = reference.rates[1:]
    n = len(ref_set)
    best_ref, best_nn = max(ref_rates), max(nn_rates)
    med_ref, med_nn = statistics.median(ref_rates), statistics.median(nn_rates)
    return {"model": name, "device": device.type, "compiled": cfg.compile and device.type == "cuda",
            "train_samples": n, "batch_size": BATCH,
            "steps_per_epoch": -(-n // BATCH), "measured_epochs_each": rounds,
            "reference_samples_per_s": round(best_ref, 1), "nnviz_samples_per_s": round(best_nn, 1),
            "ratio": round(best_nn / best_ref, 2), "ratio_of_medians": round(med_nn / med_ref, 2),
            "target_ratio": TARGETS.get(name),
            "ok": None if name not in TARGETS else best_nn / best_ref >= TARGETS[name],
            "train_mflop_per_sample": round(flops / 1e6, 3),
            "nnviz_gflop_per_s": round(flops * best_nn / 1e9, 2),
            "reference_gflop_per_s": round(flops * best_ref / 1e9, 2),
            "rss_peak_mb": round(rss_peak_mb(), 1),
            **({"cuda_peak_mb_reference": round(reference.peak_mb, 1), "cuda_peak_mb_nnviz": round(reference.nnviz_peak_mb, 1)}
               if device.type == "cuda" else {})}


class _ReferenceEpochs(Callback):
    """Trains the reference model for one epoch after each nnviz epoch (outside nnviz's epoch timing)."""

    def __init__(self, model: torch.nn.Module, images: CourseImages, cfg, device: torch.device) -> None:  # noqa: ANN001
        self.model, self.device, self.rates = model, device, []
        self.optimizer = OPTIMIZERS[cfg.optimizer](model.parameters(), cfg)
        self.loader, self.n = loader(images, BATCH), len(images)
        self.peak_mb = self.nnviz_peak_mb = 0.0  # CUDA only: each side's peak allocated memory

    def on_epoch_end(self, state: TrainState, record: dict[str, float]) -> None:
        self.nnviz_peak_mb = max(self.nnviz_peak_mb, _cuda_peak_mb(self.device))
        if record["epoch"] < state.cfg.epochs:  # one reference epoch per nnviz epoch, the first as warm-up
            _reset_cuda_peak(self.device)
            with as_a_notebook_runs():
                self.rates.append(self.n / train_epochs(self.model, self.loader, self.optimizer, 1, self.device)[0])
            self.peak_mb = max(self.peak_mb, _cuda_peak_mb(self.device))
            _reset_cuda_peak(self.device)


def as_a_notebook_runs() -> contextlib.ExitStack:
    """torch's default thread count (every core) and denormals computed, inside fit()'s callback."""
    stack = contextlib.ExitStack()
    stack.enter_context(capped(CORES))
    stack.enter_context(flush_denormals(False))
    return stack


def _reset_cuda_peak(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()


def _cuda_peak_mb(device: torch.device) -> float:
    return torch.cuda.max_memory_allocated() / 2**20 if device.type == "cuda" else 0.0


def _train_indices(labels: torch.Tensor, data, val_fraction: float) -> torch.Tensor:  # noqa: ANN001
    """Indices of nnviz's training split inside the raw training images (the fixed holdout)."""
    from nnviz.data import VAL_SPLIT_SEED, _holdout

    train, _ = _holdout(len(labels), val_fraction, VAL_SPLIT_SEED)
    keep = torch.from_numpy(train)
    assert torch.equal(labels[keep], data.y_train.cpu()), "the reference must train on nnviz's training split"
    return keep


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default_dir = str(Path(__file__).resolve().parents[2] / "shared" / "datasets")
    parser.add_argument("--dataset", default="digits", choices=("digits", "mnist", "fashion_mnist"))
    parser.add_argument("--data-dir", default=default_dir, help="torchvision data folder for MNIST-like sets")
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda", "auto"))
    parser.add_argument("--rounds", type=int, default=5, help="measured epochs per side, after a warm-up round")
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=sorted(PRESETS))
    parser.add_argument("--compile", action="store_true", help="CUDA: torch.compile nnviz's model (the reference stays eager)")
    args = parser.parse_args()
    if args.dataset != "digits" and not is_present(args.dataset, args.data_dir):
        print(f"{args.dataset} is not in {args.data_dir}", file=sys.stderr)
        return 2
    device = resolve_device(args.device)
    data_cfg = DataConfig(dataset=args.dataset, data_dir="" if args.dataset == "digits" else args.data_dir)
    peak = dense_matmul_flops(device)
    print(json.dumps({"cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
                      "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", ""),
                      "gomp_spincount": os.environ.get("GOMP_SPINCOUNT", ""), "device": device.type,
                      "gpu": torch.cuda.get_device_name() if device.type == "cuda" else None,
                      "dataset": args.dataset, "load_average_1min": round(os.getloadavg()[0], 2),
                      "dense_matmul_gflop_per_s": round(peak / 1e9, 1)}), flush=True)
    failed, rows = False, []
    for name in args.models:
        row = measure(name, data_cfg, device, max(1, args.rounds), args.compile)
        peak = max(peak, dense_matmul_flops(device))  # the best the machine showed so far (it is shared)
        row["nnviz_fraction_of_matmul_peak"] = round(row["nnviz_gflop_per_s"] * 1e9 / peak, 4)
        row["load_average_1min"] = round(os.getloadavg()[0], 2)
        print(json.dumps(row), flush=True)
        rows.append(row)
        failed |= row["ok"] is False
    print(json.dumps({"summary": {r["model"]: {"ratio": r["ratio"], "nnviz_samples_per_s": r["nnviz_samples_per_s"],
                                               "fraction_of_matmul_peak": round(r["nnviz_gflop_per_s"] * 1e9 / peak, 4)}
                                  for r in rows},
                      "dense_matmul_gflop_per_s_best": round(peak / 1e9, 1),
                      "rss_peak_mb": round(rss_peak_mb(), 1)}), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
