"""The live feed: small JSON frames that the live views in the browser poll while runs train.

A Streamlit refresh (a fragment rerun) re-renders the page in the browser, and a run training on
both cores stalls for about that long each time (one of its OpenMP threads is descheduled, the
other waits at the next barrier; figures in docs/performance.md). The live views
(nnviz.ui.live_panel) poll these routes instead and redraw in place: a fetch and a few DOM changes
per refresh.

Routes (served beside Streamlit's own, see streamlit_app.py):
    GET /nnviz/live/run/{run_id}?loss=KEY&acc=KEY&picks=3,17,...   one run's frame
    GET /nnviz/live/activity                                         what trains in this process
Charts come as SVG (nnviz.figures.svg_curves), each with a key; a chart the client already
holds (its key sent back) is not sent again. Handlers are plain functions, run by Starlette in
its worker threads; they do Python work only (no torch op, so no OpenMP pool is opened there).
"""
from __future__ import annotations

import sys
import threading
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from nnviz.analysis.diagnostics import divergence
from nnviz.figures.svg_curves import training_curves_svg
from nnviz.jobs import runs, sweeps
from nnviz.jobs.storage import sweep_temp_files
from nnviz.jobs.sweeps import SWEEPS
from nnviz.memo import Memo
from nnviz.playground import job as playground_job
from nnviz.ui.live import status_line  # the same words as the rest of the UI

RUN_PATH = "/nnviz/live/run/"
ACTIVITY_PATH = "/nnviz/live/activity"
NO_STORE = {"Cache-Control": "no-store"}
MAX_PICKS = 100  # strip images one frame reports predictions for
_CHARTS_KEPT = 32  # SVGs memoised across runs and clients


_charts = Memo(_CHARTS_KEPT)


def run_frame(view: runs.RunView, have: dict[str, str], picks: list[int]) -> dict[str, Any]:
    """One refresh of the classification live view: progress, a divergence alarm (`nnviz.analysis.diagnostics.divergence`
    on the epochs so far), the loss and accuracy curves (those whose key differs from `have`), and the
    current predictions for the test images `picks`."""
    p, epochs, status = view.progress, view.history, view.status
    frame: dict[str, Any] = {"status": status, "active": status in runs.ACTIVE_STATES,
                             "text": status_line(view), "fraction": round(p.fraction, 4), "epochs": len(epochs)}
    if not epochs:
        return frame
    diverged = divergence(epochs, status, lr=view.config.train.lr)
    if diverged is not None:
        frame["alarm"] = diverged.sentence
    total, losses, run_id = view.config.train.epochs, view.batch_losses, view.id
    charts = {
        "loss": (f"{run_id}/loss/{len(epochs)}/{len(losses)}", lambda: training_curves_svg(
            epochs, "loss", total, losses, ("train", "val"), title="Loss")),
        "acc": (f"{run_id}/acc/{len(epochs)}", lambda: training_curves_svg(
            epochs, "acc", total, splits=("train", "val"), title="Accuracy")),
    }
    for name, (key, build) in charts.items():
        frame[name] = {"key": key} if have.get(name) == key else {"key": key, "svg": _charts.get(key, build)}
    if view.snapshots and picks:
        epoch = max(view.snapshots)
        snap = view.snapshots[epoch]
        pred, conf = snap.get("test_pred") or [], snap.get("test_conf") or []
        shown = [i for i in picks if 0 <= i < min(len(pred), len(conf))]
        frame["strip"] = {"epoch": epoch, "pred": [int(pred[i]) for i in shown],
                          "conf": [float(conf[i]) for i in shown], "picks": shown}
    return frame


def activity() -> list[dict[str, Any]]:
    """What trains in this process now: sweeps, searches and runs, each a line and a fraction done
    (None while queued). The sidebar's indicator."""
    items: list[dict[str, Any]] = []
    for job in sweeps.active_sweeps():
        view = job.view()
        title = SWEEPS[job.key].title if job.key in SWEEPS else job.key
        items.append({"icon": "science", "fraction": len(view["results"]) / max(1, view["total"]),
                      "text": f"{title}: {len(view['results'])}/{view['total']} points"})
    for job in _active_searches():
        items.append({"icon": "search", "fraction": job.done / max(1, job.n_trials),
                      "text": f"search {job.study}: {job.done}/{job.n_trials} trials"})
    for pg in playground_job.active_jobs():
        if pg.status in ("running", "queued"):
            items.append({"icon": "scatter_plot", "fraction": round(pg.epoch / pg.config.epochs, 4),
                          "text": f"Playground {pg.config.dataset}: epoch {pg.epoch:,}"})
    for run in runs.active_runs():
        view = run.view()
        p = view.progress
        label = f"{run.config.data.dataset} · {run.config.preset or 'custom'}"
        slot = run.config.data.task  # the lab that shows it: 'regression' or 'classification'
        follow = {"slot": slot, "run": run.id, "href": f"{slot}?{slot}_run={run.id}"}  # relative: any base path
        if view.status == "queued":
            items.append({"icon": "hourglass_top", "fraction": None, "text": f"{label}: queued for a free slot",
                          "follow": follow})
        else:
            fold = f"fold {p.fold}/{p.folds} · " if p.folds else ""
            items.append({"icon": "play_arrow", "fraction": round(p.fraction, 4),
                          "text": f"{label}: {fold}epoch {p.epoch}/{p.epochs}", "follow": follow})
    return items


def _active_searches() -> list:
    # No search can run before the experiments page imported its module: do not load Optuna here.
    search_jobs = sys.modules.get("nnviz.jobs.search_jobs")
    return search_jobs.active_searches() if search_jobs is not None else []


def _picks(text: str) -> list[int]:
    out = []
    for part in text.split(",")[:MAX_PICKS]:
        if part.strip().isdigit():
            out.append(int(part))
    return out


def _run_route(request: Request) -> JSONResponse:
    run = runs.get(request.path_params["run_id"])
    if run is None:  # never started here, or forgotten (a restarted server): the page reads its folder
        return JSONResponse({"status": "unknown", "active": False}, status_code=404, headers=NO_STORE)
    q = request.query_params
    frame = run_frame(run.view(), {"loss": q.get("loss", ""), "acc": q.get("acc", "")}, _picks(q.get("picks", "")))
    return JSONResponse(frame, headers=NO_STORE)


def _activity_route(request: Request) -> JSONResponse:  # noqa: ARG001  (Starlette passes the request)
    items = activity()
    return JSONResponse({"items": items, "active": bool(items)}, headers=NO_STORE)


ROUTES = [Route(RUN_PATH + "{run_id:str}", _run_route, methods=["GET"]),
          Route(ACTIVITY_PATH, _activity_route, methods=["GET"])]


@asynccontextmanager
async def lifespan(app: Any) -> AsyncIterator[None]:  # noqa: ARG001  (st.App passes itself)
    """Server start-up: warm the first run's imports in the background (~1 s that Start would wait), and
    clear what killed writers left behind (temp files, half-made run folders)."""
    from nnviz.training.train import warm_up

    threading.Thread(target=warm_up, name="nnviz-warm-up", daemon=True).start()
    threading.Thread(target=clean_leftovers, name="nnviz-clean-up", daemon=True).start()
    yield


def clean_leftovers() -> None:
    from nnviz.model import checkpoints

    runs.clean_leftovers()
    sweep_temp_files(checkpoints.user_dir())
