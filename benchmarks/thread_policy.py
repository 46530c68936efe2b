"""What a fixed thread count costs: a run's training speed on each thread count, idle and beside busy programs.

nnviz trains on `nnviz.training.threads.run_threads()` threads (every core but one) whatever the machine's
load, so that the same seed gives the same numbers. This prints, per preset, fit()'s samples/s on
1 .. all cores, first with nothing else running and then beside `--burners` processes spinning on
the CPU (a busy shared machine), each measured twice in alternation; the ratio is against the
count nnviz uses.

    .venv/bin/python benchmarks/thread_policy.py [--models fast_cnn pytorch_example mlp_dropout] [--burners 2]
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from nnviz import process  # noqa: E402

process.configure()  # as the CLI and the dashboard do, before torch loads

import torch  # noqa: E402

from nnviz.config import DataConfig, replace  # noqa: E402
from nnviz.data import load  # noqa: E402
from nnviz.model.models import PRESETS  # noqa: E402
from nnviz.training import threads  # noqa: E402
from nnviz.training.train import fit, init_model  # noqa: E402


@contextlib.contextmanager
def burners(n: int):
    procs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]
    try:
        time.sleep(0.5 if n else 0)
        yield
    finally:
        for p in procs:
            p.kill()
            p.wait()


def samples_per_s(preset: str, n_threads: int, epochs: int) -> float:
    data = load(DataConfig(dataset="digits"))
    p = PRESETS[preset]
    cfg = replace(p.train, epochs=epochs, device="cpu", snapshot_every=0)
    saved = threads.CORES
    threads.CORES = n_threads + 1  # run_threads() leaves one: this makes it train on n_threads
    try:
        history = fit(init_model(p.model, data, 0), data, cfg)
    finally:
        threads.CORES = saved
    rows = history.epochs[1:]
    return sum(r["samples_per_s"] * r["seconds"] for r in rows) / max(sum(r["seconds"] for r in rows), 1e-9)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["fast_cnn", "pytorch_example", "mlp_dropout"])
    parser.add_argument("--burners", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=2)
    args = parser.parse_args()
    used = threads.run_threads("classification", torch.device("cpu"))
    print(json.dumps({"cores": threads.CORES, "nnviz_threads": used, "load_average_1min": os.getloadavg()[0]}))
    for busy in (0, args.burners):
        with burners(busy):
            for preset in args.models:
                speeds: dict[int, list[float]] = {n: [] for n in range(1, threads.CORES + 1)}
                for _ in range(2):
                    for n in speeds:
                        speeds[n].append(samples_per_s(preset, n, args.epochs))
                best = {n: round(max(v), 1) for n, v in speeds.items()}
                print(json.dumps({"model": preset, "burners": busy, "samples_per_s_by_threads": best,
                                  "vs_nnviz_threads": {n: round(v / best[used], 2) for n, v in best.items()},
                                  "load_average_1min": os.getloadavg()[0]}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
