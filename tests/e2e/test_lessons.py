"""Lessons in a real browser, on a server of their own: a deep link is the first request it ever gets,
then every lesson is opened with one click, trained offline (embedded data) and photographed.

The server caps lesson runs at NNVIZ_LESSON_MAX_EPOCHS epochs so the whole file stays quick; the
lessons' models, data and optimizers are their own.
"""
from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import pytest

from nnviz.teaching import lessons
from tests.e2e.conftest import assert_no_exception, charts_settled, screenshot, serve_dashboard, wait_idle
from tests.waiting import GENEROUS_S, wait_until

pytestmark = pytest.mark.e2e

EPOCH_CAP = "40"  # regression lessons still show a shaped fit; image lessons keep their 3-10 epochs
PROGRESS = '[data-testid="stMain"] [data-testid="stProgress"]'
CHARTS = '[data-testid="stMain"] [data-testid="stPlotlyChart"]'


@pytest.fixture(scope="module")
def fresh_url(tmp_path_factory: pytest.TempPathFactory):
    """A dashboard nobody has opened yet, with nothing downloaded (fresh clone, offline)."""
    with serve_dashboard(tmp_path_factory.mktemp("lessons_e2e"), normal_priority=True,
                         **{lessons.EPOCH_CAP_ENV: EPOCH_CAP}) as url:
        yield url


def _params(page) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlparse(page.url).query).items()}


def _main_text(page) -> str:
    return page.locator('[data-testid="stMain"]').inner_text()


def _charts_drawn(page, n: int) -> None:
    page.wait_for_function(f"document.querySelectorAll('{CHARTS} .main-svg').length >= {n}", timeout=60_000)
    charts_settled(page, CHARTS)  # plotly finishes drawing after the element appears


def _regression_finished(page) -> None:
    page.wait_for_function(
        f"(document.querySelector('{PROGRESS}')?.innerText || '').startsWith('Finished')", timeout=180_000)
    wait_idle(page)
    _charts_drawn(page, 2)


def _classification_finished(page) -> None:
    page.wait_for_selector(".st-key-cls_results_head", timeout=240_000)
    wait_idle(page)
    _charts_drawn(page, 1)


def _shoot(page, name: str, chart: int = 0) -> None:
    """The top of the page (banner, controls), then chart number `chart` scrolled into view (the results)."""
    page.evaluate("document.querySelectorAll('*').forEach(e => { if (e.scrollTop) e.scrollTop = 0; })")
    charts_settled(page, CHARTS, at_least=0)
    screenshot(page, name)
    charts = page.locator(f"{CHARTS}:visible")
    if charts.count():
        charts.nth(min(chart, charts.count() - 1)).scroll_into_view_if_needed()
        charts_settled(page, CHARTS, at_least=0)
        screenshot(page, f"{name}_results")


def _sweep_finished(page, sweep: str) -> None:
    """The sweep the lesson started trained every point: its table is there and no progress bar is left."""
    page.wait_for_selector('[data-testid="stMain"] [data-testid="stDataFrame"]:visible', timeout=240_000)
    page.wait_for_function(f"!document.querySelector('{PROGRESS}')", timeout=300_000)
    wait_idle(page)
    page.wait_for_selector(f".st-key-exp_sweep_chart_{sweep} .main-svg", timeout=60_000)
    charts_settled(page, f".st-key-exp_sweep_chart_{sweep}")


def _banner(page, lesson_id: str, step: int) -> None:
    lesson = lessons.get(lesson_id)
    shown = f"step {step + 1} of {len(lesson.steps)}"
    # the URL names the step as soon as the key is pressed; on a busy machine the rerun drawing it comes later
    wait_until(lambda: lesson.title in _main_text(page) and shown in _main_text(page), timeout=GENEROUS_S,
               what=f"the banner saying {lesson.title!r} {shown}")
    page.locator('.st-key-lesson_banner [data-testid="stPopover"] button').click()  # the compact banner's "Look for"
    body = page.locator('[data-testid="stPopoverBody"]')
    body.wait_for(timeout=30_000)
    assert lesson.look_for[0][:60] in body.inner_text()
    page.keyboard.press("Escape")
    body.wait_for(state="hidden", timeout=30_000)


def test_deep_link_is_the_first_request_of_a_fresh_server(fresh_url, browser):
    """A slide's link (root URL + ?lesson=&step=) opens the lesson's page, settings and run."""
    context = browser.new_context(viewport={"width": 1920, "height": 1080})
    page = context.new_page()
    page.goto(f"{fresh_url}/?lesson=l2_dropout&step=1&presenter=1")
    page.wait_for_url("**/regression?*", timeout=60_000)
    wait_idle(page)
    assert_no_exception(page)
    params = _params(page)
    assert params["lesson"] == "l2_dropout" and params["step"] == "1" and params["presenter"] == "1"
    assert params.get("regression_run"), "the lesson started its run"
    _banner(page, "l2_dropout", 1)
    page.locator('[data-testid="stExpander"] summary').filter(has_text="Set-up").click()  # folded while a run exists
    page.get_by_role("tab", name="Training").click()
    training = page.locator('[data-testid="stMain"] [data-testid="stSlider"]').filter(has_text="L2 weight decay")
    assert "0.001" in training.inner_text(), "step 2 is the L2 step"
    _regression_finished(page)
    assert_no_exception(page)
    _shoot(page, "lesson_deeplink_l2_presenter_1920")
    context.close()


