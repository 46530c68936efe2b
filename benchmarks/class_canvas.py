"""Class canvas: a drawing's round trip from a phone, with a classroom submitting at once (a script, not a test).

    .venv/bin/python benchmarks/class_canvas.py                 # 10 phones x 10 drawings
    .venv/bin/python benchmarks/class_canvas.py --phones 30     # the design point: 30 phones

A real `streamlit run` server; each phone is a thread that posts its drawings (280 px PNGs of pen strokes,
as the Collect page sends them) to /nnviz/class/submit one after another, each right after the previous
answer, all phones at once: a harsher load than a class drawing (a hand needs seconds per digit).
Printed: the round trip (request to answer: preprocessing plus the durable write) p50 / p95 / max, the
count stored, and the reference: GET /nnviz/class/state (no image work, one read) timed alone on the same
server in the same run, with the ratio p95 / reference median. (The e2e test
tests/e2e/test_class_canvas.py covers the phones while a run trains; this script measures the route alone.)
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.class_strokes import jittered, png  # noqa: E402
from tests.e2e.conftest import serve_dashboard  # noqa: E402


def timed(req: urllib.request.Request) -> tuple[float, int]:
    t0 = time.perf_counter()
    try:
        with urllib.request.urlopen(req, timeout=120) as r:
            r.read()
            status = r.status
    except urllib.error.HTTPError as exc:
        status = exc.code
    return time.perf_counter() - t0, status


def percentile(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(round(q * (len(s) - 1))))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--phones", type=int, default=10)
    ap.add_argument("--each", type=int, default=10)
    args = ap.parse_args()
    bodies = {(p, n): png(jittered((p + n) % 10, p, n)) for p in range(args.phones) for n in range(args.each)}
    with tempfile.TemporaryDirectory() as tmp, serve_dashboard(Path(tmp), timeout_s=600) as url:
        state = urllib.request.Request(f"{url}/nnviz/class/state")
        for _ in range(5):
            timed(state)  # warm the route and the store
        reference = statistics.median(timed(state)[0] for _ in range(30))
        latencies: list[float] = []
        statuses: list[int] = []
        lock = threading.Lock()

        def phone(p: int) -> None:
            for n in range(args.each):
                req = urllib.request.Request(f"{url}/nnviz/class/submit?browser=bench-phone-{p:04d}&label="
                                             f"{(p + n) % 10}", data=bodies[(p, n)], method="POST",
                                             headers={"Content-Type": "image/png"})
                dt, status = timed(req)
                with lock:
                    latencies.append(dt)
                    statuses.append(status)

        threads = [threading.Thread(target=phone, args=(p,)) for p in range(args.phones)]
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - t0
        with urllib.request.urlopen(f"{url}/nnviz/class/state") as r:
            json.loads(r.read())
        from nnviz.classset.store import ClassStore

        stored = ClassStore(Path(tmp) / "runs" / "class_canvas.sqlite3").submitter_count
        kept = sum(stored(f"bench-phone-{p:04d}") for p in range(args.phones))
    p95 = percentile(latencies, 0.95)
    print(json.dumps({
        "phones": args.phones, "drawings": len(latencies), "stored": kept,
        "refused": sum(s != 200 for s in statuses), "wall_s": round(wall, 2),
        "round_trip_ms": {"p50": round(1000 * percentile(latencies, 0.5), 1), "p95": round(1000 * p95, 1),
                          "max": round(1000 * max(latencies), 1)},
        "reference_state_ms": round(1000 * reference, 2), "p95_over_reference": round(p95 / reference, 1)}, indent=2))


if __name__ == "__main__":
    main()
