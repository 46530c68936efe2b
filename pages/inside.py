import streamlit as st

st.title("Inside the network")
st.info("This page is not built yet: conv filters, feature maps, weights and activations.")
