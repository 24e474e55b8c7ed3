"""Streamlit entry point: `streamlit run dashboard.py`. Each page lives in pages/."""
import streamlit as st

st.set_page_config(page_title="NumPy network dashboard", page_icon="🧠", layout="wide")

pages = [
    st.Page("pages/train.py", title="Train", icon="📈", default=True),
    st.Page("pages/draw.py", title="Draw a digit", icon="✏️"),
    st.Page("pages/sweep.py", title="Sweep", icon="📊"),
]
st.navigation(pages).run()
