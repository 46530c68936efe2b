"""Classification lab in a real browser: train the default CNN on `digits` from the page, watch the live
curves, then read the confusion matrix and the misclassified gallery."""
from __future__ import annotations

import re

import pytest

from tests.e2e.conftest import assert_no_exception, charts_settled, screenshot, wait_idle

pytestmark = pytest.mark.e2e

LIVE = '[data-testid="stMain"] .nnviz-live-run'
CHARTS = '[data-testid="stMain"] [data-testid="stPlotlyChart"]'


def _charts_drawn(page, n: int) -> None:
    page.wait_for_function(f"document.querySelectorAll('{CHARTS} .main-svg').length >= {n}", timeout=60_000)
    charts_settled(page, CHARTS)


def test_default_cnn_trains_live_then_shows_confusion_and_mistakes(page, app_url):
    page.goto(app_url)
    wait_idle(page)
    page.locator('[data-testid="stSidebarNavLink"][href$="/classification"]').click()
    page.wait_for_url("**/classification")
    wait_idle(page)
    assert_no_exception(page)

    page.get_by_role("tab", name="Training").click()  # long enough to watch it redraw a few times
    epochs = page.get_by_role("spinbutton", name="Epochs", exact=True)
    epochs.fill("15")
    epochs.press("Enter")
    wait_idle(page)
    frames: list[str] = []  # websocket messages from the server: a Streamlit rerun sends several
    page.on("websocket", lambda ws: ws.on("framereceived", lambda payload: frames.append("frame")))
    page.get_by_role("button", name="Start training", exact=True).click()
    page.wait_for_selector(LIVE, timeout=60_000)
    # the sidebar's list, which Start does not redraw, shows the run (the live view nudges it at once,
    # its own poll is every 2 s while idle; how soon is a speed, not a test)
    page.wait_for_function("(document.querySelector('[data-testid=\"stSidebar\"] .nnviz-live-activity')?.innerText"
                           " || '').includes('digits · fast_cnn')", timeout=60_000)
    # live: the progress line, loss and accuracy curves and the strip of test images
    page.wait_for_function(  # a few epochs in, so the curves have a shape
        f"+((document.querySelector('{LIVE} .nnviz-progress-text')?.innerText || '').match(/epoch (\\d+)\\//)"
        "|| [0, 0])[1] >= 3",
        timeout=120_000)
    page.wait_for_function(f"document.querySelector('{LIVE} .nnviz-chart-loss svg') && "
                           f"document.querySelector('{LIVE} .nnviz-chart-acc svg')", timeout=60_000)
    # Start redrew only the run panel (the set-up above stays open), so the live view scrolled itself up
    assert page.evaluate("document.querySelector('[data-testid=stExpander] details').open")
    box = page.locator(f"{LIVE} .nnviz-charts").bounding_box()
    assert box["y"] >= 0 and box["y"] + box["height"] <= 720, box  # both curves on a 1280x720 screen
    tiles = page.locator(f"{LIVE} .nnviz-tile[data-right]")
    assert tiles.count() == 20  # two test images per digit, each framed right or wrong
    assert "green right, red wrong" in page.locator(f"{LIVE} .nnviz-strip-title").inner_text()
    sidebar = page.locator('[data-testid="stSidebar"] .nnviz-live-activity').inner_text()
    assert re.search(r"digits · fast_cnn: epoch \d+/", sidebar), sidebar
    assert_no_exception(page)
    screenshot(page, "classification_live")

    # the view redraws in place from the live feed: same element, newer epoch, no page rerun
    page.evaluate(f"window.nnvizLive = document.querySelector('{LIVE}')")
    text = page.locator(f"{LIVE} .nnviz-progress-text").inner_text()
    frames.clear()
    page.wait_for_function(f"document.querySelector('{LIVE} .nnviz-progress-text').innerText !== {text!r}",
                           timeout=30_000)
    assert page.evaluate(f"document.querySelector('{LIVE}') === window.nnvizLive")
    assert len(frames) <= 1, frames  # at most the end of the run's own rerun, never a refresh per second

    # finished: the results replace the live view
    page.wait_for_selector(".st-key-cls_results_head", timeout=180_000)
    wait_idle(page)
    assert "No run is training." in page.locator('[data-testid="stSidebar"]').inner_text()
    assert not page.locator(LIVE).count()
    page.wait_for_function("!document.querySelector('[data-testid=stExpander] details').open")  # folded now
    main = page.locator('[data-testid="stMain"]').inner_text()
    accuracy = re.search(r"test accuracy\s+([\d.]+)\s*%", main, re.IGNORECASE)
    assert accuracy, main[:2000]
    assert float(accuracy.group(1)) >= 98.0, accuracy.group(0)

    page.get_by_role("tab", name="Confusion matrix").click()
    wait_idle(page)
    _charts_drawn(page, 2)
    heatmaps = page.locator(f'{CHARTS} .heatmaplayer')
    assert heatmaps.count() >= 2  # train and test side by side
    assert_no_exception(page)
    screenshot(page, "classification_confusion")

    page.get_by_role("tab", name="Mistakes").click()
    wait_idle(page)
    page.wait_for_function("/\\d+\\s+of\\s+\\d+\\s+misclassified test images|No test image is misclassified/"
                           ".test(document.querySelector('[data-testid=stMain]').innerText)", timeout=60_000)
    gallery = page.locator('[data-testid="stMain"]').inner_text()
    assert re.search(r"\d+\s+of\s+\d+\s+misclassified test images", gallery) or "No test image is misclassified" in gallery
    assert_no_exception(page)
    screenshot(page, "classification_mistakes")
