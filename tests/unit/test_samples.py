"""The embedded MNIST and Fashion-MNIST samples: offline, real, small, with a fixed validation split."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from nnviz.config import DataConfig
from nnviz.data import DATASETS, is_present, load
from nnviz.data.images import SAMPLES_DIR, load_raw, parse_idx
from tests.unit.fixtures_data import idx_images_bytes

SHARED = Path(__file__).resolve().parents[3] / "shared" / "datasets"  # the raw sets, where this machine has them
SAMPLES = {"mnist_sample": (7000, 1000), "fashion_mnist_sample": (3443, 1000)}


@pytest.mark.parametrize("name", SAMPLES)
def test_samples_load_with_an_empty_data_dir(name, tmp_path, monkeypatch):
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("NNVIZ_DATA_DIR", str(empty))  # nothing downloaded, no network needed
    info = DATASETS[name]
    assert info.embedded and is_present(name) and info.classes == DATASETS[info.sample_of].classes
    x_train, y_train, x_test, y_test = load_raw(name)
    assert (len(x_train), len(x_test)) == SAMPLES[name]
    assert x_train.shape[1:] == (1, 28, 28) and x_train.dtype == torch.uint8 and y_train.dtype == torch.int64
    assert set(y_test.tolist()) == set(range(10)) and min(torch.bincount(y_test).tolist()) >= 80  # every class
    assert x_test.float().mean() / 255 == pytest.approx(info.mean[0], abs=0.03)  # the full set's statistics
    assert not any(empty.iterdir()), "nothing is written to the data folder"


@pytest.mark.parametrize("name, folder", [("mnist_sample", "MNIST/raw"), ("fashion_mnist_sample", "FashionMNIST/raw")])
def test_samples_hold_exactly_the_images_they_were_built_from(name, folder):
    if not (SHARED / folder).is_dir():
        pytest.skip("the raw sample is not on this machine")
    from torchvision.datasets.mnist import read_image_file, read_label_file

    x_train, y_train, x_test, y_test = load_raw(name)
    assert torch.equal(x_train[:, 0], read_image_file(str(SHARED / folder / "train-images-idx3-ubyte")))
    assert torch.equal(y_test, read_label_file(str(SHARED / folder / "t10k-labels-idx1-ubyte")).long())


def test_the_samples_are_small_and_rebuild_from_a_torchvision_folder(tmp_path):
    assert sum(f.stat().st_size for f in SAMPLES_DIR.rglob("*") if f.is_file()) <= 3 * 2**20
    script = Path(__file__).resolve().parents[2] / "scripts" / "build_embedded_samples.py"
    assert script.is_file() and "torchvision" in script.read_text()


def test_validation_split_is_fixed():
    a = load(DataConfig(dataset="mnist_sample", seed=0))
    b = load(DataConfig(dataset="mnist_sample", seed=7))
    assert len(a.y_val) == 700 and len(a.y_train) == 6300 and len(a.y_test) == 1000
    assert torch.equal(a.x_val, b.x_val) and torch.equal(a.y_train, b.y_train)


def test_parse_idx_reads_mnist_bytes_and_refuses_others():
    images = np.arange(2 * 28 * 28, dtype=np.uint8).reshape(2, 28, 28)
    assert np.array_equal(parse_idx(idx_images_bytes(images)), images)
    with pytest.raises(ValueError, match="IDX"):
        parse_idx(b"PK\x03\x04 not an idx file")
    with pytest.raises(ValueError, match="holds"):
        parse_idx(idx_images_bytes(images)[:-5])


def test_cli_trains_on_the_mnist_sample_offline(nnviz_dirs):
    env = {"NNVIZ_RUNS_DIR": str(nnviz_dirs["runs"]), "NNVIZ_DATA_DIR": str(nnviz_dirs["data"]),
           "NNVIZ_CHECKPOINT_DIR": str(nnviz_dirs["checkpoints"]), "PYTHONPATH": str(Path(__file__).parents[2])}
    done = subprocess.run([sys.executable, "-m", "nnviz", "train", "--dataset", "mnist_sample", "--max-steps", "3",
                           "--epochs", "1", "--json"], cwd=Path(__file__).parents[2], env={**os.environ, **env},
                          capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr
    assert '"test_accuracy"' in done.stdout.splitlines()[-1]
