"""nnviz dashboard: `streamlit run streamlit_app.py`.

The pages are Streamlit's script (dashboard.py); this app serves them together with the live
feed that the live views poll while runs train (nnviz.ui.live_feed)."""
import streamlit as st

from nnviz.ui import live_feed

app = st.App("dashboard.py", routes=live_feed.ROUTES, lifespan=live_feed.lifespan)
