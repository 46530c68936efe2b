"""Cost of recording gradient norms (nnviz.analysis.diagnostics.GradNormRecorder) next to a training step.

Times the default CNN's training step on a digits batch and the recorder's per-batch work
(one fused norm over every gradient tensor, added on the device), in the same process, and
prints the ratio: the share of training time the runs spend on gradient norms when they
record every `--every` batches (the run recorder's default is 5).

    .venv/bin/python benchmarks/grad_norm_overhead.py [--every 5] [--steps 100]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from nnviz import process  # noqa: E402

process.configure()  # as the CLI and the dashboard do, before torch loads

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from nnviz.analysis import diagnostics  # noqa: E402
from nnviz.config import DataConfig  # noqa: E402
from nnviz.data import load  # noqa: E402
from nnviz.model.models import PRESETS  # noqa: E402
from nnviz.training.train import init_model  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--every", type=int, default=5)
    parser.add_argument("--steps", type=int, default=100)
    args = parser.parse_args()
    data = load(DataConfig(dataset="digits"))
    model = init_model(PRESETS["fast_cnn"].model, data, 0)
    x, y = data.x_train[:32], data.y_train[:32]  # (32, 1, 28, 28), the page's batch size
    opt = torch.optim.AdamW(model.parameters(), 1e-3)

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(model(x), y).backward()
        opt.step()

    for _ in range(5):
        step()
    best_step, best_record = float("inf"), float("inf")
    recorder = diagnostics.GradNormRecorder(every=1)
    state = SimpleNamespace(model=model, batch=1)
    recorder.on_train_begin(state)
    for _ in range(3):  # best of 3: the machine is shared
        start = time.perf_counter()
        for _ in range(args.steps):
            step()
        best_step = min(best_step, (time.perf_counter() - start) / args.steps)
        start = time.perf_counter()
        for _ in range(args.steps * 10):
            recorder.on_batch_end(state)
        best_record = min(best_record, (time.perf_counter() - start) / (args.steps * 10))
    share = best_record / best_step / args.every
    print(f"training step {best_step * 1e3:.2f} ms · gradient norms {best_record * 1e3:.3f} ms per recorded batch · "
          f"recording every {args.every} batches costs {share:.2%} of training time")


if __name__ == "__main__":
    main()
