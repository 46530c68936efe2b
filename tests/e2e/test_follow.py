"""Following a run in a real browser: the sidebar's run line opens the lab following it, a new tab on the
lab shows the run training there, and Share gives the link and its QR code."""
from __future__ import annotations

import re

import pytest

from tests.e2e.conftest import assert_no_exception, screenshot, wait_idle

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]  # three sessions and a run on a shared CPU

PROGRESS = '[data-testid="stMain"] [data-testid="stProgress"]'
EPOCH_SHOWN = f"(document.querySelector('{PROGRESS}')?.innerText || '').match(/epoch [1-9]\\d*\\//)"


def _start_long_regression_run(page, app_url: str) -> str:
    page.goto(f"{app_url}/regression")
    wait_idle(page)
    page.get_by_role("tab", name="Training").click()
    box = page.locator('[data-testid="stNumberInput"]').filter(has_text="Epochs").locator("input")
    box.fill("5000")
    box.press("Enter")
    wait_idle(page)
    page.locator(".st-key-rg_start button >> visible=true").click()
    page.wait_for_function("new URL(location).searchParams.get('regression_run') !== null", timeout=120_000)
    page.wait_for_function(EPOCH_SHOWN, timeout=180_000)
    return re.search(r"regression_run=([^&]+)", page.url).group(1)


def _open_share(page) -> None:
    page.locator('[data-testid="stPopover"] button').filter(has_text="Share").first.click()


def _stop(page) -> None:
    page.bring_to_front()
    page.locator(".st-key-rg_stop button >> visible=true").click()
    page.wait_for_function(f"(document.querySelector('{PROGRESS}')?.innerText || '').startsWith('Stopped')",
                           timeout=180_000)


def test_the_sidebar_line_and_a_new_tab_follow_the_run_and_share_shows_a_qr_code(page, app_url):
    run_id = _start_long_regression_run(page, app_url)
    student = page.context.browser.new_context(viewport={"width": 1280, "height": 720}).new_page()
    try:
        # another session on Home: the sidebar's line of the run is a link to its live view
        student.goto(app_url)
        wait_idle(student)
        link = student.locator("a.nnviz-follow").first
        link.wait_for(timeout=120_000)
        assert link.get_attribute("href") == f"regression?regression_run={run_id}"
        link.click()
        student.wait_for_url(f"**/regression?regression_run={run_id}", timeout=120_000)
        student.wait_for_function(EPOCH_SHOWN, timeout=180_000)
        assert_no_exception(student)
        # a new tab on the lab, with nothing of its own, shows the run training there
        fresh = student.context.new_page()
        fresh.goto(f"{app_url}/regression")
        fresh.wait_for_function(f"new URL(location).searchParams.get('regression_run') === '{run_id}'",
                                timeout=180_000)
        fresh.wait_for_function(EPOCH_SHOWN, timeout=180_000)
        screenshot(fresh, "follow_new_tab_1280")
        _open_share(fresh)
        qr = fresh.locator(".nnviz-share-qr img")
        qr.wait_for(timeout=120_000)
        box = fresh.locator(".nnviz-share-qr img").bounding_box()
        assert box is not None and box["width"] >= 200 and abs(box["width"] - box["height"]) < 2  # square, readable
        code = fresh.locator('[data-testid="stPopoverBody"] code').first.inner_text()
        assert code.endswith(f"/regression?regression_run={run_id}")
        screenshot(fresh, "follow_share_qr_1280")
        presenter = student.context.new_page()
        presenter.goto(f"{app_url}/regression?presenter=1&regression_run={run_id}")
        presenter.wait_for_function(EPOCH_SHOWN, timeout=180_000)
        _open_share(presenter)
        presenter.locator(".nnviz-share-qr img").wait_for(timeout=120_000)
        screenshot(presenter, "follow_share_qr_presenter_1280")
    finally:
        student.context.close()
        _stop(page)
