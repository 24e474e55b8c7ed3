"""The Sweep page's results (Streamlit side): the figure, the best value, the table and its
CSV, each time saying which sweep they are of."""
from __future__ import annotations

import streamlit as st

from app.sweep.form import describe, stopped_text
from nn.sweep import summary_csv
from nn.sweep.summary import score_key
from nn.sweep.plots import sweep_figure


def show(result: dict) -> None:
    sweep, summary = result["sweep"], result["summary"]
    st.plotly_chart(sweep_figure(summary, sweep.param), width="stretch", key="sweep_figure")
    key = score_key(summary)
    best = max((s for s in summary if s[f"mean_{key}"] is not None), key=lambda s: s[f"mean_{key}"],
               default=None)
    if best is not None:
        score = f"R² {best['mean_r2']:.4f}" if key == "r2" else f"accuracy {best['mean_accuracy']:.2%}"
        st.caption(f"Best mean test {score} at {sweep.param} = {best['value']}. "
                   "Training time is each lockstep group's time shared equally among its networks.")
    diverged = sum(s["diverged"] for s in summary)
    if diverged:
        st.warning(f"{diverged} run(s) diverged (the loss stopped being finite); they are left out of "
                   "the means.")
    st.dataframe([{k: v for k, v in s.items() if k != "runs"} for s in summary], hide_index=True)
    st.download_button("Download results (CSV)", summary_csv(summary), file_name=f"sweep_{sweep.param}.csv",
                       mime="text/csv", key="sweep_csv")


def results_ui(pressed_run: bool, failed: bool, partial_before: dict | None) -> None:
    """The results under the form, each time saying which sweep they are of. After an error
    message, an earlier sweep's results come under their own heading, so that nobody reads them
    as the answer to the settings just refused; a stopped sweep says how far it got."""
    result = st.session_state.get("sweep_result")
    partial = st.session_state.get("sweep_partial")
    if failed and partial is not None and partial is not partial_before:     # it started, then failed
        st.info(f"The sweep ended at this error after {partial['trained']} of {partial['total']} runs"
                + ("; the results so far:" if partial["summary"] else "."))
        if partial["summary"]:
            show(partial)
        return
    if failed:
        previous = result or (partial if partial and partial["summary"] else None)
        if previous:
            st.divider()
            st.subheader("The previous sweep's results")
            st.caption(f"Not the settings above (they did not run): the sweep before, "
                       f"{describe(previous['sweep'])}.")
            show(previous)
        return
    if result:
        st.subheader("Results")
        st.caption(describe(result["sweep"]))
        show(result)
    elif not pressed_run and partial:
        st.info(stopped_text(partial, stopped=bool(st.session_state.get("sw_stop"))))
        if partial["summary"]:
            st.caption(describe(partial["sweep"]))
            show(partial)
