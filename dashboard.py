"""nnviz dashboard pages (Streamlit's main script; `streamlit run streamlit_app.py` serves them)."""
import streamlit as st

from nnviz.ui import lessons, sidebar

st.set_page_config(page_title="nnviz", page_icon=":material/neurology:", layout="wide")

PAGES = {
    "nnviz": [st.Page("app_pages/home.py", title="Home", icon=":material/home:", default=True),
              st.Page("app_pages/lessons.py", title="Lessons", icon=":material/school:")],
    "Labs": [
        st.Page("app_pages/regression.py", title="Regression lab", icon=":material/show_chart:"),
        st.Page("app_pages/classification.py", title="Classification lab", icon=":material/grid_view:"),
        st.Page("app_pages/playground.py", title="Playground", icon=":material/scatter_plot:"),
        st.Page("app_pages/class_canvas.py", title="Class canvas", icon=":material/gesture:"),
    ],
    "Look inside": [
        st.Page("app_pages/inside.py", title="Inside the network", icon=":material/layers:"),
        st.Page("app_pages/explain.py", title="Explain", icon=":material/visibility:"),
        st.Page("app_pages/draw.py", title="Draw & predict", icon=":material/draw:"),
    ],
    "Compare": [st.Page("app_pages/experiments.py", title="Experiments", icon=":material/science:")],
}

page = st.navigation(PAGES)
sidebar.render()
lessons.before_page(page.url_path)  # ?lesson=<id> on any page, a lesson's pending start, its banner
page.run()
