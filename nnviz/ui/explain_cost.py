"""Heavy attribution settings: an estimate before computing, a question above the budget, and a
computation that goes image by image with its progress and a Cancel button.

Cancel works through Streamlit itself: a click reruns the script, and Streamlit stops the run in
progress at its next update of the page, which comes after every image.
"""
from __future__ import annotations

import hashlib
from typing import Callable

import numpy as np
import streamlit as st

from nnviz.analysis import explain
from nnviz.analysis import explain_cost as cost
from nnviz.ui.pickers import PickedModel

CONFIRMED_KEY = "explain_heavy_confirmed"  # signatures of heavy computations the user agreed to wait for


@st.cache_resource(max_entries=16, show_spinner=False)
def _rate(path: str, mtime_ns: int, input_shape: tuple[int, ...], _model) -> float:
    return cost.examples_per_s(_model, input_shape)


def over_budget(secs: float) -> bool:
    return secs > cost.BUDGET_S


def estimate_s(picked: PickedModel, method: str, params: dict, n_images: int) -> tuple[int, float]:
    """(examples through the network, estimated seconds here) for `method` on `n_images` images."""
    shape = tuple(int(v) for v in picked.checkpoint.input_shape)
    try:
        resolved = explain.resolve_params(method, params, picked.model, shape)
    except explain.ExplainError:
        return 0, 0.0  # the computation will say what is wrong
    n = cost.examples(method, resolved, n_images, shape)
    rate = _rate(str(picked.path), picked.path.stat().st_mtime_ns, shape, picked.model)
    return n, cost.seconds(n, rate)


def gated(picked: PickedModel, signature: str, method_title: str, n_images: int, examples: int, secs: float,
          one: Callable[[int], np.ndarray]) -> np.ndarray | None:
    """Above the budget: ask first (None until asked), then compute `one(i)` for each image with a progress
    bar and a Cancel button; returns the stacked maps, or None when not (yet) computed."""
    key = hashlib.sha1(signature.encode()).hexdigest()[:10]
    when = f"{secs:,.0f}" if secs >= 10 else f"{secs:.1f}"
    confirmed = st.session_state.setdefault(CONFIRMED_KEY, set())
    if key not in confirmed:
        st.warning(f"{method_title} with these settings sends about {examples:,} images through the network: "
                   f"about {when} s here (over the {cost.BUDGET_S:.0f} s this page computes "
                   "without asking). Fewer steps, noisy copies or images make it faster.", icon=":material/timer:")
        if st.button(f"Compute anyway (about {when} s)", key=f"explain_heavy_go_{key}"):
            confirmed.add(key)
            st.rerun()
        return None
    cancel = st.empty()  # gone once every image is computed
    if cancel.button("Cancel", key=f"explain_heavy_cancel_{key}", icon=":material/cancel:",
                     help="Stops after the image being computed."):
        confirmed.discard(key)
        st.info(f"{method_title} cancelled.", icon=":material/cancel:")
        return None
    bar = st.progress(0.0)
    maps = []
    for i in range(n_images):
        left = secs * (n_images - i) / n_images
        bar.progress(i / n_images, text=f"{method_title}: image {i + 1} of {n_images}, about {left:,.0f} s left")
        maps.append(one(i))
    bar.empty()
    cancel.empty()
    return np.stack(maps)
