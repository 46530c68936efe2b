"""The first screen of a 1280x720 projector: in every lab, while a run trains, the picture that matters
lies inside the viewport together with Start / Stop, without scrolling; the same for every lab step of
every lesson in presenter view, where plotly's tick labels are at least 18 px and body text at least 20 px.

One server for the file; runs are short (lessons capped at NNVIZ_LESSON_MAX_EPOCHS) or stopped at once.
"""
from __future__ import annotations

import pytest

from nnviz.teaching import lessons
from tests.e2e.conftest import assert_no_exception, charts_settled, screenshot, serve_dashboard, wait_idle
from tests.waiting import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]  # several page loads and a run per test
IDLE_MS = 240_000  # a page load on a busy 2-core machine can take over a minute

WIDTH, HEIGHT = 1280, 720
MAIN = '[data-testid="stMain"]'
PLOTS = f'{MAIN} [data-testid="stPlotlyChart"]'
PROGRESS = f'{MAIN} [data-testid="stProgress"]'
LIVE = f"{MAIN} .nnviz-live-run"
TAB_PLOT = f'{MAIN} [role="tabpanel"]:not([hidden]) [data-testid="stPlotlyChart"]'
# What each lab must show in the first screen while a run trains
# (CSS selector, which of its displayed matches)
MAIN_PICTURE = {
    "regression": [(PLOTS, 0), (PLOTS, 1)],  # fit and loss, side by side
    "classification": [(f"{LIVE} .nnviz-charts", 0), (f"{LIVE} .nnviz-strip", 0)],  # curves and the test strip
    "inside": [(f'{MAIN} :is(.st-key-inside_filters, [class*="st-key-inside_fm_"])', 0)],  # filters or maps
    "experiments": [(f'{MAIN} :is([class*="st-key-exp_sweep_chart_"], .st-key-exp_search_heatmap)', 0)],  # the sweep
    "playground": [(f"{MAIN} .nnviz-pg-boundary", 0)],  # the decision boundary
}
# The class canvas: a collecting step shows its QR code; a training step the training (none here: no drawings)
CLASS_CANVAS = {"collect": [(f'{MAIN} [data-testid="class-qr"]', 0)], "train": [(f"{MAIN} .st-key-class_train button", 0)]}
START_STOP = {"regression": ["rg_start", "rg_stop"], "classification": ["cls_start", "cls_stop"]}


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory):
    with serve_dashboard(tmp_path_factory.mktemp("first_screen"), normal_priority=True,
                         **{lessons.EPOCH_CAP_ENV: "40"}) as base:
        yield base


SCREENS = [(WIDTH, HEIGHT), (1920, 1080)]  # a 720p projector, and a full-HD one


@pytest.fixture
def screen(browser, request):
    width, height = getattr(request, "param", (WIDTH, HEIGHT))
    context = browser.new_context(viewport={"width": width, "height": height})
    yield context.new_page()
    context.close()


def _open(page, url: str, path: str) -> None:
    page.goto(url)  # the first request runs the entry script (and its navigation) from "/"
    wait_idle(page, IDLE_MS)
    page.goto(f"{url}/{path}")
    wait_idle(page, IDLE_MS)
    assert_no_exception(page)


_BOXES_JS = """selector => [...document.querySelectorAll(selector)].filter(e => e.getClientRects().length)
    .map(e => { const r = e.getBoundingClientRect(); return {x: r.x, y: r.y, width: r.width, height: r.height}; })"""


def _drawn(page, picture: tuple[str, int]) -> None:
    """Wait until the element is displayed and its picture drawn (plotly's SVG, or the live view's)."""
    selector, n = picture
    page.wait_for_function(
        """([selector, n]) => { const shown = [...document.querySelectorAll(selector)]
            .filter(e => e.getClientRects().length);
            return shown.length > n && (shown[n].matches('img, canvas, button')
                                        || shown[n].querySelector('.main-svg, svg')); }""",
        arg=[selector, n], timeout=120_000)


def _assert_in_first_screen(page, picture: tuple[str, int], what: str) -> None:
    selector, n = picture
    width, height = page.viewport_size["width"], page.viewport_size["height"]
    boxes = page.evaluate(_BOXES_JS, selector)
    box = boxes[n] if len(boxes) > n else None
    inside = box is not None and box["x"] >= 0 and box["y"] >= 0 and \
        box["x"] + box["width"] <= width + 0.5 and box["y"] + box["height"] <= height + 0.5
    if not inside:
        screenshot(page, "first_screen_failure")  # what the screen showed
    assert inside, f"{what} is not inside the first screen of {width}x{height}: {box}"


def _not_scrolled(page) -> None:
    top = page.evaluate(f"document.querySelector('{MAIN}').scrollTop")
    if top:
        screenshot(page, "first_screen_failure")  # what the screen showed
    assert top == 0, f"the page was scrolled by {top} px"


def _start_stop_in_first_screen(page, lab: str) -> None:
    for key in START_STOP[lab]:
        _assert_in_first_screen(page, (f".st-key-{key} button", 0), key)


