"""Presenter mode: with NNVIZ_PRESENTER_PASSCODE set, only an unlocked session may train,
run sweeps, upload, save or delete; everyone else can still explore, draw and predict.

Pages guard an action with `if control_allowed("start training"): ...`; the sidebar calls
`render_unlock()`. Without the environment variable everything is open, as before.
Wrong passcodes and uploads are counted per client address (`st.context.ip_address`), not per
session: a reload or a new tab is a new session from the same address.
"""
from __future__ import annotations

import math
import threading
import uuid

import streamlit as st

from nnviz import security

_UNLOCKED = "presenter_unlocked"  # session key: this browser session entered the passcode
MAX_TRIES, PAUSE_S = 5, 30.0  # at most 5 wrong passcodes per client address in any 30 s
UPLOADS_PER_SESSION = 10  # checkpoints and CSVs one browser session may store
UPLOADS_PER_CLIENT_HOUR = 30  # the same per client address and hour, across reloads
wrong_passcodes = security.ClientLedger(PAUSE_S)  # shared by every session of this server
uploads = security.ClientLedger(3600.0)
_UPLOADS = "uploads_stored"  # session key: files this session stored
_owners: dict[str, tuple[str, str]] = {}  # run or job id -> (session id, client address) that started it
_owners_lock = threading.Lock()


def client() -> str:
    """This browser's address ('local' for localhost and tests, where Streamlit gives none)."""
    try:
        address = st.context.ip_address
    except Exception:  # noqa: BLE001  (no script run context, e.g. a bare function call)
        return "local"
    return address if isinstance(address, str) and address else "local"  # AppTest gives a mock object


def _session_id() -> str:
    """A random token of this browser session (kept in its session state, so it dies with the session)."""
    return st.session_state.setdefault("_session_token", uuid.uuid4().hex)


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
    wait = wrong_passcodes.wait_s(client(), MAX_TRIES)
    if wait > 0:  # guessing is slowed down per address: a reload does not reset it, even the right code waits
        st.session_state["presenter_passcode_error"] = f"Too many wrong passcodes: wait {math.ceil(wait)} s."
        return
    if security.passcode_matches(attempt):
        st.session_state[_UNLOCKED] = True
        st.session_state.pop("presenter_passcode_error", None)
    else:
        wrong_passcodes.add(client())
        st.session_state["presenter_passcode_error"] = "Wrong passcode."


def upload_refusal(what: str) -> str | None:
    """None when this session may store one more uploaded `what`; else the sentence saying why not.

    Server-side, inside the upload callback: a hand-made message can reach a disabled uploader.
    """
    if not unlocked():
        return f"Only the presenter can upload {what}."
    if st.session_state.get(_UPLOADS, 0) >= UPLOADS_PER_SESSION or \
            uploads.count(client()) >= UPLOADS_PER_CLIENT_HOUR:
        return (f"This browser has reached its upload limit ({UPLOADS_PER_SESSION} files per session, "
                f"{UPLOADS_PER_CLIENT_HOUR} an hour): reuse the files already uploaded, or try again later.")
    return None


def count_upload() -> None:
    """Record one stored upload against this session and its address."""
    st.session_state[_UPLOADS] = st.session_state.get(_UPLOADS, 0) + 1
    uploads.add(client())


def claim(job_id: str) -> None:
    """Remember that this session (and its address) started run or job `job_id`."""
    with _owners_lock:
        _owners[job_id] = (_session_id(), client())


def may_stop(job_id: str) -> bool:
    """Whether this session may stop run or job `job_id`: the presenter (presenter mode, unlocked) may stop
    any; otherwise only the session that started it, or a reload of it (same address)."""
    if presenter_mode():
        return unlocked()
    with _owners_lock:
        owner = _owners.get(job_id)
    return owner is not None and (owner[0] == _session_id() or owner[1] == client())


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
