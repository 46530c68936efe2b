"""Command line: python -m nnviz train | eval | download | sweep.

`train` goes through nnviz.jobs.runs exactly as the dashboard does, so both write the
same run folder and checkpoints. `sweep` is one worker of an Optuna study: start it on
as many machines as you like against one storage URL (see docs/distributed-search.md).
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from nnviz import process
from nnviz.config import DEVICES, OPTIMIZER_NAMES, ConfigError, DataConfig, RunConfig, replace
from nnviz.jobs import storage

if TYPE_CHECKING:
    from nnviz.jobs import runs

# Everything that imports torch (seconds) is imported inside the commands that need it: `nnviz --help`
# and a mistyped command answer at once.

EXIT_USAGE = 2


def _dataset_config(name: str, data_dir: str, seed: int) -> DataConfig:
    from nnviz.data import DATASETS

    if name == "regression":
        return DataConfig(dataset="regression", seed=seed, data_dir=data_dir)
    if name in DATASETS:
        return DataConfig(dataset=name, data_dir=data_dir)
    if Path(name).suffix.lower() in (".csv", ".txt") or Path(name).is_file():
        return DataConfig(dataset="csv", csv_path=name, seed=seed)
    raise ConfigError(f"unknown dataset {name!r}: use regression, {', '.join(DATASETS)} or a path to an x,y CSV")


def build_config(args: argparse.Namespace) -> RunConfig:
    """The RunConfig for `train` flags: the preset's model and training, then the overrides."""
    from nnviz.model.models import DEFAULT_PRESET, PRESETS

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


def _summary(run: runs.Run, view: runs.RunView, wall: float) -> dict:
    last = view.history[-1] if view.history else {}
    final = run.folder.final_checkpoint  # named only when it was written (a full disk may have stopped it)
    out = {"run_dir": str(run.dir), "checkpoint": str(final) if final else None, "status": view.status,
           "message": view.message, "epochs": int(last.get("epoch", 0)),
           "seconds": round(float(last.get("elapsed", 0.0)), 3), "wall_seconds": round(wall, 3)}
    if run.config.data.task == "classification":
        out.update(test_accuracy=last.get("test_acc", math.nan), test_loss=last.get("test_loss", math.nan))
    else:
        out.update(test_mse=last.get("test_loss", math.nan))
    return out


def cmd_train(args: argparse.Namespace) -> int:
    from nnviz.data import load
    from nnviz.jobs import runs
    from nnviz.training import threads

    if args.epochs is not None and args.epochs < 1:  # the library allows 0 (an untrained model); a CLI run must train
        raise ConfigError(f"--epochs must be at least 1; got {args.epochs}: a run of no epochs trains nothing")
    if args.lr is not None and args.lr <= 0:  # NaN and inf are refused by the config, which says "finite"
        raise ConfigError(f"--lr must be a positive number; got {args.lr}: a learning rate of 0 learns nothing")
    cfg = build_config(args)
    with threads.serial():  # this thread only waits and prints: no OpenMP pool beside the training thread's
        load(cfg.data)  # fail fast, before a run folder exists, with the data's own message
    started = time.perf_counter()
    try:
        run = runs.start(cfg, args.runs_dir)
    except OSError as exc:  # a read-only, full or missing runs folder, or a file where it should be
        print(f"nnviz: {storage.disk_problem(exc, runs.runs_dir(args.runs_dir))}", file=sys.stderr)
        return EXIT_USAGE
    printed = 0
    try:
        while not run.wait(0.1) or printed < len(run.view().history):
            view = run.view()
            for row in view.history[printed:]:
                if args.json:
                    print(_json(row), flush=True)
                printed += 1
            if not args.json:
                p = view.progress
                print(f"\r{_bar(p.fraction)} epoch {p.epoch}/{p.epochs} {p.samples_per_s:8.0f} samples/s",
                      end="", flush=True, file=sys.stderr)
    except KeyboardInterrupt:
        run.stop()
        run.wait()
    view = run.view()
    summary = _summary(run, view, time.perf_counter() - started)
    if args.json:
        print(_json(summary), flush=True)
    else:
        print(file=sys.stderr)
        for key, value in summary.items():
            print(f"{key:>14}: {value}")
    return 0 if view.status in ("finished", "early_stopped", "stopped") else 1


def cmd_eval(args: argparse.Namespace) -> int:
    from nnviz.data import load
    from nnviz.model import checkpoints
    from nnviz.training.train import evaluate

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
        print(_json(out))
    else:
        for key, value in out.items():
            print(f"{key:>14}: {value}")
    return 0


