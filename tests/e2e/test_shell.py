"""The shell in a real browser: every page opens from the sidebar with no exception."""
from __future__ import annotations

import re

import pytest

from tests.e2e.conftest import assert_no_exception, screenshot, wait_idle

pytestmark = pytest.mark.e2e

PAGES = {"home": "", "lessons": "lessons", "regression": "regression", "classification": "classification", "inside": "inside",
         "explain": "explain", "draw": "draw", "experiments": "experiments", "playground": "playground",
         "class_canvas": "class_canvas"}


def test_home_shows_device_datasets_and_checkpoints(page, app_url):
    page.goto(app_url)
    wait_idle(page)
    assert_no_exception(page)
    body = page.locator('[data-testid="stMain"]').inner_text()
    assert "nnviz" in body and "Device" in body
    assert "digits" in body  # the embedded set is listed as present
    assert "Checkpoints" in body
    # datasets and checkpoints tables (the shipped checkpoints); grids draw on canvas, so count them
    assert page.locator('[data-testid="stDataFrame"]').count() >= 2
    assert page.locator('[data-testid="stSidebarNavLink"]').count() == len(PAGES)
    screenshot(page, "home")


@pytest.mark.parametrize("name", [n for n in PAGES if n != "home"])
def test_every_page_opens_from_the_sidebar(page, app_url, name):
    page.goto(app_url)
    wait_idle(page)
    page.locator(f'[data-testid="stSidebarNavLink"][href$="/{PAGES[name]}"]').click()
    page.wait_for_url(re.compile(rf"/{PAGES[name]}(\?.*)?$"))  # the Playground writes its settings into the URL
    wait_idle(page)
    assert_no_exception(page)
    assert page.locator("h1").count() >= 1
    screenshot(page, f"shell_{name}")
