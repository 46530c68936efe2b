"""AppTest: the lessons page, opening a lesson (one click and by URL), its steps, presenter view.

run_every does not fire in AppTest: after a lesson starts a run we wait for the Run itself, then rerun.
"""
from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from nnviz.teaching import lessons
from nnviz.ui import presenter
from tests.app.conftest import APP


@pytest.fixture
def quick(nnviz_env, monkeypatch):
    """Lesson runs capped at 1 epoch (the settings are otherwise the lesson's own)."""
    monkeypatch.setenv(lessons.EPOCH_CAP_ENV, "1")
    return nnviz_env


def _app(**params: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    for key, value in params.items():
        at.query_params[key] = value
    at.run()
    assert not at.exception, at.exception
    return at


def _run(at: AppTest, slot: str):
    from nnviz.jobs import runs

    return runs.get(at.session_state[f"run_id:{slot}"])


def _texts(at: AppTest) -> str:
    return " ".join([m.value for m in at.markdown] + [c.value for c in at.caption] + [w.value for w in at.warning]
                    + [e.value for e in at.error])


def test_lessons_page_lists_every_lesson_with_an_open_button(quick):
    at = _app()
    at.switch_page("app_pages/lessons.py").run()
    assert not at.exception, at.exception
    assert [b.key for b in at.button if b.key.startswith("lesson_open_")] == \
        [f"lesson_open_{lesson_id}" for lesson_id in lessons.LESSONS]
    text = _texts(at)
    for lesson in lessons.LESSONS.values():
        assert lesson.title in text and lesson.look_for[1] in text
    assert "?lesson=fashion_cnn" in text, "each card gives the link for a slide"
    assert "runs on the MNIST sample" in text, "missing sets are announced before opening"


def test_one_click_applies_the_settings_and_starts_the_run(quick):
    at = _app()
    at.switch_page("app_pages/lessons.py").run()
    at.button(key="lesson_open_sigmoid_mlp").click().run()
    assert not at.exception, at.exception
    assert at.title[0].value == "Regression lab"
    assert at.session_state["rg_model"] == "mlp1_sigmoid" and at.session_state["rg_function"] == "course"
    run = _run(at, "regression")
    assert run is not None and run.config.model.hidden == (100,) and run.config.model.activation == "sigmoid"
    assert run.config.train.epochs == 1, "the test's epoch cap"
    assert dict(at.query_params)["lesson"] == "sigmoid_mlp"
    assert lessons.get("sigmoid_mlp").look_for[0] in _texts(at)
    assert run.wait(120)
    at.run()
    assert not at.exception, at.exception


def test_url_opens_a_given_lesson_step_on_its_page(quick):
    at = _app(lesson="l2_dropout", step="2")
    assert at.title[0].value == "Regression lab"
    assert at.session_state["rg_model"] == "custom" and at.session_state["rg_dropout"] == 0.1
    assert at.session_state["rg_weight_decay"] == 0.0
    run = _run(at, "regression")
    assert run.config.model.dropout == 0.1 and run.config.model.hidden == (128, 128)
    assert "step 3 of 3" in _texts(at)
    assert run.wait(120)


def test_a_refreshed_tab_follows_the_lessons_run_instead_of_training_again(quick):
    at = _app(lesson="sigmoid_mlp")
    run = _run(at, "regression")
    assert run.wait(120)
    refreshed = _app(**dict(at.query_params))  # a new session with the same URL
    assert refreshed.session_state["run_id:regression"] == run.id
    assert refreshed.session_state["rg_model"] == "mlp1_sigmoid", "the lesson's settings, not the defaults"
    assert "settings changed since this run" not in _texts(refreshed)
    assert lessons.get("sigmoid_mlp").look_for[0] in _texts(refreshed)


def test_the_untrained_first_screen_waits_for_start(quick):
    at = _app(lesson="linear_regression")
    assert at.session_state["rg_model"] == "linear"
    assert "run_id:regression" not in at.session_state
    assert not at.button(key="rg_start").disabled
    assert "Press **Start**" in _texts(at)


def test_next_step_walks_from_training_to_the_trained_models_filters(quick):
    at = _app(lesson="mnist_cnn")
    assert at.title[0].value == "Classification lab"
    run = _run(at, "classification")
    assert run.config.preset == "pytorch_example" and run.config.data.dataset == "mnist_sample", "offline fallback"
    assert "MNIST is not on this machine" in _texts(at)
    assert run.wait(120)
    at.run()
    at.button(key="lesson_next").click().run()
    assert not at.exception, at.exception
    assert "Inside the network" in at.title[0].value
    assert at.session_state["picked_model_path"] == str(run.dir / "final.pt"), "the lesson's own model"
    assert at.session_state["inside_tab"] == "Filters"
    at.button(key="lesson_next").click().run()
    assert at.session_state["inside_tab"] == "Feature maps" and dict(at.query_params)["step"] == "2"
    assert "lesson_next" not in [b.key for b in at.button], "the last step has no Next"
    at.button(key="lesson_end").click().run()
    assert "lesson" not in dict(at.query_params)
    assert lessons.get("mnist_cnn").look_for[1] not in _texts(at), "the banner is gone"


def test_sweep_lessons_hand_the_experiments_page_its_sweep(quick):
    from nnviz.jobs import sweeps
    from nnviz.ui import experiments_common, experiments_sweeps

    at = _app(lesson="optimizer_race")
    assert at.title[0].value == "Experiments"
    assert at.session_state[experiments_common.SWEEP_KEY] == "optimizers"
    assert at.session_state[experiments_common.DATASET_KEY] == "mnist_sample", "MNIST is missing here"
    params = dict(at.query_params)
    assert params["sweep"] == "optimizers" and params["dataset"] == "mnist_sample"
    job = sweeps.get_sweep(at.session_state[experiments_sweeps.JOB_KEY])
    assert job is not None and job.key == "optimizers", "one click also starts the sweep"
    assert job.tempo.epochs_per_s == 2.0, "the race starts in slow motion, so a class can follow it"
    assert at.select_slider(key=experiments_sweeps.TEMPO_KEY).value == 2.0  # and says so
    job.stop()
    job.wait(10)


def test_grid_search_step_starts_the_cross_validated_search(quick):
    from nnviz.jobs import search_jobs
    from nnviz.ui import experiments_search

    at = _app(lesson="kfold_grid", step="1")
    assert at.title[0].value == "Experiments"
    job = search_jobs.get_search(at.session_state[experiments_search.JOB_KEY])
    assert job is not None and job.study.startswith("lesson-kfold_grid-") and job.n_trials == 9
    assert at.session_state[experiments_search.STUDY_KEY] == job.study
    assert "sweep" not in dict(at.query_params)
    assert dict(at.query_params)["tab"] == "search", "the step opens the search, not the Compare tab"
    job.stop()
    job.wait(10)


def test_the_last_step_overlays_every_steps_run_in_one_figure(quick):
    import json

    at = _app(lesson="l2_dropout")
    for step in (1, 2):
        assert _run(at, "regression").wait(120)
        at.button(key="lesson_next").click().run()
        assert not at.exception, at.exception
        assert dict(at.query_params)["step"] == str(step)
    assert _run(at, "regression").wait(120)
    at.run()
    assert not [c for c in at.get("plotly_chart") if c.proto.id and "lesson_overlay" in c.proto.id]
    at.button(key="lesson_overlay").click().run()  # a dialog: it takes no room from the first screen
    assert not at.exception, at.exception
    overlay = [c for c in at.get("plotly_chart") if "lesson_overlay_figure" in c.proto.id]
    assert len(overlay) == 1
    traces = [t["name"] for t in json.loads(overlay[0].proto.spec)["data"]]
    assert traces[0] == "training points"
    assert [t for t in traces if t in ("No regularisation", "L2", "Dropout")] == ["No regularisation", "L2", "Dropout"]


def test_bad_links_get_a_message_not_a_traceback(quick):
    at = _app(lesson="no_such_lesson")
    assert "no lesson **no_such_lesson**" in _texts(at)
    at = _app(lesson="sigmoid_mlp", step="7")
    assert "steps 0–0" in _texts(at)


def test_presenter_view_from_the_url_adds_shortcuts_and_its_style(quick):
    at = _app(lesson="fashion_cnn", presenter="1")
    assert at.toggle(key="presenter_toggle").value
    assert at.button(key="cls_start").proto.shortcut == "s" and at.button(key="cls_stop").proto.shortcut == "x"
    assert any(f"html {{ font-size: {presenter.base_font_px()}px" in h.proto.body for h in at.get("html"))
    assert _run(at, "classification").wait(120)
    at.run()
    at.toggle(key="presenter_toggle").set_value(False).run()
    assert "presenter" not in dict(at.query_params)
    assert at.button(key="cls_start").proto.shortcut == ""
    assert not any("html { font-size:" in h.proto.body for h in at.get("html"))


def test_presenter_view_folds_advanced_controls_and_keeps_their_values(quick):
    at = _app(lesson="sigmoid_mlp", presenter="1")
    assert [e.label for e in at.expander if e.label == "Seed and device"], "folded in presenter view"
    assert at.number_input(key="rg_seed").value == 0, "still rendered, so its value is kept"
    assert _run(at, "regression").wait(120)
    at.run()
    at.toggle(key="presenter_toggle").set_value(False).run()
    assert not [e for e in at.expander if e.label == "Seed and device"]
    assert at.number_input(key="rg_seed").value == 0


def _document_order(node):
    for child in getattr(node, "children", {}).values():
        yield child
        yield from _document_order(child)


@pytest.mark.parametrize("step, first", [(0, "collect"), (1, "collect"), (2, "train"), (3, "train"), (4, "train")])
def test_class_canvas_steps_put_what_they_are_about_first(quick, step, first):
    """Collecting: the QR code and the class set on top; training, comparing, what fooled it: training on top."""
    at = _app(lesson="class_canvas", step=str(step))
    assert at.title[0].value == "Class canvas"
    texts = [getattr(e, "value", "") for e in _document_order(at.main)]
    qr = next(i for i, t in enumerate(texts) if isinstance(t, str) and 'data-testid="class-qr"' in t)
    train = next(i for i, t in enumerate(texts) if t == "Train on the class's handwriting")
    assert (train < qr) == (first == "train"), (step, qr, train)