def _json(obj: dict) -> str:
    """Strict JSON (RFC 8259 has no NaN or Infinity): a non-finite number becomes null."""
    return json.dumps({k: None if isinstance(v, float) and not math.isfinite(v) else v for k, v in obj.items()})


def cmd_download(args: argparse.Namespace) -> int:
    from nnviz.data.images import DATASETS, download

    root = download(args.name, args.data_dir, progress=lambda f: print(f"\r{_bar(f)}", end="", file=sys.stderr))
    print(f"\n{DATASETS[args.name].title} is in {root.resolve()}", file=sys.stderr)
    return 0


def _search_spec(args: argparse.Namespace):  # noqa: ANN202  (SearchSpec; imported lazily: optuna is heavy)
    from nnviz.jobs.search import DEFAULT_SPACES, SearchSpec
    from nnviz.model.models import PRESETS
    from nnviz.model.params import quick_base

    base = quick_base(args.dataset, args.data_dir or "", args.epochs)
    if args.model:
        if args.model not in PRESETS or PRESETS[args.model].task != base.data.task:
            raise ConfigError(f"preset {args.model!r} does not fit dataset {args.dataset!r}")
        base = RunConfig(data=base.data, model=PRESETS[args.model].model, train=replace(
            PRESETS[args.model].train, **({"epochs": args.epochs} if args.epochs is not None else {})),
            preset=args.model)
    overrides = {k: v for k, v in (("max_steps", args.max_steps), ("device", args.device), ("seed", args.seed))
                 if v is not None}
    base = replace(base, train=replace(base.train, snapshot_every=0, **overrides))
    try:
        space = json.loads(args.space) if args.space else DEFAULT_SPACES[args.sampler]
    except json.JSONDecodeError as exc:
        raise ConfigError(f"--space is not valid JSON: {exc}") from None
    return SearchSpec(base=base, space=space, sampler=args.sampler, kfold=args.kfold, pruning=not args.no_pruning,
                      seed=args.seed or 0)


def cmd_sweep(args: argparse.Namespace) -> int:
    import os

    from sqlalchemy.exc import SQLAlchemyError

    from nnviz.jobs import search
    from nnviz.jobs.search_results import state_counts

    url = args.storage or search.default_storage_url(args.runs_dir)
    spec = _search_spec(args)

    def on_trial(trial) -> None:  # noqa: ANN001
        row = {"trial": trial.number, "state": trial.state.name.lower(), "value": trial.value, "params": trial.params,
               "split_test_scores": trial.user_attrs.get("split_test_scores", [])}
        print(json.dumps(row) if args.json else f"trial {trial.number:4d} {row['state']:>8} "
              f"value={trial.value} params={trial.params}", flush=True)

    try:
        # the study's stored spec wins when it exists: every worker searches the same space
        out = search.run_worker(url, args.study, args.trials, spec, seed_offset=os.getpid(), timeout=args.timeout,
                                on_trial=on_trial, data_dir=args.data_dir)
        stopped = out["stopped"]
    except KeyboardInterrupt:
        out, stopped = {"trials": [], "checkpoint": ""}, True
    except SQLAlchemyError as exc:  # the database went away mid-search: finished trials are safe in it
        print(f"nnviz: lost the study storage: {str(exc).splitlines()[0][:300]}; finished trials are kept there. "
              "Start the worker again to continue.", file=sys.stderr)
        return 1
    study, _ = search.open_study(url, args.study)
    counts = state_counts(study.get_trials(deepcopy=False))
    complete = [t for t in study.get_trials(deepcopy=False) if t.state.name == "COMPLETE"]
    best = max(complete, key=lambda t: t.value) if complete else None
    summary = {"study": args.study, "storage": url, "worker_trials": out["trials"], "stopped": stopped,
               "states": counts, "best_value": best.value if best else None,
               "best_params": best.params if best else None, "checkpoint": out["checkpoint"]}
    print(json.dumps(summary) if args.json else "\n".join(f"{k:>14}: {v}" for k, v in summary.items()), flush=True)
    return 0


def _train_arguments(train: argparse.ArgumentParser) -> None:
    from nnviz.data import DATASETS
    from nnviz.model.models import PRESETS

    train.add_argument("--dataset", default="digits", help=f"regression, {', '.join(DATASETS)} or an x,y CSV path")
    train.add_argument("--model", choices=sorted(PRESETS), help="preset (default: the task's default)")
    train.add_argument("--epochs", type=int, help="epochs to train (>= 1)")
    train.add_argument("--batch-size", type=int)
    train.add_argument("--lr", type=float, help="learning rate (> 0)")
    train.add_argument("--optimizer", choices=sorted(OPTIMIZER_NAMES))
    train.add_argument("--weight-decay", type=float)
    train.add_argument("--device", choices=DEVICES)
    train.add_argument("--seed", type=int)
    train.add_argument("--max-steps", type=int, help="dry run: at most N batches per epoch")
    train.add_argument("--data-dir", help="torchvision data folder (default $NNVIZ_DATA_DIR or ./data)")
    train.add_argument("--runs-dir", help="where run folders go (default $NNVIZ_RUNS_DIR or ./runs)")
    train.add_argument("--json", action="store_true", help="one JSON object per epoch and a final summary line")
    train.set_defaults(func=cmd_train)


