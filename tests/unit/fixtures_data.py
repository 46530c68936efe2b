"""Tiny image sets in torchvision's own on-disk formats, for offline tests of the real loaders.

Shared by every test layer (unit, app, e2e): `from tests.unit.fixtures_data import write_all`,
or the `tiny_data_dir` fixture of tests/conftest.py. Each writer returns the arrays it wrote,
so a test can compare what `nnviz.data.load` gives back pixel for pixel.

- MNIST / Fashion-MNIST: uncompressed IDX files (magic 2051 for images, 2049 for labels,
  big-endian int32 sizes, then uint8 data) in <root>/MNIST/raw and <root>/FashionMNIST/raw.
- CIFAR-10: <root>/cifar-10-batches-py/data_batch_1..5 and test_batch, pickled dicts with
  b'data' (N, 3072) uint8 (1024 red, 1024 green, 1024 blue values, row-major) and
  b'labels'. Written as the official files are: Python 2 protocol-2 pickles, byte strings
  as py2 `str` opcodes, the array rebuilt by numpy.core.multiarray._reconstruct.
"""
from __future__ import annotations

import io
import os
import pickle
import struct
from pathlib import Path

import numpy as np

MNIST_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
               "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
CIFAR_FILES = tuple(f"data_batch_{i}" for i in range(1, 6)) + ("test_batch",)
FOLDERS = {"mnist": "MNIST/raw", "fashion_mnist": "FashionMNIST/raw", "cifar10": "cifar-10-batches-py"}


def idx_images_bytes(images: np.ndarray) -> bytes:
    """uint8 (N, H, W) -> an IDX3 file's bytes (magic 2051)."""
    images = np.ascontiguousarray(images, dtype=np.uint8)
    n, h, w = images.shape
    return struct.pack(">IIII", 2051, n, h, w) + images.tobytes()


def idx_labels_bytes(labels: np.ndarray) -> bytes:
    """uint8 (N,) -> an IDX1 file's bytes (magic 2049)."""
    labels = np.ascontiguousarray(labels, dtype=np.uint8)
    return struct.pack(">II", 2049, len(labels)) + labels.tobytes()


def make_images(n: int, shape: tuple[int, ...], seed: int) -> np.ndarray:
    """Seeded uint8 images, every sample different, full 0..255 range."""
    return np.random.default_rng(seed).integers(0, 256, size=(n, *shape), dtype=np.uint8)


def make_labels(n: int, seed: int, n_classes: int = 10) -> np.ndarray:
    """Seeded labels in 0..n_classes-1 that use every class when n >= n_classes."""
    labels = np.arange(n) % n_classes
    return np.random.default_rng(seed).permutation(labels).astype(np.uint8)


def write_mnist_like(root: str | os.PathLike, name: str = "mnist", n_train: int = 60, n_test: int = 20,
                     seed: int = 0) -> tuple[np.ndarray, ...]:
    """Write the four IDX files of `name` ('mnist' or 'fashion_mnist') under `root`.

    Returns (x_train (N, 28, 28), y_train, x_test, y_test) as uint8 numpy arrays.
    """
    folder = Path(root) / FOLDERS[name]
    folder.mkdir(parents=True, exist_ok=True)
    x_train, x_test = make_images(n_train, (28, 28), seed), make_images(n_test, (28, 28), seed + 1)
    y_train, y_test = make_labels(n_train, seed + 2), make_labels(n_test, seed + 3)
    (folder / "train-images-idx3-ubyte").write_bytes(idx_images_bytes(x_train))
    (folder / "train-labels-idx1-ubyte").write_bytes(idx_labels_bytes(y_train))
    (folder / "t10k-images-idx3-ubyte").write_bytes(idx_images_bytes(x_test))
    (folder / "t10k-labels-idx1-ubyte").write_bytes(idx_labels_bytes(y_test))
    return x_train, y_train, x_test, y_test


class _Py2Pickler(pickle._Pickler):  # type: ignore[name-defined]  # the pure-Python pickler
    """Protocol 2 with `bytes` written as Python 2 `str` (BINSTRING), like the official batches."""

    dispatch = dict(pickle._Pickler.dispatch)  # type: ignore[attr-defined]

    def _save_py2_str(self, obj: bytes) -> None:
        if len(obj) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(obj)]) + obj)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(obj)) + obj)
        self.memoize(obj)

    dispatch[bytes] = _save_py2_str


def py2_pickle(obj: object) -> bytes:
    """Pickle `obj` the way Python 2's cPickle (protocol 2) wrote the CIFAR-10 batches."""
    buf = io.BytesIO()
    _Py2Pickler(buf, protocol=2).dump(obj)
    # numpy 2 names its private module; the official files name numpy.core.multiarray.
    return buf.getvalue().replace(b"cnumpy._core.multiarray\n", b"cnumpy.core.multiarray\n")


def cifar_batch_bytes(images: np.ndarray, labels: np.ndarray, label: str = "batch") -> bytes:
    """uint8 (N, 3, 32, 32) images + labels -> one pickled CIFAR-10 batch."""
    data = np.ascontiguousarray(images, dtype=np.uint8).reshape(len(images), 3 * 32 * 32)
    return py2_pickle({b"batch_label": label.encode(), b"labels": [int(v) for v in labels],
                       b"data": data, b"filenames": [f"img_{i}.png".encode() for i in range(len(images))]})


def write_cifar10(root: str | os.PathLike, n_per_batch: int = 4, n_test: int = 10,
                  seed: int = 0) -> tuple[np.ndarray, ...]:
    """Write data_batch_1..5 and test_batch under <root>/cifar-10-batches-py.

    Returns (x_train (5*n_per_batch, 3, 32, 32), y_train, x_test, y_test) as numpy arrays
    in the order the batches hold them.
    """
    folder = Path(root) / FOLDERS["cifar10"]
    folder.mkdir(parents=True, exist_ok=True)
    xs, ys = [], []
    for i in range(1, 6):
        x = make_images(n_per_batch, (3, 32, 32), seed + i)
        y = make_labels(n_per_batch, seed + 10 + i)
        (folder / f"data_batch_{i}").write_bytes(cifar_batch_bytes(x, y, f"training batch {i} of 5"))
        xs.append(x)
        ys.append(y)
    x_test, y_test = make_images(n_test, (3, 32, 32), seed + 20), make_labels(n_test, seed + 21)
    (folder / "test_batch").write_bytes(cifar_batch_bytes(x_test, y_test, "testing batch 1 of 1"))
    return np.concatenate(xs), np.concatenate(ys), x_test, y_test


def write_all(root: str | os.PathLike, seed: int = 0) -> Path:
    """MNIST, Fashion-MNIST and CIFAR-10 (all tiny) under `root`; returns `root`."""
    write_mnist_like(root, "mnist", seed=seed)
    write_mnist_like(root, "fashion_mnist", seed=seed + 100)
    write_cifar10(root, seed=seed + 200)
    return Path(root)
