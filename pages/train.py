"""Train page: configure a network, train it with the nn library and watch it learn live."""
import streamlit as st

from app import train_view as tv
from app.navigation import require_navigation

require_navigation()               # a first visit straight to /train still goes through dashboard.py
st.title("Train a network")
s = tv.session()
cfg, problems = tv.sidebar()
data = tv.dataset(cfg) if cfg is not None and tv.loaded_ok(cfg) else None
tv.files(s)
tv.controls(s, cfg, data)
tv.messages(s, problems)
model_data = tv.dataset(s.cfg) if s.model is not None else data
tv.live(model_data)
