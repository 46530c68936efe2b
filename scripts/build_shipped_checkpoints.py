"""Rebuild the shipped checkpoints in checkpoints/shipped/ (offline, one thread; each a few minutes to ~20 on a busy CPU).

    python scripts/build_shipped_checkpoints.py            # all of them
    python scripts/build_shipped_checkpoints.py mnist_cnn  # one

`mnist_cnn` and `mnist_mlp` learn the embedded MNIST sample with augmentation for how people
draw (nnviz.data.augment.handwriting: stroke width, slant, rotation, scale, shift), fresh every
batch; `fashion_cnn` learns the Fashion-MNIST sample with mirroring and shifts; `digits_cnn` and
`digits_mlp` are the presets on scikit-learn's digits, trained by fit() as the dashboard would.
Seeded and on a fixed number of threads: the same command gives the same weights on the same
machine and torch version. The metrics saved are those of the float16 weights that are shipped.
"""
from __future__ import annotations

import argparse
import dataclasses
import math
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from nnviz.config import ConvBlock, DataConfig, ModelConfig, RunConfig, TrainConfig  # noqa: E402
from nnviz.data import DATASETS, TaskData, denormalise, load, normalise  # noqa: E402
from nnviz.data.augment import handwriting  # noqa: E402
from nnviz.data.batching import augment_shift  # noqa: E402
from nnviz.jobs import runs  # noqa: E402
from nnviz.model import checkpoints  # noqa: E402
from nnviz.model.models import PRESETS, build_model  # noqa: E402
from nnviz.training.train import evaluate  # noqa: E402

THREADS = 1  # fixed: float sums (and so the weights) depend on how work is split between threads
SEED = 0

# conv32 -> conv64 -> conv128, each batch-normalised, then global average pooling: ~94k parameters (~190 KB in
# float16), ~7.5 M multiply-adds per image: the Draw page answers in milliseconds
_CNN = ModelConfig(hidden=(), conv=(ConvBlock(32, 3, True, "max", batch_norm=True),
                                    ConvBlock(64, 3, True, "max", batch_norm=True),
                                    ConvBlock(128, 3, True, "none", batch_norm=True)), global_pool=True)
_MLP = ModelConfig(hidden=(256, 128), activation="relu")
# Fashion-MNIST needs where things are, not only what: conv32 -> conv64 -> conv128 pooled to 3x3, then a dense
# layer (~240k parameters, ~480 KB in float16); with global pooling instead it stayed at 84.5 % (15 epochs)
_FASHION_CNN = ModelConfig(hidden=(128,), dropout=0.3, conv=(ConvBlock(32, 3, True, "max", batch_norm=True),
                                                          ConvBlock(64, 3, True, "max", batch_norm=True),
                                                          ConvBlock(128, 3, True, "max", batch_norm=True)))


@dataclass(frozen=True)
class Recipe:
    dataset: str
    model: ModelConfig
    train: TrainConfig
    title: str
    augment: str = ""  # 'handwriting' | 'mirror' | '' (none)
    preset: str = ""


RECIPES: dict[str, Recipe] = {
    "mnist_cnn": Recipe("mnist_sample", _CNN, TrainConfig(optimizer="adamw", lr=5e-3, weight_decay=5e-4,
                                                           batch_size=64, epochs=10, scheduler="onecycle"),
                        "CNN on the MNIST sample, drawing augmentation", "handwriting"),
    "mnist_mlp": Recipe("mnist_sample", _MLP, TrainConfig(optimizer="adamw", lr=3e-3, weight_decay=1e-4,
                                                           batch_size=64, epochs=12, scheduler="onecycle"),
                        "MLP on the MNIST sample, drawing augmentation", "handwriting"),
    "fashion_cnn": Recipe("fashion_mnist_sample", _FASHION_CNN,
                          TrainConfig(optimizer="adamw", lr=3e-3, weight_decay=5e-4, batch_size=64, epochs=25,
                                      scheduler="onecycle"),
                          "CNN on the Fashion-MNIST sample, mirrored and shifted", "mirror"),
    "digits_cnn": Recipe("digits", PRESETS["fast_cnn"].model, PRESETS["fast_cnn"].train, "Fast default CNN on digits",
                         preset="fast_cnn"),
    "digits_mlp": Recipe("digits", PRESETS["mlp_dropout"].model, PRESETS["mlp_dropout"].train,
                         "Flat MLP with dropout on digits", preset="mlp_dropout"),
}


def augmenter(recipe: Recipe, data: TaskData, generator: torch.Generator) -> Callable[[torch.Tensor], torch.Tensor]:
    """Normalised batch -> augmented normalised batch (identity when the recipe has none)."""
    info = DATASETS[data.name]
    if recipe.augment == "handwriting":
        return lambda x: normalise(handwriting(denormalise(x, info), generator) * 255, info)
    if recipe.augment == "mirror":
        return lambda x: augment_shift(x, generator, max_shift=2, flip=True)
    return lambda x: x


