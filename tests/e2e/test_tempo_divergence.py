"""In the browser: a learning rate of 100 diverges in slow motion, the alarm shows while it trains, Stop
still stops it, and the ended run gets the divergence verdict alone."""
from __future__ import annotations

import re
from urllib.parse import parse_qs, urlparse

import pytest

from tests.e2e.conftest import assert_no_exception, screenshot
from tests.e2e.conftest import wait_idle as _wait_idle
from tests.waiting import GENEROUS_S

MAIN = '[data-testid="stMain"]'
PROGRESS = f'{MAIN} [data-testid="stProgress"]'


def wait_idle(page) -> None:
    """The suite's wait_idle with the generous timeout: each step reruns a page of big charts while a run trains."""
    _wait_idle(page, timeout_ms=int(GENEROUS_S * 1000))


SWEEPS_PANEL = '[role="tabpanel"]:not([hidden])'


def _slider(page, label: str):
    return page.locator('[data-testid="stSlider"]').filter(has_text=label).get_by_role("slider")


def _shown_slider(page, label: str):
    """The slider, after opening the popover it sits in (Slow motion: a button beside Start / Stop)."""
    if label == "Slow motion" and not _slider(page, label).is_visible():
        page.get_by_role("button", name="Slow motion").first.click()
        _slider(page, label).wait_for(state="visible", timeout=60_000)
    return _slider(page, label)


def _set_slider(page, label: str, key: str, left: int = 0) -> None:
    """Move a select slider to its last option, then `left` options back (one rerun per key press)."""
    thumb = _shown_slider(page, label)
    thumb.focus()
    thumb.press(key)
    wait_idle(page)
    for _ in range(left):
        _shown_slider(page, label).press("ArrowLeft")
        wait_idle(page)


def _start_diverging(page, app_url: str, epochs: int) -> None:
    """Adam at learning rate 100 for `epochs` epochs at 1 epoch/s: it blows up in its first epoch."""
    page.goto(f"{app_url}/regression")
    wait_idle(page)
    page.get_by_role("tab", name="Training").click()
    _set_slider(page, "Learning rate", "End")  # 100
    box = page.locator('[data-testid="stNumberInput"]').filter(has_text="Epochs").locator("input")
    box.fill(str(epochs))
    box.press("Enter")
    wait_idle(page)
    _set_slider(page, "Slow motion", "End", left=1)  # 1 epoch/s
    assert "1 epoch/s" in page.locator('[data-testid="stSlider"]').filter(has_text="Slow motion").inner_text()
    page.get_by_role("button", name="Start", exact=True).click()
    page.wait_for_function("new URL(location).searchParams.get('regression_run') !== null", timeout=30_000)


def _stop(page) -> None:
    # slowed: Stop must still end it (a plain JS click: Playwright's wait for the URL change that follows
    # a click can outlast its own 30 s on a busy machine, and the test waits for the status anyway)
    page.get_by_role("button", name="Stop", exact=True).evaluate("button => button.click()")
    page.wait_for_function(f"(document.querySelector('{PROGRESS}')?.innerText || '').startsWith('Stopped')",
                           timeout=120_000)
    wait_idle(page)


@pytest.mark.timeout(900)  # ~1 min idle; a dozen reruns of a page with big charts take far longer on a busy machine
def test_a_slowed_diverging_run_warns_live_stops_and_gets_one_verdict(page, app_url):
    _start_diverging(page, app_url, 300)
    alarm = page.locator(f'{MAIN} [data-testid="stAlert"]').filter(has_text="Training diverged")
    alarm.first.wait_for(timeout=120_000)  # while it trains, not after
    assert re.search(r"epoch \d+/300", page.locator(PROGRESS).first.inner_text()), "the run is still training"
    assert "(100)" in alarm.first.inner_text()
    screenshot(page, "tempo_regression_diverging_live")
    _stop(page)
    assert_no_exception(page)
    text = page.locator(MAIN).inner_text()
    assert text.count("Training diverged") == 1  # one verdict, said once
    assert "more epochs may help" not in text and "train longer" not in text
    assert not re.search(r"\d{12,}", text), "a diverged loss printed in full"
    screenshot(page, "tempo_regression_diverged_after")


@pytest.mark.timeout(900)
def test_the_alarm_in_presenter_view(page, app_url):
    _start_diverging(page, app_url, 300)
    page.wait_for_function(f"/epoch [1-9]\\d*\\/300/.test(document.querySelector('{PROGRESS}')?.innerText || '')",
                           timeout=120_000)
    run_id = parse_qs(urlparse(page.url).query)["regression_run"][0]
    presenter = page.context.new_page()  # following the run by its link, as a projector's browser would
    presenter.goto(f"{app_url}/regression?regression_run={run_id}&presenter=1")
    wait_idle(presenter)
    presenter.locator(f'{MAIN} [data-testid="stAlert"]').filter(has_text="Training diverged").first.wait_for(
        timeout=120_000)
    assert re.search(r"epoch \d+/300", presenter.locator(PROGRESS).first.inner_text()), "still training"
    screenshot(presenter, "tempo_regression_diverging_live_presenter")
    presenter.close()
    _stop(page)


def test_a_slowed_optimizer_race_says_which_model_trains_and_stops(page, app_url):
    page.goto(f"{app_url}/experiments?sweep=optimizers&dataset=digits")
    wait_idle(page)
    panel = page.locator(SWEEPS_PANEL).first
    _set_slider(page, "Slow motion", "End", left=2)  # 2 epochs/s
    epochs = panel.get_by_role("spinbutton", name="Epochs per point")
    epochs.fill("20")
    epochs.press("Enter")
    wait_idle(page)
    panel.get_by_role("button", name="Run sweep").click()
    now = panel.get_by_text(re.compile(r"Training now: SGD \(point 1 of 6\) · epoch [1-9]"))
    now.wait_for(timeout=120_000)
    screenshot(page, "tempo_sweep_training_now")
    panel.get_by_role("button", name="Stop").click()
    panel.locator('[data-testid="stAlert"]').filter(has_text="Sweep stopped").wait_for(timeout=120_000)
    assert_no_exception(page)


def test_the_classification_lab_offers_slow_motion_beside_start(page, app_url):
    for suffix, name in (("", "tempo_classification"), ("?presenter=1", "tempo_classification_presenter")):
        page.goto(f"{app_url}/classification{suffix}")
        wait_idle(page)
        assert_no_exception(page)
        _shown_slider(page, "Slow motion")
        control = page.locator('[data-testid="stSlider"]').filter(has_text="Slow motion")
        assert "full speed" in control.inner_text()
        control.scroll_into_view_if_needed()  # its popover opens from the button beside Start
        screenshot(page, name)
