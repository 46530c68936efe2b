"""nnviz: watch neural networks learn. The library behind the dashboard and the CLI.

The library is grouped by what it is about:
    nnviz.model      the network: presets and builders, seeded dropout, checkpoints, code export
    nnviz.training   the fit loop, its thread policy, K-fold cross-validation, limits, baselines
    nnviz.jobs       background runs, sweeps and searches, and the folders they leave on disk
    nnviz.analysis   metrics, diagnostics, inspection, attributions, comparisons, reports
    nnviz.teaching   lessons
    nnviz.data       datasets, preprocessing of drawn and uploaded images
    nnviz.figures    plotly figures (no Streamlit)
    nnviz.ui         the dashboard's Streamlit pieces
    nnviz.config, nnviz.cli, nnviz.process, nnviz.security

`from nnviz import runs, train, ...` keeps working for every module under its short name: it is
imported on first use (importing nnviz alone imports nothing else).
"""
from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType

__version__ = "0.1.0"

_GROUPS = ("model", "training", "jobs", "analysis", "teaching")
_MOVED = {"preprocess": "nnviz.data.preprocess"}  # a module that lived at the top before data/ took it


def _home(name: str) -> str | None:
    if name in _MOVED:
        return _MOVED[name]
    here = Path(__file__).parent
    return next((f"{__name__}.{group}.{name}" for group in _GROUPS if (here / group / f"{name}.py").is_file()), None)


def __getattr__(name: str) -> ModuleType:
    """A module by its short name (`nnviz.runs` is nnviz.jobs.runs), imported on first use."""
    home = None if name.startswith("_") else _home(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return importlib.import_module(home)
