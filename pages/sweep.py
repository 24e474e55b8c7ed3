"""Placeholder: the sweep page is being built."""
import streamlit as st

st.title("Sweep")
st.info("This page is not built yet.")
