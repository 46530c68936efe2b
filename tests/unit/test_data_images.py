"""nnviz.data.images and nnviz.data.load for image sets: embedded digits, and tiny files in
torchvision's on-disk formats (IDX for MNIST-like sets, pickled batches for CIFAR-10)."""
from __future__ import annotations

import os
import pickle

import numpy as np
import pytest
import torch

from nnviz.config import DataConfig
from nnviz.data import DATASETS, DatasetMissing, data_dir, denormalise, images, is_present, load, normalise
from nnviz.data.images import load_raw
from tests.unit.fixtures_data import CIFAR_FILES, FOLDERS, MNIST_FILES, write_all, write_cifar10, write_mnist_like


def pixels_of(x: torch.Tensor, name: str) -> np.ndarray:
    """Normalised tensors back to the uint8 pixels they came from."""
    return (denormalise(x, DATASETS[name]) * 255).round().to(torch.uint8).numpy()


def row_keys(x: np.ndarray) -> list[bytes]:
    return [row.tobytes() for row in x]


@pytest.fixture(scope="module")
def digits():
    return load(DataConfig(dataset="digits"))


class TestDigits:
    def test_mnist_geometry_and_classes(self, digits):
        assert digits.task == "classification"
        assert digits.input_shape == (1, 28, 28)
        assert digits.x_train.shape[1:] == (1, 28, 28) and digits.x_test.shape[1:] == (1, 28, 28)
        assert digits.n_outputs == 10 and len(digits.classes) == 10
        assert digits.x_train.dtype == torch.float32 and digits.y_train.dtype == torch.int64
        assert set(digits.y_train.tolist()) == set(range(10))
        assert set(digits.y_test.tolist()) == set(range(10))

    def test_fixed_split_sizes(self, digits):
        # 1797 scikit-learn digits: 20 % test (359), then 10 % of the rest for validation.
        assert (len(digits.x_train), len(digits.x_val), len(digits.x_test)) == (1294, 144, 359)
        assert len(digits.y_train) == 1294 and len(digits.y_val) == 144 and len(digits.y_test) == 359

    def test_normalised_on_train(self, digits):
        assert abs(float(digits.x_train.mean())) < 0.05
        assert float(digits.x_train.std()) == pytest.approx(1.0, abs=0.05)

    def test_digit_is_centred_in_a_20px_box(self):
        x_train, *_ = load_raw("digits")
        assert x_train.dtype == torch.uint8
        border = torch.ones(28, 28, dtype=torch.bool)
        border[4:24, 4:24] = False
        assert int(x_train[:, 0][:, border].max()) == 0  # 4-pixel empty frame, as MNIST
        assert int(x_train.max()) == 255

    def test_split_ignores_seed_and_test_set_ignores_val_fraction(self, digits):
        other_seed = load(DataConfig(dataset="digits", seed=99))
        assert other_seed.x_train.equal(digits.x_train) and other_seed.y_val.equal(digits.y_val)
        more_val = load(DataConfig(dataset="digits", val_fraction=0.3))
        assert more_val.x_test.equal(digits.x_test)
        assert len(more_val.x_val) == round(1438 * 0.3)

    def test_train_fraction_gives_nested_subsets(self, digits):
        half = load(DataConfig(dataset="digits", train_fraction=0.5))
        quarter = load(DataConfig(dataset="digits", train_fraction=0.25))
        assert len(half.x_train) == round(1294 * 0.5) and len(quarter.x_train) == round(1294 * 0.25)
        full_rows = set(row_keys(digits.x_train.numpy()))
        half_rows = set(row_keys(half.x_train.numpy()))
        assert half_rows <= full_rows
        assert set(row_keys(quarter.x_train.numpy())) <= half_rows
        assert half.x_val.equal(digits.x_val) and half.x_test.equal(digits.x_test)

    def test_denormalise_inverts_normalise(self):
        pixels = torch.arange(256, dtype=torch.uint8).view(1, 1, 16, 16)
        back = denormalise(normalise(pixels, DATASETS["mnist"]), DATASETS["mnist"])
        torch.testing.assert_close(back, pixels.float() / 255, atol=1e-6, rtol=0)


