"""Replay a run epoch by epoch: an epoch slider with play/pause, shared by every page that shows a run.

`player(options, key, render)` draws a Play/Pause button and a slider, then `render(value)`,
all inside one fragment. While playing, the fragment reruns every `interval_s` and steps the
slider forward (only that part of the page redraws; a long run skips epochs so that it plays
in MAX_FRAMES frames); at the last epoch it pauses itself.
A fragment's `run_every` is fixed when the page draws it, so starting or stopping reruns the
whole page once: the fragment is then re-created with (or without) its timer.
"""
from __future__ import annotations

import math
import time
from typing import Any, Callable, Sequence

import streamlit as st

PLAY_S = 0.8  # seconds per frame while playing: long enough to see each epoch's picture
MAX_FRAMES = 40  # a long run skips epochs so that it plays in at most ~40 frames (~30 s)


def stride(n_options: int, max_frames: int = MAX_FRAMES) -> int:
    """Options to advance per frame so that playing all of them takes at most `max_frames` frames."""
    return max(1, math.ceil((n_options - 1) / max_frames))


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


def _step(key: str, options: Sequence[Any], interval_s: float) -> None:
    """While playing: one step forward when a frame's time has passed (reruns for other reasons do not step)."""
    if not playing(key) or time.monotonic() - st.session_state.get(f"{key}:tick", 0.0) < 0.8 * interval_s:
        return
    value, last = next_frame(options, st.session_state.get(key), stride(len(options)))
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

    def body() -> None:
        _step(key, options, interval_s)
        if playing(key) != timed:  # started, paused or finished: redraw the page to (un)set the timer
            st.rerun(scope="app")
        left, right = st.columns([1, 7], vertical_alignment="bottom")
        now = playing(key)
        left.button("Pause" if now else "Play", key=f"{key}_play", on_click=_toggle, args=(key, options),
                    icon=":material/pause:" if now else ":material/play_arrow:", width="stretch")
        value = right.select_slider(label, options, key=key, format_func=format_func, help=help)
        render(value)

    st.fragment(body, run_every=interval_s if timed else None)()
