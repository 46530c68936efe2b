"""Live views that redraw from the live feed (nnviz.ui.live_feed) instead of rerunning the page.

One custom component (live_panel.js / .css) in two kinds: a training run's view (progress, loss and
accuracy curves, test images with their current predictions) and the sidebar's list of what
trains now. Each polls its feed route and changes the page in place; when a run ends, the
component's `ended` trigger reruns the page so its results appear. The sidebar's list never stops
polling (slower while nothing trains), so runs started without a page rerun show up in it.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import streamlit as st

from nnviz.figures.images import RIGHT, WRONG, png_uri, to_rgb_uint8
from nnviz.jobs import runs
from nnviz.ui import live_feed

_HERE = Path(__file__).parent
_component = st.components.v2.component(
    "nnviz_live", js=(_HERE / "live_panel.js").read_text(), css=(_HERE / "live_panel.css").read_text(),
    isolate_styles=False)  # plain DOM: the page's tests and theme reach it; every class is nnviz- prefixed


def run_view(run: runs.Run, images: np.ndarray, indices: Sequence[int], labels: Sequence[int],
             classes: Sequence[str], every_s: float) -> None:
    """Show `run` live until it ends, refreshing every `every_s` s; the strip shows `images`
    (test images number `indices`, true classes `labels`). Its end reruns the page."""
    tiles = [{"index": int(i), "label": int(y), "src": png_uri(img)}
             for i, y, img in zip(indices, labels, to_rgb_uint8(images))]
    frame = live_feed.run_frame(run.view(), {}, [int(i) for i in indices])  # drawn at once, before the first poll
    _component(key=f"nnviz-live-run-{run.id}", on_ended_change=lambda: None, data={
        "kind": "run", "feed": live_feed.RUN_PATH + run.id, "every_ms": int(every_s * 1000), "frame": frame,
        "reveal": frame["active"] and not frame["epochs"],  # just started: scrolled into view
        "tiles": tiles, "classes": list(classes), "colors": {"right": RIGHT, "wrong": WRONG}})


def activity_view(items: list[dict], every_s: float, idle_every_s: float) -> dict | None:
    """The sidebar's list of runs, sweeps and searches training now (`items`, from
    live_feed.activity()), refreshed every `every_s` s, every `idle_every_s` s while none is.
    Returns {'slot', 'run'} on the rerun after a click on a run's line, else None."""
    data = {"kind": "activity", "feed": live_feed.ACTIVITY_PATH, "every_ms": int(every_s * 1000),
            "idle_ms": int(idle_every_s * 1000), "frame": {"items": items, "active": bool(items)}}
    result = _component(key="nnviz-live-activity", on_follow_change=lambda: None, data=data)
    return getattr(result, "follow", None)
