"""Load test: N concurrent sessions draw-and-predict on the real `streamlit run` server.

A Chromium page per user would not fit on a 2-core machine, so each user is a light client
that speaks Streamlit's own websocket protocol (ws://127.0.0.1:PORT/_stcore/stream, binary
BackMsg / ForwardMsg protobufs), exactly what the browser sends: a first `rerun_script` for
the Draw page (a page view), then, per stroke, a `rerun_script` whose widget states hold the
canvas's value (its JSON and PNG, as the canvas component sends on mouse-up). Latency is the
time from sending that rerun to receiving the ForwardMsg that carries the prediction. The
clients also poll the live feed as a browser's live views do (the sidebar's run list fetches
/nnviz/live/activity every second while a run trains) and honour `auto_rerun` requests
(fragments with run_every).

Optionally (default on) one training run is started first through the Classification lab's
own Start button, must still be training at the end (read from the server's live feed, so also
with --port), and is stopped afterwards through the same session's Stop button: the server is
left as it was found. `server_tracebacks` is null with --port (that server's log is not ours to read).

    python benchmarks/load_test.py                      # 30 sessions, 60 s, one training run
    python benchmarks/load_test.py --sessions 5 --duration 10 --no-training

Loopback only; the session count and duration are bounded (MAX_SESSIONS, MAX_DURATION_S).
Prints one JSON summary; exit status 1 when the targets (no errors, p95 < --p95-target) fail.

Figures measured with it: docs/performance.md.
"""
from __future__ import annotations

import argparse
import asyncio
import base64
import io
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import websockets
from PIL import Image, ImageDraw
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

ROOT = Path(__file__).resolve().parents[1]
MAX_SESSIONS = 100  # a bound, not a target: this is a test of the local server, never of anything else
MAX_DURATION_S = 600
PREDICTION_MARK = 'data-testid="draw-prediction"'
DIGIT_STROKES = {  # polylines on the 280 px canvas
    "7": [(70, 60), (210, 60), (120, 230)],
    "1": [(140, 40), (140, 240)],
    "4": [(180, 230), (180, 40), (70, 170), (220, 170)],
    "0": [(140, 40), (200, 80), (210, 160), (160, 235), (100, 220), (75, 140), (95, 65), (140, 40)],
}


def canvas_png(points: list[tuple[int, int]], jitter: int, rng: random.Random, size: int = 280) -> bytes:
    """What the canvas sends on mouse-up: black strokes on its white 280 px background, as a PNG."""
    img = Image.new("RGBA", (size, size), (255, 255, 255, 255))
    pts = [(x + rng.randint(-jitter, jitter), y + rng.randint(-jitter, jitter)) for x, y in points]
    ImageDraw.Draw(img).line(pts, fill=(0, 0, 0, 255), width=20, joint="curve")
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def canvas_value(png: bytes) -> str:
    """The canvas component's state (components v2 `json_value`) after a stroke."""
    url = "data:image/png;base64," + base64.b64encode(png).decode()
    return json.dumps({"drawing": {"raw": {"objects": [{"type": "path"}], "background": "#FFFFFF"}, "data": url},
                       "backgroundFit": None})


@dataclass
class Stats:
    latencies: list[float] = field(default_factory=list)  # seconds, rerun sent -> prediction received
    errors: list[str] = field(default_factory=list)
    page_views: int = 0
    auto_reruns: int = 0
    feed_polls: int = 0  # live-feed requests answered (nnviz.ui.live_feed)