def _set_epochs(page, epochs: int) -> None:
    page.get_by_role("tab", name="Training").first.click()
    box = page.get_by_role("spinbutton", name="Epochs", exact=True)
    box.fill(str(epochs))
    box.press("Enter")
    wait_idle(page, IDLE_MS)
    page.evaluate(f"document.querySelector('{MAIN}').scrollTo(0, 0)")  # filling it may have scrolled: back to the top


def _shot_name(page, presenter: bool) -> str:
    size = page.viewport_size
    return f"{'presenter' if presenter else 'normal'}_{size['width']}x{size['height']}"


def _query(presenter: bool) -> str:
    return "?presenter=1" if presenter else ""


@pytest.mark.parametrize("screen", SCREENS, indirect=True, ids=[f"{w}x{h}" for w, h in SCREENS])
@pytest.mark.parametrize("presenter", [False, True], ids=["normal", "presenter"])
def test_regression_fit_and_loss_in_the_first_screen_while_training(url, screen, presenter):
    page = screen
    _open(page, url, f"regression{_query(presenter)}")
    _set_epochs(page, 3000)  # still training when measured, on any machine
    page.locator(".st-key-rg_start button >> visible=true").click()
    page.wait_for_function(f"(document.querySelector('{PROGRESS}')?.innerText || '').match(/epoch [1-9]\\d*\\//)",
                           timeout=120_000)
    for selector in MAIN_PICTURE["regression"]:
        _drawn(page, selector)
    charts_settled(page, PLOTS, at_least=2)
    _not_scrolled(page)
    for selector, what in zip(MAIN_PICTURE["regression"], ("fit", "loss curves")):
        _assert_in_first_screen(page, selector, what)
    _start_stop_in_first_screen(page, "regression")
    assert "epoch" in page.locator(PROGRESS).first.inner_text()  # measured while it trains
    screenshot(page, f"first_screen_regression_during_{_shot_name(page, presenter)}")
    page.locator(".st-key-rg_stop button >> visible=true").click()
    page.wait_for_function(f"(document.querySelector('{PROGRESS}')?.innerText || '').startsWith('Stopped')",
                           timeout=120_000)
    wait_idle(page, IDLE_MS)
    charts_settled(page, PLOTS, at_least=2)
    for selector, what in zip(MAIN_PICTURE["regression"], ("fit", "loss curves")):
        _assert_in_first_screen(page, selector, f"{what} after the run")
    screenshot(page, f"first_screen_regression_after_{_shot_name(page, presenter)}")


@pytest.mark.parametrize("screen", SCREENS, indirect=True, ids=[f"{w}x{h}" for w, h in SCREENS])
@pytest.mark.parametrize("presenter", [False, True], ids=["normal", "presenter"])
def test_classification_curves_and_strip_in_the_first_screen_while_training(url, screen, presenter):
    page = screen
    _open(page, url, f"classification{_query(presenter)}")
    _start_stop_in_first_screen(page, "classification")  # the open set-up does not push Start down
    _set_epochs(page, 30)
    page.locator(".st-key-cls_start button >> visible=true").click()
    page.wait_for_function(f"document.querySelector('{LIVE} .nnviz-chart-loss svg') && "
                           f"document.querySelector('{LIVE} .nnviz-tile')", timeout=120_000)
    _not_scrolled(page)
    for picture, what in zip(MAIN_PICTURE["classification"], ("loss and accuracy curves", "test strip")):
        _assert_in_first_screen(page, picture, what)
    _start_stop_in_first_screen(page, "classification")
    screenshot(page, f"first_screen_classification_during_{_shot_name(page, presenter)}")
    page.locator(".st-key-cls_stop button >> visible=true").click()
    page.wait_for_selector(".st-key-cls_results_head", timeout=120_000)
    wait_idle(page, IDLE_MS)
    _drawn(page, (PLOTS, 1))
    charts_settled(page, PLOTS, at_least=2)
    _not_scrolled(page)
    for n, what in enumerate(("loss curves after the run", "accuracy curves after the run")):
        _assert_in_first_screen(page, (f"{MAIN} .st-key-cls_res_{('loss', 'acc')[n]}", 0), what)
    screenshot(page, f"first_screen_classification_after_{_shot_name(page, presenter)}")


@pytest.mark.parametrize("presenter", [False, True], ids=["normal", "presenter"])
def test_explain_first_map_and_inside_view_in_the_first_screen(url, screen, presenter):
    page = screen
    _open(page, url, f"explain{_query(presenter)}")
    first_map = (PLOTS, 0)
    _drawn(page, first_map)
    charts_settled(page, PLOTS)
    assert "On image" in page.locator(PLOTS).nth(1).inner_text()  # the attribution maps come first
    _assert_in_first_screen(page, first_map, "first attribution map")
    screenshot(page, f"first_screen_explain_{'presenter' if presenter else 'normal'}")
    _open(page, url, f"inside{_query(presenter)}")
    for tab in ("Filters",):
        page.get_by_role("tab", name=tab).click()
        _drawn(page, MAIN_PICTURE["inside"][0])
        wait_idle(page, IDLE_MS)
        charts_settled(page, TAB_PLOT)
        _assert_in_first_screen(page, MAIN_PICTURE["inside"][0], f"Inside · {tab}")
        screenshot(page, f"first_screen_inside_{tab.replace(' ', '_').lower()}_"
                         f"{'presenter' if presenter else 'normal'}")


