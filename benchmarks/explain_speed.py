"""How fast the Explain page's attributions are, on the shipped 28×28 digits CNN (a script, not a test).

    .venv/bin/python benchmarks/explain_speed.py              # 21 repeats
    .venv/bin/python benchmarks/explain_speed.py --repeats 7

Timed in-process with nnviz.analysis.explain.attribute (what the page calls on a cache miss),
after one warm-up call; the median (and worst) of several repeats is printed.

- Integrated Gradients, 50 steps, black baseline, one test image. Target < 300 ms.
- The page's default 4-method comparison grid (DEFAULT_GRID, default parameters) on the
  same image, i.e. the four calls one after the other. Target < 1 s.
- For context: the grid on 4 images (one batched call per method), every method alone,
  and IG-50 with torch's default intra-op threads instead of the wrapper's 1 thread.

Reference: one plain forward + backward pass of the image through the same CNN (1 thread,
like the wrappers), measured in the same run; every timing is also printed as a ratio to it (these machines are shared
and noisy).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from nnviz import process  # noqa: E402

process.configure()  # as the CLI and the dashboard do, before torch loads
IG_TARGET_MS, GRID_TARGET_MS = 300.0, 1000.0


def _time(fn, repeats: int) -> tuple[float, float]:
    """(median, worst) milliseconds of fn() over `repeats` calls, after one warm-up."""
    fn()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), max(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=21)
    args = parser.parse_args()

    import torch

    from nnviz.analysis import explain
    from nnviz.data import load
    from nnviz.model import checkpoints

    ckpt = checkpoints.load(checkpoints.SHIPPED_DIR / "digits_cnn.pt")
    model = ckpt.model()  # eval mode, like the page's cached model
    data = load(ckpt.config.data)
    x1, x4 = data.x_test[:1], data.x_test[:4]  # (1, 1, 28, 28), (4, 1, 28, 28)
    with torch.no_grad():
        t1, t4 = model(x1).argmax(1).tolist(), model(x4).argmax(1).tolist()
    norm = {"mean": ckpt.mean, "std": ckpt.std}

    def reference() -> None:  # on 1 intra-op thread, like the wrappers
        before = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            xi = x1.clone().requires_grad_()
            torch.autograd.grad(model(xi)[0, t1[0]], xi)
        finally:
            torch.set_num_threads(before)

    def ig50(threads: int | None = 1) -> None:
        explain.attribute(model, x1, "integrated_gradients", t1, steps=50, baseline="black", threads=threads, **norm)

    def grid(x, targets) -> None:
        for method in explain.DEFAULT_GRID:
            explain.attribute(model, x, method, targets, **norm, **explain.default_params(method, model))

    print(f"digits_cnn ({ckpt.config.preset}), input {tuple(x1.shape[1:])}, torch {torch.__version__}, "
          f"{torch.get_num_threads()} intra-op threads by default; median of {args.repeats} after a warm-up\n")
    ref, _ = _time(reference, args.repeats)
    rows = [("reference: forward + backward, 1 image, 1 thread", ref, None)]
    ig, ig_worst = _time(ig50, args.repeats)
    rows.append(("Integrated Gradients, 50 steps, 1 image", ig, IG_TARGET_MS))
    g1, g1_worst = _time(lambda: grid(x1, t1), args.repeats)
    rows.append((f"4-method grid ({', '.join(explain.DEFAULT_GRID)}), 1 image", g1, GRID_TARGET_MS))
    rows.append(("4-method grid, 4 images (batched per method)", _time(lambda: grid(x4, t4), args.repeats)[0], None))
    for method in explain.ATTRIBUTION_METHODS:
        call = lambda m=method: explain.attribute(model, x1, m, t1, **norm)  # noqa: E731
        rows.append((f"  {explain.ATTRIBUTION_METHODS[method].title} alone (defaults), 1 image",
                     _time(call, args.repeats)[0], None))
    rows.append(("  IG-50 with torch's default threads (threads=None)",
                 _time(lambda: ig50(None), max(3, args.repeats // 3))[0], None))

    width = max(len(r[0]) for r in rows)
    for name, ms, target in rows:
        verdict = "" if target is None else f"   target < {target:.0f} ms: {'PASS' if ms < target else 'FAIL'}"
        print(f"{name:<{width}}  {ms:8.1f} ms  ({ms / ref:7.1f}x ref){verdict}")
    print(f"\nworst of {args.repeats}: IG-50 {ig_worst:.1f} ms, 4-method grid {g1_worst:.1f} ms")
    return 0 if ig < IG_TARGET_MS and g1 < GRID_TARGET_MS else 1


if __name__ == "__main__":
    sys.exit(main())
