"""Streamlit entry point: `streamlit run dashboard.py`. Each page lives in pages/."""
import streamlit as st

st.set_page_config(page_title="NumPy network dashboard", page_icon=":material/neurology:", layout="wide")

# Streamlit's animated "running" badge repaints the page many times a second for as long as a
# script runs; during training that steals CPU from training itself (measured: about half of the
# app's overhead in headless Chromium on 2 cores). The Train page shows its own progress bar.
st.html("<style>[data-testid='stStatusWidget']{display:none}</style>")

pages = [
    st.Page("pages/train.py", title="Train", icon=":material/monitoring:", default=True),
    st.Page("pages/draw.py", title="Draw a digit", icon=":material/draw:"),
    st.Page("pages/sweep.py", title="Sweep", icon=":material/tune:"),
]
st.navigation(pages).run()
