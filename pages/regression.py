import streamlit as st

st.title("Regression lab")
st.info("This page is not built yet: watch a network learn a 1-D function.")
