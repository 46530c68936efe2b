"""Class canvas in a real browser: ten emulated phones draw with touch strokes while a run trains on the class
set, the server restarts in the middle, and nothing is lost; bad input gets one clear message; the presenter's
page trains on the set and compares the class model with the shipped MNIST model."""
from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from nnviz.classset.store import ClassStore
from nnviz.ui.class_panels import MAX_EPOCHS
from tests.class_strokes import jittered, png, points
from tests.e2e.conftest import ROOT, SCREENSHOTS, _free_port, _healthy, wait_idle
from tests.waiting import GENEROUS_S, wait_until

PHONES, EACH = 10, 10
# Playwright's "Pixel 5" descriptor (one sync Playwright per process: the session's browser fixture holds it)
PHONE = {"viewport": {"width": 393, "height": 727}, "device_scale_factor": 2.75, "is_mobile": True, "has_touch": True,
         "user_agent": "Mozilla/5.0 (Linux; Android 11; Pixel 5) AppleWebKit/537.36 (KHTML, like Gecko) "
                       "Chrome/120.0.0.0 Mobile Safari/537.36"}
SEEDED = 40  # drawings posted before the phones start, so a run can train while they draw


class Server:
    """`streamlit run` on a fixed port, so phones keep their page across a restart."""

    def __init__(self, work: Path) -> None:
        self.work, self.port, self.proc = work, _free_port(), None
        self.url = f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        env = {**__import__("os").environ, "NNVIZ_RUNS_DIR": str(self.work / "runs"),
               "NNVIZ_CHECKPOINT_DIR": str(self.work / "checkpoints"), "NNVIZ_DATA_DIR": str(self.work / "data")}
        log = open(self.work / "streamlit.log", "a")  # noqa: SIM115 - the server holds it until stopped
        self.proc = subprocess.Popen(
            [sys.executable, str(ROOT / "tests/e2e/serve_normal_priority.py"), "run", "streamlit_app.py",
             "--server.headless", "true", "--server.port", str(self.port), "--browser.gatherUsageStats", "false",
             "--server.fileWatcherType", "none"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        wait_until(lambda: self.proc.poll() is not None or _healthy(self.url), what="the server answering")
        assert self.proc.poll() is None, (self.work / "streamlit.log").read_text()[-3000:]

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(15)


@pytest.fixture
def server(tmp_path: Path):
    s = Server(tmp_path)
    s.start()
    yield s
    s.stop()


def post(url: str, browser: str, label: object, body: bytes) -> tuple[int, dict]:
    req = urllib.request.Request(f"{url}/nnviz/class/submit?browser={browser}&label={label}", data=body,
                                 method="POST", headers={"Content-Type": "image/png"})
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def draw_with_touch(phone, digit: int, writer: int, nth: int) -> None:
    """Touch strokes through Chromium's input pipeline (touchstart/move/end, as a finger makes them)."""
    box = phone.locator("#pad").bounding_box()
    cdp = phone.context.new_cdp_session(phone)
    for line in jittered(digit, writer, nth):
        pts = points(line, box, steps=3)
        cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [{"x": pts[0][0], "y": pts[0][1]}]})
        for x, y in pts[1:]:
            cdp.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [{"x": x, "y": y}]})
        cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    cdp.detach()


def open_phone(browser, url: str, errors: list):
    context = browser.new_context(**PHONE)
    phone = context.new_page()
    phone.on("pageerror", lambda exc: errors.append(str(exc)))
    phone.goto(f"{url}/nnviz/class")
    phone.wait_for_selector("#pad")
    return phone


def run_status(work: Path) -> str:
    """The newest run's status as its folder says."""
    folders = sorted((work / "runs").glob("2*"))
    return json.loads((folders[-1] / "status.json").read_text())["status"] if folders else ""


def start_training(presenter, url: str, epochs: int) -> None:
    presenter.goto(f"{url}/class_canvas")
    wait_idle(presenter)
    presenter.get_by_label("Epochs").fill(str(epochs))
    presenter.get_by_label("Epochs").press("Enter")
    wait_idle(presenter)
    presenter.get_by_role("button", name="Train on the class set").click()
    presenter.wait_for_selector(".nnviz-progress-text", timeout=GENEROUS_S * 1000)


def phones_draw(phones: list, rounds: range) -> None:
    """Each round, every phone picks a digit, draws it with touch strokes and sends it; then all ten are
    in flight at once and the test waits for each to say it was saved."""
    for nth in rounds:
        for writer, phone in enumerate(phones):
            digit = (writer + nth) % 10
            phone.locator(f'#digits button[data-digit="{digit}"]').click()
            draw_with_touch(phone, digit, writer, nth)
            phone.locator("#send").click()
        for writer, phone in enumerate(phones):
            wait_until(lambda p=phone, n=nth: p.locator("#mine").inner_text() == str(n + 1),
                       what=f"phone {writer} saving drawing {nth + 1}")
            assert "Saved" in phone.locator("#message").inner_text()
        print(f"round {nth + 1}/{EACH} saved", flush=True)


