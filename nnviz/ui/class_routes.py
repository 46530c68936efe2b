"""The Class canvas's routes: the students' drawing page and its submit endpoint, served beside Streamlit's.

A phone opens a small static page (no Streamlit session, no websocket, no script rerun) and posts
each drawing as a PNG; the server preprocesses it and writes one row. That keeps a classroom of
phones cheap for the presenter's laptop.

    GET  /nnviz/class                                  the drawing page (phone first)
    GET  /nnviz/class/state                            {"open": bool, "prompt": digit or null}
    POST /nnviz/class/submit?browser=ID&label=D        body: the drawing as PNG -> {"ok", "id", "mine"} or
                                                       {"ok": false, "message": one sentence} (4xx)
"""
from __future__ import annotations

import functools
from pathlib import Path

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse
from starlette.routing import Route

from nnviz.classset.store import ClassStore, Refused
from nnviz.classset.submit import MAX_POST_BYTES, submit

PAGE_PATH = "/nnviz/class"
STATE_PATH = PAGE_PATH + "/state"
SUBMIT_PATH = PAGE_PATH + "/submit"
_PAGE_FILE = Path(__file__).with_name("class_collect.html")
NO_STORE = {"Cache-Control": "no-store"}


@functools.lru_cache(maxsize=4)
def _store(path: str) -> ClassStore:
    return ClassStore(path or None)


def store() -> ClassStore:
    """The class set under the current runs folder (one object per folder: creating it checks the schema)."""
    from nnviz.classset.store import default_path

    return _store(str(default_path()))


def _refusal(message: str, status: int) -> JSONResponse:
    return JSONResponse({"ok": False, "message": message}, status_code=status, headers=NO_STORE)


def _page(request: Request) -> HTMLResponse:  # noqa: ARG001
    return HTMLResponse(_PAGE_FILE.read_text(encoding="utf-8"), headers=NO_STORE)


def _state(request: Request) -> JSONResponse:  # noqa: ARG001
    s = store()
    return JSONResponse({"open": s.is_open(), "prompt": s.prompt()}, headers=NO_STORE)


# An oversized post is read to its end (and dropped) up to this size, so its sender gets the answer rather
# than a connection cut mid-upload; a larger one is refused before reading a byte of it.
DRAIN_BYTES = 8 * MAX_POST_BYTES


def _too_large() -> JSONResponse:
    return _refusal(f"The drawing is too large (at most {MAX_POST_BYTES // 1024} kB). Reload the page and draw "
                    "again.", 413)


async def _submit(request: Request) -> JSONResponse:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > DRAIN_BYTES:
        return _too_large()
    body, received = bytearray(), 0
    async for chunk in request.stream():
        received += len(chunk)
        if received > DRAIN_BYTES:
            return _too_large()
        if received <= MAX_POST_BYTES:
            body += chunk
    if received > MAX_POST_BYTES:
        return _too_large()
    browser, label = request.query_params.get("browser", ""), request.query_params.get("label", "")
    s = store()
    try:  # image work and the write in a worker thread: the event loop keeps serving everyone else
        drawing_id = await run_in_threadpool(submit, s, browser, label, bytes(body))
    except Refused as exc:
        return _refusal(str(exc), 429 if str(exc).startswith("Slow down") else 400)
    mine = await run_in_threadpool(s.submitter_count, browser)
    return JSONResponse({"ok": True, "id": drawing_id, "mine": mine}, headers=NO_STORE)


ROUTES = [Route(PAGE_PATH, _page, methods=["GET"]), Route(PAGE_PATH + "/", _page, methods=["GET"]),
          Route(STATE_PATH, _state, methods=["GET"]),
          Route(SUBMIT_PATH, _submit, methods=["POST"])]
