"""The 'Slow motion' control of the labs and the sweeps: a cap on epochs per second (nnviz.tempo).

Its value goes to the next Start, and, when moved while a run or sweep trains, to that job at
once (only from a session allowed to stop it): a teacher slows down the part worth watching.
Slow motion pauses between epochs; the numbers are the same at every speed.
"""
from __future__ import annotations

from typing import Any, Callable

import streamlit as st

from nnviz import tempo

HELP = ("At most this many epochs per second, so a fast run can be watched epoch by epoch. Training pauses "
        "between epochs; the numbers are the same at every speed, and Stop still stops at once.")


def rate(key: str) -> float:
    """The control's epochs per second (0: full speed), for the next Start."""
    return float(st.session_state.get(key, 0.0))


def _apply(key: str, job_of: Callable[[], Any]) -> None:
    job = job_of()
    if job is not None and job.active:
        job.tempo.epochs_per_s = rate(key)


def slow_motion(key: str, job_of: Callable[[], Any], container: Any = None) -> float:
    """Draw the control (in `container`, else here); `job_of()` is the job a change applies to now
    (a Run or SweepJob this session may stop, or None)."""
    where = container if container is not None else st
    return float(where.select_slider("Slow motion", tempo.CHOICES, key=key, format_func=tempo.label, help=HELP,
                                     on_change=_apply, args=(key, job_of)))
