"""Classification lab: pick a dataset and a model, train it live, read its confusion matrix and mistakes."""
import streamlit as st

from nnviz.ui import classification_checkpoints as ckpt_panel
from nnviz.ui import classification_panels as panels
from nnviz.ui import classification_results as results
from nnviz.ui import layout, live

settings = panels.settings()
run = live.current(panels.SLOT)
busy = run is not None and run.active
source = results.current_source(run)

layout.header("Classification lab", "Train an image classifier and watch it learn: loss and accuracy as they "
              "move, test images turning green, then the confusion matrix and the mistakes it still makes.",
              icon=":material/grid_view:", showing_run=busy or source is not None)

# Start / Stop and what they show come first, so the set-up below never pushes them out of the first
# screen; the set-up is filled in first (Start needs to know whether it is ready) and drawn below.
run_slot = st.container()
# Open until there is something to watch; then folded.
with st.expander("Set-up: data, model, training, checkpoints", expanded=not busy and source is None,
                 icon=":material/tune:"):
    tab_data, tab_model, tab_train, tab_ckpt = st.tabs(
        [":material/photo_library: Data", ":material/account_tree: Model", ":material/tune: Training",
         ":material/save: Checkpoints"])
    with tab_data:
        data = panels.data_panel(settings)
    with tab_model:
        model_ok = panels.model_panel(settings)
    with tab_train:
        panels.training_panel(settings)
    with tab_ckpt:
        ckpt_panel.panel(source, busy)
ready = data is not None and model_ok


@st.fragment
def run_panel() -> None:
    """Start / Stop, then the live view, the results or a hint. A fragment, so pressing Start redraws
    only this part: the browser's work on a whole-page redraw would land on the run's first epoch."""
    run = live.current(panels.SLOT)
    busy = run is not None and run.active
    live.rerun_page_when_ended(panels.SLOT, busy)  # the run shown live ended: redraw the whole page (set-up folds)
    source = results.current_source(run)
    panels.controls(settings, run, ready=ready)
    if busy:
        results.live_view(run)
    elif source is not None:
        results.render(source)
    else:
        st.info("Press **Start training** to train the model set up below, or load a shipped checkpoint in the "
                "**Checkpoints** tab to see a trained one.", icon=":material/lightbulb:")


with run_slot:
    run_panel()