class TestMnistLikeFiles:
    @pytest.mark.parametrize("name", ["mnist", "fashion_mnist"])
    def test_raw_pixels_and_labels_round_trip(self, tmp_path, name):
        x_train, y_train, x_test, y_test = write_mnist_like(tmp_path, name, n_train=30, n_test=12, seed=3)
        assert is_present(name, tmp_path)
        rx_train, ry_train, rx_test, ry_test = load_raw(name, tmp_path)
        assert rx_train.dtype == torch.uint8 and rx_train.shape == (30, 1, 28, 28)
        assert ry_train.dtype == torch.int64
        np.testing.assert_array_equal(rx_train[:, 0].numpy(), x_train)
        np.testing.assert_array_equal(rx_test[:, 0].numpy(), x_test)
        np.testing.assert_array_equal(ry_train.numpy(), y_train)
        np.testing.assert_array_equal(ry_test.numpy(), y_test)

    @pytest.mark.parametrize("name", ["mnist", "fashion_mnist"])
    def test_load_gives_normalised_tensors(self, tmp_path, name):
        x_train, y_train, x_test, y_test = write_mnist_like(tmp_path, name, n_train=30, n_test=12, seed=4)
        data = load(DataConfig(dataset=name, data_dir=str(tmp_path)))
        assert data.input_shape == (1, 28, 28) and data.n_outputs == 10
        assert data.classes == DATASETS[name].classes
        assert (len(data.x_train), len(data.x_val), len(data.x_test)) == (27, 3, 12)
        np.testing.assert_array_equal(data.y_test.numpy(), y_test)
        np.testing.assert_array_equal(pixels_of(data.x_test, name)[:, 0], x_test)
        # train + val together are exactly the written training images with their labels
        pooled = sorted(zip(row_keys(pixels_of(torch.cat([data.x_train, data.x_val]), name)[:, 0]),
                            torch.cat([data.y_train, data.y_val]).tolist()))
        assert pooled == sorted(zip(row_keys(x_train), y_train.tolist()))

    def test_data_dir_from_environment(self, tmp_path, monkeypatch):
        root = tmp_path / "env-data"
        _, _, _, y_test = write_mnist_like(root, "mnist", n_train=20, n_test=5)
        monkeypatch.setenv("NNVIZ_DATA_DIR", str(root))
        assert data_dir() == root
        assert data_dir(tmp_path / "explicit") == tmp_path / "explicit"
        np.testing.assert_array_equal(load(DataConfig(dataset="mnist")).y_test.numpy(), y_test)

    def test_replaced_files_are_read_again(self, tmp_path):
        write_mnist_like(tmp_path, "mnist", n_train=20, n_test=5, seed=1)
        first = load_raw("mnist", tmp_path)[0].clone()
        x_new, *_ = write_mnist_like(tmp_path, "mnist", n_train=20, n_test=5, seed=2)
        folder = tmp_path / FOLDERS["mnist"]
        for f in MNIST_FILES:  # a later mtime, even on a coarse-clock file system
            st = os.stat(folder / f)
            os.utime(folder / f, ns=(st.st_atime_ns, st.st_mtime_ns + 2_000_000_000))
        second = load_raw("mnist", tmp_path)[0]
        assert not second.equal(first)
        np.testing.assert_array_equal(second[:, 0].numpy(), x_new)


class TestCifarFiles:
    def test_raw_pixels_and_labels_round_trip(self, tmp_path):
        x_train, y_train, x_test, y_test = write_cifar10(tmp_path, n_per_batch=3, n_test=7, seed=5)
        rx_train, ry_train, rx_test, ry_test = load_raw("cifar10", tmp_path)
        assert rx_train.shape == (15, 3, 32, 32) and rx_test.shape == (7, 3, 32, 32)
        assert rx_train.dtype == torch.uint8 and ry_train.dtype == torch.int64
        np.testing.assert_array_equal(rx_train.numpy(), x_train)
        np.testing.assert_array_equal(rx_test.numpy(), x_test)
        np.testing.assert_array_equal(ry_train.numpy(), y_train)
        np.testing.assert_array_equal(ry_test.numpy(), y_test)

    def test_channel_layout_is_red_green_blue_planes(self, tmp_path):
        x_train, *_ = write_cifar10(tmp_path, n_per_batch=2, n_test=2, seed=6)
        rx_train = load_raw("cifar10", tmp_path)[0]
        flat = x_train.reshape(len(x_train), 3072)  # what the batch file stores
        # pixel (row 5, col 7) of the green plane is value 1024 + 5 * 32 + 7 of a stored row
        assert int(rx_train[1, 1, 5, 7]) == int(flat[1, 1024 + 5 * 32 + 7])
        assert int(rx_train[0, 2, 31, 0]) == int(flat[0, 2048 + 31 * 32])

    def test_load_gives_normalised_tensors(self, tmp_path):
        _, _, x_test, y_test = write_cifar10(tmp_path, n_per_batch=4, n_test=6, seed=7)
        data = load(DataConfig(dataset="cifar10", data_dir=str(tmp_path)))
        assert data.input_shape == (3, 32, 32) and data.n_outputs == 10
        assert data.x_train.shape[1:] == (3, 32, 32)
        assert len(data.x_train) + len(data.x_val) == 20 and len(data.x_test) == 6
        assert data.mean == DATASETS["cifar10"].mean
        np.testing.assert_array_equal(data.y_test.numpy(), y_test)
        np.testing.assert_array_equal(pixels_of(data.x_test, "cifar10"), x_test)

    def test_python3_pickled_batches_also_load(self, tmp_path):
        x_train, y_train, _, _ = write_cifar10(tmp_path, n_per_batch=2, n_test=2, seed=8)
        folder = tmp_path / FOLDERS["cifar10"]
        data = x_train[:2].reshape(2, 3072)
        (folder / "data_batch_1").write_bytes(pickle.dumps({b"data": data, b"labels": y_train[:2].tolist()},
                                                           protocol=4))
        np.testing.assert_array_equal(load_raw("cifar10", tmp_path)[0][:2].numpy(), x_train[:2])

    def test_a_batch_that_pickles_a_callable_is_refused(self, tmp_path):
        write_cifar10(tmp_path, n_per_batch=2, n_test=2)
        marker = tmp_path / "pwned"

        class Evil:
            def __reduce__(self):
                return (os.system, (f"touch {marker}",))

        (tmp_path / FOLDERS["cifar10"] / "data_batch_1").write_bytes(
            pickle.dumps({b"data": Evil(), b"labels": [0]}, protocol=2))
        with pytest.raises(DatasetMissing, match="refusing"):
            load(DataConfig(dataset="cifar10", data_dir=str(tmp_path)))
        assert not marker.exists()


