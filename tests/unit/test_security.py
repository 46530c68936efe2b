"""Security: names that would leave their folder, code-executing pickles, the presenter passcode, server settings."""
from __future__ import annotations

import os
import pickle
from pathlib import Path

import pytest
import tomllib
import torch

from nnviz import security
from nnviz.model import checkpoints
from nnviz.model.checkpoints import CheckpointError
from nnviz.security import UnsafeName, check_name, check_page_storage

ROOT = Path(__file__).resolve().parents[2]

TRAVERSAL = {
    "parent dirs": ("../../etc/passwd", "looks like a path"),
    "absolute": ("/etc/passwd", "looks like a path"),
    "windows separators": ("..\\..\\Windows\\system32", "looks like a path"),
    "windows drive": ("C:evil", "looks like a path"),
    "nul byte": ("model\x00.pt", "control characters"),
    "newline": ("a\nb", "control characters"),
    "dot dot": ("..", "looks like a path"),
    "hidden": (".bashrc", "hidden file"),
    "device name": ("CON", "reserved device name"),
    "too long": ("a" * 65, "keep it to 64"),
    "empty": ("   ", "empty"),
}


@pytest.mark.parametrize("case", list(TRAVERSAL))
def test_dangerous_names_are_refused_with_the_reason(case):
    name, reason = TRAVERSAL[case]
    with pytest.raises(UnsafeName, match=reason):
        check_name(name)


@pytest.mark.parametrize("name", ["digits cnn", "my-model_v2.1", "Ünïcode", "run (3)"])
def test_ordinary_names_pass(name):
    assert check_name(name) == name


class RunsCode:
    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.filterwarnings("ignore:Detected pickle protocol:UserWarning")
def test_path_traversal_name_and_code_executing_pickle_are_both_refused(nnviz_dirs, tmp_path):
    """The two attacks a classroom upload/save form invites, side by side: neither gets anywhere."""
    outside = tmp_path / "outside"
    outside.mkdir()
    name = os.path.relpath(outside / "owned", checkpoints.user_dir())  # '../outside/owned'
    with pytest.raises(ValueError, match="looks like a path"):
        checkpoints.user_path(name)
    assert not any(outside.iterdir())

    marker = tmp_path / "code-ran"
    raw = pickle.dumps({"format": checkpoints.FORMAT, "state_dict": RunsCode(marker)})
    with pytest.raises(CheckpointError, match="could run code"):
        checkpoints.load(raw)
    with pytest.raises(CheckpointError, match="could run code"):
        checkpoints.check_upload(raw, "classification")
    assert not marker.exists()


def test_no_weights_only_false_anywhere_in_the_library():
    """Loading never falls back to full unpickling (principle 6)."""
    offenders = [str(p.relative_to(ROOT)) for p in (ROOT / "nnviz").rglob("*.py")
                 if "weights_only=False" in p.read_text() or "pickle.load" in p.read_text()]
    assert offenders == []


class TestPasscode:
    def test_off_without_the_variable(self, monkeypatch):
        monkeypatch.delenv(security.PASSCODE_ENV, raising=False)
        assert security.presenter_passcode() is None
        assert not security.passcode_matches("anything")

    def test_blank_variable_is_off(self, monkeypatch):
        monkeypatch.setenv(security.PASSCODE_ENV, "  ")
        assert security.presenter_passcode() is None

    def test_matches_only_the_exact_code(self, monkeypatch):
        monkeypatch.setenv(security.PASSCODE_ENV, "lecture-42")
        assert security.passcode_matches("lecture-42")
        for wrong in ["", None, "lecture-4", "lecture-42 ", "LECTURE-42", "lecture-420"]:
            assert not security.passcode_matches(wrong)

    def test_compares_in_constant_time(self, monkeypatch):
        calls = []
        import hmac
        real = hmac.compare_digest
        monkeypatch.setattr(hmac, "compare_digest", lambda a, b: calls.append((a, b)) or real(a, b))
        monkeypatch.setenv(security.PASSCODE_ENV, "s3cret")
        assert security.passcode_matches("s3cret") and calls == [(b"s3cret", b"s3cret")]


def test_server_settings_keep_uploads_small_and_xsrf_on():
    cfg = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    server = cfg["server"]
    assert server["enableXsrfProtection"] is True
    assert 1 <= server["maxUploadSize"] <= 50  # MB: a checkpoint or image is far smaller
    assert server.get("enableCORS", True) is True  # cross-origin requests stay refused


def test_torch_is_new_enough_for_safe_weights_only_loading():
    major, minor = (int(p) for p in torch.__version__.split(".")[:2])
    assert (major, minor) >= (2, 10)


@pytest.mark.parametrize("url", ["sqlite:////etc/studies.db", "sqlite:///../../studies.db", "sqlite:///:memory:",
                                 "sqlite://", "sqlite:///{root}/../outside.db"])
def test_a_page_cannot_put_a_sqlite_study_outside_the_runs_folder(tmp_path, url):
    with pytest.raises(UnsafeName, match="under the runs folder"):
        check_page_storage(url.format(root=tmp_path), tmp_path)


def test_a_page_may_use_the_runs_folder_or_a_database_server(tmp_path):
    inside = f"sqlite:///{tmp_path}/sub/studies.db"
    assert check_page_storage(inside, tmp_path) == inside
    assert check_page_storage("postgresql://u:p@db/nnviz", tmp_path) == "postgresql://u:p@db/nnviz"
