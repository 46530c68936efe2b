"""How well and how fast Draw & predict reads handwriting, with its default model (a script, not a test).

    .venv/bin/python benchmarks/drawing_suite.py               # pipeline, browser suite (2 passes of drawings)
    .venv/bin/python benchmarks/drawing_suite.py --passes 1 --no-browser

1. pipeline: the default model on the MNIST sample's 1,000 test images, fed the raw tensors and fed each
   image through the page's preprocessing (nnviz.data.preprocess.prepare, as an upload): the points it costs.
2. offline drawings: the suite's 30 drawings rendered with PIL as the canvas would hold them, through the same
   preprocessing and model (no browser).
3. browser: `streamlit run` + headless Chromium at 1280x720 on Draw & predict, as tests/e2e/test_drawing_suite.py
   does: digits 0-9 drawn with many small mouse moves in three styles (each pass with another hand's wobble), and
   20 real MNIST test digits uploaded as they are and as photos. Prints accuracies and the latency from the last
   mouse-up to the answer appearing (measured in the page: performance.now() at the mouseup event and when the
   answer's element is inserted), p50 / p95, against a reference measured in the same run: Clear pressed to its
   waiting message shown (a bare rerun round trip, timed from Python).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from nnviz.data import preprocess  # noqa: E402
from nnviz.data.images import load_raw  # noqa: E402
from nnviz.model import checkpoints  # noqa: E402
from tests.e2e import drawing_suite as suite  # noqa: E402


def _emit(**row: object) -> None:
    print(json.dumps({**row, "load_avg_1m": round(os.getloadavg()[0], 2)}), flush=True)


def _percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q)) if values else float("nan")


def pipeline(ckpt: checkpoints.Checkpoint, model: torch.nn.Module) -> None:
    _, _, x_test, y_test = load_raw(ckpt.config.data.dataset)
    rule = preprocess.rule_for(ckpt.config.data.dataset, ckpt.input_shape, ckpt.mean, ckpt.std)
    raw = (x_test.float() / 255 - ckpt.mean[0]) / ckpt.std[0]
    piped = torch.cat([preprocess.prepare(im, rule).x for im in x_test[:, 0].numpy()])
    with torch.no_grad():
        acc_raw = float((model(raw).argmax(1) == y_test).float().mean())
        acc_page = float((model(piped).argmax(1) == y_test).float().mean())
    _emit(part="pipeline", model=ckpt.path.name, images=len(y_test), raw_acc=acc_raw, page_pipeline_acc=acc_page,
          cost_points=round(100 * (acc_raw - acc_page), 2))


def offline(ckpt: checkpoints.Checkpoint, model: torch.nn.Module, passes: int) -> None:
    rule = preprocess.rule_for(ckpt.config.data.dataset, ckpt.input_shape, ckpt.mean, ckpt.std)
    for name, style in suite.STYLES.items():
        right = 0
        for seed in range(passes):
            for digit in range(10):
                rgba = suite.render(suite.strokes(digit, style, 280, seed=seed), style.pen, 280)
                with torch.no_grad():
                    right += int(model(preprocess.prepare(rgba, rule).x).argmax()) == digit
        _emit(part="offline drawings", style=name, right=right, of=10 * passes)


def browser(passes: int) -> None:
    from playwright.sync_api import sync_playwright

    from tests.e2e.conftest import CHROMIUM, CHROMIUM_FLAGS, serve_dashboard, wait_idle

    with tempfile.TemporaryDirectory() as tmp, serve_dashboard(Path(tmp)) as url, sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        page = b.new_context(viewport={"width": 1280, "height": 720}).new_page()
        page.goto(f"{url}/draw")
        wait_idle(page)
        page.wait_for_selector(suite.CANVAS, timeout=60_000)
        suite.draw(page, suite.strokes(7, suite.STYLES["large and centred"], 280, seed=99))  # warm-up
        started = time.perf_counter()
        suite.clear(page)
        clears = [1000 * (time.perf_counter() - started)]
        drawn = []
        for seed in range(passes):
            drawn += suite.run_drawings(page, seed=seed)
            suite.draw(page, suite.strokes(1, suite.STYLES["large and centred"], 280, seed=seed))
            started = time.perf_counter()
            suite.clear(page)  # the reference: a Clear's rerun round trip
            clears.append(1000 * (time.perf_counter() - started))
        for name in suite.STYLES:
            rows = [r for r in drawn if r["style"] == name]
            _emit(part="browser drawings", style=name, right=sum(r["answer"] == str(r["digit"]) for r in rows),
                  of=len(rows), misread=[f"{r['digit']}->{r['answer']}" for r in rows if r["answer"] != str(r["digit"])])
        ms = [r["ms"] for r in drawn if r["ms"] is not None]
        ref = statistics.median(clears)
        _emit(part="latency", what="last mouse-up -> answer on screen, ms", samples=len(ms),
              p50=round(_percentile(ms, 50)), p95=round(_percentile(ms, 95)), max=round(max(ms)),
              reference_clear_roundtrip_ms=round(ref), p95_over_reference=round(_percentile(ms, 95) / ref, 2),
              target_p95_ms=600)
        _, _, x_test, y_test = load_raw("mnist_sample")
        cases = suite.upload_cases(x_test[:, 0].numpy(), y_test.numpy())
        uploads = suite.run_uploads(page, Path(tmp), cases)
        for variant in ("as it is", "photo"):
            rows = [r for r in uploads if r["variant"] == variant]
            _emit(part="browser uploads", variant=variant, right=sum(r["answer"] == str(r["label"]) for r in rows),
                  of=len(rows), misread=[f"{r['label']}->{r['answer']}" for r in rows if r["answer"] != str(r["label"])])
        b.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--passes", type=int, default=2, help="passes over the 30 drawings (another wobble each)")
    parser.add_argument("--no-browser", action="store_true", help="only the library parts (1 and 2)")
    args = parser.parse_args()
    ckpt = checkpoints.load(checkpoints.DEFAULT_MODEL)
    model = ckpt.model()
    pipeline(ckpt, model)
    offline(ckpt, model, args.passes)
    if not args.no_browser:
        browser(args.passes)


if __name__ == "__main__":
    main()
