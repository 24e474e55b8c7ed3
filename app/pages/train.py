"""Train page: configure a network, train it with the nn library and watch it learn live."""
import streamlit as st

from app import control_labels
from app.train import buttons, current, files, first_screen, own_data, own_settings, sidebar, training

st.title("Train a network")
s = current.session()
own_data.start_run()              # a new upload is read; a link with own data brings no data
own_settings.start_run()          # a link that says how to train turns the table's choosing off
cfg, problems = sidebar.sidebar()
own_data.panel(cfg, s)
own_settings.note(cfg)            # the training settings chosen for a table, and why
data = current.dataset(cfg) if cfg is not None and current.loaded_ok(cfg) else None
files.files(s)
own_data.download_dataset(data)
sidebar.phone_presets()           # shown on a narrow screen only
buttons.controls(s, cfg, data)
files.messages(s, control_labels.relabel(problems))   # controls' labels, not CLI flags
model_data = current.model_dataset(s, data)
own = cfg is not None and own_data.is_own(cfg.dataset)
training.live(model_data, cfg, first_screen.why_not_ready(cfg, data, own))
