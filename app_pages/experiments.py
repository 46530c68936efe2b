"""Experiments: compare runs, run the course's ready-made sweeps, search hyper-parameters with Optuna."""
import streamlit as st

from nnviz.ui import experiments_compare, experiments_search, experiments_sweeps, layout
from nnviz.ui.experiments_common import TABS, apply_deep_link

layout.header("Experiments", "Put runs side by side, replay the homework's experiments in one click, and search "
              "hyper-parameters with cross-validation, on this machine or on several.", icon=":material/science:")

first = apply_deep_link()
compare_tab, sweeps_tab, search_tab = st.tabs(TABS, default=first)
with compare_tab:
    experiments_compare.render()
with sweeps_tab:
    experiments_sweeps.render()
with search_tab:
    experiments_search.render()
