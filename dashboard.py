"""Streamlit entry point: `streamlit run dashboard.py`. Each page lives in pages/."""
import streamlit as st

st.set_page_config(page_title="NumPy network dashboard", page_icon=":material/neurology:", layout="wide")

pages = [
    st.Page("pages/train.py", title="Train", icon=":material/monitoring:", default=True),
    st.Page("pages/draw.py", title="Draw a digit", icon=":material/draw:"),
    st.Page("pages/sweep.py", title="Sweep", icon=":material/tune:"),
]
st.navigation(pages).run()
