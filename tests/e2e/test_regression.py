"""Regression lab in a real browser: train from the page, keep training through clicks and page
switches, and Stop ends the run (how soon: benchmarks/stop_latency.py)."""
from __future__ import annotations

import json
import re
from urllib.parse import parse_qs, urlparse

import pytest

from nnviz.jobs.storage import read_jsonl
from tests.e2e.conftest import assert_no_exception, charts_settled, screenshot, wait_idle

pytestmark = pytest.mark.e2e

PROGRESS = '[data-testid="stMain"] [data-testid="stProgress"]'


def _open(page, app_url: str) -> None:
    page.goto(app_url)
    wait_idle(page)
    page.locator('[data-testid="stSidebarNavLink"][href$="/regression"]').click()
    page.wait_for_url("**/regression")
    wait_idle(page)
    assert_no_exception(page)


def _run_id(page) -> str | None:
    return parse_qs(urlparse(page.url).query).get("regression_run", [None])[0]


def _status(page) -> str:
    return page.locator(PROGRESS).first.inner_text(timeout=30_000)


def _epoch(page) -> int:
    match = re.search(r"epoch (\d+)/", _status(page))
    return int(match.group(1)) if match else -1


def _set_epochs(page, epochs: int) -> None:
    page.get_by_role("tab", name="Training").click()
    box = page.locator('[data-testid="stNumberInput"]').filter(has_text="Epochs").locator("input")
    box.fill(str(epochs))
    box.press("Enter")
    wait_idle(page)


def _start(page) -> str:
    page.get_by_role("button", name="Start", exact=True).click()
    page.wait_for_function("new URL(location).searchParams.get('regression_run') !== null", timeout=30_000)
    page.wait_for_function(
        f"(document.querySelector('{PROGRESS}')?.innerText || '').match(/epoch [1-9]\\d*\\//)", timeout=60_000)
    return _run_id(page)


def test_default_model_trains_from_the_page(page, app_url):
    _open(page, app_url)
    # before training: the untrained fit over the data is already shown
    page.wait_for_selector('[data-testid="stPlotlyChart"]', timeout=60_000)
    page.get_by_role("button", name="Start", exact=True).click()
    page.wait_for_function(
        f"(document.querySelector('{PROGRESS}')?.innerText || '').startsWith('Finished')", timeout=120_000)
    wait_idle(page)
    charts_settled(page, '[data-testid="stMain"] [data-testid="stPlotlyChart"]', 2)
    assert_no_exception(page)
    main = page.locator('[data-testid="stMain"]').inner_text()
    test_mse = re.search(r"test MSE\s+([\d.]+)\s+([\d.]+) × σ²", main)
    assert test_mse, main[:2000]
    assert float(test_mse.group(2)) <= 1.5, f"test MSE {test_mse.group(1)} is {test_mse.group(2)} × σ²"
    assert page.locator('[data-testid="stPlotlyChart"]').count() >= 2  # fit and loss curves
    screenshot(page, "regression_trained")


def test_clicks_and_page_switches_do_not_stop_the_run_and_stop_ends_it(page, app_url, app_work):
    _open(page, app_url)
    _set_epochs(page, 3000)
    run_id = _start(page)
    first = _epoch(page)

    # other widgets while training: the folded set-up, a tab, the noise slider (keyboard), the smoothing slider
    page.locator('[data-testid="stExpander"] summary').filter(has_text="Set-up").click()
    page.get_by_role("tab", name="Data").click()
    slider = page.locator('[data-testid="stSlider"]').filter(has_text="Noise").locator('[tabindex="0"]').first
    slider.focus()
    slider.press("ArrowRight")
    wait_idle(page)
    page.get_by_role("tab", name="Model").click()
    wait_idle(page)
    assert _run_id(page) == run_id
    assert "epoch" in _status(page), _status(page)

    # a page switch and back: the same run is still training, further along
    page.locator('[data-testid="stSidebarNavLink"][href$="/inside"]').click()
    page.wait_for_url("**/inside")
    wait_idle(page)
    page.go_back()
    page.wait_for_url("**/regression**")
    wait_idle(page)
    page.wait_for_selector(PROGRESS, timeout=30_000)
    assert _run_id(page) == run_id
    later = _epoch(page)
    assert later > first, (first, later, _status(page))
    assert_no_exception(page)
    screenshot(page, "regression_training")

    # Stop: the run's thread ends (its folder says so, written last) before its 3,000 epochs
    page.get_by_role("button", name="Stop", exact=True).click()
    page.wait_for_function(
        f"(document.querySelector('{PROGRESS}')?.innerText || '').startsWith('Stopped')", timeout=120_000)
    folder = app_work / "runs" / run_id
    assert json.loads((folder / "status.json").read_text())["status"] == "stopped"
    history = read_jsonl(folder / "history.jsonl")
    assert 0 < history[-1]["epoch"] < 3000
    wait_idle(page)
    assert _epoch_of_history(page) == str(history[-1]["epoch"])  # the page shows where the run ended
    assert_no_exception(page)


def _epoch_of_history(page) -> str:
    """The 'epoch (of N)' metric's value: the last recorded epoch."""
    metric = page.locator('[data-testid="stMetric"]').filter(has_text="epoch (of").first
    return metric.locator('[data-testid="stMetricValue"]').inner_text()
