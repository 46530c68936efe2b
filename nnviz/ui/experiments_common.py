"""What the Experiments page's tabs share: deep links (query params / session keys) and tables."""
from __future__ import annotations

import math

import pandas as pd
import streamlit as st

from nnviz.data import DATASETS
from nnviz.jobs.sweeps import SWEEPS
from nnviz.ui.access import control_allowed

TABS = (":material/compare_arrows: Compare runs", ":material/tune: Ready-made sweeps",
        ":material/manage_search: Hyper-parameter search")
DATASET_CHOICES = (*DATASETS, "regression")
SWEEP_KEY, DATASET_KEY = "exp_sweep_key", "exp_sweep_dataset"  # widget keys
LINK_SWEEP, LINK_DATASET = "experiments:sweep", "experiments:dataset"  # set by other pages before switch_page
LINK_JOB = "experiments:sweep_job"  # optional: the id of a sweep another page started (sweeps.start_sweep)
SWEEP_JOB_KEY = "exp_sweep_job"  # the sweep this session follows (not a widget)


def dataset_title(name: str) -> str:
    return "1-D regression (synthetic)" if name == "regression" else DATASETS[name].title if name in DATASETS else name


def apply_deep_link() -> str | None:
    """Preselect the sweep / dataset from `?sweep=&dataset=` or the session keys other pages set.

    Returns the tab to open first (the sweeps tab when a sweep was asked for). Each link is
    applied once, so the user's later choices are not overridden on every rerun.
    """
    job_id = st.session_state.pop(LINK_JOB, None)
    if job_id:  # follow (and be able to stop) a sweep another page started for this session
        st.session_state[SWEEP_JOB_KEY] = job_id
    sweep = st.session_state.pop(LINK_SWEEP, None) or st.query_params.get("sweep")
    dataset = st.session_state.pop(LINK_DATASET, None) or st.query_params.get("dataset")
    link = (sweep, dataset)
    if link == (None, None) or st.session_state.get("exp_link_applied") == link:
        return TABS[1] if st.session_state.get("exp_link_applied", (None,))[0] else None
    st.session_state["exp_link_applied"] = link
    if sweep in SWEEPS:
        st.session_state[SWEEP_KEY] = sweep
    elif sweep:
        st.warning(f"There is no ready-made sweep called {sweep!r}; choose one of {', '.join(SWEEPS)}.")
    if dataset in DATASET_CHOICES:
        st.session_state[DATASET_KEY] = dataset
    elif dataset:
        st.warning(f"Unknown dataset {dataset!r}; choose one of {', '.join(DATASET_CHOICES)}.")
    return TABS[1] if sweep else None


def allowed(action: str) -> bool:
    """The presenter lock (nnviz.ui.access): False, with a message, for a locked audience session."""
    return control_allowed(action)


def highlight_rows(frame: pd.DataFrame, rows: list, color: str = "rgba(255, 200, 0, 0.28)"):  # noqa: ANN201
    """A Styler that shades the given index rows (e.g. the config fields that differ)."""
    marked = set(rows)
    return frame.style.apply(lambda row: [f"background-color: {color}" if row.name in marked else ""] * len(row),
                             axis=1)


def shade_above(frame: pd.DataFrame, columns: list[str], threshold: float,  # noqa: ANN201
                color: str = "rgba(214, 39, 40, 0.25)"):
    """A Styler that shades cells of `columns` above `threshold` (e.g. a large train-test gap)."""
    def shade(value: float) -> str:
        return f"background-color: {color}" if isinstance(value, float) and math.isfinite(value) and value > threshold \
            else ""
    return frame.style.map(shade, subset=[c for c in columns if c in frame.columns])
