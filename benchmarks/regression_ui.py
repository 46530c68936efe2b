"""How responsive the Regression lab stays while a run trains (a script, not a timed test).

    .venv/bin/python benchmarks/regression_ui.py            # AppTest: page interactions
    .venv/bin/python benchmarks/regression_ui.py --browser  # + live updates/s in Chromium

Part 1 (AppTest, in-process, like the server): open the page, start a long run of the
default preset, then time reruns caused by widget interactions while it trains (the same
interactions once more with no run as the reference) and print the slowest, with the
ratio to the reference. Also reports how fast the run trained meanwhile.

Part 2 (--browser): a real `streamlit run` server and Chromium: start a run from the page
and count the live fit's redraws per second as the browser draws them (a MutationObserver
sees each new "Fit at epoch N" title), and how fast the run trained meanwhile.

Target on a 2-core CPU machine: slowest interaction < 0.5 s, >= 2 updates/s.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
TARGET_S = 0.5
EPOCHS = 5000  # long enough to still be training when the interactions end


def _interactions():
    """(label, action on the AppTest) pairs; each is followed by at.run()."""
    return [
        ("poll (rerun, no change)", lambda at: at),
        ("noise slider", lambda at: at.slider(key="rg_noise").set_value(0.35)),
        ("noise slider back", lambda at: at.slider(key="rg_noise").set_value(0.3)),
        ("function select", lambda at: at.selectbox(key="rg_function").select("sine")),
        ("function back", lambda at: at.selectbox(key="rg_function").select("course")),
        ("train points", lambda at: at.slider(key="rg_n_train").set_value(200)),
        ("architecture preset", lambda at: at.selectbox(key="rg_model").select("mlp3_sigmoid")),
        ("custom model", lambda at: at.selectbox(key="rg_model").select("custom")),
        ("hidden layers", lambda at: at.slider(key="rg_layers").set_value(3)),
        ("activation", lambda at: at.selectbox(key="rg_activation").select("relu")),
        ("learning rate", lambda at: at.select_slider(key="rg_lr").set_value(0.003)),
        ("optimizer", lambda at: at.selectbox(key="rg_optimizer").select("sgd")),
        ("batch size", lambda at: at.select_slider(key="rg_batch_size").set_value(32)),
        ("epochs", lambda at: at.number_input(key="rg_epochs").set_value(200)),
        ("k-fold", lambda at: at.selectbox(key="rg_kfold").select(5)),
        ("default preset again", lambda at: at.selectbox(key="rg_model").select("regressor")),
    ]


def _timed(at, action) -> float:
    action(at)
    t0 = time.perf_counter()
    at.run()
    elapsed = time.perf_counter() - t0
    if at.exception:
        raise SystemExit(f"the page raised: {at.exception[0].message}")
    return elapsed


def apptest_part(rounds: int) -> float:
    from streamlit.testing.v1 import AppTest

    from nnviz.jobs import runs

    at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=120)
    at.run()
    at.switch_page("app_pages/regression.py").run()
    at.run()  # warm the caches (data, untrained fit, architecture)

    reference: dict[str, list[float]] = {}
    for _ in range(rounds):
        for label, action in _interactions():
            reference.setdefault(label, []).append(_timed(at, action))

    at.number_input(key="rg_epochs").set_value(EPOCHS).run()
    if at.button(key="rg_start").disabled:
        raise SystemExit(f"Start is disabled: {[w.value for w in list(at.warning) + list(at.error)]}")
    at.button(key="rg_start").click().run()
    if "run_id:regression" not in at.session_state:
        raise SystemExit(f"no run started: {[w.value for w in list(at.warning) + list(at.error)]} {at.exception}")
    run = runs.get(at.session_state["run_id:regression"])
    while run.active and len(run.view().history) < 3:
        time.sleep(0.05)
    e0, t0 = len(run.view().history), time.perf_counter()
    during: dict[str, list[float]] = {}
    for _ in range(rounds):
        for label, action in _interactions():
            during.setdefault(label, []).append(_timed(at, action))
            assert run.active, f"the run ended during the benchmark: {run.view().status}"
    epochs_per_s = (len(run.view().history) - e0) / (time.perf_counter() - t0)
    at.button(key="rg_stop").click()
    stop_s = _timed(at, lambda a: a)
    runs.stop_all()

    print(f"{'interaction':26s} {'no run':>9s} {'training':>9s}  (slowest of {rounds}, seconds)")
    for label in during:
        print(f"{label:26s} {max(reference[label]):9.3f} {max(during[label]):9.3f}")
    all_during = [t for ts in during.values() for t in ts]
    all_ref = [t for ts in reference.values() for t in ts]
    slowest_label = max(during, key=lambda k: max(during[k]))
    slowest = max(all_during)
    print(f"\nmedian interaction: {statistics.median(all_ref):.3f} s with no run, "
          f"{statistics.median(all_during):.3f} s while training "
          f"(ratio {statistics.median(all_during) / statistics.median(all_ref):.2f})")
    print(f"Stop click rerun: {stop_s:.3f} s; the run trained {epochs_per_s:.1f} epochs/s during the interactions")
    print(f"SLOWEST INTERACTION WHILE TRAINING: {slowest:.3f} s ({slowest_label}); target < {TARGET_S} s: "
          f"{'PASS' if slowest < TARGET_S else 'FAIL'}")
    return slowest


def browser_part(seconds: float) -> float:
    from playwright.sync_api import sync_playwright

    from tests.e2e.conftest import CHROMIUM, CHROMIUM_FLAGS, serve_dashboard

    work = Path(tempfile.mkdtemp(prefix="nnviz-bench-"))
    with serve_dashboard(work, timeout_s=120) as url, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": 1280, "height": 720})
        page.goto(url)
        page.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]', timeout=120_000)
        page.locator('[data-testid="stSidebarNavLink"][href$="/regression"]').click()
        page.wait_for_selector('[data-testid="stPlotlyChart"]', timeout=120_000)
        page.get_by_role("tab", name="Training").click()
        epochs = page.get_by_label("Epochs")
        epochs.fill(str(EPOCHS))
        epochs.press("Enter")
        time.sleep(1.5)
        page.get_by_role("button", name="Start", exact=True).click()
        history = None
        for _ in range(600):  # the run's folder appears, then its first epoch
            found = list((work / "runs").glob("*/history.jsonl"))
            if found:
                history = found[0]
                break
            time.sleep(0.1)
        time.sleep(1.0)
        page.evaluate(COUNT_UPDATES_JS)
        n0, t0 = _lines(history), time.perf_counter()
        time.sleep(seconds)
        elapsed = time.perf_counter() - t0
        epochs_per_s = (_lines(history) - n0) / elapsed
        stamps = page.evaluate("window.__fitUpdates")
        page.get_by_role("button", name="Stop", exact=True).click()
        time.sleep(1.0)
        browser.close()
    rate = len(stamps) / elapsed
    gaps = [(b - a) / 1000 for a, b in zip(stamps, stamps[1:])]
    longest = max(gaps) if gaps else float("nan")
    print(f"LIVE UPDATES IN THE BROWSER: {rate:.2f} fit redraws per second over {elapsed:.0f} s (longest gap "
          f"{longest:.2f} s; the run trained {epochs_per_s:.1f} epochs/s meanwhile); target >= 2: "
          f"{'PASS' if rate >= 2 else 'FAIL'}")
    return rate


def _lines(path: Path | None) -> int:
    return sum(1 for _ in open(path)) if path is not None and path.is_file() else 0


# Counts the live fit figure's redraws as the browser shows them: each new "Fit at epoch N"
# title drawn by Plotly is one update that reached the screen.
COUNT_UPDATES_JS = """() => {
  window.__fitUpdates = []; const seen = new Set();
  new MutationObserver(() => {
    for (const el of document.querySelectorAll('.gtitle')) {
      const text = el.textContent;
      if (text.startsWith('Fit at epoch') && !seen.has(text)) { seen.add(text); window.__fitUpdates.push(performance.now()); }
    }
  }).observe(document.body, {subtree: true, childList: true, characterData: true, attributes: true});
}"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2, help="times each interaction is repeated")
    parser.add_argument("--browser", action="store_true", help="also count live updates in Chromium")
    parser.add_argument("--seconds", type=float, default=10.0, help="browser measuring window")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["NNVIZ_RUNS_DIR"] = str(Path(tmp) / "runs")
        os.environ["NNVIZ_CHECKPOINT_DIR"] = str(Path(tmp) / "ckpt")
        apptest_part(args.rounds)
    if args.browser:
        browser_part(args.seconds)


if __name__ == "__main__":
    main()
