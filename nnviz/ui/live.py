"""Start, stop and watch background runs from a page.

The training thread never touches Streamlit; a page keeps only the run id in
session_state (it survives reruns, page switches and, through the `run` query
parameter, a browser refresh) and polls the Run with a fragment.
"""
from __future__ import annotations

import math
import time
from typing import Callable

import streamlit as st

from nnviz.config import RunConfig
from nnviz.jobs import runs, storage
from nnviz.model.models import ModelTooLarge
from nnviz.ui import access

POLL_S = 0.4  # fragment refresh while a run is active: >= 2 updates per second
MAX_RUNS_PER_SESSION = 2  # one browser session cannot fill every training slot


def _key(slot: str) -> str:
    return f"run_id:{slot}"


def current_id(slot: str) -> str | None:
    """The id of the run this session follows in `slot`, even when it is no longer in memory
    (the server restarted): its folder may still be read."""
    return st.session_state.get(_key(slot)) or st.query_params.get(f"{slot}_run")


def _looked(slot: str) -> str:
    return f"looked:{slot}"


def newest_training(slot: str) -> runs.Run | None:
    """The newest run of the lab `slot` ('regression' or 'classification') training in this server."""
    mine = [r for r in runs.active_runs() if r.config.data.task == slot]
    return max(mine, key=lambda r: r.id) if mine else None  # ids start with their start time


def current(slot: str) -> runs.Run | None:
    """The run this session follows in `slot` (e.g. 'regression'), if it is still in memory.

    A refreshed browser has lost session_state; the page's `?regression_run=` query parameter brings it
    back. A session opening the lab with no run of its own follows the lab's newest run training
    now (a new tab, a student's device); once it has looked, it follows only what it starts or picks.
    """
    run_id = st.session_state.get(_key(slot)) or st.query_params.get(f"{slot}_run")
    run = runs.get(run_id) if run_id else None
    first_look = not st.session_state.get(_looked(slot))
    st.session_state[_looked(slot)] = True
    if run_id is None and first_look:
        run = newest_training(slot)
        if run is not None:
            follow(slot, run)
    if run is not None:
        st.session_state[_key(slot)] = run.id
    return run


def start(slot: str, config: RunConfig, epochs_per_s: float = 0.0) -> runs.Run | None:
    """Start a run for this session (in slow motion when `epochs_per_s` > 0); refuses (with a message)
    past the per-session cap."""
    if not access.unlocked():  # presenter mode: checked here too, a crafted message can press a disabled button
        return None
    mine = [r for r in runs.active_runs() if r.id in st.session_state.get("my_runs", [])]
    if len(mine) >= MAX_RUNS_PER_SESSION:
        st.warning(f"You already have {len(mine)} runs training. Stop one before starting another.")
        return None
    st.session_state.pop(_problem_key(slot), None)
    try:
        run = runs.start(config, epochs_per_s=epochs_per_s)
    except ModelTooLarge as exc:  # would exhaust memory: refused before it starts, with the estimate
        st.session_state[_problem_key(slot)] = f"Not started: {exc}"
        return None
    except OSError as exc:  # a read-only, full or vanished runs folder
        st.session_state[_problem_key(slot)] = f"Not started: {storage.disk_problem(exc, runs.runs_dir())}"
        return None
    access.claim(run.id)
    st.session_state[_key(slot)] = run.id
    st.session_state.setdefault("my_runs", []).append(run.id)
    st.query_params[f"{slot}_run"] = run.id
    return run


def _problem_key(slot: str) -> str:
    return f"start_problem:{slot}"


def show_start_problem(slot: str) -> None:
    """Why the last Start in `slot` did not start a run (memory, disk), shown where it is called: under Start."""
    problem = st.session_state.pop(_problem_key(slot), None)
    if problem:
        st.error(problem, icon=":material/error:")


def follow(slot: str, run: runs.Run) -> None:
    """Follow an existing run in `slot` (e.g. one started in another tab), as if started here."""
    st.session_state[_key(slot)] = run.id
    st.query_params[f"{slot}_run"] = run.id


def forget(slot: str) -> None:
    """Stop following the slot's run (Reset); the run folder stays on disk."""
    st.session_state.pop(_key(slot), None)
    st.query_params.pop(f"{slot}_run", None)


def stoppable(run: runs.Run | None) -> bool:
    """Whether this session may stop `run`: the session that started it, or the presenter."""
    return run is not None and run.active and access.may_stop(run.id)


def stop(run: runs.Run, timeout: float = 1.0) -> None:
    """Ask the run to stop and wait up to `timeout` s for its thread to end (only `stoppable` runs)."""
    if not access.may_stop(run.id):  # checked here too: a crafted message can press a disabled button
        return
    run.stop()
    deadline = time.time() + timeout
    while run.active and time.time() < deadline:
        time.sleep(0.02)


def watch(run: runs.Run, render: Callable[[runs.RunView], None], slot: str) -> None:
    """Render `render(view)` now and, while the run is active, every POLL_S seconds.

    When the run ends, the whole page reruns once so its after-training panels appear.
    """

    def body() -> None:
        view = run.view()
        render(view)
        rerun_page_when_ended(slot, view.active)

    st.fragment(body, run_every=POLL_S if run.active else None)()


def rerun_page_when_ended(slot: str, active: bool) -> None:
    """For a fragment showing the slot's run: once a run it showed active has ended, rerun the whole
    page (once), so the parts outside the fragment catch up (set-up folds, after-training panels)."""
    flag = f"was_active:{slot}"
    if active:
        st.session_state[flag] = True
    elif st.session_state.pop(flag, False):
        st.rerun(scope="app")


def status_line(view: runs.RunView) -> str:
    """'epoch 12/300 · 1,234 samples/s · ETA 3 s' or the final status with its reason."""
    p = view.progress or runs.Progress()  # a run of another process: no live progress here
    if view.status == "queued":
        return "Queued: waiting for a free training slot."
    if view.status == "running" and not p.epochs:
        return "Starting: loading the data…"
    if view.status == "running":
        eta_s = p.eta_s  # computed from the clock on every read: read it once (two reads never compare equal)
        eta = f" · ETA {eta_s:.0f} s" if math.isfinite(eta_s) else ""
        fold = f"fold {p.fold}/{p.folds} · " if p.folds else ""
        speed = f" · {p.samples_per_s:,.0f} samples/s" if p.samples_per_s > 0 else ""  # none before a batch ends
        return f"{fold}epoch {p.epoch}/{p.epochs}{speed}{eta}"
    return f"{status_word(view.status)}. {view.message}".strip()


def status_word(status: str) -> str:
    """How an ended run's status reads: 'Stopped early' for 'early_stopped'."""
    return {"finished": "Finished", "stopped": "Stopped", "early_stopped": "Stopped early",
            "diverged": "Diverged", "failed": "Failed", "interrupted": "Interrupted"}.get(status, status)
