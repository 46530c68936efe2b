"""How long the optimizer race lasts at full speed and in slow motion (a script, not a test).

    .venv/bin/python benchmarks/tempo.py [--dataset mnist_sample] [--epochs 5] [--rate 2]

Runs the `optimizers` sweep (the optimizer_race lesson: six optimizers, one after another)
twice in this process, at full speed and capped at --rate epochs per second, and prints the
wall time of each, their ratio, and whether every point's numbers are identical (slow motion
pauses between epochs and must not change a single loss). Target (issue 21): a race a class
can watch, >= 10 s, with the same numbers.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TIMING = ("seconds", "elapsed", "samples_per_s")


def race(dataset: str, epochs: int, rate: float) -> tuple[float, list[dict]]:
    from nnviz.jobs import sweeps
    from nnviz.training.tempo import Tempo

    started = time.perf_counter()
    results = sweeps.run_sweep("optimizers", sweeps.base_config(dataset, epochs), tempo=Tempo(rate))
    return time.perf_counter() - started, results


def numbers(results: list[dict]) -> list:
    return [[{k: v for k, v in row.items() if k not in TIMING} for row in r["history"]] for r in results]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="mnist_sample")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--rate", type=float, default=2.0, help="epochs per second in slow motion")
    args = parser.parse_args()
    fast_s, fast = race(args.dataset, args.epochs, 0.0)
    slow_s, slow = race(args.dataset, args.epochs, args.rate)
    frames = sum(len(r["history"]) for r in slow)
    print(f"optimizer race on {args.dataset}, {len(fast)} optimizers x {args.epochs} epochs ({frames} epoch records)")
    print(f"full speed:            {fast_s:6.1f} s")
    print(f"slow motion {args.rate:g} epochs/s: {slow_s:6.1f} s  ({slow_s / fast_s:.1f}x full speed)")
    print(f"same numbers: {numbers(fast) == numbers(slow)}")


if __name__ == "__main__":
    main()
