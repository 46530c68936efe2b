"""Presenter mode (NNVIZ_PRESENTER_PASSCODE): the audience explores, draws and predicts; only a session
that entered the passcode trains, stops, saves or deletes. Without the variable nothing changes."""
from __future__ import annotations

import base64

import pytest
from streamlit.testing.v1 import AppTest

from nnviz.jobs import runs
from tests.app.conftest import APP
from tests.app.test_draw import SEVEN, canvas_png

CODE = "correct horse 42"
LOCKED = "Only the presenter can start or stop training."


@pytest.fixture
def presenter(nnviz_env, monkeypatch):
    monkeypatch.setenv("NNVIZ_PRESENTER_PASSCODE", CODE)
    return CODE


def _page(path: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    at.switch_page(path).run()
    assert not at.exception, at.exception
    return at


def _infos(at: AppTest) -> list[str]:
    return [i.value for i in at.info]


def _unlock(at: AppTest, attempt: str) -> None:
    at.sidebar.text_input(key="presenter_passcode_input").input(attempt).run()
    assert not at.exception, at.exception


def test_without_a_passcode_everything_is_open(nnviz_env, monkeypatch):
    monkeypatch.delenv("NNVIZ_PRESENTER_PASSCODE", raising=False)
    at = _page("app_pages/regression.py")
    assert not at.button(key="rg_start").disabled and LOCKED not in _infos(at)
    assert not [t for t in at.sidebar.text_input if t.key == "presenter_passcode_input"]


@pytest.mark.parametrize("path, start", [("app_pages/regression.py", "rg_start"),
                                         ("app_pages/classification.py", "cls_start")])
def test_the_audience_cannot_start_training(presenter, path, start):
    at = _page(path)
    assert at.button(key=start).disabled
    assert LOCKED in _infos(at)


def _start_directly() -> None:
    """What a hand-made websocket message pressing the greyed-out Start would reach: live.start itself."""
    import streamlit as st

    from nnviz.config import DataConfig, ModelConfig, RunConfig, TrainConfig
    from nnviz.ui import live

    cfg = RunConfig(data=DataConfig(dataset="regression", n_train=32, n_test=16), model=ModelConfig(hidden=(4,)),
                    train=TrainConfig(device="cpu", epochs=1))
    st.write("started" if live.start("test", cfg) is not None else "refused")


def test_starting_is_refused_server_side_too(presenter):
    at = AppTest.from_function(_start_directly, default_timeout=60).run()
    assert not at.exception, at.exception
    assert [m.value for m in at.markdown] == ["refused"] and runs.active_runs() == []
    at.session_state["presenter_unlocked"] = True  # what the passcode box sets
    at.run()
    assert [m.value for m in at.markdown] == ["started"]


def test_wrong_passcode_then_the_right_one_unlocks_this_session_only(presenter):
    at = _page("app_pages/regression.py")
    _unlock(at, "guess")
    assert [e.value for e in at.sidebar.error] == ["Wrong passcode."]
    assert at.button(key="rg_start").disabled
    _unlock(at, CODE)
    assert not at.sidebar.error and not at.button(key="rg_start").disabled and LOCKED not in _infos(at)
    assert at.session_state["presenter_passcode_input"] == ""  # the passcode is not kept in the session
    other = _page("app_pages/regression.py")  # another browser: still locked
    assert other.button(key="rg_start").disabled
    at.sidebar.button(key="presenter_lock").click().run()  # the presenter can lock again
    assert at.button(key="rg_start").disabled


def test_the_unlocked_presenter_trains(presenter):
    at = _page("app_pages/regression.py")
    _unlock(at, CODE)
    at.number_input(key="rg_epochs").set_value(2).run()
    at.button(key="rg_start").click().run()
    assert not at.exception, at.exception
    run = runs.get(at.session_state["run_id:regression"])
    assert run is not None and run.wait(120) and run.view().status == "finished"


def test_the_audience_still_draws_and_predicts(presenter):
    at = _page("app_pages/draw.py")
    url = "data:image/png;base64," + base64.b64encode(canvas_png(SEVEN)).decode()
    at.session_state["draw_canvas_0"] = {"drawing": {"raw": {"objects": [{"type": "path"}], "background": "#FFFFFF"},
                                                     "data": url}, "backgroundFit": None}
    at.run()
    assert not at.exception, at.exception
    assert [m for m in at.markdown if 'data-testid="draw-prediction"' in m.value]
    assert LOCKED not in _infos(at)


def test_the_audience_cannot_save_checkpoints_or_type_server_paths(presenter):
    at = _page("app_pages/classification.py")
    assert at.button(key="cls_save").disabled and at.text_input(key="cls_data_dir").disabled
    assert "Only the presenter can save checkpoints here." in [c.value for c in at.caption]


def test_guessing_is_slowed_down_after_five_wrong_passcodes(presenter):
    at = _page("app_pages/regression.py")
    for _ in range(5):
        _unlock(at, "guess")
    _unlock(at, CODE)  # even the right one waits now (per address: see test_hostile_classroom for reloads)
    errors = [e.value for e in at.sidebar.error]  # 30 s after the first of the five wrong ones
    assert len(errors) == 1 and errors[0].startswith("Too many wrong passcodes: wait ")
    assert at.button(key="rg_start").disabled
