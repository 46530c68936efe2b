"""Regression lab: fit a noisy 1-D function with a small network and watch it learn, live.

Thin by design: the panels (nnviz.ui.regression_panels), the live and preview views
(nnviz.ui.regression_results) and the after-training tabs (nnviz.ui.regression_after)
do the work; training runs in the background through nnviz.ui.live.

Before a run the set-up sits beside the untrained fit; once a run exists its fit and loss curves
take the page's width, side by side under Start / Stop, and the set-up folds away below them.
"""
import streamlit as st

from nnviz.ui import layout, live, presenter
from nnviz.ui import regression_after as after
from nnviz.ui import regression_panels as panels
from nnviz.ui import regression_results as results

ICON = ":material/show_chart:"
INTRO = "A small network learns a noisy 1-D function, live: set up data, model and training, press **Start**."

panels.restore()
run = live.current(panels.SLOT)
cfg, problem = panels.config()

if run is None:
    layout.header("Regression lab", INTRO, icon=ICON)
    left, right = st.columns([1, 2], gap="medium")
    with left:
        panels.controls(cfg, run)
        panels.config_panels(problem)
    with right:
        results.preview(cfg)
else:
    if presenter.enabled():  # the projector's height goes to the plots; the sidebar names the page
        panels.controls(cfg, run)
    else:
        title, buttons = st.columns([2, 3], vertical_alignment="center")  # one row: the plots need the height
        with title:
            layout.header("Regression lab", INTRO, icon=ICON, short=True)
        with buttons:
            panels.controls(cfg, run)
    live.watch(run, results.live_panel, panels.SLOT)
    if cfg is not None and cfg != run.config and not run.active:
        st.caption("The settings changed since this run: **Start** trains with them, **Reset** previews them.")
    with st.expander("Set-up: data, model, training", icon=":material/tune:"):
        panels.config_panels(problem)
    if not run.active:
        after.after_training(run)
