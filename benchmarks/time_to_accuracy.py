"""Time-to-accuracy of the default CNN (fast_cnn) from the command line, as a user runs it.

Runs `python -m nnviz train --dataset SET --model fast_cnn --json` in a fresh process and
reads its per-epoch records: the first epoch whose test accuracy reaches the target, and
the training seconds at that point (`elapsed`: from the start of fit(), evaluations
included, data loading and process start excluded). Targets from the issue: digits
>= 98.5% within 5 s, the shared Fashion-MNIST images >= 84% within 15 s.

    .venv/bin/python benchmarks/time_to_accuracy.py [--data-dir ../shared/datasets] [--device cpu|cuda]
        [--repeat N] [--sets digits fashion_mnist]
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGETS = {"digits": (0.985, 5.0), "fashion_mnist": (0.84, 15.0)}  # (test accuracy, seconds of training)
EPOCHS = {"digits": 5, "fashion_mnist": 10}  # the page's suggestion for each set (nnviz.ui.classification_config)


def run_cli(dataset: str, data_dir: str, device: str, runs_dir: str) -> list[dict]:
    cmd = [sys.executable, "-m", "nnviz", "train", "--dataset", dataset, "--model", "fast_cnn",
           "--epochs", str(EPOCHS[dataset]), "--device", device, "--runs-dir", runs_dir, "--json"]
    if dataset != "digits":
        cmd += ["--data-dir", data_dir]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if out.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{out.stderr[-2000:]}{out.stdout[-1000:]}")
    rows = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
    # CPU the process got (start-up included): on a shared machine, how much of it the run received
    rows[-1]["cpu_seconds"] = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return rows


def summarise(dataset: str, rows: list[dict]) -> dict:
    target, limit = TARGETS[dataset]
    epochs, summary = rows[:-1], rows[-1]
    reached = next((r for r in epochs if r.get("test_acc", 0) >= target), None)
    last = epochs[-1]
    train_s = sum(r["seconds"] for r in epochs)
    return {"dataset": dataset, "epochs": int(last["epoch"]), "status": summary["status"],
            "final_test_accuracy": round(last["test_acc"], 4), "final_seconds": round(last["elapsed"], 2),
            "target_accuracy": target, "limit_seconds": limit,
            "reached_at_epoch": None if reached is None else int(reached["epoch"]),
            "seconds_to_target": None if reached is None else round(reached["elapsed"], 2),
            "ok": reached is not None and reached["elapsed"] <= limit,
            "training_loop_seconds": round(train_s, 2),
            "evaluation_seconds": round(last["elapsed"] - train_s, 2),
            "samples_per_s_last_epoch": round(last["samples_per_s"]),
            "wall_seconds_with_startup": summary["wall_seconds"],
            "process_cpu_seconds": round(summary["cpu_seconds"], 2),
            "cores_received": round(summary["cpu_seconds"] / max(summary["wall_seconds"], 1e-9), 2)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "datasets"),
                        help="a data folder holding FashionMNIST/raw (default ../shared/datasets)")
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda", "auto"))
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--sets", nargs="+", default=list(TARGETS), choices=sorted(TARGETS))
    args = parser.parse_args()
    print(json.dumps({"cpu_count": os.cpu_count(), "load_average_1min": round(os.getloadavg()[0], 2),
                      "device": args.device}), flush=True)
    ok = True
    with tempfile.TemporaryDirectory() as runs_dir:
        for _ in range(args.repeat):
            for dataset in args.sets:
                row = summarise(dataset, run_cli(dataset, args.data_dir, args.device, runs_dir))
                row["load_average_1min"] = round(os.getloadavg()[0], 2)
                print(json.dumps(row), flush=True)
                ok &= row["ok"]
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
