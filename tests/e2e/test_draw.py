"""Draw & predict in a real browser: mouse strokes on the canvas get classified; bad uploads are explained."""
from __future__ import annotations

import pytest

from tests.e2e.conftest import assert_no_exception, charts_settled, screenshot, wait_idle
from tests.unit.test_bad_images import header_only_png
from tests.waiting import wait_until

pytestmark = pytest.mark.e2e

CANVAS = '[data-testid^="stBidiComponent"]'  # ...Isolated: the canvas is mounted with isolate_styles=True
PREDICTION = '[data-testid="draw-prediction"]'
CHART = '[data-testid="stPlotlyChart"]'
SEVEN = [[(0.22, 0.18), (0.80, 0.18), (0.45, 0.88)]]  # a "7" in canvas fractions: one stroke
FOUR = [[(0.55, 0.10), (0.20, 0.62), (0.80, 0.62)], [(0.60, 0.35), (0.60, 0.92)]]  # two strokes


def _open_draw(page, app_url: str) -> None:
    page.goto(app_url)  # through the shell's navigation, as a user arrives
    wait_idle(page)
    page.locator('[data-testid="stSidebarNavLink"][href$="/draw"]').click()
    page.wait_for_url("**/draw")
    wait_idle(page)
    page.wait_for_selector(CANVAS, timeout=60_000)
    page.wait_for_selector(f"{CANVAS} canvas.upper-canvas", timeout=60_000)
    assert_no_exception(page)
    assert "Draw & predict" in page.locator("h1").first.inner_text()


_PRESSABLE_JS = """([x, y]) => {  // the canvas itself is what a press at (x, y) lands on (through shadow roots)
    let el = document.elementFromPoint(x, y);
    while (el && el.shadowRoot) {
        const inner = el.shadowRoot.elementFromPoint(x, y);
        if (!inner || inner === el) break;
        el = inner;
    }
    return !!el && el.classList.contains('upper-canvas');
}"""


def _draw(page, strokes: list[list[tuple[float, float]]]) -> None:
    """Press, move in small steps through the points, release: what a hand does."""
    canvas = page.locator(f"{CANVAS} canvas.upper-canvas")
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    for stroke in strokes:
        x, y = box["x"] + stroke[0][0] * box["width"], box["y"] + stroke[0][1] * box["height"]
        page.mouse.move(x, y)
        # Hovering moves the canvas's toolbar up out of the canvas (a 0.1 s transition); until then its
        # invisible box covers the canvas's top edge and would swallow a press there, as a hand never does.
        page.wait_for_function(_PRESSABLE_JS, arg=[x, y], timeout=60_000)
        page.mouse.down()
        for fx, fy in stroke[1:]:
            page.mouse.move(box["x"] + fx * box["width"], box["y"] + fy * box["height"], steps=12)
        page.mouse.up()
        page.wait_for_timeout(150)  # part of the gesture: a hand rests between strokes, it does not wait for the UI


def _prediction(page) -> str:
    page.wait_for_selector(PREDICTION, timeout=60_000)
    wait_idle(page)
    page.wait_for_function(f"document.querySelectorAll('{CHART} .main-svg').length >= 3", timeout=60_000)
    charts_settled(page, CHART)
    assert_no_exception(page)
    return page.locator(PREDICTION).inner_text()


def _draw_and_check(page, app_url: str, suffix: str) -> None:
    _open_draw(page, app_url)
    assert page.locator('[data-testid="stAlert"]:has-text("Draw a digit")').count() == 1
    _draw(page, SEVEN)
    text = _prediction(page)
    assert "%" in text and "the network says" in text
    bars = page.locator(f'{CHART}:has-text("Top-5 probabilities")')
    assert bars.count() == 1 and "%" in bars.inner_text()
    assert page.locator(f'{CHART}:has-text("feature maps")').count() == 1
    assert page.locator(f'{CHART}:has-text("Input × Gradient")').count() == 1
    page.locator("h1").first.scroll_into_view_if_needed()
    screenshot(page, f"draw_seven{suffix}")
    page.locator('[data-testid="stButton"] button:has-text("Clear")').click()
    page.wait_for_selector('[data-testid="stAlert"]:has-text("Draw a digit")', timeout=60_000)
    wait_idle(page)
    _draw(page, FOUR)
    text = _prediction(page)
    assert "%" in text
    _full(page, f"draw_four{suffix}_full")
    steps = page.locator(f'{CHART}:has-text("5. cropped")')  # its caption gives the ink box's size
    before = steps.inner_text()
    page.locator(f"{CANVAS} canvas.upper-canvas").hover()  # shows the toolbar; click() waits for it to be still
    page.locator(f'{CANVAS} button[title="Undo"]').click()  # the canvas's own undo: the second stroke goes
    # during the rerun the old strip can sit beside the new one: wait for one, changed
    wait_until(lambda: steps.count() == 1 and steps.inner_text() != before, interval=0.5,
               what="the input strip redrawn after Undo")
    wait_idle(page)
    assert_no_exception(page)
    assert steps.count() == 1 and steps.inner_text() != before, "undo did not update the input and the prediction"


def _full(page, name: str) -> None:
    """The whole page: the viewport stretched to the content (Streamlit scrolls inside stMain)."""
    size = page.viewport_size
    height = page.evaluate("document.querySelector('[data-testid=stMain]').scrollHeight")
    page.set_viewport_size({"width": size["width"], "height": max(size["height"], min(int(height), 6000))})
    charts_settled(page, CHART)  # plotly re-lays out on resize
    screenshot(page, name)
    page.set_viewport_size(size)


def test_drawing_on_the_canvas_is_classified(page, app_url):
    _draw_and_check(page, app_url, "")


def test_drawing_at_1920x1080(browser, app_url):
    context = browser.new_context(viewport={"width": 1920, "height": 1080})
    try:
        _draw_and_check(context.new_page(), app_url, "_1080p")
    finally:
        context.close()


def test_bad_uploads_give_a_clear_message(page, app_url, tmp_path):
    _open_draw(page, app_url)
    page.get_by_role("tab", name="Upload").click()
    page.wait_for_selector('[data-testid="stFileUploaderDropzoneInput"]', state="attached", timeout=60_000)
    wait_idle(page)
    cases = {"notes.png": (b"these are lecture notes, not an image\n" * 20, "not an image"),
             "huge.png": (header_only_png(20000, 20000), "too many pixels")}
    for name, (content, expected) in cases.items():
        path = tmp_path / name
        path.write_bytes(content)
        page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(path))
        page.wait_for_selector(f'[data-testid="stAlert"]:has-text("{expected}")', timeout=60_000)
        wait_idle(page)
        assert_no_exception(page)
    screenshot(page, "draw_bad_upload")
    page.get_by_role("tab", name="Draw").click()  # the page keeps working
    page.wait_for_selector(f"{CANVAS} canvas.upper-canvas", timeout=60_000)
    wait_idle(page)
    _draw(page, SEVEN)
    assert "%" in _prediction(page)
