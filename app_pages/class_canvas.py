"""Class canvas: the class draws digits on their phones, the drawings become a dataset, a network trains on it."""
import streamlit as st

from nnviz.ui import class_panels as cp
from nnviz.ui import layout, live
from nnviz.ui.class_routes import store

layout.header("Class canvas", "Everyone draws digits on their phone or laptop; the drawings become the class's own "
              "dataset. Train a network on the class's handwriting and compare it with one trained on MNIST.",
              icon=":material/gesture:")

s = store()


def collect() -> None:
    left, right = st.columns([1, 2.6], gap="large")
    with left:
        cp.link_panel()
        cp.settings_panel(s)
    with right:
        cp.gallery_panel(s)
        with st.expander("Moderate and export", icon=":material/shield_person:"):
            cp.moderation_panel(s)


@st.fragment
def train_and_compare() -> None:
    st.subheader("Train on the class's handwriting")
    run = cp.train_panel()
    busy = run is not None and run.active
    live.rerun_page_when_ended(cp.SLOT, busy)
    if busy:
        cp.live_run(run)
    elif live.current_id(cp.SLOT):
        cp.comparison_panel(live.current_id(cp.SLOT))
    else:
        st.info("Collect a few drawings of each digit, then train: the comparison with the shipped MNIST model "
                "appears here.", icon=":material/lightbulb:")


# a lesson's training steps put training and the comparison first (the projector's first screen)
for section in ((train_and_compare, collect) if st.session_state.get(cp.FOCUS_KEY) == "train"
                else (collect, train_and_compare)):
    section()
