"""Hostile and wrong checkpoint uploads: each one refused by `checkpoints.check_upload` with its own message.

The code-executing pickles would create a marker file when unpickled: the tests prove the file
is refused AND that the marker does not exist afterwards (the code never ran).
"""
from __future__ import annotations

import io
import json
import os
import pickle
import zipfile

import pytest
import torch
from torch import nn

from nnviz.config import ConvBlock, DataConfig, ModelConfig, RunConfig
from nnviz.data import DATASETS
from nnviz.model import checkpoints
from nnviz.model.checkpoints import CheckpointError
from nnviz.model.models import build_model

IMAGES = ModelConfig(hidden=(8,), conv=(ConvBlock(4, 3),))
DIGITS = RunConfig(data=DataConfig(dataset="digits"), model=IMAGES)
META = dict(task="classification", input_shape=(1, 28, 28), n_outputs=10, classes=tuple("0123456789"),
            mean=(0.13,), std=(0.3,))


class RunsCode:
    """Unpickling this runs a shell command that creates `marker`."""

    def __init__(self, marker) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _good_bytes(config: RunConfig = DIGITS, model: nn.Module | None = None, **meta) -> bytes:
    model = model or build_model(config.model, (1, 28, 28), 10)
    buf = io.BytesIO()
    path = checkpoints.user_dir() / "tmp.pt"
    checkpoints.save(path, model, config, **{**META, **meta})
    buf.write(path.read_bytes())
    path.unlink()
    return buf.getvalue()


def _torch_bytes(obj) -> bytes:
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


def edited_meta(change) -> bytes:
    """A valid digits checkpoint whose meta went through `change(meta)` (nnviz's save would refuse to write it)."""
    payload = torch.load(io.BytesIO(_good_bytes()), weights_only=True)
    meta = json.loads(payload["meta"])
    change(meta)
    payload["meta"] = json.dumps(meta)
    return _torch_bytes(payload)


def _renamed_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("photos/cat.jpg", b"\xff\xd8\xff\xe0 not really a jpeg")
        z.writestr("notes.txt", "a zip someone renamed to .pt")
    return buf.getvalue()


def _another_models_weights() -> bytes:
    """A real nnviz checkpoint whose weights belong to a different architecture (edited by hand)."""
    other = build_model(ModelConfig(hidden=(32, 16)), (1, 28, 28), 10)  # an MLP's weights ...
    raw = _good_bytes()
    payload = torch.load(io.BytesIO(raw), weights_only=True)
    payload["state_dict"] = {k: v.clone() for k, v in other.state_dict().items()}  # ... under the CNN's config
    return _torch_bytes(payload)


def _foreign_state_dict() -> bytes:
    """The weights of a model from another program (a bare torch state dict, no nnviz header)."""
    return _torch_bytes(nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2)).state_dict())


CASES = {
    "truncated": (lambda: _good_bytes()[:2000], "truncated, corrupted or of another format"),
    "renamed zip": (_renamed_zip, "truncated, corrupted or of another format"),
    "text file": (lambda: b"epoch,loss\n1,0.5\n", "not a PyTorch checkpoint"),
    "empty": (lambda: b"", "not a PyTorch checkpoint"),
    "another program's weights": (_foreign_state_dict, "not an nnviz checkpoint"),
    "another model's weights": (_another_models_weights, "do not fit its architecture"),
    "regression checkpoint": (lambda: _good_bytes(RunConfig(data=DataConfig(dataset="regression"),
                                                            model=ModelConfig(hidden=(4,))),
                                                  model=build_model(ModelConfig(hidden=(4,)), (1,), 1),
                                                  task="regression", input_shape=(1,), n_outputs=1, classes=()),
                              "this page needs a classification checkpoint"),
    "unknown dataset": (lambda: edited_meta(lambda m: m["config"]["data"].update(dataset="svhn")),
                        "dataset 'svhn' is not one nnviz knows"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_upload_is_refused_with_its_message(case):
    make, message = CASES[case]
    with pytest.raises(CheckpointError, match=message):
        checkpoints.check_upload(make(), "classification", tuple(DATASETS))


def test_a_good_upload_passes_after_bad_ones():
    for make, _ in CASES.values():
        with pytest.raises(CheckpointError):
            checkpoints.check_upload(make(), "classification", tuple(DATASETS))
    ckpt = checkpoints.check_upload(_good_bytes(), "classification", tuple(DATASETS))
    assert ckpt.config == DIGITS and ckpt.model()(torch.zeros(1, 1, 28, 28)).shape == (1, 10)


@pytest.mark.filterwarnings("ignore:Detected pickle protocol:UserWarning")
@pytest.mark.parametrize("wrap", ["torch.save", "plain pickle", "inside an nnviz header"])
def test_a_pickle_that_would_run_code_is_refused_and_the_code_never_runs(tmp_path, wrap):
    marker = tmp_path / "code-ran"
    evil = RunsCode(marker)
    if wrap == "plain pickle":
        raw = pickle.dumps({"state_dict": evil})
    elif wrap == "torch.save":
        raw = _torch_bytes({"state_dict": evil})
    else:
        raw = _torch_bytes({"format": checkpoints.FORMAT, "version": checkpoints.VERSION, "meta": "{}",
                            "state_dict": {"fc1.weight": evil}})
    pickle.loads(pickle.dumps(RunsCode(tmp_path / "control")))  # the payload does run when unpickled unsafely
    assert (tmp_path / "control").exists()
    with pytest.raises(CheckpointError, match="could run code"):
        checkpoints.check_upload(raw, "classification")
    (tmp_path / "evil.pt").write_bytes(raw)
    with pytest.raises(CheckpointError, match="could run code"):
        checkpoints.load(tmp_path / "evil.pt")
    assert not marker.exists()


def test_a_checkpoint_describing_an_enormous_model_is_refused_before_allocating():
    raw = _good_bytes()
    payload = torch.load(io.BytesIO(raw), weights_only=True)
    meta = json.loads(payload["meta"])
    meta["config"]["model"]["hidden"] = [65_536] * 8  # ~34 G parameters: would exhaust any laptop's memory
    payload["meta"] = json.dumps(meta)
    with pytest.raises(CheckpointError, match="too large to build.*parameters"):
        checkpoints.check_upload(_torch_bytes(payload), "classification")


def test_an_oversized_upload_is_refused_without_reading_it():
    with pytest.raises(CheckpointError, match="limited to"):
        checkpoints.check_upload(b"\0" * (checkpoints.MAX_CHECKPOINT_BYTES + 1), "classification")
