"""Image-set registry: embedded `digits` and MNIST / Fashion-MNIST samples, and the full sets on disk.

The samples are real images (MNIST: 7,000 + 1,000 digits, Fashion-MNIST: 3,443 + 1,000
pictures, all from the official test splits) stored xz-compressed in nnviz/data/samples/
(rebuilt by scripts/build_embedded_samples.py), so they load with no network and no data folder.

Every set is loaded once into uint8 tensors (N, C, H, W) and kept in memory; callers
normalise and split with fixed permutations, so the validation split never changes.
"""
from __future__ import annotations

import functools
import lzma
import os
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch


class DatasetMissing(RuntimeError):
    """An image set is not on disk and could not be fetched; the message says what to do."""


@dataclass(frozen=True)
class ImageDatasetInfo:
    name: str
    title: str
    classes: tuple[str, ...]
    shape: tuple[int, int, int]  # (C, H, W) of one model input
    mean: tuple[float, ...]  # per-channel normalisation of [0, 1] pixels
    std: tuple[float, ...]
    folder: str  # under the data dir ('' for embedded sets)
    files: tuple[str, ...]  # required files inside `folder`
    download_mb: int  # size of the download
    embedded: bool = False
    sample_of: str = ""  # embedded samples: the full set they were taken from (same classes, statistics, rule)


_MNIST_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
SAMPLES_DIR = Path(__file__).resolve().parent / "samples"  # <name>/<IDX file>.xz
_CIFAR_FILES = tuple(f"data_batch_{i}" for i in range(1, 6)) + ("test_batch",)

DATASETS: dict[str, ImageDatasetInfo] = {
    "digits": ImageDatasetInfo(
        "digits", "Digits (scikit-learn, embedded)", tuple(str(i) for i in range(10)),
        (1, 28, 28), (0.1556,), (0.2772,), "", (), 0, embedded=True),
    "mnist_sample": ImageDatasetInfo(
        "mnist_sample", "MNIST sample (8,000 real digits, embedded)", tuple(str(i) for i in range(10)),
        (1, 28, 28), (0.1307,), (0.3081,), "", _MNIST_FILES, 0, embedded=True, sample_of="mnist"),
    "fashion_mnist_sample": ImageDatasetInfo(
        "fashion_mnist_sample", "Fashion-MNIST sample (4,443 images, embedded)",
        ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
         "Sneaker", "Bag", "Ankle boot"),
        (1, 28, 28), (0.2860,), (0.3530,), "", _MNIST_FILES, 0, embedded=True, sample_of="fashion_mnist"),
    "mnist": ImageDatasetInfo(
        "mnist", "MNIST", tuple(str(i) for i in range(10)), (1, 28, 28),
        (0.1307,), (0.3081,), "MNIST/raw", _MNIST_FILES, 12),
    "fashion_mnist": ImageDatasetInfo(
        "fashion_mnist", "Fashion-MNIST",
        ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
         "Sneaker", "Bag", "Ankle boot"),
        (1, 28, 28), (0.2860,), (0.3530,), "FashionMNIST/raw", _MNIST_FILES, 30),
    "cifar10": ImageDatasetInfo(
        "cifar10", "CIFAR-10",
        ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"),
        (3, 32, 32), (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616),
        "cifar-10-batches-py", _CIFAR_FILES, 163),
    "class_canvas": ImageDatasetInfo(  # the class's own drawings (nnviz.classset), MNIST's geometry and statistics
        "class_canvas", "Class canvas (the class's own drawings)", tuple(str(i) for i in range(10)), (1, 28, 28),
        (0.1307,), (0.3081,), "", (), 0, embedded=True),
}
SAMPLES = {info.sample_of: name for name, info in DATASETS.items() if info.sample_of}  # full set -> embedded sample
DIGITS_TEST_FRACTION = 0.2  # digits has no official test split; this fixed share is held out


def data_dir(path: str | os.PathLike | None = None) -> Path:
    """The torchvision root: `path`, else $NNVIZ_DATA_DIR, else ./data."""
    return Path(path or os.environ.get("NNVIZ_DATA_DIR") or "data").expanduser()


