import streamlit as st

st.title("Explain")
st.info("This page is not built yet: Captum attributions for chosen test images.")
