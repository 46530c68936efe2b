"""Inside the network: architecture, conv filters, feature maps, weights and activations, embedding."""
import streamlit as st

from nnviz.ui import layout
from nnviz.ui.inside_panels import PANELS
from nnviz.ui.pickers import model_picker

layout.header("Inside the network", "Pick a trained model, then look at what each layer computes: its filters, "
              "the feature maps it produces for a test image, how its weights are distributed, and how the last "
              "hidden layer arranges the test set.", icon=":material/layers:")

picked = model_picker(key="inside_model")

tabs = st.tabs(list(PANELS), key="inside_tab", on_change="rerun")
for tab, panel in zip(tabs, PANELS.values()):
    if tab.open:  # only the open tab is computed: every click answers fast
        with tab:
            panel(picked)
