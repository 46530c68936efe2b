"""A real browser against a real server: `streamlit run` on a free port, Debian's Chromium via Playwright."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest

from tests.waiting import GENEROUS_S, wait_until

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"
CHROMIUM = os.environ.get("NNVIZ_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Every test under tests/e2e is an e2e test, so `pytest -m "not e2e"` is the fast tier."""
    here = Path(__file__).resolve().parent
    for item in items:
        if here in Path(item.fspath).resolve().parents:
            item.add_marker(pytest.mark.e2e)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def app_work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The served dashboard's folder: runs/, checkpoints/, data/ and streamlit.log."""
    return tmp_path_factory.mktemp("e2e")


@contextmanager
def serve_dashboard(work: Path, timeout_s: float = GENEROUS_S, normal_priority: bool = False,
                    **env: str) -> Iterator[str]:
    """`streamlit run` on a free loopback port with its folders (runs, checkpoints, data) and log under
    `work`; yields the base URL once /_stcore/health says ok, and stops the server afterwards.
    `normal_priority`: its runs train at normal priority, as the tests want (serve_normal_priority.py);
    benchmarks leave it off and measure the server users get. Extra keyword arguments are environment
    variables for the server."""
    launcher = [str(Path(__file__).resolve().parent / "serve_normal_priority.py")] if normal_priority \
        else ["-m", "streamlit"]
    env = dict(os.environ, NNVIZ_RUNS_DIR=str(work / "runs"), NNVIZ_CHECKPOINT_DIR=str(work / "checkpoints"),
               NNVIZ_DATA_DIR=str(work / "data"), **env)
    log_path = work / "streamlit.log"
    for attempt in range(3):  # a free port can be taken by another process before streamlit binds it
        port = _free_port()
        with open(log_path, "w") as log:
            proc = subprocess.Popen([sys.executable, *launcher, "run", "streamlit_app.py",
                                     "--server.headless", "true", "--server.port", str(port),
                                     "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"],
                                    cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        try:
            wait_until(lambda proc=proc, url=url: proc.poll() is not None or _healthy(url), timeout=timeout_s, interval=0.3,
                       what="streamlit answering /_stcore/health")
            if proc.poll() is not None:
                log_text = log_path.read_text()
                if "is already in use" in log_text and attempt < 2:
                    continue
                raise RuntimeError(log_text)
            yield url
            return
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()


def _healthy(url: str) -> bool:
    try:
        return urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok"
    except OSError:
        return False


@pytest.fixture(scope="session")
def app_url(app_work: Path):
    """Start the dashboard once per test session; yields its base URL."""
    with serve_dashboard(app_work, normal_priority=True) as url:
        yield url


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        pytest.fail(f"Chromium not found at {CHROMIUM}: install Debian's chromium (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 720})
    p = context.new_page()
    yield p
    context.close()


def wait_idle(page, timeout_ms: int = 60_000) -> None:
    """Wait until the script finished running and no skeleton placeholders are left."""
    page.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]', timeout=timeout_ms)
    page.wait_for_function("!document.querySelector('[data-testid=\"stSkeleton\"]')", timeout=timeout_ms)


_CHARTS_STILL_JS = """([selector, atLeast, token]) => {
    const charts = [...document.querySelectorAll(selector)].filter(c => c.getClientRects().length);
    if (charts.length < atLeast) return false;
    const shape = [];
    for (const chart of charts) {
        const svg = chart.querySelector('.main-svg');
        if (!svg) return false;
        const r = svg.getBoundingClientRect(), box = chart.getBoundingClientRect();
        shape.push([Math.round(r.width), Math.round(r.height), Math.round(box.width), Math.round(box.height),
                    chart.getElementsByTagName('*').length]);
    }
    const key = JSON.stringify(shape), memo = window.__nnvizStill || (window.__nnvizStill = {});
    const seen = memo[token];
    memo[token] = {key, polls: seen && seen.key === key ? seen.polls + 1 : 0};
    return memo[token].polls >= 2;
}"""
_still_calls = 0


def charts_settled(page, selector: str = '[data-testid="stPlotlyChart"]', at_least: int = 1,
                   timeout_ms: int = 120_000) -> None:
    """Wait until at least `at_least` visible plotly charts under `selector` are drawn and have stopped
    changing (size and element count the same over three polls, 0.2 s apart in the page's own time):
    plotly finishes drawing, and re-lays out after a resize, some time after its element appears."""
    global _still_calls
    _still_calls += 1
    page.wait_for_function(_CHARTS_STILL_JS, arg=[selector, at_least, _still_calls], polling=200, timeout=timeout_ms)


def assert_no_exception(page) -> None:
    errors = page.locator('[data-testid="stException"]')
    assert errors.count() == 0, errors.first.inner_text()


def screenshot(page, name: str) -> Path:
    SCREENSHOTS.mkdir(exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
