"""Classification lab in a real browser: train the default CNN on `digits` from the page, watch the live
curves, then read the confusion matrix and the misclassified gallery."""
from __future__ import annotations

import re

import pytest

from tests.e2e.conftest import assert_no_exception, screenshot, wait_idle

pytestmark = pytest.mark.e2e

PROGRESS = '[data-testid="stMain"] [data-testid="stProgress"]'
CHARTS = '[data-testid="stMain"] [data-testid="stPlotlyChart"]'


def _charts_drawn(page, n: int) -> None:
    page.wait_for_function(f"document.querySelectorAll('{CHARTS} .main-svg').length >= {n}", timeout=60_000)
    page.wait_for_timeout(600)  # plotly finishes drawing after the element appears


def test_default_cnn_trains_live_then_shows_confusion_and_mistakes(page, app_url):
    page.goto(app_url)
    wait_idle(page)
    page.locator('[data-testid="stSidebarNavLink"][href$="/classification"]').click()
    page.wait_for_url("**/classification")
    wait_idle(page)
    assert_no_exception(page)

    page.get_by_role("button", name="Start training", exact=True).click()
    # live: the progress line, loss and accuracy curves and the strip of test images
    page.wait_for_function(  # a few epochs in, so the curves have a shape
        f"(document.querySelector('{PROGRESS}')?.innerText || '').match(/epoch [3-9]\\d*\\//)", timeout=120_000)
    page.wait_for_function(  # the curves are SVG images while training
        "['cls_live_loss', 'cls_live_acc'].every(k => { const i = document.querySelector(`.st-key-${k} img`);"
        " return i && i.complete && i.naturalWidth > 0; })", timeout=60_000)
    _charts_drawn(page, 1)  # the strip of test images
    assert_no_exception(page)
    screenshot(page, "classification_live")

    # finished: the results replace the live view
    page.wait_for_selector('h3:has-text("Results")', timeout=180_000)
    wait_idle(page)
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
    page.wait_for_timeout(800)
    gallery = page.locator('[data-testid="stMain"]').inner_text()
    assert re.search(r"\d+\s+of\s+\d+\s+misclassified test images", gallery) or "No test image is misclassified" in gallery
    assert_no_exception(page)
    screenshot(page, "classification_mistakes")
