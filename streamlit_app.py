"""nnviz dashboard: `streamlit run streamlit_app.py`.

The pages are Streamlit's script (dashboard.py); this app serves them together with the live
feed that the live views poll while runs train (nnviz.ui.live_feed)."""
from nnviz import process

process.configure()  # before anything imports torch

import streamlit as st  # noqa: E402

from nnviz.ui import class_routes, live_feed, playground_feed  # noqa: E402

app = st.App("dashboard.py", routes=live_feed.ROUTES + playground_feed.ROUTES + class_routes.ROUTES,
             lifespan=live_feed.lifespan)
