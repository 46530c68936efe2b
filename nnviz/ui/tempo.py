"""The 'Slow motion' control of the labs and the sweeps: a cap on epochs per second (nnviz.training.tempo).

Its value goes to the next Start, and, when moved while a run or sweep trains, to that job at
once (only from a session allowed to stop it): a teacher slows down the part worth watching.
While a job trains, every page following it shows the job's own pace.
Slow motion pauses between epochs; the numbers are the same at every speed.
"""
from __future__ import annotations

from typing import Any

import streamlit as st

from nnviz.training import tempo

HELP = ("At most this many epochs per second, so a fast run can be watched epoch by epoch. Training pauses "
        "between epochs; the numbers are the same at every speed, and Stop still stops at once.")


def rate(key: str) -> float:
    """The control's epochs per second (0: full speed), for the next Start."""
    return float(st.session_state.get(key, 0.0))


def _apply(key: str, job: Any) -> None:
    if job is not None and job.active:
        job.tempo.epochs_per_s = rate(key)


def slow_motion(key: str, job: Any, may_change: bool, container: Any = None) -> float:
    """Draw the control: a 'Slow motion' button beside Start / Stop (in `container`, else here) that opens
    the pace. `job`: the Run or SweepJob the page follows, or None; while it trains the control shows its
    pace, and moving it changes that pace if `may_change` (this session may stop the job), else it is
    disabled."""
    active = job is not None and job.active
    if active and job.tempo.epochs_per_s in tempo.CHOICES:
        st.session_state[key] = job.tempo.epochs_per_s
    where = container if container is not None else st
    with where.popover("Slow motion", icon=":material/slow_motion_video:", help=HELP):
        return float(st.select_slider("Slow motion", tempo.CHOICES, key=key, format_func=tempo.label,
                                      disabled=active and not may_change, on_change=_apply,
                                      args=(key, job if may_change else None)))
