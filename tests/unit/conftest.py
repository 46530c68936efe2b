"""Unit-test isolation: every NNVIZ_* folder under tmp_path, and no run outlives its test."""
from __future__ import annotations

from pathlib import Path

import pytest

from nnviz.jobs import runs


@pytest.fixture(autouse=True)
def nnviz_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """Point runs, data and user checkpoints at fresh folders, so nothing lands in the repo."""
    dirs = {"runs": tmp_path / "runs", "data": tmp_path / "data", "checkpoints": tmp_path / "checkpoints"}
    monkeypatch.setenv("NNVIZ_RUNS_DIR", str(dirs["runs"]))
    monkeypatch.setenv("NNVIZ_DATA_DIR", str(dirs["data"]))
    monkeypatch.setenv("NNVIZ_CHECKPOINT_DIR", str(dirs["checkpoints"]))
    yield dirs
    runs.stop_all(timeout=10)
