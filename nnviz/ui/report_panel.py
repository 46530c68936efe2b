"""A run's diagnostics as plain sentences next to its plots, and the "Download HTML report" button.

Diagnostics of the curves are cheap and recomputed on each draw; the dead-ReLU share needs
the model and data, so it is cached per checkpoint file (path + modification time).
"""
from __future__ import annotations

import html
import json
import os
from pathlib import Path
from typing import Sequence

import streamlit as st

from nnviz.analysis import diagnostics, inspect, report
from nnviz.analysis.diagnostics import Finding
from nnviz.config import DataConfig, from_dict, to_dict
from nnviz.figures import diagnostics as dfig
from nnviz.model import checkpoints
from nnviz.ui import presenter
from nnviz.ui.resources import task_data

STATS_INPUTS = 256  # training inputs behind the dead-ReLU share


@st.cache_data(max_entries=32, show_spinner=False)
def _activation_stats(path: str, mtime_ns: int, data_json: str) -> list[dict] | None:
    """Activation statistics of a checkpoint's model on the first training inputs; None if unreadable."""
    try:
        model = checkpoints.load(path).model()  # a private copy: the shared cached model is never touched
        x = task_data(from_dict(DataConfig, json.loads(data_json))).x_train[:STATS_INPUTS]
        return inspect.activation_stats(model, x)
    except Exception:  # noqa: BLE001 - missing data or a torn file: the curves are still diagnosed
        return None


def findings(epochs: Sequence[dict], status: str = "finished", message: str = "",
             batch_losses: Sequence[tuple[float, float]] = (), checkpoint: str | os.PathLike | None = None,
             data: DataConfig | None = None, lr: float | None = None) -> list[Finding]:
    """Every diagnostic of a run: its curves, and dead ReLUs when its final model is at hand."""
    stats = None
    if checkpoint is not None and data is not None and Path(checkpoint).is_file():
        path = Path(checkpoint)
        stats = _activation_stats(str(path), path.stat().st_mtime_ns, json.dumps(to_dict(data), sort_keys=True))
    return diagnostics.diagnose(epochs, status, message, batch_losses, stats, lr)


def show_findings(found: Sequence[Finding], skip: Sequence[str] = ()) -> None:
    """One sentence per finding: problems as warnings or errors, the rest as a caption."""
    for f in found:
        if f.kind in skip:
            continue
        if f.severity == "error":
            st.error(f.sentence, icon=":material/report:")
        elif f.severity == "warning":
            st.warning(f.sentence, icon=":material/warning:")
        else:
            st.caption(f":material/insights: {f.sentence}")


def gradient_chart(epochs: Sequence[dict], found: Sequence[Finding], key: str) -> None:
    """The run's gradient norms per epoch, folded away under the curves (when the run recorded them)."""
    if not any("grad_norm" in r for r in epochs):
        return
    with st.expander("Gradient norms per epoch", icon=":material/ssid_chart:"):
        fig = dfig.gradient_norm_figure(epochs, found, title="", height=300)
        st.plotly_chart(presenter.figure(fig), key=key, width="stretch")
        st.caption("How hard each step pushed the weights. The first layer far below the last: vanishing gradients "
                   "(the early layers barely learn). A sudden climb: exploding gradients, often a learning rate "
                   "that is too high.")


def _build(run_dirs: Sequence[str]) -> str:
    """The report, or a page that says why it could not be built (runs in the download request)."""
    try:
        return report.build_report(run_dirs)
    except Exception as exc:  # noqa: BLE001 - the user gets a readable page, never a traceback
        return (f"<!doctype html><meta charset='utf-8'><title>No report</title><p>The report could not be built: "
                f"{html.escape(str(exc) or type(exc).__name__)}</p>")


def report_button(run_dirs: Sequence[str | os.PathLike], key: str, label: str = "Download HTML report") -> None:
    """A download button for the HTML report of one run or a comparison; built only when clicked."""
    folders = [str(d) for d in run_dirs]
    st.download_button(label, lambda: _build(folders), report.report_name(folders), "text/html", key=key,
                       on_click="ignore", icon=":material/description:",
                       help="One HTML file: config, metrics, every figure (interactive, opens offline), the "
                            "model's PyTorch code and the diagnostics.")
