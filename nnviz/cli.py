"""Command line: python -m nnviz train | eval | download.

`train` goes through nnviz.runs exactly as the dashboard does, so both write the
same run folder and checkpoints.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path
from typing import Sequence

from nnviz import checkpoints, runs
from nnviz.config import ConfigError, DataConfig, RunConfig, replace
from nnviz.data import DATASETS, CsvError, DatasetMissing, load
from nnviz.data.images import download
from nnviz.models import DEFAULT_PRESET, PRESETS, ModelTooLarge
from nnviz.train import OPTIMIZERS, evaluate

EXIT_USAGE = 2


def _dataset_config(name: str, data_dir: str, seed: int) -> DataConfig:
    if name == "regression":
        return DataConfig(dataset="regression", seed=seed, data_dir=data_dir)
    if name in DATASETS:
        return DataConfig(dataset=name, data_dir=data_dir)
    if Path(name).suffix.lower() in (".csv", ".txt") or Path(name).is_file():
        return DataConfig(dataset="csv", csv_path=name, seed=seed)
    raise ConfigError(f"unknown dataset {name!r}: use regression, {', '.join(DATASETS)} or a path to an x,y CSV")


def build_config(args: argparse.Namespace) -> RunConfig:
    """The RunConfig for `train` flags: the preset's model and training, then the overrides."""
    data = _dataset_config(args.dataset, args.data_dir or "", args.seed if args.seed is not None else 0)
    preset_name = args.model or DEFAULT_PRESET[data.task]
    if preset_name not in PRESETS:
        raise ConfigError(f"unknown model preset {preset_name!r}; choose from {', '.join(PRESETS)}")
    preset = PRESETS[preset_name]
    if preset.task != data.task:
        raise ConfigError(f"preset {preset_name!r} is for {preset.task}, but {args.dataset!r} is a {data.task} set")
    overrides = {key: value for key, value in (
        ("epochs", args.epochs), ("batch_size", args.batch_size), ("lr", args.lr),
        ("optimizer", args.optimizer), ("weight_decay", args.weight_decay), ("device", args.device),
        ("seed", args.seed), ("max_steps", args.max_steps)) if value is not None}
    return RunConfig(data=data, model=preset.model, train=replace(preset.train, **overrides), preset=preset_name)


def _bar(fraction: float, width: int = 30) -> str:
    filled = int(round(fraction * width))
    return "[" + "#" * filled + "." * (width - filled) + f"] {fraction * 100:5.1f}%"


def _summary(run: runs.Run, view: dict, wall: float) -> dict:
    last = view["epochs"][-1] if view["epochs"] else {}
    out = {"run_dir": str(run.dir), "checkpoint": str(run.dir / "final.pt"), "status": view["status"],
           "message": view["message"], "epochs": int(last.get("epoch", 0)),
           "seconds": round(float(last.get("elapsed", 0.0)), 3), "wall_seconds": round(wall, 3)}
    if run.config.data.task == "classification":
        out.update(test_accuracy=last.get("test_acc", math.nan), test_loss=last.get("test_loss", math.nan))
    else:
        out.update(test_mse=last.get("test_loss", math.nan))
    return out


def cmd_train(args: argparse.Namespace) -> int:
    cfg = build_config(args)
    load(cfg.data)  # fail fast, before a run folder exists, with the data's own message
    started = time.perf_counter()
    run = runs.start(cfg, args.runs_dir)
    printed = 0
    try:
        while not run.wait(0.1) or printed < len(run.view()["epochs"]):
            view = run.view()
            for row in view["epochs"][printed:]:
                if args.json:
                    print(json.dumps(row), flush=True)
                printed += 1
            if not args.json:
                p = view["progress"]
                print(f"\r{_bar(p.fraction)} epoch {p.epoch}/{p.epochs} {p.samples_per_s:8.0f} samples/s",
                      end="", flush=True, file=sys.stderr)
    except KeyboardInterrupt:
        run.stop()
        run.wait()
    view = run.view()
    summary = _summary(run, view, time.perf_counter() - started)
    if args.json:
        print(json.dumps(summary), flush=True)
    else:
        print(file=sys.stderr)
        for key, value in summary.items():
            print(f"{key:>14}: {value}")
    return 0 if view["status"] in ("finished", "early_stopped", "stopped") else 1


def cmd_eval(args: argparse.Namespace) -> int:
    ckpt = checkpoints.load(args.checkpoint)
    data_cfg = ckpt.config.data
    if args.data_dir:
        data_cfg = replace(data_cfg, data_dir=args.data_dir)
    data = load(data_cfg)
    metrics = evaluate(ckpt.model(), data.x_test, data.y_test, data.task)
    out = {"checkpoint": str(args.checkpoint), "dataset": data_cfg.dataset, "n_test": len(data.x_test)}
    if data.task == "classification":
        out.update(test_accuracy=metrics["acc"], test_loss=metrics["loss"])
    else:
        out.update(test_mse=metrics["loss"])
    if args.json:
        print(json.dumps(out))
    else:
        for key, value in out.items():
            print(f"{key:>14}: {value}")
    return 0


def cmd_download(args: argparse.Namespace) -> int:
    root = download(args.name, args.data_dir, progress=lambda f: print(f"\r{_bar(f)}", end="", file=sys.stderr))
    print(f"\n{DATASETS[args.name].title} is in {root.resolve()}", file=sys.stderr)
    return 0


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="python -m nnviz", description="Train, evaluate and fetch data for nnviz.")
    sub = top.add_subparsers(dest="command", required=True)
    train = sub.add_parser("train", help="train a preset on a dataset and save the run")
    train.add_argument("--dataset", default="digits", help=f"regression, {', '.join(DATASETS)} or an x,y CSV path")
    train.add_argument("--model", choices=sorted(PRESETS), help="preset (default: the task's default)")
    train.add_argument("--epochs", type=int)
    train.add_argument("--batch-size", type=int)
    train.add_argument("--lr", type=float)
    train.add_argument("--optimizer", choices=sorted(OPTIMIZERS))
    train.add_argument("--weight-decay", type=float)
    train.add_argument("--device", choices=("auto", "cpu", "cuda", "mps"))
    train.add_argument("--seed", type=int)
    train.add_argument("--max-steps", type=int, help="dry run: at most N batches per epoch")
    train.add_argument("--data-dir", help="torchvision data folder (default $NNVIZ_DATA_DIR or ./data)")
    train.add_argument("--runs-dir", help="where run folders go (default $NNVIZ_RUNS_DIR or ./runs)")
    train.add_argument("--json", action="store_true", help="one JSON object per epoch and a final summary line")
    train.set_defaults(func=cmd_train)
    ev = sub.add_parser("eval", help="test accuracy / MSE of a checkpoint")
    ev.add_argument("checkpoint")
    ev.add_argument("--data-dir")
    ev.add_argument("--json", action="store_true")
    ev.set_defaults(func=cmd_eval)
    dl = sub.add_parser("download", help="fetch an image set into the data folder")
    dl.add_argument("name", choices=[n for n, info in DATASETS.items() if not info.embedded])
    dl.add_argument("--data-dir")
    dl.set_defaults(func=cmd_download)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.func(args)
    except (ConfigError, CsvError, DatasetMissing, ModelTooLarge, checkpoints.CheckpointError, ValueError) as exc:
        print(f"nnviz: {exc}", file=sys.stderr)
        return EXIT_USAGE
