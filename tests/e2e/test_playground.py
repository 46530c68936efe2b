"""Playground in a real browser: XOR and the spiral train live to their benchmark accuracies, the boundary
redraws while they train, and a link with the settings reopens the same experiment on a fresh tab."""
from __future__ import annotations

import pytest

from tests.e2e.conftest import assert_no_exception, screenshot, wait_idle
from tests.waiting import GENEROUS_S, wait_until

pytestmark = pytest.mark.e2e

VIEW = ".nnviz-pg"
BOUNDARY = ".nnviz-pg-boundary"
XOR = "ds=xor&n=500&noise=0&ratio=0.5&seed=0&feat=x1,x2&hidden=4&act=tanh&lr=0.03&bs=10&opt=sgd&epochs=300"
SPIRAL = ("ds=spiral&n=500&noise=0&ratio=0.5&seed=0&feat=x1,x2,sinx1,sinx2&hidden=8,8&act=tanh&lr=0.03&bs=10"
          "&opt=sgd&epochs=500")


def _open(page, url: str) -> None:
    page.goto(url)
    page.wait_for_selector(f"{VIEW} .nnviz-pg-play", timeout=GENEROUS_S * 1000)
    wait_idle(page)
    assert_no_exception(page)


def _data(page) -> dict:
    return page.evaluate(f"() => ({{...document.querySelector('{VIEW}').dataset}})")


def _epoch(page) -> int:
    return int(_data(page).get("epoch", -1))


def _accuracy(page) -> float:
    return float(page.locator(f"{VIEW} .nnviz-pg-acc").get_attribute("data-value"))


def _train_and_watch(page, app_url: str, query: str, epochs: int, name: str) -> float:
    _open(page, f"{app_url}/playground?{query}")
    assert _epoch(page) == 0 and _data(page)["status"] == "paused"
    page.click(f"{VIEW} .nnviz-pg-play")
    wait_until(lambda: _epoch(page) >= 2, what="training to start")
    first = page.locator(BOUNDARY).screenshot()
    start = _epoch(page)
    wait_until(lambda: _epoch(page) >= start + 20 or _data(page)["status"] == "finished", what="20 more epochs")
    second = page.locator(BOUNDARY).screenshot()
    assert first != second, "the decision boundary did not redraw while the network trained"
    wait_until(lambda: _data(page)["status"] == "finished", what=f"{epochs} epochs")
    wait_until(lambda: _epoch(page) == epochs and page.locator(f"{VIEW} .nnviz-pg-epoch-n").inner_text()
               .replace(",", "").lstrip("0") == str(epochs), what="the last frame")
    screenshot(page, name)
    assert int(_data(page)["frames"]) >= 2
    return _accuracy(page)


def test_xor_with_one_hidden_layer_of_four_reaches_97_percent(page, app_url):
    assert _train_and_watch(page, app_url, XOR, 300, "playground_xor") >= 0.97


def test_spiral_with_sine_features_and_two_layers_of_eight_reaches_95_percent(page, app_url):
    assert _train_and_watch(page, app_url, SPIRAL, 500, "playground_spiral") >= 0.95


def _pixels(page) -> str:
    return page.evaluate(f"() => document.querySelector('{BOUNDARY}').toDataURL()")


def _step(page, times: int) -> None:
    for k in range(times):
        before = _epoch(page)
        page.click(f"{VIEW} .nnviz-pg-btn >> text=Step")
        wait_until(lambda before=before: _epoch(page) == before + 1 and _data(page)["status"] == "paused",
                   what=f"step {k + 1}")
    shown = int(page.locator(f"{VIEW} .nnviz-pg-epoch-n").inner_text().replace(",", ""))
    assert shown == _epoch(page)


def _wait_param(page, key: str, value: str) -> None:
    page.wait_for_function(f"new URL(location).searchParams.get('{key}') === '{value}'",
                           timeout=GENEROUS_S * 1000)


def test_a_link_reopens_the_same_experiment_on_a_fresh_tab(browser, page, app_url):
    _open(page, f"{app_url}/playground")
    seed = page.locator('[data-testid="stNumberInput"]').filter(has_text="Seed").locator("input")
    seed.fill("7")
    seed.press("Enter")
    _wait_param(page, "seed", "7")
    page.get_by_role("tab", name="Network", exact=True).click()
    page.get_by_label("Input features", exact=True).locator("button").filter(has_text="x₁²").click()
    _wait_param(page, "feat", "x1,x2,x1sq")
    layers = page.locator('[data-testid="stNumberInput"]').filter(has_text="Hidden layers")
    layers.locator('[data-testid="stNumberInputStepUp"]').click()
    _wait_param(page, "hidden", "4,2,4")
    wait_idle(page)
    wait_until(lambda: page.locator(f"{VIEW} .nnviz-pg-col").count() == 4, what="the third hidden layer drawn")
    link = page.url
    fresh = browser.new_context(viewport={"width": 1280, "height": 720})
    try:
        other = fresh.new_page()
        _open(other, link)
        assert other.url == link
        for p in (page, other):
            wait_until(lambda p=p: int(_data(p).get("frames", 0)) >= 1, what="the first maps")
        assert other.locator(f"{VIEW} .nnviz-pg-col").count() == 4
        assert _pixels(other) == _pixels(page)  # the same points and the same untrained boundary
        _step(page, 3)
        _step(other, 3)
        assert _pixels(other) == _pixels(page)  # and the same three epochs of training
        assert _accuracy(other) == _accuracy(page)
        screenshot(other, "playground_link")
    finally:
        fresh.close()
