"""nnviz.model.checkpoints: safe save / load / list; hostile and broken files get clear errors."""
from __future__ import annotations

import os
import pickle

import numpy as np
import pytest
import torch

from nnviz.config import ConvBlock, DataConfig, ModelConfig, RunConfig, TrainConfig
from nnviz.data import load
from nnviz.model import checkpoints
from nnviz.model.checkpoints import CheckpointError
from nnviz.model.models import build_model
from nnviz.training.train import evaluate

CNN = ModelConfig(hidden=(16,), conv=(ConvBlock(4, 3, batch_norm=True), ConvBlock(8, 3, pool="avg")), dropout=0.2)
CONFIG = RunConfig(data=DataConfig(dataset="digits"), model=CNN, train=TrainConfig(epochs=2), preset="", name="ck")
META = {"task": "classification", "input_shape": (1, 28, 28), "n_outputs": 10,
        "classes": tuple(str(i) for i in range(10)), "mean": (0.1556,), "std": (0.2772,)}


@pytest.fixture
def model():
    torch.manual_seed(0)
    m = build_model(CNN, (1, 28, 28), 10)
    with torch.no_grad():  # make batch-norm buffers non-trivial so they must round-trip too
        m.train()(torch.randn(8, 1, 28, 28) * 3 + 1)
    return m.eval()


def save(path, model, config=CONFIG, **kw):
    return checkpoints.save(path, model, config, **{**META, **kw})


class TestRoundTrip:
    def test_identical_outputs_after_reload(self, tmp_path, model):
        path = save(tmp_path / "a.pt", model, metrics={"test_acc": 0.5}, history={"epochs": [{"epoch": 0}]})
        ckpt = checkpoints.load(path)
        x = torch.randn(5, 1, 28, 28)
        reloaded = ckpt.model()
        assert not reloaded.training
        torch.testing.assert_close(reloaded(x), model(x), atol=0, rtol=0)
        for key, value in model.state_dict().items():
            assert torch.equal(ckpt.state_dict[key], value)
        assert ckpt.config == CONFIG and ckpt.path == path
        assert ckpt.task == "classification" and ckpt.input_shape == (1, 28, 28) and ckpt.n_outputs == 10
        assert ckpt.classes == META["classes"] and ckpt.mean == (0.1556,) and ckpt.std == (0.2772,)
        assert ckpt.metrics == {"test_acc": 0.5} and ckpt.history == {"epochs": [{"epoch": 0}]}
        assert ckpt.saved_at > 0

    def test_load_from_uploaded_bytes(self, tmp_path, model):
        path = save(tmp_path / "a.pt", model)
        ckpt = checkpoints.load(path.read_bytes())
        x = torch.randn(2, 1, 28, 28)
        torch.testing.assert_close(ckpt.model()(x), model(x), atol=0, rtol=0)
        assert ckpt.path is None

    def test_numpy_and_torch_scalars_in_metrics_are_stored_as_plain_numbers(self, tmp_path, model):
        path = save(tmp_path / "a.pt", model, metrics={"acc": np.float32(0.25), "loss": torch.tensor(1.5).item(),
                                                       "n": np.int64(3)})
        metrics = checkpoints.load(path).metrics
        assert metrics == {"acc": 0.25, "loss": 1.5, "n": 3.0}
        assert all(type(v) is float for v in metrics.values())

    def test_half_precision_weights_load_back_as_float32(self, tmp_path, model):
        path = save(tmp_path / "half.pt", model, half=True)
        ckpt = checkpoints.load(path)
        assert ckpt.state_dict["conv1.weight"].dtype == torch.float16
        reloaded = ckpt.model()
        assert reloaded.conv1.weight.dtype == torch.float32
        x = torch.randn(4, 1, 28, 28)
        torch.testing.assert_close(reloaded(x), model(x), atol=2e-2, rtol=2e-2)
        assert path.stat().st_size < save(tmp_path / "full.pt", model).stat().st_size

    def test_save_overwrites_atomically(self, tmp_path, model):
        path = tmp_path / "a.pt"
        save(path, model, metrics={"v": 1.0})
        save(path, model, metrics={"v": 2.0})
        assert checkpoints.load(path).metrics == {"v": 2.0}
        assert sorted(p.name for p in tmp_path.iterdir()) == ["a.pt"]  # no temp files left


