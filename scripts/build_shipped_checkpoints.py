"""Rebuild the shipped `digits` checkpoints in checkpoints/shipped/ (offline, ~10 s on 2 cores).

    python scripts/build_shipped_checkpoints.py
"""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from nnviz import checkpoints, runs  # noqa: E402
from nnviz.config import DataConfig, RunConfig  # noqa: E402
from nnviz.data import load  # noqa: E402
from nnviz.models import PRESETS  # noqa: E402
from nnviz.train import evaluate  # noqa: E402


def data_for(cfg: RunConfig) -> tuple:
    data = load(cfg.data)
    return data.x_test, data.y_test

SHIPPED = {"digits_cnn": "fast_cnn", "digits_mlp": "mlp_dropout"}


def main() -> None:
    checkpoints.SHIPPED_DIR.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        for name, preset in SHIPPED.items():
            p = PRESETS[preset]
            cfg = RunConfig(data=DataConfig(dataset="digits"), model=p.model, train=p.train, preset=preset,
                            name=f"{p.title} on digits (shipped)")
            run = runs.start(cfg, tmp)
            run.wait()
            view = run.view()
            if view["status"] != "finished":
                raise SystemExit(f"{name}: {view['status']} {view['message']}")
            target = checkpoints.SHIPPED_DIR / f"{name}.pt"
            ckpt = checkpoints.load(run.dir / "final.pt")
            model = ckpt.model()
            checkpoints.save(target, model, ckpt.config, task=ckpt.task, input_shape=ckpt.input_shape,
                             n_outputs=ckpt.n_outputs, classes=ckpt.classes, mean=ckpt.mean, std=ckpt.std,
                             metrics=ckpt.metrics, history=ckpt.history, half=True)
            last = view["epochs"][-1]
            reloaded = evaluate(checkpoints.load(target).model(), *data_for(cfg), "classification")["acc"]
            print(f"{target}: test accuracy {last['test_acc']:.4f} (float16 weights: {reloaded:.4f}), "
                  f"{target.stat().st_size / 1024:.0f} KiB")


if __name__ == "__main__":
    main()
