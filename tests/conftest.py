"""Fixtures shared by every test layer (unit, app, e2e)."""
from __future__ import annotations

from pathlib import Path

import pytest

from nnviz import process

process.configure()  # the test process trains as the CLI and the dashboard do (before torch loads)

from tests.unit.fixtures_data import write_all  # noqa: E402


@pytest.fixture
def tiny_data_dir(tmp_path: Path) -> Path:
    """A data folder with tiny MNIST, Fashion-MNIST and CIFAR-10 in torchvision's on-disk formats."""
    return write_all(tmp_path / "tiny-data")
