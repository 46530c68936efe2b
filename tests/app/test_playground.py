"""AppTest: the Playground page renders its live view, takes its settings from a link and writes them back,
names bad link parameters, follows setting changes with a new network, and opens its lessons."""
from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from nnviz.playground import job
from tests.app.conftest import APP, live_data
from tests.waiting import wait_until


@pytest.fixture(autouse=True)
def _env(nnviz_env):
    yield nnviz_env
    job.stop_all(timeout=10)


def _open(**params: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    for key, value in params.items():
        at.query_params[key] = value
    at.run()
    at.switch_page("app_pages/playground.py").run()
    assert not at.exception, at.exception
    return at


def _view(at: AppTest) -> dict:
    data = live_data(at.main, "nnviz-pg-main")
    assert data is not None, "the live view is missing"
    return data


def _job(at: AppTest) -> job.PlaygroundJob:
    return job.get(at.session_state["pg:job:main"])


def test_the_page_shows_a_paused_untrained_network_and_puts_its_settings_in_the_url():
    at = _open()
    data = _view(at)
    assert data["static"]["features"] == ["x1", "x2"] and data["static"]["hidden"] == [4, 2]
    assert data["frame"]["epoch"] == 0 and not data["frame"]["playing"] and data["token"]
    assert at.query_params["ds"] == "circle" and at.query_params["hidden"] == "4,2"


def test_a_link_opens_its_settings_and_bad_parameters_get_one_sentence_each():
    at = _open(ds="spiral", feat="x1,x2,sinx1", hidden="8,8,3", act="relu", lr="0.1", seed="12", n="abc")
    running = _job(at)
    assert running.config.dataset == "spiral" and running.config.hidden == (8, 8, 3)
    assert running.config.features == ("x1", "x2", "sinx1") and running.config.lr == 0.1 and running.config.seed == 12
    assert [w.value for w in at.warning] == ["Link parameter n='abc' ignored: it is not a valid value."]
    assert _view(at)["labels"] == ["x₁", "x₂", "sin x₁"]


def test_a_changed_setting_replaces_the_network_and_the_url_follows():
    at = _open()
    first = _job(at)
    at.number_input(key="pg_seed").set_value(5).run()
    assert not at.exception
    second = _job(at)
    assert second.id != first.id and second.config.seed == 5 and not first.active or first.stop_event.is_set()
    assert at.query_params["seed"] == "5"
    at.number_input(key="pg_layers").set_value(0).run()
    assert _job(at).config.hidden == () and at.query_params["hidden"] == "0"


def test_the_xor_lesson_opens_the_playground_training_without_a_hidden_layer():
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params["lesson"] = "xor_hidden_layer"
    at.run()
    assert not at.exception, at.exception
    running = _job(at)
    assert running.config.dataset == "xor" and running.config.hidden == ()
    wait_until(lambda: running.view()["epoch"] >= 1, what="the lesson's network to train")
