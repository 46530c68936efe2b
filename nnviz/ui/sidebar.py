"""The sidebar every page shares: compute device and the runs, sweeps and searches training now."""
from __future__ import annotations

import streamlit as st
import torch

from nnviz.training import threads
from nnviz.training.train import resolve_device
from nnviz.ui import access, live_feed, live_panel, presenter

ACTIVITY_POLL_S = 1.0
ACTIVITY_IDLE_POLL_S = 2.0  # a run started elsewhere shows within 2 s; an idle poll changes nothing on the page


@st.cache_resource
def device_label() -> str:
    """'CUDA: <GPU name>', 'MPS (Apple GPU)' or 'CPU (N cores)'."""
    device = resolve_device("auto")
    if device.type == "cuda":
        return f"CUDA: {torch.cuda.get_device_name(0)}"
    if device.type == "mps":
        return "MPS (Apple GPU)"
    return f"CPU ({threads.CORES} core{'s' if threads.CORES > 1 else ''})"


def threads_note(why: bool = False) -> str:
    """How many threads a run trains on here (CPU; '' on a GPU), and with `why` the reason."""
    if resolve_device("auto").type != "cpu":
        return ""
    used = threads.run_threads("classification", torch.device("cpu"))
    note = f"runs train on {used} thread{'s' if used > 1 else ''}"
    return f"{note.capitalize()}: every core but one, the same count every time, so a seed gives the same " \
           "numbers." if why else note


def render() -> None:
    """Device line and a run indicator that refreshes itself while runs are active."""
    presenter.inject()
    with st.sidebar:
        presenter.toggle()
        note = threads_note()
        st.caption(f"Device: **{device_label()}**" + (f" · {note}" if note else ""))
        # redrawn from the live feed, no page reruns; it says "No run is training." when nothing does
        live_panel.activity_view(live_feed.activity(), every_s=ACTIVITY_POLL_S, idle_every_s=ACTIVITY_IDLE_POLL_S)
        access.render_unlock()