class LightSession:
    """One browser tab, minus the browser: a websocket speaking Streamlit's protobuf protocol."""

    def __init__(self, port: int, page: str, stats: Stats) -> None:
        self.port, self.page, self.stats = port, page, stats
        self.widgets: dict[str, object] = {}  # widget id -> its element proto (from the deltas)
        self.inbox: asyncio.Queue[ForwardMsg] = asyncio.Queue()
        self.auto: dict[str, float] = {}  # fragment id -> interval (s) the server asked to auto-rerun
        self.ws = None
        self._tasks: list[asyncio.Task] = []
        self._states: dict[str, tuple[str, object]] = {}  # widget id -> (proto field, value), sent with every rerun
        self._lock = asyncio.Lock()  # one full rerun at a time per session, like a user
        self._full_run_in_flight = False
        self._feeds: set[str] = set()  # live-feed paths this session polls

    async def open(self) -> None:
        self.ws = await websockets.connect(f"ws://127.0.0.1:{self.port}/_stcore/stream", subprotocols=["streamlit"],
                                           max_size=None, open_timeout=30, ping_interval=None)
        self._tasks.append(asyncio.create_task(self._reader()))

    async def close(self) -> None:
        for t in self._tasks:
            t.cancel()
        if self.ws is not None:
            await self.ws.close()

    async def _reader(self) -> None:
        async for raw in self.ws:
            msg = ForwardMsg()
            msg.ParseFromString(raw)
            kind = msg.WhichOneof("type")
            if kind == "delta" and msg.delta.WhichOneof("type") == "new_element":
                el = msg.delta.new_element
                inner = getattr(el, el.WhichOneof("type") or "empty", None)
                wid = getattr(inner, "id", "")
                if isinstance(wid, str) and wid:
                    self.widgets[wid] = el
                if el.WhichOneof("type") == "exception":
                    self.stats.errors.append(f"exception: {el.exception.type}: {el.exception.message[:200]}")
                if el.WhichOneof("type") == "bidi_component" and el.bidi_component.component_name == "nnviz_live":
                    data = json.loads(el.bidi_component.json)
                    if data["feed"] not in self._feeds:
                        self._feeds.add(data["feed"])
                        self._tasks.append(asyncio.create_task(self._poll_feed(data["feed"], data["every_ms"] / 1000)))
            elif kind == "auto_rerun":
                fid = msg.auto_rerun.fragment_id
                if fid not in self.auto:
                    self._tasks.append(asyncio.create_task(self._auto_rerun(fid, msg.auto_rerun.interval)))
                self.auto[fid] = msg.auto_rerun.interval
            elif kind == "stop_auto_rerun":
                self.auto.pop(msg.stop_auto_rerun.fragment_id, None)
            elif kind == "script_finished" and msg.script_finished == ForwardMsg.FINISHED_FRAGMENT_RUN_SUCCESSFULLY:
                self.stats.auto_reruns += 1
                continue  # a fragment's own run ending: not what a full rerun waits for
            await self.inbox.put(msg)

    async def _poll_feed(self, path: str, interval: float) -> None:
        """A live view's timer in the browser (nnviz/ui/live_panel.js): fetch its feed until it says done."""
        def fetch() -> dict:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=30) as response:
                return json.loads(response.read())
        try:
            while True:
                try:
                    frame = await asyncio.to_thread(fetch)
                except OSError as exc:
                    self.stats.errors.append(f"live feed {path}: {exc}")
                    return
                self.stats.feed_polls += 1
                if not frame.get("active"):
                    return
                await asyncio.sleep(interval)
        finally:
            self._feeds.discard(path)

    async def _auto_rerun(self, fragment_id: str, interval: float) -> None:
        """The browser's timer for a `st.fragment(run_every=...)`: rerun just that fragment, unless the whole
        page is rerunning (that run draws the fragment too). A full rerun sent meanwhile preempts it on the
        server (fastReruns), as it does for a browser."""
        while fragment_id in self.auto:
            await asyncio.sleep(self.auto.get(fragment_id, interval))
            if fragment_id in self.auto and not self._full_run_in_flight:
                await self._send_rerun(fragment_id=fragment_id, auto=True)

    async def _send_rerun(self, fragment_id: str = "", auto: bool = False, triggers: tuple[str, ...] = ()) -> None:
        back = BackMsg()
        rs = back.rerun_script
        rs.query_string = ""
        rs.page_name = self.page
        rs.is_auto_rerun = auto
        if fragment_id:
            rs.fragment_id = fragment_id
        for wid, (kind, value) in self._states.items():
            ws = rs.widget_states.widgets.add()
            ws.id = wid
            setattr(ws, kind, value)
        for wid in triggers:  # a button press is sent once, not kept like a value
            ws = rs.widget_states.widgets.add()
            ws.id = wid
            ws.trigger_value = True
        await self.ws.send(back.SerializeToString())

    async def _until_finished(self, mark: str | None = None, timeout: float = 60.0) -> float | None:
        """Drain messages until the full script run ends; the arrival time of the first element holding `mark`."""
        seen = None
        deadline = time.perf_counter() + timeout
        while True:
            msg = await asyncio.wait_for(self.inbox.get(), max(0.1, deadline - time.perf_counter()))
            kind = msg.WhichOneof("type")
            if mark and seen is None and kind == "delta" and msg.delta.WhichOneof("type") == "new_element":
                el = msg.delta.new_element
                if el.WhichOneof("type") == "markdown" and mark in el.markdown.body:
                    seen = time.perf_counter()
            if kind == "script_finished" and msg.script_finished != ForwardMsg.FINISHED_EARLY_FOR_RERUN:
                return seen

    async def rerun(self, mark: str | None = None, triggers: tuple[str, ...] = (),
                    **states: tuple[str, object]) -> tuple[float, float | None]:
        """A full rerun with `states` ({widget id: (field, value)}) and buttons pressed: (sent at, `mark` seen at)."""
        async with self._lock:
            self._full_run_in_flight = True
            try:
                self._states.update(states)
                sent = time.perf_counter()
                await self._send_rerun(triggers=triggers)
                return sent, await self._until_finished(mark)
            finally:
                self._full_run_in_flight = False

    def widget_id(self, kind: str, contains: str) -> str:
        for wid, el in self.widgets.items():
            if el.WhichOneof("type") == kind and contains in wid:
                return wid
        raise LookupError(f"no {kind} widget with {contains!r} in its id; seen: {list(self.widgets)[:20]}")


