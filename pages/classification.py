import streamlit as st

st.title("Classification lab")
st.info("This page is not built yet: train image classifiers live.")