def _eval_arguments(ev: argparse.ArgumentParser) -> None:
    ev.add_argument("checkpoint")
    ev.add_argument("--data-dir")
    ev.add_argument("--json", action="store_true")
    ev.set_defaults(func=cmd_eval)


def _download_arguments(dl: argparse.ArgumentParser) -> None:
    from nnviz.data import DATASETS

    dl.add_argument("name", choices=[n for n, info in DATASETS.items() if not info.embedded])
    dl.add_argument("--data-dir")
    dl.set_defaults(func=cmd_download)


def _sweep_arguments(sw: argparse.ArgumentParser) -> None:
    from nnviz.data import DATASETS

    sw.add_argument("--storage", help="SQLAlchemy URL of the study storage (default $NNVIZ_STUDY_STORAGE, else "
                                      "sqlite:///<runs>/studies.db); "
                                      "e.g. postgresql://user:pass@host/db to share a study between machines")
    sw.add_argument("--study", required=True, help="study name; created if missing, joined if it exists")
    sw.add_argument("--trials", type=int, default=10, help="trials this worker runs (default 10)")
    sw.add_argument("--sampler", choices=("grid", "random", "tpe"), default="tpe")
    sw.add_argument("--space", help='search space as JSON, e.g. \'{"lr": {"low": 1e-4, "high": 0.1, "log": true}, '
                                    '"hidden": ["64", "128,64"]}\' (default: a small space per sampler)')
    sw.add_argument("--dataset", default="digits", help=f"regression or {', '.join(DATASETS)}")
    sw.add_argument("--model", help="preset instead of the small default MLP")
    sw.add_argument("--epochs", type=int)
    sw.add_argument("--kfold", type=int, default=2, help="K-fold cross-validation folds (0: the validation split)")
    sw.add_argument("--max-steps", type=int, help="dry run: at most N batches per epoch")
    sw.add_argument("--device", choices=DEVICES)
    sw.add_argument("--seed", type=int)
    sw.add_argument("--no-pruning", action="store_true", help="never prune trials early")
    sw.add_argument("--timeout", type=float, help="stop starting trials after this many seconds")
    sw.add_argument("--data-dir")
    sw.add_argument("--runs-dir", help="where the default SQLite study file goes")
    sw.add_argument("--json", action="store_true", help="one JSON object per finished trial and a summary")
    sw.set_defaults(func=cmd_sweep)


COMMANDS = {  # name: (help, adds the command's arguments)
    "train": ("train a preset on a dataset and save the run", _train_arguments),
    "eval": ("test accuracy / MSE of a checkpoint", _eval_arguments),
    "download": ("fetch an image set into the data folder", _download_arguments),
    "sweep": ("one worker of a hyper-parameter search (an Optuna study)", _sweep_arguments),
}


def parser(command: str | None = None) -> argparse.ArgumentParser:
    """The CLI's parser: every command's arguments, or with `command` only that one's ('' for none:
    enough to route, to print the top-level help and to reject a mistyped command without torch)."""
    top = argparse.ArgumentParser(prog="nnviz", description="Train, evaluate and fetch data for nnviz.")
    sub = top.add_subparsers(dest="command", required=True)
    for name, (help_text, add_arguments) in COMMANDS.items():
        if command is None or command == name:
            add_arguments(sub.add_parser(name, help=help_text))
        else:  # routing only: `-h` after the command is left to the second pass, which has the arguments
            sub.add_parser(name, help=help_text, add_help=False)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    process.configure()  # before any command imports torch
    argv = sys.argv[1:] if argv is None else list(argv)
    routed, _ = parser("").parse_known_args(argv)
    args = parser(routed.command).parse_args(argv)
    from nnviz.data import DatasetMissing  # ValueError covers ConfigError, CsvError, ModelTooLarge, CheckpointError

    try:
        return args.func(args)
    except (ValueError, DatasetMissing) as exc:
        print(f"nnviz: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:  # a file or folder the command needs cannot be read or written
        print(f"nnviz: {storage.disk_problem(exc, exc.filename or 'a file')}", file=sys.stderr)
        return EXIT_USAGE
