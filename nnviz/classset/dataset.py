"""The class set as a dataset: train / held-out tensors for runs, and exports (.npz, a torchvision folder).

Registered in nnviz.data.images as `class_canvas`, so a run, the CLI and the labs load it like any
image set: its "train" split is every drawing not held out, its "test" split the held-out part
(nnviz.classset.store.is_held_out). The images are MNIST's geometry and are normalised with MNIST's
statistics, so the shipped MNIST models read them as they read MNIST and can be fine-tuned on them.
"""
from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from nnviz.classset.store import ClassStore
from nnviz.jobs import storage

NAME = "class_canvas"
MIN_TRAIN, MIN_HELD_OUT = 10, 2  # fewer drawings than this cannot train and be compared


class TooFewDrawings(RuntimeError):
    """The class set is too small to train on; the message says how many more are needed."""


def load_raw(store: ClassStore | None = None) -> tuple[torch.Tensor, ...]:
    """(x_train, y_train, x_test, y_test) as nnviz.data.images.load_raw gives them: uint8 (N, 1, 28, 28), int64."""
    a = (store or ClassStore()).arrays()
    train, held = ~a["held_out"], a["held_out"]
    if train.sum() < MIN_TRAIN or held.sum() < MIN_HELD_OUT:
        raise TooFewDrawings(f"The class set has {len(a['ids'])} drawings ({int(train.sum())} to train on, "
                             f"{int(held.sum())} held out); collect at least {MIN_TRAIN} + {MIN_HELD_OUT} "
                             "on the Class canvas page first.")
    x = torch.from_numpy(a["pixels"])[:, None]  # (N, 1, 28, 28) uint8
    y = torch.from_numpy(a["labels"])
    tr, ho = torch.from_numpy(train), torch.from_numpy(held)
    return x[tr].contiguous(), y[tr], x[ho].contiguous(), y[ho]


def export_npz(store: ClassStore) -> bytes:
    """The set as an .npz: x (N, 28, 28) uint8, y (N,), ids (N,), held_out (N,) bool."""
    a = store.arrays()
    buf = io.BytesIO()
    np.savez_compressed(buf, x=a["pixels"], y=a["labels"], ids=a["ids"], held_out=a["held_out"])
    return buf.getvalue()


def _png(pixels: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(pixels, mode="L").save(buf, format="PNG")
    return buf.getvalue()


def export_folder(store: ClassStore, root: str | os.PathLike) -> Path:
    """torchvision ImageFolder layout: root/train/<digit>/<id>.png and root/test/<digit>/<id>.png (held out)."""
    root = Path(root)
    a = store.arrays()
    for i, label, pixels, held in zip(a["ids"], a["labels"], a["pixels"], a["held_out"]):
        folder = root / ("test" if held else "train") / str(int(label))
        folder.mkdir(parents=True, exist_ok=True)
        storage.atomic_write_bytes(folder / f"{int(i)}.png", _png(pixels))
    return root


def export_zip(store: ClassStore) -> bytes:
    """The torchvision folder layout as a zip archive (for a download button)."""
    a = store.arrays()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:  # PNGs are compressed already
        for i, label, pixels, held in zip(a["ids"], a["labels"], a["pixels"], a["held_out"]):
            zf.writestr(f"{NAME}/{'test' if held else 'train'}/{int(label)}/{int(i)}.png", _png(pixels))
    return buf.getvalue()
