"""One refresh of the Playground's live view, as plain JSON: maps over the plane, weights, scores, curve.

Built from a PlaygroundJob's published copy of the weights with numpy only, memoised per (job, version),
so any number of browsers polling one job cost one computation per new epoch shown.
"""
from __future__ import annotations

import base64
import math
from typing import Any

from nnviz.memo import Memo
from nnviz.playground import network
from nnviz.playground.job import PlaygroundJob

MAX_FIRST_ROWS = 1500  # curve points sent to a browser that has none yet (thinned); then every new row
_KEPT = 64  # jobs whose latest maps are memoised


_maps = Memo(_KEPT)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def maps(cfg, weights: network.Weights) -> dict[str, Any]:  # noqa: ANN001
    """The output's map and every hidden neuron's, base64 bytes (see network.output_map / neuron_maps)."""
    return {"output": _b64(network.output_map(weights, cfg)),
            "hidden": [[_b64(m) for m in layer] for layer in network.neuron_maps(weights, cfg)]}


def _rounded_weights(weights: network.Weights) -> list[list[list[float]]]:
    return [[[round(float(v), 4) for v in row] for row in w] for w, _ in weights]


def static_info(job: PlaygroundJob) -> dict[str, Any]:
    """What never changes for a job: the layout, the input features' maps, the points."""
    cfg, p = job.config, job.points
    return {"features": list(cfg.features), "hidden": list(cfg.hidden), "epochs": cfg.epochs,
            "output_cells": network.OUTPUT_CELLS, "neuron_cells": network.NEURON_CELLS, "extent": network.EXTENT,
            "feature_maps": [_b64(m) for m in _maps.get((job.id, "features"), lambda: network.feature_maps(cfg))],
            "train": [[round(float(a), 3), round(float(b), 3), int(c)] for (a, b), c in zip(p.x_train, p.y_train)],
            "test": [[round(float(a), 3), round(float(b), 3), int(c)] for (a, b), c in zip(p.x_test, p.y_test)]}


def frame(job: PlaygroundJob, have_version: int = -1, history_from: int = 0, replay: int | None = None,
          point: tuple[float, float] | None = None) -> dict[str, Any]:
    """One refresh: status and scores always; the maps and weights when newer than `have_version`; the
    history rows from `history_from` (all, thinned, when the browser's count no longer fits: a reset);
    with `replay`, the maps of the recorded epoch nearest it; with `point`, every neuron's value there."""
    view = job.view(history_from)
    frame: dict[str, Any] = {"status": view["status"], "message": view["message"], "playing": view["playing"],
                             "active": view["status"] in job.ACTIVE_STATES, "epoch": view["epoch"],
                             "version": view["version"], "epochs_per_s": round(view["epochs_per_s"], 1)}
    rows, total = view["history"], view["history_len"]
    restart = history_from > total
    if restart:
        rows = job.view(0)["history"]
    if history_from == 0 or restart:
        step = max(1, math.ceil(len(rows) / MAX_FIRST_ROWS))
        rows = rows[::step] + ([rows[-1]] if rows and (len(rows) - 1) % step else [])
    frame["history"] = {"from": 0 if restart else history_from, "total": total,
                        "rows": [[r[0], round(r[1], 5), round(r[2], 5), round(r[3], 4), round(r[4], 4)] for r in rows]}
    weights, version, shown_epoch = view["weights"], view["version"], view["epoch"]
    if replay is not None:
        found = job.replay_weights(replay)
        if found is not None:
            shown_epoch, weights = found
            version = -1 - shown_epoch  # its own memo slot
            frame["replay"] = {"epoch": shown_epoch, "epochs": job.replay_epochs()}
    frame["shown_epoch"] = shown_epoch
    if weights and (version != have_version or replay is not None):
        frame["maps"] = _maps.get((job.id, version), lambda: maps(job.config, weights))
        frame["weights"] = _rounded_weights(weights)
        frame["shown_version"] = version
    if point is not None and weights:
        frame["point"] = dict(network.point_activations(weights, job.config, *point), at=list(point))
    return frame
