"""Presenter mode: with NNVIZ_PRESENTER_PASSCODE set, only an unlocked session may train,
run sweeps or delete; everyone else can still explore, draw and predict.

Pages guard an action with `if control_allowed("start training"): ...`; the sidebar calls
`render_unlock()`. Without the environment variable everything is open, as before.
"""
from __future__ import annotations

import time

import streamlit as st

from nnviz import security

_UNLOCKED = "presenter_unlocked"  # session key: this browser session entered the passcode
_FAILS = "presenter_failures"  # session key: (wrong attempts, time of the last one)
MAX_TRIES, PAUSE_S = 5, 30.0  # after 5 wrong passcodes a session waits 30 s per further try


def presenter_mode() -> bool:
    """True when a presenter passcode is configured (the audience is restricted)."""
    return security.presenter_passcode() is not None


def unlocked() -> bool:
    """True when this session may use presenter-only controls (always, without a passcode)."""
    return not presenter_mode() or bool(st.session_state.get(_UNLOCKED, False))


def control_allowed(action: str) -> bool:
    """Whether this session may do `action` (e.g. 'start training'); if not, say who may."""
    if unlocked():
        return True
    st.info(f"Only the presenter can {action}.", icon=":material/lock:")  # short: it sits in narrow columns
    return False


def _try_unlock() -> None:
    attempt = st.session_state.get("presenter_passcode_input", "")
    st.session_state["presenter_passcode_input"] = ""  # never keep the passcode in the session
    fails, last = st.session_state.get(_FAILS, (0, 0.0))
    if fails >= MAX_TRIES and time.time() - last < PAUSE_S:  # guessing from the audience is slowed down
        st.session_state["presenter_passcode_error"] = f"Too many wrong passcodes: wait {PAUSE_S:.0f} s."
        return
    if security.passcode_matches(attempt):
        st.session_state[_UNLOCKED] = True
        st.session_state.pop("presenter_passcode_error", None)
        st.session_state.pop(_FAILS, None)
    else:
        st.session_state[_FAILS] = (fails + 1, time.time())
        st.session_state["presenter_passcode_error"] = "Wrong passcode."


def render_unlock() -> None:
    """A small sidebar control: passcode box while locked, a lock button once unlocked."""
    if not presenter_mode():
        return
    if st.session_state.get(_UNLOCKED):
        st.caption(":material/lock_open: Unlocked: you are the presenter")
        if st.button("Lock", key="presenter_lock", icon=":material/lock:"):
            st.session_state[_UNLOCKED] = False
            st.rerun()
        return
    with st.expander("Presenter passcode", icon=":material/lock:"):
        st.text_input("Passcode", type="password", key="presenter_passcode_input", on_change=_try_unlock,
                      help="Training, sweeps, saving and deleting are reserved to the presenter; everyone can "
                           "explore, draw and predict.")
        if st.session_state.get("presenter_passcode_error"):
            st.error(st.session_state["presenter_passcode_error"])