def missing_files(name: str, root: str | os.PathLike | None = None) -> list[Path]:
    """Required files of set `name` that are not under the data dir (empty when present)."""
    info = DATASETS[name]
    if info.embedded:
        return []
    folder = data_dir(root) / info.folder
    return [folder / f for f in info.files if not (folder / f).is_file()]


def is_present(name: str, root: str | os.PathLike | None = None) -> bool:
    return name in DATASETS and not missing_files(name, root)


def missing_message(name: str, root: str | os.PathLike | None = None, reason: str = "") -> str:
    """One paragraph: what is missing, where it must go, how to get it, what works now."""
    info = DATASETS[name]
    folder = data_dir(root).resolve() / info.folder
    lead = f"{info.title} is not in the data folder {data_dir(root).resolve()}"
    why = f" and could not be downloaded ({reason})" if reason else ""
    return (f"{lead}{why}. Put the files {', '.join(info.files)} into {folder} "
            f"(torchvision's layout), for example by running `python -m nnviz download {name} "
            f"--data-dir DIR` on a machine with internet and copying DIR here, or point "
            f"NNVIZ_DATA_DIR (or --data-dir) at a folder that has them. The embedded `digits` "
            f"set works offline.")


def load_raw(name: str, root: str | os.PathLike | None = None) -> tuple[torch.Tensor, ...]:
    """(x_train, y_train, x_test, y_test): images uint8 (N, C, H, W), labels int64 (N,)."""
    if name not in DATASETS:
        raise ValueError(f"unknown image set {name!r}; choose from {', '.join(DATASETS)}")
    if name == "digits":
        return _load_digits()
    if name == "class_canvas":  # read fresh each time: the class keeps drawing
        from nnviz.classset.dataset import TooFewDrawings, load_raw as load_class_set

        try:
            return load_class_set()
        except TooFewDrawings as exc:
            raise DatasetMissing(str(exc)) from None
    if DATASETS[name].sample_of:
        return _load_sample(name)
    if missing_files(name, root):
        raise DatasetMissing(missing_message(name, root))
    folder = data_dir(root).resolve() / DATASETS[name].folder
    signature = tuple((f, (folder / f).stat().st_mtime_ns) for f in DATASETS[name].files)
    try:
        return _load_files(name, str(folder), signature)
    except DatasetMissing:
        raise
    except Exception as exc:  # a truncated or foreign file: say which set and where
        raise DatasetMissing(f"{DATASETS[name].title} files in {folder} could not be read "
                             f"({type(exc).__name__}: {exc}). Delete them and download again, "
                             "or use the embedded `digits` set.") from None


@functools.lru_cache(maxsize=1)
def _load_digits() -> tuple[torch.Tensor, ...]:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = torch.from_numpy(bunch.images.astype(np.float32) / 16.0)[:, None]  # (N, 1, 8, 8)
    # MNIST geometry: the digit fills a 20x20 box centred in a 28x28 frame.
    box = torch.nn.functional.interpolate(images, size=(20, 20), mode="bilinear", align_corners=False)
    frame = torch.nn.functional.pad(box, (4, 4, 4, 4))  # (N, 1, 28, 28)
    pixels = (frame.clamp(0, 1) * 255).round().to(torch.uint8)
    labels = torch.from_numpy(bunch.target.astype(np.int64))
    order = torch.from_numpy(np.random.default_rng(0).permutation(len(labels)))
    n_test = int(round(len(labels) * DIGITS_TEST_FRACTION))
    test, train = order[:n_test], order[n_test:]
    return pixels[train], labels[train], pixels[test], labels[test]


@functools.lru_cache(maxsize=2)
def _load_sample(name: str) -> tuple[torch.Tensor, ...]:
    files = [lzma.decompress((SAMPLES_DIR / name / f"{f}.xz").read_bytes()) for f in DATASETS[name].files]
    x_train, y_train, x_test, y_test = (torch.from_numpy(parse_idx(b)) for b in files)
    return x_train[:, None].contiguous(), y_train.long(), x_test[:, None].contiguous(), y_test.long()


