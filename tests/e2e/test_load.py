"""A bounded classroom load test against the real `streamlit run` server (loopback only): light websocket
clients draw-and-predict on Draw & predict while one training run is active. The full version
(30 sessions, 60 s) is `python benchmarks/load_test.py`; this one is short enough for the suite and checks
behaviour only: every session is answered, without an error, while the run keeps training."""
from __future__ import annotations

import asyncio
import importlib.util
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
SESSIONS, DURATION_S = 10, 15.0


def _load_test_module():
    spec = importlib.util.spec_from_file_location("load_test", ROOT / "benchmarks" / "load_test.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["load_test"] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.mark.timeout(300)
def test_sessions_draw_and_predict_while_a_run_trains(tmp_path):
    lt = _load_test_module()
    port = lt.free_port()
    server = lt.serve(port, tmp_path)
    try:
        # In its own thread: Playwright's sync API (other e2e tests, same process) keeps an event loop
        # running in this one, and asyncio.run refuses to start inside it.
        with ThreadPoolExecutor(1) as pool:
            result = pool.submit(asyncio.run, lt.run_load(port, SESSIONS, DURATION_S, (1.0, 3.0), True,
                                                          tmp_path / "runs", server_pid=server.pid)).result()
    finally:
        server.terminate()
        server.wait(15)
    log = (tmp_path / "streamlit.log").read_text()
    print(f"\n{result}")
    assert result["errors"] == 0, result["error_samples"]
    assert "Traceback" not in log, log[-3000:]
    assert result["page_views"] == SESSIONS
    assert result["predictions"] >= SESSIONS * 2  # every session drew several digits and got each answer
    assert result["training_active_at_end"], result["training_after"]
    trained = [v["history_lines"] for v in result["training_after"].values()]
    before = [v["history_lines"] for v in result["training_before"].values()]
    assert sum(trained) > sum(before)  # the run kept training under the load
    assert result["feed_polls"] > SESSIONS  # the sidebar's run list polled the live feed, as in a browser
    # how fast the answers came (p95 < 1 s for 30 sessions) is measured by benchmarks/load_test.py
