"""The sidebar every page shares: compute device and the runs, sweeps and searches training now."""
from __future__ import annotations

import sys

import streamlit as st
import torch

from nnviz import runs, sweeps
from nnviz.sweeps import SWEEPS
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


def _active_searches() -> list:
    # No search can run before the experiments page imported its module: do not load Optuna for the sidebar.
    search_jobs = sys.modules.get("nnviz.search_jobs")
    return search_jobs.active_searches() if search_jobs is not None else []


def _busy() -> bool:
    return bool(runs.active_runs() or sweeps.active_sweeps() or _active_searches())


def _active_runs() -> None:
    active = runs.active_runs()
    sweeping, searching = sweeps.active_sweeps(), _active_searches()
    if not (active or sweeping or searching):
        st.caption("No run is training.")
    for job in sweeping:
        view = job.view()
        title = SWEEPS[job.key].title if job.key in SWEEPS else job.key
        st.progress(len(view["results"]) / max(1, view["total"]),
                    text=f":material/science: {title}: {len(view['results'])}/{view['total']} points")
    for job in searching:
        st.progress(job.done / max(1, job.n_trials), text=f":material/search: search {job.study}: "
                                                         f"{job.done}/{job.n_trials} trials")
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
        poll = 1.0 if _busy() else None
        st.fragment(_active_runs, run_every=poll)()
        access.render_unlock()
