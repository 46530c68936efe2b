"""The Playground's network for this browser session, and its live view (playground_panel.js).

The session follows one job (and one more while comparing). When the settings change, the old job is
stopped and a new one starts from the seed, paused if the old one was. The view polls the feed
(nnviz.ui.playground_feed) and redraws in place; only a page that may train gets the job's control token.
"""
from __future__ import annotations

from pathlib import Path

import streamlit as st

from nnviz.jobs import storage
from nnviz.playground import frames, job, store
from nnviz.playground.config import FEATURES, PlaygroundConfig
from nnviz.playground.data import DataError, Points
from nnviz.playground.network import Weights
from nnviz.ui import access, playground_feed, presenter

EVERY_S = 0.1  # the view's refresh while training: 10 frames a second at most
IDLE_EVERY_S = 1.0  # while paused
_HERE = Path(__file__).parent
_component = st.components.v2.component(
    "nnviz_playground", js=(_HERE / "playground_panel.js").read_text(),
    css=(_HERE / "playground_panel.css").read_text(), isolate_styles=False)


def _key(slot: str) -> str:
    return f"pg:job:{slot}"


@st.cache_data(max_entries=32, show_spinner=False)
def _points(cfg: PlaygroundConfig) -> Points:
    return store.points_for(cfg)


def points(cfg: PlaygroundConfig) -> Points | None:
    """The config's points, or None with the sentence shown (an upload this server no longer has)."""
    try:
        return _points(cfg)
    except DataError as exc:
        st.error(str(exc), icon=":material/error:")
        return None


def current(slot: str) -> job.PlaygroundJob | None:
    job_id = st.session_state.get(_key(slot))
    return job.get(job_id) if job_id else None


def follow(slot: str, cfg: PlaygroundConfig, pts: Points, weights: Weights | None = None, epoch: int = 0,
           play: bool | None = None) -> job.PlaygroundJob | None:
    """The session's job in `slot` for `cfg`: the running one if it has these settings (and no new weights
    are given), else a new one replacing it (playing if the old one was, or as `play` says)."""
    old = current(slot)
    if old is not None and old.active and old.config == cfg and weights is None and play is None:
        return old
    was_playing = old is not None and old.playing
    if old is not None:
        old.stop()
    try:
        new = job.start(cfg, pts, weights, epoch, play=was_playing if play is None else play)
    except OSError as exc:
        st.error(f"The network could not start: {storage.disk_problem(exc, store.playground_dir())}",
                 icon=":material/error:")
        return None
    access.claim(new.id)
    st.session_state[_key(slot)] = new.id
    return new


def view(running: job.PlaygroundJob, size: int = 250, key: str = "main", compact: bool = False) -> None:
    """The live view of `running`: controls, the network's maps and connections, the boundary, the curve
    (`compact`: the boundary and the curve only, for two side by side)."""
    may_train = access.unlocked()
    _component(key=f"nnviz-pg-{key}-{running.id}", on_ended_change=lambda: None, data={
        "feed": playground_feed.PATH + running.id, "control": playground_feed.PATH + running.id + "/control",
        "token": running.token if may_train else None, "every_ms": int(EVERY_S * 1000),
        "idle_ms": int(IDLE_EVERY_S * 1000), "static": frames.static_info(running), "frame": frames.frame(running),
        "labels": [FEATURES[f] for f in running.config.features], "size": size,
        "presenter": presenter.enabled(), "compact": compact})
    if not may_train:
        st.caption(":material/lock: Only the presenter can train; the network below is shown as it is.")
