"""Regression lab: fit a noisy 1-D function with a small network and watch it learn, live.

Thin by design: the panels (nnviz.ui.regression_panels), the live and preview views
(nnviz.ui.regression_results) and the after-training tabs (nnviz.ui.regression_after)
do the work; training runs in the background through nnviz.ui.live.
"""
import streamlit as st

from nnviz.ui import live
from nnviz.ui import regression_after as after
from nnviz.ui import regression_panels as panels
from nnviz.ui import regression_results as results

st.title("Regression lab", icon=":material/show_chart:")
st.caption("A small network learns a noisy 1-D function, live: set up data, model and training, press **Start**.")

panels.restore()
run = live.current(panels.SLOT)
cfg, problem = panels.config()

left, right = st.columns([1, 2], gap="medium")
with left:
    panels.controls(cfg, run)
    panels.config_panels(problem)
with right:
    if run is None:
        results.preview(cfg)
    else:
        if cfg is not None and cfg != run.config and not run.active:
            st.caption("The settings changed since this run: **Start** trains with them, **Reset** previews them.")
        live.watch(run, results.live_panel, panels.SLOT)

if run is not None and not run.active:
    after.after_training(run)
