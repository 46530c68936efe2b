"""Time-to-accuracy of the Classification lab's default CNN, through the page's own code path.

The config is built exactly as the page builds it (nnviz.ui.classification_config: the
default settings, then the dataset choice with its epoch suggestion), and trained with
nnviz.jobs.runs.start, as the Start button does (threads: nnviz.training.threads). Prints test accuracy,
seconds and the ratio
of the seconds to the floor of the issue (digits >= 98% within 20 s, Fashion-MNIST >= 84%
within 60 s on a 2-core CPU).

    .venv/bin/python benchmarks/classification_accuracy.py [--fashion-dir ../shared/datasets] [--repeat N]
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from nnviz import process  # noqa: E402

process.configure()  # as the CLI and the dashboard do, before torch loads

from nnviz.data import is_present  # noqa: E402
from nnviz.jobs import runs  # noqa: E402
from nnviz.ui import classification_config as cc  # noqa: E402

logging.getLogger("streamlit").setLevel(logging.ERROR)  # nnviz.ui imports streamlit; no app runs here

TARGETS = {"digits": (0.98, 20.0), "fashion_mnist": (0.84, 60.0)}  # (test accuracy, seconds)


def page_config(dataset: str, data_dir: str = "") -> "cc.RunConfig":
    """What the page starts after the user picks `dataset` (and a data folder) and presses Start."""
    settings = cc.default_settings()
    settings.update(cls_dataset=dataset, cls_data_dir=data_dir)
    settings.update(cc.train_settings(cc.CLASSIFIER_PRESETS[settings["cls_model"]].train, dataset))
    return cc.run_config(settings)


def measure(dataset: str, data_dir: str, root: str) -> dict:
    cfg = page_config(dataset, data_dir)
    started = time.perf_counter()
    run = runs.start(cfg, root)
    run.wait()
    wall = time.perf_counter() - started
    view = run.view()
    last = view.history[-1] if view.history else {}
    target_acc, limit = TARGETS[dataset]
    reached = next((r for r in view.history if r.get("test_acc", 0) >= target_acc), None)
    return {"dataset": dataset, "status": view.status, "epochs": cfg.train.epochs,
            "test_accuracy": round(float(last.get("test_acc", float("nan"))), 4),
            "train_seconds": round(float(last.get("elapsed", float("nan"))), 2), "wall_seconds": round(wall, 2),
            "limit_seconds": limit, "ratio_to_limit": round(wall / limit, 3),
            "target_accuracy": target_acc,
            "target_reached_at": None if reached is None else
            {"epoch": int(reached["epoch"]), "seconds": round(float(reached["elapsed"]), 2)},
            "ok": view.status == "finished" and last.get("test_acc", 0) >= target_acc and wall <= limit}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fashion-dir", default=str(Path(__file__).resolve().parents[2] / "shared" / "datasets"),
                        help="a data folder holding FashionMNIST/raw (default ../shared/datasets)")
    parser.add_argument("--repeat", type=int, default=1, help="measure each set this many times")
    args = parser.parse_args()
    import torch
    print(f"# cpu count {os.cpu_count()}, torch threads {torch.get_num_threads()}, "
          f"load average {os.getloadavg()[0]:.2f} (1 min)", flush=True)
    results = []
    with tempfile.TemporaryDirectory() as root:
        for _ in range(args.repeat):
            results.append(measure("digits", "", root))
            print(json.dumps(results[-1]), flush=True)
            if is_present("fashion_mnist", args.fashion_dir):
                results.append(measure("fashion_mnist", args.fashion_dir, root))
                print(json.dumps(results[-1]), flush=True)
            else:
                print(f"# Fashion-MNIST not found under {args.fashion_dir}: skipped", flush=True)
    print(f"# load average {os.getloadavg()[0]:.2f} after; all within target: {all(r['ok'] for r in results)}")
    return 0 if all(r["ok"] for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
