"""Replay in a real browser: Play advances the epoch by itself (the fragment's timer), Pause holds it."""
from __future__ import annotations

import re
import time

import pytest

from nnviz.ui.replay import PLAY_S, stride
from tests.e2e.conftest import SCREENSHOTS, assert_no_exception, wait_idle
from tests.waiting import wait_until

pytestmark = pytest.mark.e2e


def _epoch(page) -> int:
    """The replay slider's value, as the browser shows it."""
    thumb = page.locator(".st-key-rg_replay_epoch input[type='range']").first
    return int(re.sub(r"\D", "", thumb.get_attribute("aria-valuetext") or ""))


def test_regression_replay_plays_and_pauses(page, app_url):
    page.goto(f"{app_url}/regression")
    wait_idle(page)
    page.locator(".st-key-rg_start button").first.click()
    page.wait_for_selector("text=Finished", timeout=180_000)
    wait_idle(page)
    assert page.locator("text=lowest validation MSE").count() >= 1  # the diagnostics under the loss chart
    page.get_by_role("tab", name="Replay").first.click()
    page.wait_for_selector(".st-key-rg_replay_epoch_play button", timeout=60_000)
    wait_idle(page)
    last = _epoch(page)
    page.locator(".st-key-rg_replay_epoch_play button").first.click()  # at the end, Play starts from epoch 0
    page.wait_for_selector(".st-key-rg_replay_epoch_play button:has-text('Pause')", timeout=30_000)
    first = _epoch(page)
    # the timer moves it: no click, no rerun of ours
    moved = wait_until(lambda: (e := _epoch(page)) > first and e, interval=0.3, what="Play moving the slider")
    assert first < moved < last
    page.locator(".st-key-rg_replay_epoch_play button").first.click()  # pause
    page.wait_for_selector(".st-key-rg_replay_epoch_play button:has-text('Play')", timeout=30_000)
    wait_idle(page)
    paused_at = _epoch(page)
    # Part of the test, not a wait for the UI: time passes while paused. Playing, this is four frames;
    # paused, at most the one timer tick already on its way when Pause was pressed may still land.
    time.sleep(4 * PLAY_S)
    wait_idle(page)
    assert paused_at <= _epoch(page) <= paused_at + stride(last + 1)
    assert_no_exception(page)
    SCREENSHOTS.mkdir(exist_ok=True)
    page.locator(".st-key-rg_replay_epoch").first.scroll_into_view_if_needed()
    page.screenshot(path=str(SCREENSHOTS / "replay_regression.png"))
