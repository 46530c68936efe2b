"""Shared AppTest set-up: the app's path and an isolated runs/checkpoints/data folder per test."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[2] / "dashboard.py")  # AppTest resolves paths from the caller


def live_data(container: Any, key: str) -> dict | None:
    """The data a live view (nnviz.ui.live_panel) was mounted with, found by its key; AppTest shows
    the custom component as an unknown element and runs none of its JavaScript."""
    for element in container:
        proto = getattr(element, "proto", None)
        if type(element).__name__ == "UnknownElement" and key in getattr(proto, "id", ""):
            return json.loads(proto.json)
    return None


@pytest.fixture(autouse=True)
def fresh_client_ledgers(monkeypatch):
    """Wrong passcodes and uploads are counted per client address for the server's lifetime, and every
    AppTest session has the same (local) address: each test starts with none on record."""
    from nnviz.ui import access

    monkeypatch.setattr(access, "wrong_passcodes", type(access.wrong_passcodes)(access.PAUSE_S))
    monkeypatch.setattr(access, "uploads", type(access.uploads)(access.uploads.window_s))


@pytest.fixture
def nnviz_env(tmp_path, monkeypatch):
    """NNVIZ_* folders under tmp_path, so tests never write into the project; stops runs at the end."""
    monkeypatch.setenv("NNVIZ_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setenv("NNVIZ_CHECKPOINT_DIR", str(tmp_path / "checkpoints"))
    monkeypatch.setenv("NNVIZ_DATA_DIR", str(tmp_path / "data"))
    yield tmp_path
    from nnviz.jobs import runs
    runs.stop_all()


@pytest.fixture
def app(nnviz_env):
    """The whole app, run once on its home page."""
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    return at
