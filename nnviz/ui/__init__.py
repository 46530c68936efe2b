"""Streamlit helpers shared by the pages (the only part of nnviz that imports streamlit)."""
