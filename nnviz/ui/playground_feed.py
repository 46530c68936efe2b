"""The Playground's live feed: the routes its live view (playground_panel.js) polls and presses.

    GET  /nnviz/live/playground/{id}?have=V&hist=N&replay=E&point=X1,X2   one frame (nnviz.playground.frames)
    POST /nnviz/live/playground/{id}/control   {"token": ..., "action": "play"|"pause"|"step"|"reset"}

Play, pause, step and reset go straight to the job, with no page rerun: the token is handed only to a
page allowed to train (nnviz.ui.access) and compared in constant time. Handlers run numpy only (no torch op).
"""
from __future__ import annotations

import hmac
import math

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from nnviz.playground import frames, job

PATH = "/nnviz/live/playground/"
NO_STORE = {"Cache-Control": "no-store"}


def _int(text: str | None, default: int | None) -> int | None:
    try:
        return int(text) if text is not None else default
    except ValueError:
        return default


def _point(text: str | None) -> tuple[float, float] | None:
    try:
        a, b = (float(v) for v in (text or "").split(","))
    except ValueError:
        return None
    return (a, b) if math.isfinite(a) and math.isfinite(b) else None


def _frame_route(request: Request) -> JSONResponse:
    found = job.get(request.path_params["job_id"])
    if found is None:
        return JSONResponse({"status": "unknown", "active": False}, status_code=404, headers=NO_STORE)
    q = request.query_params
    body = frames.frame(found, _int(q.get("have"), -1), max(0, _int(q.get("hist"), 0) or 0),
                        _int(q.get("replay"), None), _point(q.get("point")))
    return JSONResponse(body, headers=NO_STORE)


async def _control_route(request: Request) -> JSONResponse:
    found = job.get(request.path_params["job_id"])
    if found is None:
        return JSONResponse({"ok": False, "error": "This network is no longer in the server."}, status_code=404)
    try:
        body = await request.json()
        token, action = str(body["token"]), str(body["action"])
    except (ValueError, KeyError, TypeError):
        return JSONResponse({"ok": False, "error": "Malformed request."}, status_code=400)
    if not hmac.compare_digest(token.encode(), found.token.encode()):
        return JSONResponse({"ok": False, "error": "Not allowed."}, status_code=403)
    if not found.control(action):
        return JSONResponse({"ok": False, "error": f"Unknown action {action[:20]!r}."}, status_code=400)
    return JSONResponse({"ok": True}, headers=NO_STORE)


ROUTES = [Route(PATH + "{job_id:str}", _frame_route, methods=["GET"]),
          Route(PATH + "{job_id:str}/control", _control_route, methods=["POST"])]
