"""AppTest: the Experiments page — run comparison, deep links, a ready-made sweep and a search.

run_every does not fire in AppTest: after a click starts a background job we wait for the job, then rerun.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from nnviz.config import replace
from nnviz.jobs import runs, search, search_jobs, sweeps
from nnviz.model.params import quick_base
from tests.app.conftest import APP
from tests.waiting import GENEROUS_S

PAGE = "app_pages/experiments.py"


@pytest.fixture
def env(nnviz_env):
    yield nnviz_env
    sweeps.stop_all()
    search_jobs.stop_all()


def _open(**params: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    for key, value in params.items():
        at.query_params[key] = value
    at.run()
    at.switch_page(PAGE).run()
    assert not at.exception, at.exception
    return at


def _texts(at: AppTest) -> str:
    return " ".join([m.value for m in at.markdown] + [c.value for c in at.caption] + [i.value for i in at.info]
                    + [w.value for w in at.warning] + [e.value for e in at.error] + [s.value for s in at.success])


def _frame(at: AppTest, column: str):
    """The first table on the page with `column` (AppTest does not expose a dataframe's key)."""
    return next(d.value for d in at.dataframe if column in d.value.columns or d.value.index.name == column)


def _tiny_run(lr: float) -> str:
    base = quick_base("digits", epochs=2)
    cfg = replace(base, train=replace(base.train, lr=lr, max_steps=2), name=f"lr {lr:g}")
    run = runs.start(cfg)
    assert run.wait(120) and run.status == "finished", run.message
    return run.id


def test_empty_page_explains_each_tab(env):
    at = _open()
    text = _texts(at)
    assert "No runs yet" in text and "Run sweep" in text
    assert at.selectbox(key="exp_sweep_key").value == "optimizers"


def test_runs_query_param_preselects_runs_and_shows_what_differs(env):
    a, b, c = _tiny_run(1e-3), _tiny_run(1e-2), _tiny_run(3e-3)
    at = _open(runs=f"{a},{c}")
    assert at.multiselect(key="exp_compare_runs").value == [a, c]
    chart = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert sorted(t["name"].split(" · ")[0] for t in chart["data"]) == ["lr 0.001", "lr 0.003"]  # then start times
    config = _frame(at, "field")
    assert sorted(config.index) == ["name", "train.lr"]  # only the differing settings, by default
    metrics = _frame(at, "best_val_loss")
    assert [r.split(" · ")[0] for r in metrics["run"]] == ["lr 0.001", "lr 0.003"] and (metrics["epochs"] == 2).all()
    at.radio(key="exp_compare_x").set_value("elapsed").run()
    assert not at.exception and json.loads(at.get("plotly_chart")[0].proto.spec)["layout"]["xaxis"]["title"]["text"] \
        == "wall time (s)"
    assert b not in at.multiselect(key="exp_compare_runs").value


def test_session_keys_from_another_page_preselect_sweep_and_dataset(env):
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    at.session_state["experiments:sweep"] = "learning_rate"
    at.session_state["experiments:dataset"] = "regression"
    at.switch_page(PAGE).run()
    assert not at.exception, at.exception
    assert at.selectbox(key="exp_sweep_key").value == "learning_rate"
    assert at.selectbox(key="exp_sweep_dataset").value == "regression"
    at.selectbox(key="exp_sweep_key").set_value("batch_size").run()  # the link does not pin the choice
    assert at.selectbox(key="exp_sweep_key").value == "batch_size"


def test_query_params_pick_the_sweep_and_unknown_ones_are_named(env):
    at = _open(sweep="activation_depth", dataset="digits")
    assert at.selectbox(key="exp_sweep_key").value == "activation_depth"
    at = _open(sweep="nope")
    assert "no ready-made sweep called 'nope'" in _texts(at)


def test_a_sweep_runs_in_the_background_and_fills_its_table(env):
    at = _open(sweep="batch_size", dataset="digits")
    at.number_input(key="exp_sweep_epochs_digits").set_value(1).run()
    at.button(key="exp_sweep_start").click().run()
    assert not at.exception, at.exception
    job = sweeps.get_sweep(at.session_state["exp_sweep_job"])
    assert job is not None and job.wait(240)
    at.run()
    table = _frame(at, "point")
    assert list(table["point"]) == ["8", "32", "128", "512"] and (table["status"] == "finished").all()
    chart = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert chart["layout"]["xaxis"]["type"] == "log"
    # the finished points were persisted: a fresh session finds the sweep on disk
    fresh = _open(sweep="batch_size")
    assert len(_frame(fresh, "point")) == 4


def test_a_grid_search_fills_the_cv_results_table_and_optuna_views(env, monkeypatch):
    at = _open()
    at.number_input(key="exp_search_epochs").set_value(1).run()
    at.text_input(key="exp_search_name").set_value("apptest").run()
    at.button(key="exp_search_start").click().run()
    assert not at.exception, at.exception
    job = search_jobs.get_search(at.session_state["exp_search_job"])
    assert job is not None and job.wait(300), job.message
    at.run()
    assert job.status == "finished", job.message
    table = _frame(at, "rank_test_score")
    assert len(table) == 4 and sorted(table["rank_test_score"]) == sorted(table["rank_test_score"].tolist())
    assert {"split0_test_score", "split1_test_score", "mean_test_score", "std_test_score"} <= set(table.columns)
    assert "Best: trial" in _texts(at) and "search-apptest-best.pt" in _texts(at)
    charts = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    assert len(charts) == 5  # lr x hidden heat map, history, importances, parallel coordinates, slice
    assert charts[0]["layout"]["xaxis"]["title"]["text"] == "lr"
    assert "bar" in {t.get("type") for c in charts for t in c["data"]}  # the importances
    assert "python -m nnviz sweep --storage" in " ".join(c.value for c in at.code)


def test_a_regression_grid_shows_positive_mse_per_cell_and_the_form_keeps_its_settings(env):
    at = _open()
    at.selectbox(key="exp_search_dataset").set_value("regression").run()
    at.number_input(key="exp_search_kfold").set_value(0).run()
    space = '{"lr": [0.01, 0.03], "epochs": [2, 4]}'
    at.text_area(key="exp_search_space").set_value(space).run()
    at.text_input(key="exp_search_name").set_value("lr-by-epochs").run()
    assert "creates study **lr-by-epochs**" in _texts(at)
    at.button(key="exp_search_start").click().run()
    job = search_jobs.get_search(at.session_state["exp_search_job"])
    assert job is not None and job.wait(GENEROUS_S), job.message
    at.run()
    assert job.status == "finished", job.message
    heat = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert heat["layout"]["xaxis"]["title"]["text"] == "lr" and heat["layout"]["yaxis"]["title"]["text"] == "epochs"
    cells = np.array(heat["data"][1]["text"], dtype=float)  # each cell's number, as written in it
    table = _frame(at, "rank_test_score")
    assert cells.shape == (2, 2) and (cells > 0).all()  # validation MSE, not the negated score
    assert sorted(cells.ravel()) == pytest.approx(sorted(-table["mean_test_score"]), rel=5e-3)  # 3 digits
    assert "Mean validation MSE" in _texts(at)
    # the search ended: the form is back as it was left, and says Start would add to this study
    assert at.selectbox(key="exp_search_dataset").value == "regression"
    assert at.number_input(key="exp_search_kfold").value == 0
    assert at.text_area(key="exp_search_space").value == space
    assert at.text_input(key="exp_search_name").value == "lr-by-epochs"
    assert "Study **lr-by-epochs** exists: **Start** adds 4 trial(s) to it." in _texts(at)
    at.text_area(key="exp_search_space").set_value('{"lr": [0.1], "epochs": [2]}').run()
    assert "not the ones above" in _texts(at)


def test_a_bad_space_or_storage_is_a_message_not_a_traceback(env):
    at = _open()
    at.text_area(key="exp_search_space").set_value('{"lr": [0.1,').run()
    at.button(key="exp_search_start").click().run()
    assert not at.exception and "not valid JSON" in _texts(at)
    at.text_area(key="exp_search_space").set_value('{"learning": [0.1]}').run()
    at.button(key="exp_search_start").click().run()
    assert not at.exception and "unknown parameter 'learning'" in _texts(at)
    at.text_input(key="exp_search_storage").set_value("nosuchdb://x").run()
    assert not at.exception and "cannot open the study storage" in _texts(at)
    at.text_input(key="exp_search_storage").set_value("sqlite:////tmp/elsewhere/studies.db").run()
    assert not at.exception and "under the runs folder" in _texts(at)
    assert not Path("/tmp/elsewhere/studies.db").exists()  # nothing was created there


def test_presenter_lock_keeps_the_audience_from_starting_sweeps(env, monkeypatch):
    monkeypatch.setenv("NNVIZ_PRESENTER_PASSCODE", "s3cret")
    at = _open()
    at.button(key="exp_sweep_start").click().run()
    assert not at.exception
    assert "exp_sweep_job" not in at.session_state and "Only the presenter can run sweeps" in _texts(at)
    assert at.text_input(key="exp_search_storage").disabled  # nor point the server at another database


def test_choosing_a_sampler_brings_its_default_space_name_and_trials(env):
    at = _open()
    assert json.loads(at.text_area(key="exp_search_space").value) == search.DEFAULT_SPACES["grid"]
    at.selectbox(key="exp_search_sampler").set_value("tpe").run()
    assert not at.exception, at.exception
    assert json.loads(at.text_area(key="exp_search_space").value) == search.DEFAULT_SPACES["tpe"]
    assert at.number_input(key="exp_search_trials").value == 12 and "-tpe-" in at.text_input(key="exp_search_name").value
    at.selectbox(key="exp_search_dataset").set_value("regression").run()
    assert at.number_input(key="exp_search_epochs").value == 150


def test_a_sweep_started_by_another_page_is_followed_and_stoppable(env):
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    base = quick_base("digits", epochs=50)  # long enough to be stopped from the page
    job = sweeps.start_sweep("optimizers", base)
    at.session_state["experiments:sweep"] = "optimizers"
    at.session_state["experiments:sweep_job"] = job.id
    at.switch_page(PAGE).run()
    assert not at.exception, at.exception
    assert at.session_state["exp_sweep_job"] == job.id
    assert at.button(key="exp_sweep_start").disabled and not at.button(key="exp_sweep_stop").disabled
    at.button(key="exp_sweep_stop").click().run()
    assert job.wait(GENEROUS_S) and job.status == "stopped"


def test_a_study_can_be_deleted_but_not_by_a_locked_audience(env, monkeypatch):
    from nnviz.model.params import quick_base as qb

    url = search.default_storage_url()
    spec = search.SearchSpec(base=qb("digits", epochs=1), space={"lr": [1e-3]}, sampler="grid")
    search.open_study(url, "to-delete", spec)
    monkeypatch.setenv("NNVIZ_PRESENTER_PASSCODE", "s3cret")
    at = _open()
    at.button(key="exp_search_delete").click().run()
    assert "to-delete" in search.study_names(url) and "Only the presenter can delete studies" in _texts(at)
    monkeypatch.delenv("NNVIZ_PRESENTER_PASSCODE")
    at = _open()
    at.button(key="exp_search_delete").click().run()
    assert not at.exception, at.exception
    assert search.study_names(url) == []
