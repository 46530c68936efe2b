import streamlit as st

st.title("Experiments")
st.info("This page is not built yet: run comparison, sweeps and hyper-parameter search.")
