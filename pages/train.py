"""Train page: configure a network, train it with the nn library and watch it learn live."""
import streamlit as st

from app import control_labels, first_screen, own_data
from app import train_view as tv
from app.navigation import require_navigation

require_navigation()               # a first visit straight to /train still goes through dashboard.py
st.title("Train a network")
s = tv.session()
own_data.start_run()              # a new upload is read; a link with own data brings no data
cfg, problems = tv.sidebar()
own_data.panel(cfg, s)
data = tv.dataset(cfg) if cfg is not None and tv.loaded_ok(cfg) else None
tv.files(s)
own_data.download_dataset(data)
tv.phone_presets()                # shown on a narrow screen only
tv.controls(s, cfg, data)
tv.messages(s, control_labels.relabel(problems))   # controls' labels, not CLI flags
model_data = tv.model_dataset(s, data)
own = cfg is not None and own_data.is_own(cfg.dataset)
tv.live(model_data, cfg, first_screen.why_not_ready(cfg, data, own))
