"""Placeholder: the draw page is being built."""
import streamlit as st

st.title("Draw")
st.info("This page is not built yet.")