# Every step of every lesson that opens a lab: (lesson, step index, page)
LAB_STEPS = [(lesson.id, i, step.page) for lesson in lessons.LESSONS.values() for i, step in enumerate(lesson.steps)]
# A classification lesson's short run shows its live view, then its results: either must fit
CLASSIFICATION_RESULTS = [(f"{MAIN} .st-key-cls_res_loss", 0), (f"{MAIN} .st-key-cls_res_acc", 0)]
_ALL_INSIDE_JS = """pictures => pictures.every(([selector, n]) => {
    const shown = [...document.querySelectorAll(selector)].filter(e => e.getClientRects().length);
    if (shown.length <= n || !shown[n].querySelector('.main-svg, svg, img')) return false;  // drawn
    const r = shown[n].getBoundingClientRect();
    return r.x >= 0 && r.y >= 0 && r.right <= innerWidth + 0.5 && r.bottom <= innerHeight + 0.5; })"""


def _either_in_first_screen(page, alternatives: list[list[tuple[str, int]]], what: str) -> None:
    """Wait until every picture of one alternative is drawn inside the first screen (a run that ends while
    it is checked swaps its live view for its results)."""
    try:
        wait_until(lambda: any(page.evaluate(_ALL_INSIDE_JS, [list(p) for p in pics]) for pics in alternatives),
                   timeout=120, what=f"{what} inside the first screen")
    except AssertionError:
        screenshot(page, "first_screen_failure")
        raise

_STYLE_JS = f"""() => {{
    const visible = e => e.getClientRects().length && getComputedStyle(e).visibility !== 'hidden';
    const size = e => parseFloat(getComputedStyle(e).fontSize);
    const ticks = [...document.querySelectorAll('{MAIN} .js-plotly-plot :is(.xtick, .ytick) text')].filter(visible);
    const texts = [...document.querySelectorAll('{MAIN} p')].filter(e => visible(e) && e.innerText.trim());
    const tables = [...document.querySelectorAll('{MAIN} [data-testid="stDataFrame"]')].filter(visible);
    const spills = tables.filter(e => e.getBoundingClientRect().right >
        e.closest('[data-testid="stVerticalBlock"]').getBoundingClientRect().right + 1);  // zoomed past its column
    return {{tables: tables.length, spills: spills.length, ticks: ticks.length, minTick: Math.min(...ticks.map(size)),
             texts: texts.length, minText: Math.min(...texts.map(size)),
             smallest: texts.filter(e => size(e) < 20).map(e => e.innerText.slice(0, 40))}};
}}"""


@pytest.mark.parametrize("lesson_id, step, lab", LAB_STEPS, ids=[f"{a}-{b + 1}" for a, b, _ in LAB_STEPS])
def test_lesson_step_in_presenter_view_shows_its_picture_in_the_first_screen(url, screen, lesson_id, step, lab):
    page = screen
    page.goto(url)
    wait_idle(page, IDLE_MS)
    page.goto(f"{url}/?lesson={lesson_id}&step={step}&presenter=1")
    page.wait_for_url(f"**/{lab}?*", timeout=60_000)
    wait_idle(page, IDLE_MS)
    assert_no_exception(page)
    assert page.locator(".st-key-lesson_banner").count() == 1
    if lab == "classification":  # the live view while it trains, else the results (a short run may be over)
        _either_in_first_screen(page, [MAIN_PICTURE["classification"], CLASSIFICATION_RESULTS],
                                f"{lesson_id} step {step + 1}: the live view or the results' curves")
        pictures = []
    elif lab == "class_canvas":
        pictures = CLASS_CANVAS[lessons.get(lesson_id).steps[step].view or "collect"]
    else:
        pictures = MAIN_PICTURE[lab][:1] if lab == "regression" and page.locator(PROGRESS).count() == 0 \
            else MAIN_PICTURE[lab]  # the untrained fit before Start
        if lab == "inside":
            page.wait_for_selector(f"{TAB_PLOT} .main-svg", timeout=120_000)  # the tab the step opens
    for selector in pictures:
        _drawn(page, selector)
    wait_idle(page, IDLE_MS)
    charts_settled(page, PLOTS, at_least=0)
    _not_scrolled(page)
    for selector in pictures:
        _assert_in_first_screen(page, selector, f"{lesson_id} step {step + 1}: {selector[0]}")
    style = page.evaluate(_STYLE_JS)
    if style["ticks"]:
        assert style["minTick"] >= 18, style
    assert style["texts"] and style["minText"] >= 20, style
    assert style["spills"] == 0, f"a table runs past its column: {style}"
    screenshot(page, f"first_screen_lesson_{lesson_id}_{step + 1}_presenter")
