"""Lessons: the course's classic experiments, one click each, with what to look for."""
import streamlit as st

from nnviz.teaching.lessons import LESSONS
from nnviz.ui import lessons as ui
from nnviz.ui import presenter

st.title(":material/school: Lessons")
st.caption("Each lesson sets up data, model and training on the right page and reproduces one classic homework "
           "experiment. Open one, then follow its steps with **Next step**. Turn on **Presenter view** in the "
           "sidebar for a projector; a lesson's slide link opens it directly.")

COLUMNS = 2 if presenter.enabled() else 3  # large type needs wider cards
items = list(LESSONS.values())
for row in range(0, len(items), COLUMNS):
    cols = st.columns(COLUMNS)
    for col, lesson in zip(cols, items[row:row + COLUMNS]):
        with col:
            ui.card(lesson)
