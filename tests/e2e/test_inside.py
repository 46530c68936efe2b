"""'Inside the network' in a real browser on the shipped default CNN: filters, feature maps, weights."""
from __future__ import annotations

import pytest

from tests.e2e.conftest import assert_no_exception, charts_settled, screenshot, wait_idle

pytestmark = pytest.mark.e2e

CHART = '[data-testid="stPlotlyChart"]'
TABS = ["Architecture", "Filters", "Feature maps", "Weights & activations", "Embedding"]


def _open_tab(page, name: str, expect: str) -> None:
    """Click a tab and wait until its content (`expect`, a selector inside the open panel) is drawn."""
    page.get_by_role("tab", name=name).click()
    page.wait_for_selector(f'[role="tabpanel"]:not([hidden]) {expect}', timeout=60_000)
    wait_idle(page)
    charts_settled(page, f'[role="tabpanel"]:not([hidden]) {expect}')  # plotly draws after the element appears


def _charts_drawn(page, at_least: int) -> None:
    page.wait_for_function(f"document.querySelectorAll('{CHART} .main-svg').length >= {at_least}", timeout=60_000)


def _shots(page, name: str, focus=None) -> None:
    """Two screenshots: the viewport scrolled to `focus` (what the room sees), and the whole tab
    (the viewport stretched to the content's height: Streamlit scrolls inside stMain, so a
    plain full-page shot stops at the fold)."""
    if focus is not None:
        focus.scroll_into_view_if_needed()
        charts_settled(page, CHART, at_least=0)
    screenshot(page, name)
    size = page.viewport_size
    height = page.evaluate("document.querySelector('[data-testid=stMain]').scrollHeight")
    page.set_viewport_size({"width": size["width"], "height": max(size["height"], min(int(height), 6000))})
    charts_settled(page, CHART, at_least=0)  # plotly re-lays out on resize
    screenshot(page, f"{name}_full")
    page.set_viewport_size(size)


def _visit_all(page, app_url: str, suffix: str = "") -> None:
    page.goto(app_url)  # through the shell's navigation, as a user arrives
    wait_idle(page)
    page.locator('[data-testid="stSidebarNavLink"][href$="/inside"]').click()
    page.wait_for_url("**/inside")
    wait_idle(page)
    assert_no_exception(page)
    assert "Inside the network" in page.locator("h1").first.inner_text()
    assert "Parameters" in page.locator('[data-testid="stMetric"]').first.inner_text()
    page.wait_for_selector('[data-testid="stDataFrame"]')
    _shots(page, f"inside_architecture{suffix}")

    _open_tab(page, "Filters", CHART)
    _charts_drawn(page, 1)
    assert_no_exception(page)
    _shots(page, f"inside_filters{suffix}", page.locator(CHART).first)

    _open_tab(page, "Feature maps", CHART)
    index = page.get_by_label("Test image index", exact=False)
    index.fill("42")  # choose a digit by its test-set index
    index.press("Enter")
    page.wait_for_selector('[data-testid="stMarkdownContainer"]:has-text("#42")', timeout=60_000)
    wait_idle(page)
    _charts_drawn(page, 4)  # top-5 bars + three layers' feature maps
    assert_no_exception(page)
    panel = page.locator('[role="tabpanel"]:not([hidden])')
    assert panel.locator(CHART).count() >= 4
    _shots(page, f"inside_feature_maps{suffix}", panel.locator(CHART).nth(1))

    page.get_by_text("Compare two images").click()  # the next test image, side by side on one scale
    page.wait_for_selector('[data-testid="stMarkdownContainer"]:has-text("Compared with")', timeout=60_000)
    wait_idle(page)
    _charts_drawn(page, 4)
    assert_no_exception(page)
    _shots(page, f"inside_feature_maps_compare{suffix}", panel.locator(CHART).nth(1))

    _open_tab(page, "Weights & activations", CHART)
    _charts_drawn(page, 2)
    assert_no_exception(page)
    assert "Weight and bias histograms" in panel.inner_text() or page.locator("text=Weight and bias").count()
    _shots(page, f"inside_weights{suffix}", panel.locator(CHART).first)

    _open_tab(page, "Embedding", CHART)
    _charts_drawn(page, 1)
    assert_no_exception(page)
    _shots(page, f"inside_embedding{suffix}", panel.locator(CHART).first)


def test_inside_shows_filters_feature_maps_and_weights(page, app_url):
    _visit_all(page, app_url)


def test_inside_at_1920x1080(browser, app_url):
    context = browser.new_context(viewport={"width": 1920, "height": 1080})
    try:
        _visit_all(context.new_page(), app_url, "_1080p")
    finally:
        context.close()