def train(recipe: Recipe, log: Callable[[str], None] = print) -> tuple[torch.nn.Module, RunConfig, dict, dict]:
    """(model, config, metrics, history) of one recipe, trained from SEED on THREADS threads."""
    cfg = RunConfig(data=DataConfig(dataset=recipe.dataset), model=recipe.model,
                    train=dataclasses.replace(recipe.train, seed=SEED, device="cpu"), preset=recipe.preset,
                    name=f"{recipe.title} (shipped)")
    data = load(cfg.data)
    torch.manual_seed(SEED)  # init (and torch's own dropout, if any) from the seed
    model = build_model(cfg.model, data.input_shape, data.n_outputs)
    generator = torch.Generator().manual_seed(SEED)
    augment = augmenter(recipe, data, generator)
    tc = cfg.train
    steps = math.ceil(len(data.x_train) / tc.batch_size)
    optimizer = torch.optim.AdamW(model.parameters(), lr=tc.lr, weight_decay=tc.weight_decay)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=tc.lr, total_steps=tc.epochs * steps)
    epochs = []
    for epoch in range(1, tc.epochs + 1):
        started, model = time.perf_counter(), model.train()
        order, losses, correct = torch.randperm(len(data.x_train), generator=generator), [], 0
        for i in range(steps):
            idx = order[i * tc.batch_size:(i + 1) * tc.batch_size]
            xb, yb = augment(data.x_train[idx]), data.y_train[idx]
            out = model(xb)
            loss = F.cross_entropy(out, yb)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            losses.append(float(loss.detach()))
            correct += int((out.argmax(1) == yb).sum())
        val = evaluate(model, data.x_val, data.y_val, "classification")
        test = evaluate(model, data.x_test, data.y_test, "classification")
        row = {"epoch": epoch, "train_loss": sum(losses) / len(losses), "train_acc": correct / len(data.x_train),
               "val_loss": val["loss"], "val_acc": val["acc"], "test_loss": test["loss"], "test_acc": test["acc"],
               "lr": float(optimizer.param_groups[0]["lr"]), "seconds": time.perf_counter() - started}
        epochs.append(row)
        log(f"  epoch {epoch:2d}: train {row['train_acc']:.4f} val {row['val_acc']:.4f} test {row['test_acc']:.4f} "
            f"({row['seconds']:.0f} s)")
    metrics = {k: epochs[-1][k] for k in ("val_loss", "val_acc", "test_loss", "test_acc")}
    return model.eval(), cfg, metrics, {"epochs": epochs, "batch_losses": [], "status": "finished", "reason": ""}


def train_preset(recipe: Recipe) -> tuple[torch.nn.Module, RunConfig, dict, dict]:
    """A preset as the dashboard trains it: a run of fit() (digits: seconds)."""
    cfg = RunConfig(data=DataConfig(dataset=recipe.dataset), model=recipe.model, train=recipe.train,
                    preset=recipe.preset, name=f"{recipe.title} (shipped)")
    with tempfile.TemporaryDirectory() as tmp:
        run = runs.start(cfg, tmp)
        run.wait()
        view = run.view()
        if view["status"] != "finished":
            raise SystemExit(f"{recipe.title}: {view['status']} {view['message']}")
        ckpt = checkpoints.load(run.dir / "final.pt")
    return ckpt.model(), ckpt.config, ckpt.metrics, ckpt.history


def build(name: str, recipe: Recipe | None = None, target: Path | None = None) -> Path:
    recipe = recipe or RECIPES[name]
    print(f"{name}: {recipe.title}", flush=True)
    if recipe.preset:
        model, cfg, metrics, history = train_preset(recipe)
    else:
        model, cfg, metrics, history = train(recipe, log=lambda line: print(line, flush=True))
    data = load(cfg.data)
    target = target or checkpoints.SHIPPED_DIR / f"{name}.pt"
    trained = metrics["test_acc"]
    model = model.half().float()  # the weights as shipped (float16): the metrics describe those
    metrics = {f"{split}_{k}": v for split in ("val", "test")
               for k, v in evaluate(model, *data.split(split), "classification").items()}
    checkpoints.save(target, model, cfg, task="classification", input_shape=data.input_shape,
                     n_outputs=data.n_outputs, classes=data.classes, mean=data.mean, std=data.std,
                     metrics=metrics, history=history, half=True)
    print(f"{target}: test accuracy {metrics['test_acc']:.4f} with float16 weights ({trained:.4f} in float32) on "
          f"{len(data.y_test)} test images, {target.stat().st_size / 1024:.0f} KiB", flush=True)
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", metavar="NAME",
                        help=f"checkpoints to rebuild: {', '.join(RECIPES)} (default: all)")
    args = parser.parse_args()
    if unknown := set(args.names) - set(RECIPES):
        parser.error(f"unknown checkpoint {', '.join(sorted(unknown))}; choose from {', '.join(RECIPES)}")
    torch.set_num_threads(THREADS)
    checkpoints.SHIPPED_DIR.mkdir(parents=True, exist_ok=True)
    for name in args.names or RECIPES:
        build(name)


if __name__ == "__main__":
    main()
