"""Denormal numbers: how a long run's steps slow down with and without flushing them, in one process run.

fit() trains with denormals flushed (`nnviz.training.train.flush_denormals`). This script trains
the same preset, weights, data and batches twice on one thread, once with flushing and once
without, and times every step. An optimizer's running averages for weights whose gradient stays
zero (always-blank pixels) decay into denormals after some hundred steps; without flushing the
optimizer step, and so the whole step, gets slower from then on. Printed per mode: mean step and
optimizer-step time in the first and the last window of steps, and the ratio last / first.

    .venv/bin/python benchmarks/denormals.py [--models mlp_dropout ...] [--dataset mnist_sample]
        [--steps 1500] [--window 200]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from nnviz import process  # noqa: E402

process.configure()  # as the CLI and the dashboard do, before torch loads

import torch  # noqa: E402

from nnviz.config import DataConfig  # noqa: E402
from nnviz.data import load  # noqa: E402
from nnviz.model.dropout import seed_dropout  # noqa: E402
from nnviz.model.models import PRESETS  # noqa: E402
from nnviz.training.train import OPTIMIZERS, flush_denormals, init_model, loss_fn, optimizer_flags  # noqa: E402


def timed_steps(preset: str, data, steps: int) -> tuple[list[float], list[float]]:
    """Seconds of each whole step and of each optimizer step, training `preset` from seed 0."""
    p = PRESETS[preset]
    model = init_model(p.model, data, 0).train()
    seed_dropout(model, 0)
    optimizer = OPTIMIZERS[p.train.optimizer](model.parameters(), p.train,
                                              **optimizer_flags(p.train.optimizer, torch.device("cpu")))
    criterion = loss_fn(data.task)
    order = torch.Generator().manual_seed(0)
    whole, optim = [], []
    for _ in range(steps):
        idx = torch.randint(len(data.x_train), (p.train.batch_size,), generator=order)
        started = time.perf_counter()
        loss = criterion(model(data.x_train.index_select(0, idx)), data.y_train.index_select(0, idx))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        before_step = time.perf_counter()
        optimizer.step()
        done = time.perf_counter()
        whole.append(done - started)
        optim.append(done - before_step)
    return whole, optim


def window_us(values: list[float], start: int, size: int) -> float:
    return round(statistics.mean(values[start:start + size]) * 1e6, 1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="+", default=["mlp_dropout"])
    ap.add_argument("--dataset", default="mnist_sample")
    ap.add_argument("--steps", type=int, default=1500)
    ap.add_argument("--window", type=int, default=200)
    args = ap.parse_args()
    torch.set_num_threads(1)  # as a run trains on a 2-core machine
    data = load(DataConfig(dataset=args.dataset))
    print(json.dumps({"cpu_count": os.cpu_count(), "dataset": args.dataset, "steps": args.steps,
                      "load_average_1min": round(os.getloadavg()[0], 2)}))
    for preset in args.models:
        for flush in (False, True):
            with flush_denormals(flush):
                whole, optim = timed_steps(preset, data, args.steps)
            first, last = args.window, args.steps - args.window  # the first window after warm-up, the last
            row = {"model": preset, "flush_denormals": flush,
                   "step_us_first": window_us(whole, first, args.window),
                   "step_us_last": window_us(whole, last, args.window),
                   "optimizer_us_first": window_us(optim, first, args.window),
                   "optimizer_us_last": window_us(optim, last, args.window)}
            row["step_last_over_first"] = round(row["step_us_last"] / row["step_us_first"], 2)
            row["optimizer_last_over_first"] = round(row["optimizer_us_last"] / row["optimizer_us_first"], 2)
            print(json.dumps(row))


if __name__ == "__main__":
    main()