class Evil:
    """Unpickling this would run a shell command."""

    def __init__(self, marker) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.filterwarnings("ignore:Detected pickle protocol:UserWarning")  # torch notes plain pickles' protocol
class TestRefuses:
    def test_torch_file_that_would_run_code(self, tmp_path):
        marker = tmp_path / "pwned"
        path = tmp_path / "evil.pt"
        torch.save({"format": checkpoints.FORMAT, "version": 1, "payload": Evil(marker)}, path)
        with pytest.raises(CheckpointError, match="refuses"):
            checkpoints.load(path)
        with pytest.raises(CheckpointError, match="refuses"):
            checkpoints.load(path.read_bytes())
        assert not marker.exists()

    def test_plain_pickle_that_would_run_code(self, tmp_path):
        marker = tmp_path / "pwned"
        path = tmp_path / "evil.pkl"
        path.write_bytes(pickle.dumps({"state_dict": Evil(marker)}))
        with pytest.raises(CheckpointError, match="refuses"):
            checkpoints.load(path)
        assert not marker.exists()

    def test_plain_pickle_of_harmless_data(self, tmp_path):
        path = tmp_path / "plain.pkl"
        path.write_bytes(pickle.dumps({"format": checkpoints.FORMAT, "weights": [1.0, 2.0]}))
        with pytest.raises(CheckpointError):
            checkpoints.load(path)

    @pytest.mark.parametrize("keep", [0.5, 0.1])
    def test_truncated_file(self, tmp_path, model, keep):
        path = save(tmp_path / "a.pt", model)
        raw = path.read_bytes()
        path.write_bytes(raw[: int(len(raw) * keep)])
        with pytest.raises(CheckpointError, match="truncated"):
            checkpoints.load(path)

    @pytest.mark.parametrize("payload", [
        {"state_dict": {"w": torch.zeros(2)}},  # a bare training checkpoint
        {"format": "something-else", "version": 1},
        [torch.zeros(3)],
    ])
    def test_torch_file_without_the_nnviz_header(self, tmp_path, payload):
        path = tmp_path / "foreign.pt"
        torch.save(payload, path)
        with pytest.raises(CheckpointError, match="not an nnviz checkpoint"):
            checkpoints.load(path)

    def test_other_format_version(self, tmp_path):
        path = tmp_path / "v9.pt"
        torch.save({"format": checkpoints.FORMAT, "version": 9, "meta": "{}", "state_dict": {}}, path)
        with pytest.raises(CheckpointError, match="version 9"):
            checkpoints.load(path)

    def test_damaged_meta(self, tmp_path):
        path = tmp_path / "damaged.pt"
        torch.save({"format": checkpoints.FORMAT, "version": 1, "meta": "{not json", "state_dict": {}}, path)
        with pytest.raises(CheckpointError, match="meta data is not valid JSON"):
            checkpoints.load(path)

    def test_state_dict_of_non_tensors(self, tmp_path, model):
        good = checkpoints.load(save(tmp_path / "a.pt", model))
        path = tmp_path / "bad.pt"
        torch.save({"format": checkpoints.FORMAT, "version": 1,
                    "meta": torch.load(tmp_path / "a.pt", weights_only=True)["meta"],
                    "state_dict": {k: 1.0 for k in good.state_dict}}, path)
        with pytest.raises(CheckpointError, match="plain state dict"):
            checkpoints.load(path)

    def test_weights_of_another_architecture(self, tmp_path, model):
        other = RunConfig(data=CONFIG.data, model=ModelConfig(hidden=(32,)), train=CONFIG.train)
        path = save(tmp_path / "mismatch.pt", model, config=other)
        ckpt = checkpoints.load(path)  # the file itself is fine ...
        with pytest.raises(CheckpointError, match="do not fit"):
            ckpt.model()  # ... but the weights are not for its architecture

    def test_missing_file(self, tmp_path):
        with pytest.raises(CheckpointError, match="No checkpoint"):
            checkpoints.load(tmp_path / "absent.pt")

    def test_random_bytes_and_empty_file(self, tmp_path):
        for raw in (b"", np.random.default_rng(0).bytes(4096), b"PK\x03\x04 not really a zip"):
            with pytest.raises(CheckpointError):
                checkpoints.load(raw)

    def test_upload_over_the_size_limit(self, monkeypatch, tmp_path, model):
        raw = save(tmp_path / "a.pt", model).read_bytes()
        monkeypatch.setattr(checkpoints, "MAX_CHECKPOINT_BYTES", len(raw) - 1)
        with pytest.raises(CheckpointError, match="limited"):
            checkpoints.load(raw)


