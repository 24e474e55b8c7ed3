"""Sweep page: train many networks over a range of one setting, several trials each, and plot
mean test accuracy with a band of one standard deviation. The engine is nn.sweep; the page's
logic is app.sweep.form (no Streamlit), its parts are in app.sweep."""
import streamlit as st

from app.sweep import form, results, run, widgets
from nn.core.settings import ConfigError
from nn.data import DatasetUnavailable
from nn.runs.slots import BudgetRefused
from nn.sweep import SweepError

st.title("Sweep")
st.caption("Train networks that differ in one setting, a few trials each (trial t uses seed + t), and "
           "compare their test accuracy. Networks train side by side in lockstep, on every local core or "
           "on a Dask cluster. The defaults are the moons tutorial's unfinished experiment.")
widgets.keep_settings()
settings = widgets.settings_form(widgets.param_ui())
failed = False
partial_before = st.session_state.get("sweep_partial")
if settings is not None:
    scheduler = form.scheduler_of(settings)
    try:
        run.admitted(form.build_sweep(settings), int(settings["workers"]), scheduler)
    except (ConfigError, DatasetUnavailable, SweepError, BudgetRefused) as exc:
        st.error(form.error_text(exc, scheduler))
        failed = True
results.results_ui(settings is not None, failed, partial_before)