class TestMissingOrBroken:
    @pytest.mark.parametrize("name", ["mnist", "fashion_mnist", "cifar10"])
    def test_empty_data_dir(self, tmp_path, name):
        assert not is_present(name, tmp_path)
        with pytest.raises(DatasetMissing) as info:
            load(DataConfig(dataset=name, data_dir=str(tmp_path)))
        message = str(info.value)
        assert str(tmp_path.resolve()) in message
        assert str(tmp_path.resolve() / DATASETS[name].folder) in message
        assert f"python -m nnviz download {name}" in message
        assert "\n" not in message  # one paragraph for the UI

    def test_one_missing_file_counts_as_missing(self, tmp_path):
        write_mnist_like(tmp_path, "mnist")
        (tmp_path / FOLDERS["mnist"] / "t10k-labels-idx1-ubyte").unlink()
        assert images.missing_files("mnist", tmp_path) == [tmp_path / FOLDERS["mnist"] / "t10k-labels-idx1-ubyte"]
        with pytest.raises(DatasetMissing, match="t10k-labels-idx1-ubyte"):
            load_raw("mnist", tmp_path)

    @pytest.mark.parametrize("victim", MNIST_FILES)
    def test_truncated_idx_file(self, tmp_path, victim):
        write_mnist_like(tmp_path, "mnist", n_train=20, n_test=6)
        path = tmp_path / FOLDERS["mnist"] / victim
        raw = path.read_bytes()
        path.write_bytes(raw[: len(raw) // 2 + 3])
        with pytest.raises(DatasetMissing) as info:
            load(DataConfig(dataset="mnist", data_dir=str(tmp_path)))
        assert "could not be read" in str(info.value)
        assert str(path.parent) in str(info.value)

    def test_idx_file_with_wrong_magic(self, tmp_path):
        write_mnist_like(tmp_path, "fashion_mnist", n_train=20, n_test=6)
        (tmp_path / FOLDERS["fashion_mnist"] / "train-images-idx3-ubyte").write_bytes(b"<html>proxy login</html>")
        with pytest.raises(DatasetMissing, match="Fashion-MNIST"):
            load_raw("fashion_mnist", tmp_path)

    def test_label_count_mismatch(self, tmp_path):
        write_mnist_like(tmp_path, "mnist", n_train=20, n_test=6)
        x_other, *_ = write_mnist_like(tmp_path / "other", "mnist", n_train=25, n_test=6)
        other = tmp_path / "other" / FOLDERS["mnist"] / "train-images-idx3-ubyte"
        (tmp_path / FOLDERS["mnist"] / "train-images-idx3-ubyte").write_bytes(other.read_bytes())
        with pytest.raises(DatasetMissing, match="25 images but 20 labels"):
            load_raw("mnist", tmp_path)

    @pytest.mark.parametrize("victim", CIFAR_FILES)
    def test_truncated_cifar_batch(self, tmp_path, victim):
        write_cifar10(tmp_path, n_per_batch=2, n_test=2)
        path = tmp_path / FOLDERS["cifar10"] / victim
        path.write_bytes(path.read_bytes()[:200])
        with pytest.raises(DatasetMissing, match="CIFAR-10"):
            load_raw("cifar10", tmp_path)

    def test_unknown_dataset(self):
        with pytest.raises(ValueError, match="unknown dataset"):
            load(DataConfig(dataset="imagenet"))
        with pytest.raises(ValueError, match="unknown image set"):
            load_raw("imagenet")


def test_download_is_a_no_op_when_the_files_are_there(tmp_path):
    write_all(tmp_path)
    seen = []
    for name in ("mnist", "fashion_mnist", "cifar10", "digits"):
        assert images.download(name, tmp_path, progress=seen.append) == tmp_path
    assert seen == [1.0] * 4


def test_tiny_data_dir_fixture_holds_every_on_disk_set(tiny_data_dir):
    for name, info in DATASETS.items():
        assert info.embedded or is_present(name, tiny_data_dir)