async def user(i: int, port: int, deadline: float, think: tuple[float, float], stats: Stats) -> None:
    """One student: opens Draw & predict, then draws a digit every `think` seconds until `deadline`."""
    rng = random.Random(i)
    s = LightSession(port, "draw", stats)
    try:
        await s.open()
        await asyncio.sleep(rng.uniform(0, think[1]))  # people do not all arrive in the same millisecond
        await s.rerun()
        stats.page_views += 1
        canvas = s.widget_id("bidi_component", "draw_canvas_0")
        while time.perf_counter() < deadline:
            digit = rng.choice(list(DIGIT_STROKES))
            png = canvas_png(DIGIT_STROKES[digit], jitter=12, rng=rng)
            sent, seen = await s.rerun(PREDICTION_MARK, **{canvas: ("json_value", canvas_value(png))})
            if seen is None:
                stats.errors.append(f"session {i}: a stroke got no prediction")
            else:
                stats.latencies.append(seen - sent)
            await asyncio.sleep(rng.uniform(*think))
    except Exception as exc:  # a dropped socket or a timeout is a failure of the server under load
        stats.errors.append(f"session {i}: {type(exc).__name__}: {exc}")
    finally:
        await s.close()


async def start_training(port: int, epochs: int) -> LightSession:
    """Press Start training in the Classification lab (digits, the default CNN) with many epochs."""
    s = LightSession(port, "classification", Stats())
    await s.open()
    await s.rerun()
    epochs_id = s.widget_id("number_input", "cls_epochs")
    start_id = s.widget_id("button", "cls_start")
    await s.rerun(triggers=(start_id,), **{epochs_id: ("int_value", epochs)})
    return s


