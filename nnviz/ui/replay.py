"""Replay a run epoch by epoch: an epoch slider with play/pause, shared by every page that shows a run.

`player(options, key, render)` draws a Play/Pause button, a slider and a speed choice, then
`render(value)`, all inside one fragment. While playing, the fragment reruns every frame and steps
the slider forward (only that part of the page redraws; at 1x a long run skips epochs so that it
plays in MAX_FRAMES frames; slower speeds show more of them, each for longer); at the last epoch it
pauses itself.
A fragment's `run_every` is fixed when the page draws it, so starting or stopping reruns the
whole page once: the fragment is then re-created with (or without) its timer.
"""
from __future__ import annotations

import math
import time
from typing import Any, Callable, Sequence

import streamlit as st

from nnviz.ui import presenter

PLAY_S = 0.8  # seconds per frame while playing: long enough to see each epoch's picture
MAX_FRAMES = 40  # a long run skips epochs so that it plays in at most ~40 frames (~30 s)
SPEEDS = (0.125, 0.25, 0.5, 1.0, 2.0, 4.0)  # x that pace
SPEED_LABELS = {0.125: "⅛×", 0.25: "¼×", 0.5: "½×", 1.0: "1×", 2.0: "2×", 4.0: "4×"}
MIN_FRAME_S = 0.4  # faster speeds skip more epochs per frame rather than redraw more often than this


def stride(n_options: int, max_frames: int = MAX_FRAMES) -> int:
    """Options to advance per frame so that playing all of them takes at most `max_frames` frames."""
    return max(1, math.ceil((n_options - 1) / max_frames))


def pace(n_options: int, speed: float = 1.0, interval_s: float = PLAY_S) -> tuple[int, float]:
    """(options to advance per frame, seconds per frame) to play `n_options` at `speed` x the default
    pace (`stride` options every `interval_s`)."""
    per_s = stride(n_options) / interval_s * speed  # options per second
    step = max(1, round(per_s * (interval_s if speed <= 1 else min(interval_s, MIN_FRAME_S))))
    return step, step / per_s


def speed(key: str) -> float:
    """The player `key`'s speed (x the default pace)."""
    value = st.session_state.get(f"{key}_speed", 1.0)
    return value if value in SPEEDS else 1.0


def next_frame(options: Sequence[Any], current: Any, step: int = 1) -> tuple[Any, bool]:
    """(the option `step` after `current`, never past the last; True when that is the last one);
    an unknown `current` restarts."""
    if current not in options:
        return options[0], len(options) <= 1
    i = min(list(options).index(current) + step, len(options) - 1)
    return options[i], i == len(options) - 1


def playing(key: str) -> bool:
    """Whether the player `key` is playing."""
    return bool(st.session_state.get(f"{key}:playing", False))


def _toggle(key: str, options: Sequence[Any]) -> None:
    now_playing = not playing(key)
    if now_playing and st.session_state.get(key) == options[-1]:
        st.session_state[key] = options[0]  # Play at the end starts again from the beginning
    st.session_state[f"{key}:playing"] = now_playing
    st.session_state[f"{key}:tick"] = time.monotonic()


def _step(key: str, options: Sequence[Any], step: int, interval_s: float) -> None:
    """While playing: `step` options forward when a frame's time has passed (reruns for other reasons do not step)."""
    if not playing(key) or time.monotonic() - st.session_state.get(f"{key}:tick", 0.0) < 0.8 * interval_s:
        return
    value, last = next_frame(options, st.session_state.get(key), step)
    st.session_state[key] = value
    st.session_state[f"{key}:tick"] = time.monotonic()
    if last:
        st.session_state[f"{key}:playing"] = False


def player(options: Sequence[Any], key: str, render: Callable[[Any], None], *, label: str = "Epoch",
           help: str | None = None, interval_s: float = PLAY_S,  # noqa: A002 - Streamlit's own name
           format_func: Callable[[Any], str] = str) -> None:
    """A Play/Pause button and a slider over `options` (keyed `key`; the last option at first),
    then `render(value)`; the three redraw together, alone, while playing."""
    options = list(options)
    if not options:
        return
    if len(options) == 1:
        render(options[0])
        return
    if st.session_state.get(key) not in options:  # another run than last time: show its end
        st.session_state[key] = options[-1]
        st.session_state[f"{key}:playing"] = False
    timed = playing(key)
    timer_s = pace(len(options), speed(key), interval_s)[1]

    def body() -> None:
        step, frame_s = pace(len(options), speed(key), interval_s)
        _step(key, options, step, frame_s)
        if playing(key) != timed or (timed and frame_s != timer_s):  # (un)set or re-time the timer: redraw the page
            st.rerun(scope="app")
        left, middle, right = st.columns([1, 6, 1], vertical_alignment="bottom")
        now = playing(key)
        left.button("Pause" if now else "Play", key=f"{key}_play", on_click=_toggle, args=(key, options),
                    icon=":material/pause:" if now else ":material/play_arrow:", width="stretch")
        shown = "collapsed" if presenter.enabled() else "visible"  # on a projector the picture needs the line
        value = middle.select_slider(label, options, key=key, format_func=format_func, help=help,
                                     label_visibility=shown)
        right.selectbox("Speed", SPEEDS, index=SPEEDS.index(1.0), key=f"{key}_speed", format_func=SPEED_LABELS.get,
                        label_visibility=shown,
                        help="How fast Play steps through the run: 1× plays any run in about 30 s; slower speeds "
                             "show more epochs, each for longer.")
        render(value)

    st.fragment(body, run_every=timer_s if timed else None)()