@pytest.mark.timeout(1800)  # 140 drawings, two runs and a restart: minutes on a busy 2-core machine
def test_ten_phones_while_training_and_a_restart_lose_nothing(server: Server, browser) -> None:
    for i in range(SEEDED):  # a first class set, so the presenter can start training before the phones draw
        status, answer = post(server.url, f"seed-browser-{i % 4:02d}", i % 10, png(jittered(i % 10, 90 + i % 4, i)))
        assert status == 200 and answer["ok"], answer
    errors: list[str] = []
    presenter = browser.new_context(viewport={"width": 1280, "height": 720}).new_page()
    presenter.on("pageerror", lambda exc: errors.append(str(exc)))
    start_training(presenter, server.url, MAX_EPOCHS)  # far longer than the phones take: it trains throughout
    phones = [open_phone(browser, server.url, errors) for _ in range(PHONES)]
    store = ClassStore(server.work / "runs" / "class_canvas.sqlite3")

    phones_draw(phones, range(EACH // 2))
    assert run_status(server.work) == "running"  # the drawings came in while it trained
    server.stop()  # the server restarts in the middle: what was saved stays, the phones keep their page
    assert store.count() == SEEDED + PHONES * EACH // 2
    server.start()
    start_training(presenter, server.url, MAX_EPOCHS)
    phones_draw(phones, range(EACH // 2, EACH))
    assert run_status(server.work) == "running"
    phones[0].screenshot(path=str(SCREENSHOTS / "class_canvas_phone.png"))

    assert store.count() == SEEDED + PHONES * EACH  # 0 lost
    a = store.arrays()
    assert sorted(a["labels"][SEEDED:].tolist()) == sorted((w + n) % 10 for w in range(PHONES) for n in range(EACH))
    assert (a["pixels"][SEEDED:].max(axis=(1, 2)) > 200).all()  # every phone drawing has ink (stretched to ~255)

    presenter.get_by_role("button", name="Stop").click()  # the run so far is what gets compared
    presenter.wait_for_selector("[data-testid='stMetric']", timeout=GENEROUS_S * 1000)
    wait_idle(presenter)
    wait_until(lambda: f"{SEEDED + PHONES * EACH}</b> drawings" in presenter.locator(
        "[data-testid='class-count']").inner_html(), what="the gallery counting all drawings")
    metrics = presenter.locator("[data-testid='stMetric']").all_inner_texts()
    assert any("Shipped MNIST model" in m for m in metrics) and any("Class model" in m for m in metrics), metrics
    print("class canvas comparison:", [m.replace("\n", " ") for m in metrics])
    presenter.screenshot(path=str(SCREENSHOTS / "class_canvas_compare.png"), full_page=True)
    assert not presenter.locator("[data-testid='stException']").count()
    assert errors == []


def test_bad_input_gets_one_clear_message_and_stores_nothing(server: Server, browser) -> None:
    errors: list[str] = []
    phone = open_phone(browser, server.url, errors)
    phone.locator('#digits button[data-digit="3"]').click()
    phone.locator("#send").click()  # nothing drawn
    wait_until(lambda: "empty" in phone.locator("#message").inner_text(), what="the empty-drawing message")
    assert "bad" in phone.locator("#message").get_attribute("class")

    browser_id = "flood-browser-0001"
    codes = [post(server.url, browser_id, 1, png(jittered(1, 5, n)))[0] for n in range(11)]
    assert codes[:10] == [200] * 10
    status, answer = post(server.url, browser_id, 1, png(jittered(1, 5, 11)))
    assert status == 429 and answer["message"].startswith("Slow down")
    status, answer = post(server.url, "big-browser-0001", 1, b"\x89PNG" + b"0" * (600 * 1024))
    assert status == 413 and "too large" in answer["message"]
    status, answer = post(server.url, "odd-browser-0001", 12, png(jittered(1, 5, 0)))
    assert status == 400 and "Pick the digit" in answer["message"]

    store = ClassStore(server.work / "runs" / "class_canvas.sqlite3")
    store.set_open(False)
    draw_with_touch(phone, 3, 1, 0)
    phone.locator("#send").click()
    wait_until(lambda: "closed" in phone.locator("#message").inner_text(), what="the closed message")
    wait_until(lambda: phone.locator("#closed").is_visible(), what="the closed banner")
    assert store.count() == 10  # the ten accepted before the flood was cut off, nothing else
    phone.screenshot(path=str(SCREENSHOTS / "class_canvas_phone_closed.png"))
    assert errors == []