def serve(port: int, work: Path, extra_env: dict[str, str] | None = None) -> subprocess.Popen:
    """`streamlit run` on 127.0.0.1:port with private run/checkpoint folders; waits for health."""
    env = dict(os.environ, NNVIZ_RUNS_DIR=str(work / "runs"), NNVIZ_CHECKPOINT_DIR=str(work / "checkpoints"),
               NNVIZ_DATA_DIR=str(work / "data"), **(extra_env or {}))
    log = open(work / "streamlit.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "streamlit_app.py", "--server.headless", "true",
                             "--server.address", "127.0.0.1", "--server.port", str(port),
                             "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"],
                            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            if urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2).read() == b"ok":
                return proc
        except OSError:
            time.sleep(0.3)
        if proc.poll() is not None:
            raise RuntimeError((work / "streamlit.log").read_text())
    proc.kill()
    raise RuntimeError("streamlit did not become healthy in 120 s")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process and its threads so far (Linux /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return float("nan")


def runs_training(port: int) -> int | None:
    """Runs training (or queued) on the server now, from its live feed; None when the feed cannot be read."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/nnviz/live/activity", timeout=5) as response:
            items = json.loads(response.read())["items"]
    except (OSError, ValueError, KeyError):
        return None
    return sum(1 for item in items if item.get("icon") in ("play_arrow", "hourglass_top"))


async def stop_training(trainer: "LightSession", port: int, before: int | None, timeout: float = 30.0) -> bool | None:
    """Press Stop in the session that started the run (only it may stop it) and wait until the server
    trains no more runs than before the test; None when that cannot be read."""
    await trainer.rerun()
    await trainer.rerun(triggers=(trainer.widget_id("button", "cls_stop"),))
    deadline = time.time() + timeout
    while time.time() < deadline:
        now = await asyncio.to_thread(runs_training, port)
        if now is None or before is None:
            return None
        if now <= before:
            return True
        await asyncio.sleep(0.5)
    return False


def training_state(runs_dir: Path) -> dict:
    """Status and epochs done of the run(s) in the server's runs folder (read from disk)."""
    out = {}
    for status in runs_dir.glob("*/status.json"):
        info = json.loads(status.read_text())
        history = status.parent / "history.jsonl"
        epochs = sum(1 for _ in history.open()) if history.exists() else 0
        out[status.parent.name] = {"status": info.get("status"), "history_lines": epochs}
    return out


async def run_load(port: int, sessions: int, duration: float, think: tuple[float, float], training: bool,
                   runs_dir: Path | None, server_pid: int | None = None, epochs: int = 500) -> dict:
    stats = Stats()
    trainer = None
    training_before = await asyncio.to_thread(runs_training, port)
    if training:
        trainer = await start_training(port, epochs)
        await asyncio.sleep(3.0)  # the run is loading its data and compiling its first steps
    before = training_state(runs_dir) if runs_dir else {}
    load_before = os.getloadavg()[0]
    cpu0, client0 = cpu_seconds(server_pid) if server_pid else float("nan"), time.process_time()
    t0 = time.perf_counter()
    deadline = t0 + duration
    await asyncio.gather(*(user(i, port, deadline, think, stats) for i in range(sessions)))
    wall = time.perf_counter() - t0
    server_cpu = (cpu_seconds(server_pid) if server_pid else float("nan")) - cpu0
    client_cpu = time.process_time() - client0
    after = training_state(runs_dir) if runs_dir else {}
    training_now = await asyncio.to_thread(runs_training, port)  # read from the server: works with --port too
    active = None if training_now is None or training_before is None else training_now > training_before
    stopped = None
    if trainer is not None:
        try:
            stopped = await stop_training(trainer, port, training_before)  # leave the server as it was found
        finally:
            await trainer.close()
    lat = sorted(stats.latencies)
    q = (lambda p: lat[min(len(lat) - 1, int(round(p * (len(lat) - 1))))] * 1000) if lat else (lambda p: float("nan"))
    return {"sessions": sessions, "duration_s": round(wall, 1), "think_s": list(think), "page_views": stats.page_views,
            "predictions": len(lat), "errors": len(stats.errors), "error_samples": stats.errors[:5],
            "auto_reruns": stats.auto_reruns, "feed_polls": stats.feed_polls,
            "p50_ms": round(q(0.5), 1), "p95_ms": round(q(0.95), 1), "max_ms": round(lat[-1] * 1000, 1) if lat else None,
            "mean_ms": round(statistics.fmean(lat) * 1000, 1) if lat else None,
            "server_cpu_s": round(server_cpu, 1), "client_cpu_s": round(client_cpu, 1),
            "load_average_1min_before_after": [round(load_before, 2), round(os.getloadavg()[0], 2)],
            "training_requested": training, "training_active_at_end": active, "training_stopped_after": stopped,
            "training_before": before, "training_after": after}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sessions", type=int, default=30)
    ap.add_argument("--duration", type=float, default=60.0, help="seconds of drawing")
    ap.add_argument("--think", type=float, nargs=2, default=(2.0, 5.0), metavar=("MIN", "MAX"),
                    help="seconds between one user's strokes (drawing a digit takes a few seconds)")
    ap.add_argument("--no-training", action="store_true", help="do not start a training run first")
    ap.add_argument("--port", type=int, default=0, help="use a server already running on this loopback port")
    ap.add_argument("--p95-target", type=float, default=1000.0, help="ms")
    args = ap.parse_args(argv)
    if not 1 <= args.sessions <= MAX_SESSIONS or not 0 < args.duration <= MAX_DURATION_S:
        ap.error(f"sessions must be in 1..{MAX_SESSIONS} and duration in (0, {MAX_DURATION_S}] s")
    proc = None
    with tempfile.TemporaryDirectory(prefix="nnviz-load-") as tmp:
        work = Path(tmp)
        port = args.port or free_port()
        runs_dir = None if args.port else work / "runs"
        if not args.port:
            proc = serve(port, work)
        try:
            result = asyncio.run(run_load(port, args.sessions, args.duration, tuple(args.think),
                                          not args.no_training, runs_dir, proc.pid if proc else None))
        finally:
            if proc is not None:
                proc.terminate()
                try:
                    proc.wait(15)
                except subprocess.TimeoutExpired:
                    proc.kill()
            log = work / "streamlit.log"  # only a server this script started has a log it can read
            tracebacks = log.read_text().count("Traceback") if proc is not None and log.exists() else None
    result["server_tracebacks"] = tracebacks  # None: not checked (--port: the server's log is elsewhere)
    result["cpu_cores"] = os.cpu_count()
    print(json.dumps(result, indent=2))
    ok = (result["errors"] == 0 and tracebacks in (0, None) and result["predictions"] > 0
          and result["p95_ms"] < args.p95_target
          and (args.no_training or (result["training_active_at_end"] and result["training_stopped_after"])))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