def parse_idx(raw: bytes) -> np.ndarray:
    """An uncompressed IDX file of unsigned bytes (MNIST's format) -> uint8 array of its shape."""
    if len(raw) < 4 or raw[:3] != b"\0\0\x08":
        raise ValueError("not an IDX file of unsigned bytes")
    dims = np.frombuffer(raw, ">i4", count=raw[3], offset=4).astype(int)
    data = np.frombuffer(raw, np.uint8, offset=4 + 4 * raw[3])
    if data.size != int(np.prod(dims)):
        raise ValueError(f"IDX header says {tuple(dims)} but holds {data.size} bytes")
    return data.reshape(dims).copy()


@functools.lru_cache(maxsize=4)
def _load_files(name: str, folder: str, signature: tuple) -> tuple[torch.Tensor, ...]:
    """Cached by folder and file mtimes, so replaced files are read again."""
    reader: Callable[[Path], tuple[torch.Tensor, ...]] = _read_cifar if name == "cifar10" else _read_idx_set
    return reader(Path(folder))


def _read_idx_set(folder: Path) -> tuple[torch.Tensor, ...]:
    from torchvision.datasets.mnist import read_image_file, read_label_file

    out = []
    for split in ("train", "t10k"):
        images = read_image_file(str(folder / f"{split}-images-idx3-ubyte"))  # (N, 28, 28) uint8
        labels = read_label_file(str(folder / f"{split}-labels-idx1-ubyte")).long()
        if len(images) != len(labels):
            raise ValueError(f"{split}: {len(images)} images but {len(labels)} labels")
        out += [images[:, None].contiguous(), labels]
    return tuple(out)


class _ArrayOnlyUnpickler(pickle.Unpickler):
    """Unpickles CIFAR batches: dicts, lists, bytes and numpy arrays, nothing callable."""

    _ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
                ("numpy", "ndarray"), ("numpy", "dtype"),
                ("numpy.core.numeric", "_frombuffer"), ("numpy._core.numeric", "_frombuffer"),  # protocol 5
                ("_codecs", "encode")}  # bytes written by Python 3 with protocol 2

    def find_class(self, module: str, name: str):  # noqa: ANN201
        if (module, name) in self._ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a data file")


def _read_cifar_batch(path: Path) -> tuple[torch.Tensor, torch.Tensor]:
    with open(path, "rb") as fh:
        batch = _ArrayOnlyUnpickler(fh, encoding="latin1").load()
    batch = {(k.decode() if isinstance(k, bytes) else k): v for k, v in batch.items()}
    data = np.asarray(batch["data"], dtype=np.uint8).reshape(-1, 3, 32, 32)  # (N, C, H, W)
    labels = np.asarray(batch.get("labels", batch.get("fine_labels")), dtype=np.int64)
    return torch.from_numpy(data.copy()), torch.from_numpy(labels)


def _read_cifar(folder: Path) -> tuple[torch.Tensor, ...]:
    train = [_read_cifar_batch(folder / f"data_batch_{i}") for i in range(1, 6)]
    x_test, y_test = _read_cifar_batch(folder / "test_batch")
    return (torch.cat([x for x, _ in train]), torch.cat([y for _, y in train]), x_test, y_test)


def download(name: str, root: str | os.PathLike | None = None,
             progress: Callable[[float], None] | None = None) -> Path:
    """Fetch set `name` through torchvision into the data dir; DatasetMissing when offline."""
    info = DATASETS[name]
    if info.embedded or is_present(name, root):
        if progress:
            progress(1.0)
        return data_dir(root)
    import torchvision.datasets as tvd

    cls = {"mnist": tvd.MNIST, "fashion_mnist": tvd.FashionMNIST, "cifar10": tvd.CIFAR10}[name]
    root_path = data_dir(root)
    root_path.mkdir(parents=True, exist_ok=True)
    try:
        for i, train in enumerate((True, False)):
            cls(str(root_path), train=train, download=True)
            if progress:
                progress((i + 1) / 2)
    except Exception as exc:  # no network, a proxy page, a full disk: all end the same way
        raise DatasetMissing(missing_message(name, root, reason=f"{type(exc).__name__}: {exc}")) from None
    if missing_files(name, root):
        raise DatasetMissing(missing_message(name, root, reason="the download left files missing"))
    return root_path
