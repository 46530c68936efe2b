"""Experiments in a real browser: the optimizer sweep's plot and a grid search's results table."""
from __future__ import annotations

import pytest

from tests.e2e.conftest import assert_no_exception, charts_settled, screenshot, wait_idle

pytestmark = pytest.mark.e2e

CHART = '[data-testid="stPlotlyChart"]'
PANEL = '[role="tabpanel"]:not([hidden])'


def _no_progress(page, timeout_ms: int) -> None:
    """Wait until the background job's progress bar is gone (the job ended and the page reran)."""
    page.wait_for_function(f"!document.querySelector('{PANEL} [data-testid=\"stProgress\"]')", timeout=timeout_ms)
    wait_idle(page)


def _shots(page, name: str, focus) -> None:
    for width, height in ((1280, 720), (1920, 1080)):
        page.set_viewport_size({"width": width, "height": height})
        charts_settled(page, CHART, at_least=0)  # plotly re-lays out on resize
        focus.scroll_into_view_if_needed()
        charts_settled(page, CHART, at_least=0)
        screenshot(page, f"{name}_{width}x{height}")
    page.set_viewport_size({"width": 1280, "height": 720})


def test_optimizer_sweep_and_grid_search(page, app_url):
    page.set_default_timeout(60_000)
    page.goto(f"{app_url}/experiments?sweep=optimizers&dataset=digits")
    wait_idle(page)
    assert_no_exception(page)
    assert page.get_by_role("tab", name="Ready-made sweeps").get_attribute("aria-selected") == "true"
    panel = page.locator(PANEL).first
    assert "SGD, SGD+momentum, Adam, RMSprop" in panel.inner_text()  # the optimizers sweep is preselected

    epochs = panel.get_by_role("spinbutton", name="Epochs per point")
    epochs.fill("3")
    epochs.press("Enter")
    wait_idle(page)
    panel.get_by_role("button", name="Run sweep").click()
    page.wait_for_selector(f"{PANEL} [data-testid=\"stProgress\"]", timeout=30_000)
    _no_progress(page, 300_000)
    assert_no_exception(page)
    chart = panel.locator(CHART).first
    page.wait_for_function(f"document.querySelectorAll('{PANEL} {CHART} .main-svg').length >= 1")
    legend = chart.inner_text()
    for name in ("SGD", "SGD + momentum", "Adam", "RMSprop", "Adadelta", "Adagrad"):
        assert name in legend
    assert panel.locator('[data-testid="stDataFrame"]').count() == 1
    _shots(page, "experiments_optimizers", chart)

    page.get_by_role("tab", name="Hyper-parameter search").click()
    wait_idle(page)
    panel = page.locator(PANEL).first
    fit_epochs = panel.get_by_role("spinbutton", name="Epochs per fit")
    fit_epochs.fill("2")
    fit_epochs.press("Enter")
    wait_idle(page)
    name = panel.get_by_role("textbox", name="Study name")
    name.fill("e2e-grid")
    name.press("Enter")
    wait_idle(page)
    panel.get_by_role("button", name="Start search").click()
    page.wait_for_selector(f"{PANEL} [data-testid=\"stProgress\"]", timeout=30_000)
    _no_progress(page, 300_000)
    assert_no_exception(page)
    table = panel.locator('[data-testid="stDataFrame"]').first
    table.wait_for()
    assert "Best: trial" in panel.inner_text()
    page.wait_for_function(f"document.querySelectorAll('{PANEL} {CHART} .main-svg').length >= 1")
    _shots(page, "experiments_search_table", table)
    panel.get_by_role("tab", name="Parallel coordinates").click()
    charts_settled(page, f"{PANEL} {PANEL} {CHART}")
    _shots(page, "experiments_search_parallel", page.locator(f"{PANEL} {PANEL} {CHART}").first)
    assert_no_exception(page)
