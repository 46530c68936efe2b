"""The sidebar every page shares: compute device and the runs training now."""
from __future__ import annotations

import streamlit as st
import torch

from nnviz import runs
from nnviz.ui import access
from nnviz.train import resolve_device
from nnviz.ui import presenter


@st.cache_resource
def device_label() -> str:
    """'CUDA: <GPU name>', 'MPS (Apple GPU)' or 'CPU (N threads)'."""
    device = resolve_device("auto")
    if device.type == "cuda":
        return f"CUDA: {torch.cuda.get_device_name(0)}"
    if device.type == "mps":
        return "MPS (Apple GPU)"
    return f"CPU ({torch.get_num_threads()} threads)"


def _active_runs() -> None:
    active = runs.active_runs()
    if not active:
        st.caption("No run is training.")
    for run in active:
        view = run.view()
        p = view["progress"]
        label = f"{run.config.data.dataset} · {run.config.preset or 'custom'}"
        if view["status"] == "queued":
            st.caption(f":material/hourglass_top: {label}: queued for a free slot")
        else:
            st.progress(p.fraction, text=f":material/play_arrow: {label}: epoch {p.epoch}/{p.epochs}")


def render() -> None:
    """Device line and a run indicator that refreshes itself while runs are active."""
    presenter.inject()
    with st.sidebar:
        presenter.toggle()
        st.caption(f"Device: **{device_label()}**")
        poll = 1.0 if runs.active_runs() else None
        st.fragment(_active_runs, run_every=poll)()
        access.render_unlock()
