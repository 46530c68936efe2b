"""The Explain page in a real browser: the method comparison grid and the sanity check for the shipped digits CNN."""
from __future__ import annotations

import pytest

from tests.e2e.conftest import assert_no_exception, charts_settled, screenshot, wait_idle

pytestmark = pytest.mark.e2e


def _open_explain(page, app_url: str) -> None:
    # The first request of a fresh server runs the entry script (and its st.navigation) from "/";
    # /explain is then served as the Explain page of that navigation.
    page.goto(app_url)
    wait_idle(page)
    page.goto(f"{app_url}/explain")
    wait_idle(page)
    assert_no_exception(page)
    assert "Explain" in page.locator("h1").first.inner_text()


def _chart_with(page, *texts: str):
    """The plotly chart whose SVG shows every one of `texts` (waits for it to render)."""
    chart = page.locator('[data-testid="stPlotlyChart"]')
    for text in texts:
        chart = chart.filter(has_text=text)
    chart.first.wait_for(timeout=60_000)
    return chart.first


def test_method_comparison_grid_for_the_shipped_mnist_cnn(page, app_url):
    _open_explain(page, app_url)
    assert "mnist_cnn" in page.get_by_role("combobox", name="Model").input_value()  # the shipped default
    page.get_by_text("Compare methods", exact=True).click()
    grid = _chart_with(page, "Saliency", "Integrated Gradients", "Grad-CAM", "Occlusion")
    wait_idle(page)
    assert_no_exception(page)
    assert page.locator('[data-testid="stPlotlyChart"]').count() >= 2  # top-5 bars + the grid
    assert grid.locator(".heatmaplayer image, .heatmaplayer").count() >= 1  # heatmaps drawn
    grid.scroll_into_view_if_needed()
    screenshot(page, "explain_compare")
    page.set_viewport_size({"width": 1920, "height": 1080})
    charts_settled(page)  # plotly re-lays out on resize
    grid.scroll_into_view_if_needed()
    assert_no_exception(page)
    screenshot(page, "explain_compare_1920")


def test_overlay_and_sanity_check(page, app_url):
    _open_explain(page, app_url)
    overlay = _chart_with(page, "On image #0")
    overlay.scroll_into_view_if_needed()
    screenshot(page, "explain_single")
    page.get_by_text("Sanity check", exact=True).click()
    pair = _chart_with(page, "trained weights", "random weights")
    wait_idle(page)
    assert_no_exception(page)
    body = page.locator('[data-testid="stMain"]').inner_text()
    assert "rank correlation" in body
    pair.scroll_into_view_if_needed()
    screenshot(page, "explain_sanity")
