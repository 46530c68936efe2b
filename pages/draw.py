import streamlit as st

st.title("Draw & predict")
st.info("This page is not built yet: your own drawing, upload or photo, classified live.")
