"""Playground speed: time to accuracy, epochs/s and frames/s with the page open in Chromium.

For each experiment the script serves the dashboard (its training at the lower priority users get),
opens the Playground at 1280x720 with the experiment's link, presses Play and samples the page every
0.2 s: the epoch, the test accuracy and the number of frames (maps redrawn) the page shows. It reports
the training seconds until the page first shows the target accuracy (from the click), epochs/s and
frames/s over the run, and as the reference the same training in this process without a page (one
thread, same seed: the same numbers), with the ratio page / reference. Targets from the issue:
spiral (x1, x2, sin x1, sin x2; 2x8 tanh) >= 95 % and XOR (one layer of 4) >= 97 % within 10 s;
the spiral on raw x1, x2 with 2x8 and 3x8: the accuracy reached in 30 s.

    .venv/bin/python benchmarks/playground.py [--only spiral_sin xor spiral_2x8 spiral_3x8]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from nnviz.playground import store  # noqa: E402
from nnviz.playground.config import from_query  # noqa: E402
from nnviz.playground.network import Trainer  # noqa: E402
from nnviz.training.threads import serial  # noqa: E402

SPIRAL = "ds=spiral&n=500&noise=0&ratio=0.5&seed=0&act=tanh&lr=0.03&bs=10&opt=sgd&epochs=100000"
EXPERIMENTS = {  # name: (link query, target test accuracy or None, seconds allowed)
    "spiral_sin": (SPIRAL + "&feat=x1,x2,sinx1,sinx2&hidden=8,8", 0.95, 10.0),
    "xor": ("ds=xor&n=500&noise=0&ratio=0.5&seed=0&feat=x1,x2&hidden=4&act=tanh&lr=0.03&bs=10&opt=sgd&epochs=100000",
            0.97, 10.0),
    "spiral_2x8": (SPIRAL + "&feat=x1,x2&hidden=8,8", None, 30.0),
    "spiral_3x8": (SPIRAL + "&feat=x1,x2&hidden=8,8,8", None, 30.0),
}


def reference(query: str, target: float | None, seconds: float) -> dict:
    """The same training without a page: this process, one thread."""
    cfg, _ = from_query(dict(p.split("=", 1) for p in query.split("&")))
    trainer = Trainer(cfg, store.points_for(cfg))
    start, reached = time.perf_counter(), None
    with serial():
        while time.perf_counter() - start < seconds:
            trainer.epoch()
            acc = trainer.scores().test_acc
            if reached is None and target is not None and acc >= target:
                reached = time.perf_counter() - start
                break
    elapsed = time.perf_counter() - start
    return {"epochs_per_s": round(trainer.epoch_done / elapsed, 1), "seconds_to_target": reached,
            "test_acc": round(trainer.scores().test_acc, 4), "epochs": trainer.epoch_done}


def on_page(browser, url: str, query: str, target: float | None, seconds: float) -> dict:
    from tests.e2e.conftest import wait_idle

    page = browser.new_page(viewport={"width": 1280, "height": 720})
    page.goto(f"{url}/playground?{query}")
    page.wait_for_selector(".nnviz-pg .nnviz-pg-play", timeout=120_000)
    wait_idle(page)
    read = "() => { const r = document.querySelector('.nnviz-pg'); const a = r.querySelector('.nnviz-pg-acc'); " \
           "return [Number(r.dataset.epoch), Number(a.dataset.value), Number(r.dataset.frames || 0)]; }"
    _, _, frames0 = page.evaluate(read)
    page.click(".nnviz-pg .nnviz-pg-play")
    start = time.perf_counter()
    reached, samples = None, []
    while time.perf_counter() - start < seconds:
        epoch, acc, frames = page.evaluate(read)
        now = time.perf_counter() - start
        samples.append((now, epoch, acc, frames))
        if reached is None and target is not None and acc >= target:
            reached = round(now, 2)
            break
        time.sleep(0.2)
    page.click(".nnviz-pg .nnviz-pg-play")  # pause
    elapsed, epoch, acc, frames = samples[-1]
    page.close()
    return {"seconds_to_target": reached, "test_acc": acc, "epochs": epoch,
            "epochs_per_s": round(epoch / max(elapsed, 1e-9), 1),
            "frames_per_s": round((frames - frames0) / max(elapsed, 1e-9), 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="*", default=list(EXPERIMENTS), choices=list(EXPERIMENTS))
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    from tests.e2e.conftest import CHROMIUM, CHROMIUM_FLAGS, serve_dashboard

    results = {}
    with tempfile.TemporaryDirectory() as work, serve_dashboard(Path(work)) as url, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        for name in args.only:
            query, target, seconds = EXPERIMENTS[name]
            ref = reference(query, target, seconds)
            page = on_page(browser, url, query, target, seconds)
            page["ratio_epochs_per_s_vs_reference"] = round(page["epochs_per_s"] / max(ref["epochs_per_s"], 1e-9), 2)
            results[name] = {"target": target, "seconds_allowed": seconds, "page": page, "reference": ref,
                              "load_average": [round(v, 1) for v in os.getloadavg()]}
            print(json.dumps({name: results[name]}), flush=True)
        browser.close()


if __name__ == "__main__":
    main()
