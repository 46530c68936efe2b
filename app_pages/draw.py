"""Draw & predict: a drawing, an upload or a photo, preprocessed like the training set and classified live."""
import streamlit as st

from nnviz.ui import draw_panels as dp
from nnviz.ui.pickers import model_picker

st.title(":material/draw: Draw & predict")
st.caption("Draw a digit, or upload or photograph one: the network answers each time you lift the pen. Below: "
           "how the drawing becomes its input, the pixels behind its answer, and what its first layer sees.")

with st.sidebar:  # the controls stay in view, and the canvas and the answer fit the first screen
    st.header("Draw & predict")
    picked = model_picker(key="draw_model", need_data=False)  # the drawing is the data: no test set needed
    rule = dp.rule_of(picked)
    settings = dp.settings_panel(picked)

left, right = st.columns([1, 1], gap="large")
with left:
    source, data = dp.input_panel()
with right:
    outcome = dp.analyse(picked, data, rule, settings.method) if data is not None else None
    if data is None:
        dp.waiting_panel(source)
    elif outcome is not None:
        prepared, result, ms = outcome
        dp.prediction_panel(result, picked.checkpoint.classes, settings, ms, rule.caution)

if outcome is not None:
    with dp.figures_in_turn():  # the answer above is already on its way; the rest queues fairly
        dp.steps_panel(prepared, rule)
        dp.inside_panel(prepared, result, picked.checkpoint.classes, settings)