class TestUserFolder:
    def test_user_dir_follows_the_environment(self, nnviz_dirs):
        assert checkpoints.user_dir() == nnviz_dirs["checkpoints"]

    @pytest.mark.parametrize("name", ["../../etc/passwd", "/etc/passwd", "..\\..\\x", "a/../../b", " ~/.ssh/id "])
    def test_user_path_refuses_names_that_leave_the_folder(self, nnviz_dirs, name):
        with pytest.raises(ValueError, match="looks like a path"):
            checkpoints.user_path(name)
        assert not any(nnviz_dirs["checkpoints"].parent.rglob("*.pt"))

    def test_user_path_cleans_harmless_oddities(self, nnviz_dirs):
        path = checkpoints.user_path("my model (1)")
        assert path == nnviz_dirs["checkpoints"].resolve() / "my_model_1.pt"

    def test_user_path_keeps_a_plain_name(self, nnviz_dirs):
        assert checkpoints.user_path("my-cnn_v2.1") == nnviz_dirs["checkpoints"].resolve() / "my-cnn_v2.1.pt"

    @pytest.mark.parametrize("name, reason", [("", "empty"), ("   ", "empty"), ("..", "looks like a path"),
                                              ("///", "looks like a path"), ("!!!", "not a usable name")])
    def test_unusable_names(self, name, reason):
        with pytest.raises(ValueError, match=reason):
            checkpoints.user_path(name)

    def test_list_checkpoints_shows_saved_and_skips_junk(self, nnviz_dirs, model):
        save(checkpoints.user_path("mine"), model, metrics={"test_acc": 0.75})
        checkpoints.user_dir().joinpath("junk.pt").write_bytes(b"not a checkpoint")
        saved = [c for c in checkpoints.list_checkpoints() if c.kind == "saved"]
        assert [c.name for c in saved] == ["mine"]
        assert saved[0].dataset == "digits" and saved[0].task == "classification"
        assert saved[0].metrics == {"test_acc": 0.75} and saved[0].size_bytes > 0


SHIPPED_FLOORS = {"mnist_cnn": 0.985, "fashion_cnn": 0.86}  # on the samples' 1,000 test images


def test_the_default_model_is_shipped_and_trained_on_real_mnist():
    ckpt = checkpoints.load(checkpoints.DEFAULT_MODEL)
    assert ckpt.config.data.dataset == "mnist_sample" and ckpt.classes == tuple("0123456789")
    assert {"mnist_cnn", "mnist_mlp", "fashion_cnn"} <= {p.stem for p in checkpoints.SHIPPED_DIR.glob("*.pt")}


@pytest.mark.parametrize("path", sorted(checkpoints.SHIPPED_DIR.glob("*.pt")), ids=lambda p: p.name)
def test_shipped_checkpoints_load_and_score_what_they_claim(path):
    ckpt = checkpoints.load(path)
    data = load(ckpt.config.data)
    assert ckpt.input_shape == data.input_shape and ckpt.classes == data.classes
    acc = evaluate(ckpt.model(), data.x_test, data.y_test, ckpt.task)["acc"]
    assert acc == pytest.approx(ckpt.metrics["test_acc"], abs=0.01)
    assert acc >= SHIPPED_FLOORS.get(path.stem, 0.9)
    assert path.stat().st_size < 600 * 1024  # small enough to commit and to load at once
