"""Many users on one server: sessions keep their own state, training runs beyond the global cap wait in a
queue everybody can see, and one session cannot take every slot."""
from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from nnviz.jobs import background, runs
from tests.app.conftest import APP, live_data
from tests.waiting import GENEROUS_S, wait_until

LAB = "app_pages/regression.py"


def _lab() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    at.switch_page(LAB).run()
    assert not at.exception, at.exception
    return at


def _start(at: AppTest, epochs: int = 5000) -> runs.Run:
    at.number_input(key="rg_epochs").set_value(epochs).run()
    at.button(key="rg_start").click().run()
    assert not at.exception, at.exception
    return runs.get(at.session_state["run_id:regression"])


@pytest.fixture
def one_slot(nnviz_env, monkeypatch):
    monkeypatch.delenv("NNVIZ_PRESENTER_PASSCODE", raising=False)
    monkeypatch.setattr(background.TRAINING_SLOTS, "n", 1)  # NNVIZ_MAX_CONCURRENT_RUNS=1
    yield
    runs.stop_all()


def test_sessions_have_their_own_settings(nnviz_env):
    a, b = _lab(), _lab()
    a.number_input(key="rg_epochs").set_value(7).run()
    b.run()
    assert a.number_input(key="rg_epochs").value == 7 and b.number_input(key="rg_epochs").value != 7


def test_a_run_beyond_the_cap_queues_and_everyone_sees_it(one_slot):
    first, second = _lab(), _lab()
    run1 = _start(first)
    wait_until(lambda: run1.status == "running", what="the first run taking the slot")
    run2 = _start(second)
    assert run1.status == "running" and run2.status == "queued"  # and stays so while the first one trains
    second.run()
    sidebar = live_data(second.sidebar, "nnviz-live-activity")
    assert any("queued for a free slot" in item["text"] and item["fraction"] is None
               for item in sidebar["frame"]["items"]), sidebar["frame"]
    assert run1.id != run2.id and run1.dir != run2.dir  # runs are isolated: own folders
    first.button(key="rg_stop").click().run()  # the first one stops: the queued one gets the slot
    assert run1.wait(GENEROUS_S)
    wait_until(lambda: run2.status != "queued", what="the queued run leaving the queue")
    assert run2.status == "running"


def test_one_session_cannot_take_every_slot(nnviz_env, monkeypatch):
    monkeypatch.delenv("NNVIZ_PRESENTER_PASSCODE", raising=False)
    from nnviz.ui import live
    monkeypatch.setattr(live, "MAX_RUNS_PER_SESSION", 1)  # the same rule as the default 2, one lab instead of two
    at = _lab()
    run = _start(at)
    at.switch_page("app_pages/classification.py").run()
    at.button(key="cls_start").click().run()
    assert not at.exception, at.exception
    assert "You already have 1 runs training. Stop one before starting another." in [w.value for w in at.warning]
    assert runs.active_runs() == [run]
    from nnviz.ui import access
    monkeypatch.setattr(access, "client", lambda: "10.0.0.9")  # the next session: another device
    other = _lab()  # another session is not limited by this one's runs (only by the global cap)
    assert other.session_state["run_id:regression"] == run.id  # opening the lab, it follows the run training
    other.button(key="rg_reset").click().run()  # back to its own set-up: the run is not its to stop
    assert run.active and not other.button(key="rg_start").disabled
    runs.stop_all()