def _open_from_lessons_page(page, url: str, lesson_id: str) -> None:
    page.goto(f"{url}/lessons?presenter=1")
    wait_idle(page)
    page.locator(f".st-key-lesson_open_{lesson_id} button").click()
    page.wait_for_function(f"new URL(location).searchParams.get('lesson') === '{lesson_id}' && "
                           "!location.pathname.endsWith('/lessons')", timeout=60_000)
    wait_idle(page)
    assert_no_exception(page)


def _next(page, lesson_id: str, step: int) -> None:
    page.keyboard.press("n")  # presenter view: N is Next step
    page.wait_for_function(f"new URL(location).searchParams.get('step') === '{step}'", timeout=60_000)
    wait_idle(page)
    assert_no_exception(page)
    _banner(page, lesson_id, step)


# The Playground's and the Class canvas's lessons are walked through by their own pages' tests.
LAB_LESSONS = [lesson_id for lesson_id, lesson in lessons.LESSONS.items()
               if lesson.steps[0].page in ("regression", "classification")]
SWEEP_LESSONS = [lesson_id for lesson_id, lesson in lessons.LESSONS.items() if lesson.steps[0].page == "experiments"]


@pytest.mark.timeout(1200)  # kfold_grid's second step is a 3-fold grid search: minutes on a busy machine
@pytest.mark.parametrize("lesson_id", LAB_LESSONS)
def test_lab_lesson_runs_in_one_click(fresh_url, browser, lesson_id):
    context = browser.new_context(viewport={"width": 1280, "height": 720})
    page = context.new_page()
    _open_from_lessons_page(page, fresh_url, lesson_id)
    lesson = lessons.resolve(lessons.get(lesson_id))
    first = lesson.steps[0]
    _banner(page, lesson_id, 0)
    if not first.autostart:
        assert "regression_run" not in _params(page), "the untrained model comes first"
        _charts_drawn(page, 1)
        screenshot(page, f"lesson_{lesson_id}_before")
        page.keyboard.press("s")  # presenter view: S is Start
    if first.page == "regression":
        _regression_finished(page)
    else:
        page.locator('.st-key-lesson_banner [data-testid="stPopover"] button').click()  # "Look for" holds the note
        note = page.locator('[data-testid="stPopoverBody"]')
        note.wait_for(timeout=30_000)
        assert "not on this machine" in note.inner_text(), "the fallback to an embedded set is announced"
        page.keyboard.press("Escape")
        note.wait_for(state="hidden", timeout=30_000)
        _classification_finished(page)
        if lesson_id == "fashion_cnn":
            page.get_by_role("tab", name="Confusion matrix").click()
            wait_idle(page)
            _charts_drawn(page, 2)
    assert_no_exception(page)
    _shoot(page, f"lesson_{lesson_id}")
    for index in range(1, len(lesson.steps)):
        _next(page, lesson_id, index)
        step = lesson.steps[index]
        if step.page == "regression":
            _regression_finished(page)
        elif step.page == "inside":
            model = page.locator('[data-testid="stMain"] [data-testid="stSelectbox"] input').first
            assert model.input_value().startswith("run "), "Inside shows the model the lesson trained"
            selected = page.locator('[data-testid="stTab"][aria-selected="true"]').first.inner_text()
            assert step.view in selected
            _charts_drawn(page, 1)
        elif step.page == "experiments" and step.space:  # the grid search, in its own tab
            page.get_by_role("tab", name="Hyper-parameter search").click()
            page.wait_for_selector('[data-testid="stMain"] [data-testid="stDataFrame"]:visible', timeout=240_000)
            page.wait_for_function(f"!document.querySelector('{PROGRESS}')", timeout=300_000)
            wait_idle(page)
            assert "3-fold CV" in _main_text(page)
        elif step.page == "experiments":
            assert _params(page)["sweep"] == step.sweep
            _sweep_finished(page, step.sweep)
        assert_no_exception(page)
        _shoot(page, f"lesson_{lesson_id}_step{index + 1}", chart=1 if step.view == "Feature maps" else 0)
    context.close()


@pytest.mark.timeout(1200)  # activation x depth trains nine models: minutes on a busy machine
@pytest.mark.parametrize("lesson_id", SWEEP_LESSONS)
def test_sweep_lesson_runs_its_sweep_in_one_click(fresh_url, browser, lesson_id):
    context = browser.new_context(viewport={"width": 1280, "height": 720})
    page = context.new_page()
    _open_from_lessons_page(page, fresh_url, lesson_id)
    step = lessons.resolve(lessons.get(lesson_id)).steps[0]
    assert urlparse(page.url).path.endswith("/experiments")
    params = _params(page)
    assert params["sweep"] == step.sweep and params["dataset"] == step.dataset
    _banner(page, lesson_id, 0)
    _sweep_finished(page, step.sweep)
    assert_no_exception(page)
    _shoot(page, f"lesson_{lesson_id}")
    context.close()


@pytest.mark.parametrize("size", [(1280, 720), (1920, 1080)])
def test_presenter_view_lessons_page(fresh_url, browser, size):
    context = browser.new_context(viewport={"width": size[0], "height": size[1]})
    page = context.new_page()
    page.goto(f"{fresh_url}/lessons?presenter=1")
    wait_idle(page)
    assert_no_exception(page)
    root_px = page.evaluate("parseFloat(getComputedStyle(document.documentElement).fontSize)")
    assert root_px >= 18, "presenter view enlarges the type"
    assert "Keys:" in page.locator('[data-testid="stSidebar"]').inner_text()
    screenshot(page, f"lessons_presenter_{size[0]}")
    page.goto(f"{fresh_url}/lessons")
    wait_idle(page)
    assert page.evaluate("parseFloat(getComputedStyle(document.documentElement).fontSize)") < root_px
    screenshot(page, f"lessons_{size[0]}")
    context.close()
