"""nnviz.ui.replay: the epoch player's stepping, and play / pause / the end of a run in AppTest.

run_every does not fire in AppTest: a rerun after the frame interval (on a clock moved by hand) stands in
for the timer.
"""
from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from nnviz.ui.replay import MAX_FRAMES, PLAY_S, SPEEDS, next_frame, pace, stride

INTERVAL = 0.3


def test_next_frame():
    assert next_frame([0, 1, 2, 3], 1) == (2, False)
    assert next_frame([0, 1, 2, 3], 2) == (3, True)
    assert next_frame([0, 1, 2, 3], 3) == (3, True)  # stays at the end
    assert next_frame([0, 5, 10], 7) == (0, False)  # an epoch of another run: start again
    assert next_frame([4], 4) == (4, True)
    assert next_frame(list(range(10)), 2, step=3) == (5, False)
    assert next_frame(list(range(10)), 8, step=3) == (9, True)  # never past the last epoch


def test_long_runs_play_in_a_bounded_number_of_frames():
    assert stride(5) == 1 and stride(41) == 1 and stride(42) == 2
    options, value, frames, last = list(range(301)), 0, 0, False
    while not last:
        value, last = next_frame(options, value, stride(len(options)))
        frames += 1
    assert value == 300 and frames <= MAX_FRAMES


def test_speed_sets_the_epochs_per_frame_and_the_frame_time():
    assert pace(11) == (1, PLAY_S)  # 1x: the default pace, unchanged
    assert pace(301) == (stride(301), PLAY_S)
    step, frame_s = pace(11, 0.25)
    assert step == 1 and frame_s == pytest.approx(4 * PLAY_S)  # slower: each epoch shown longer
    step, frame_s = pace(301, 0.25)
    assert step < stride(301) and frame_s >= PLAY_S * 0.99  # a long run shows more of its epochs
    for n in (5, 41, 301, 1501):
        rates = [pace(n, s)[0] / pace(n, s)[1] for s in SPEEDS]  # options per second
        assert rates == sorted(rates) and len(set(rates)) == len(rates)  # every speed faster than the one before
        assert all(pace(n, s)[1] >= 0.39 for s in SPEEDS)  # never redrawn more often than ~2.5x a second


def test_a_slower_speed_shows_each_epoch_for_longer(at, replay_clock):
    at.select_slider(key="ep").set_value(0).run()
    at.selectbox(key="ep_speed").set_value(0.25).run()
    at.button(key="ep_play").click().run()
    replay_clock.advance(INTERVAL)
    at.run()
    assert at.select_slider(key="ep").value == 0  # at 1x this would be the next frame
    replay_clock.advance(3 * INTERVAL)
    at.run()
    assert at.select_slider(key="ep").value == 2 and not at.exception


def _script() -> None:
    import streamlit as st

    from nnviz.ui import replay

    epochs = [0, 2, 4, 6]

    def render(epoch: int) -> None:
        st.session_state["rendered"] = st.session_state.get("rendered", []) + [epoch]
        st.markdown(f"frame {epoch}")

    replay.player(epochs, "ep", render, interval_s=0.3)


@pytest.fixture
def at(replay_clock) -> AppTest:
    app = AppTest.from_function(_script, default_timeout=30)
    app.run()
    assert not app.exception, app.exception
    return app


def _frame(app: AppTest) -> str:
    return next(m.value for m in app.markdown if m.value.startswith("frame"))


def test_starts_paused_at_the_last_epoch(at, replay_clock):
    assert at.select_slider(key="ep").value == 6 and _frame(at) == "frame 6"
    assert at.button(key="ep_play").label == "Play"
    replay_clock.advance(INTERVAL)
    at.run()
    assert at.select_slider(key="ep").value == 6  # paused: time passing changes nothing


def test_play_advances_pause_stops_and_the_end_pauses(at, replay_clock):
    at.select_slider(key="ep").set_value(0).run()
    assert _frame(at) == "frame 0"
    at.button(key="ep_play").click().run()
    assert at.button(key="ep_play").label == "Pause" and at.session_state["ep:playing"]
    assert at.select_slider(key="ep").value == 0  # the first frame stays for a whole interval
    at.run()
    assert at.select_slider(key="ep").value == 0  # an early rerun does not step
    replay_clock.advance(INTERVAL)
    at.run()  # the timer's rerun
    assert at.select_slider(key="ep").value == 2 and _frame(at) == "frame 2"
    at.button(key="ep_play").click().run()  # pause
    assert at.button(key="ep_play").label == "Play" and not at.session_state["ep:playing"]
    replay_clock.advance(INTERVAL)
    at.run()
    assert at.select_slider(key="ep").value == 2
    at.button(key="ep_play").click().run()  # play on to the end
    for expected in (4, 6):
        replay_clock.advance(INTERVAL)
        at.run()
        assert at.select_slider(key="ep").value == expected
    assert not at.session_state["ep:playing"] and at.button(key="ep_play").label == "Play"  # paused at the end
    assert not at.exception


def test_play_at_the_end_starts_from_the_first_epoch(at):
    at.button(key="ep_play").click().run()
    assert at.select_slider(key="ep").value == 0 and at.session_state["ep:playing"]


def test_an_epoch_of_another_run_resets_to_the_end():
    def script() -> None:
        import streamlit as st

        from nnviz.ui import replay

        st.session_state.setdefault("ep", 99)  # left over from a longer run
        replay.player([0, 1, 2], "ep", lambda e: st.markdown(f"frame {e}"))

    app = AppTest.from_function(script, default_timeout=30)
    app.run()
    assert not app.exception and app.select_slider(key="ep").value == 2


def test_a_single_epoch_renders_without_a_slider():
    def script() -> None:
        import streamlit as st

        from nnviz.ui import replay

        replay.player([3], "ep", lambda e: st.markdown(f"frame {e}"))

    app = AppTest.from_function(script, default_timeout=30)
    app.run()
    assert not app.exception and app.markdown[0].value == "frame 3" and not app.select_slider
