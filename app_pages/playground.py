"""Playground: a tiny network separating 2-D points, its decision boundary and every neuron's map, live."""
import streamlit as st

from nnviz.ui import layout
from nnviz.ui import playground_extras as extras
from nnviz.ui import playground_live as live
from nnviz.ui import playground_settings as settings

layout.header("Playground", "A tiny network learns to separate 2-D points: its decision boundary and every "
              "neuron's map change as it trains.", short=True)
left, right = st.columns([0.31, 0.69], gap="medium")
with left:
    cfg = settings.panel()
with right:
    pts = live.points(cfg) if cfg is not None else None
    loaded = extras.pending_checkpoint()  # (weights, epoch, points) of a checkpoint just loaded
    if loaded is not None and pts is not None:
        weights, epoch, stored_points = loaded
        running = live.follow("main", cfg, stored_points or pts, weights, epoch, play=False)
    else:
        play = True if settings.play_on_open() else None  # a lesson's step starts at once
        running = live.follow("main", cfg, pts, play=play) if pts is not None else live.current("main")
    if running is not None:
        live.view(running)
    else:
        st.info("Fix the setting on the left to see the network.", icon=":material/lightbulb:")
if running is not None:
    extras.panel(running)
