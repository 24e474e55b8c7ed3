"""The Train page's history of runs (its logic: ``app.train.run_history``): the session's kept
runs as a table with tick boxes, the ticked runs' loss and accuracy curves overlaid, Restore for
a ticked run, and the table as CSV."""
from __future__ import annotations

from typing import Any

import streamlit as st

from app import jobs
from app.text import plain
from app.train.current import PAGE_ERROR, dataset, keep_model, model_bytes, session, set_config
from app.train.run_history import MAX_RUNS, SUMMARY, RunHistory, rebuild
from app.train.session import TrainSession
from nn.core.settings import ConfigError
from nn.data import DatasetUnavailable
from nn.hosting import limits
from nn.runs.slots import JOBS, MB, BudgetRefused, Need, mb
from nn.views.run_overlay import overlay_figure

TICKED = "runs.ticked"                   # the ticked runs' numbers (kept when rows come and go)
TABLE = "runs.table"
COLUMNS = {"test_accuracy": st.column_config.NumberColumn("test accuracy", format="percent"),
           "test_r2": st.column_config.NumberColumn("test R²", format="%.3f"),
           "test_loss": st.column_config.NumberColumn("test loss", format="%.4f"),
           "train_accuracy": st.column_config.NumberColumn("train accuracy", format="percent"),
           "train_r2": st.column_config.NumberColumn("train R²", format="%.3f"),
           "train_loss": st.column_config.NumberColumn("train loss", format="%.4f"),
           "epochs_trained": st.column_config.NumberColumn("epochs"),
           "batch_size": st.column_config.TextColumn("batch"),
           "compute_seconds": st.column_config.NumberColumn("compute s", format="%.2f"),
           "wall_seconds": st.column_config.NumberColumn("wall s", format="%.2f"),
           "from_run": st.column_config.NumberColumn("from run"),
           "weights_kept": st.column_config.CheckboxColumn("weights")}


def panel(where: Any, s: TrainSession) -> bool:
    """The history of runs, in container ``where`` (under the live view); True once drawn."""
    with where:
        _panel(s)
    return True


def _panel(s: TrainSession) -> None:
    dropped = _count(s.runs)
    st.subheader("History of runs")
    st.caption(f"Every finished or stopped run of this session is kept here with its settings, "
               f"curves and model: the last {MAX_RUNS} runs, within {limits().history_mb} MB "
               f"(the oldest goes first). Continue updates its run's row; Reset keeps the list.")
    if dropped:
        st.caption(f":material/info: {dropped} older run(s) were let go: your share of the "
                   f"server's memory is full.")
    if not s.runs.kept:
        return
    ticked = _table(s.runs)
    st.caption(f"{len(s.runs.kept)} of {MAX_RUNS} runs kept · {_size(s.runs.nbytes)} · tick runs to "
               f"compare their curves or restore one.")
    _actions(s, ticked)
    if len(ticked) >= 2:
        left, right = st.columns(2)
        curves = s.runs.overlay(ticked)
        left.plotly_chart(overlay_figure(curves, "loss"), width="stretch", key="runs.overlay.loss")
        score = "r2" if all(s.runs.task(n) == "regression" for n in ticked) else "accuracy"
        right.plotly_chart(overlay_figure(curves, score), width="stretch", key="runs.overlay.score")


def _size(nbytes: int) -> str:
    return mb(nbytes) if nbytes >= MB else f"{nbytes / 1024:,.0f} KB"


def _count(runs: RunHistory) -> int:
    """Count the kept runs against the visitor's share of the server's memory (``app.jobs.keep``),
    letting the oldest go while it is full; the number let go."""
    dropped = 0
    while True:
        try:
            jobs.keep(runs, runs.nbytes, "the history of runs")
            return dropped
        except BudgetRefused:
            if not runs.drop_oldest():
                return dropped
            dropped += 1


def _table(runs: RunHistory) -> list[int]:
    """The table, its tick boxes drawn from the kept ticks (a fresh table whenever the rows
    change, so a tick stays on its run); the ticked runs' numbers."""
    rows = runs.table()
    numbers = [r["run"] for r in rows]
    ticked = [n for n in st.session_state.get(TICKED, []) if n in numbers]
    st.session_state[TICKED] = ticked
    key = f"{TABLE}.{'-'.join(map(str, numbers))}"
    st.dataframe(rows, key=key, on_select=lambda: _on_tick(key, numbers), selection_mode="multi-row",
                 selection_default={"selection": {"rows": [numbers.index(n) for n in ticked]}},
                 hide_index=True, column_order=SUMMARY, column_config=COLUMNS)
    return ticked


def _on_tick(key: str, numbers: list[int]) -> None:
    rows = st.session_state[key].selection.rows
    st.session_state[TICKED] = [numbers[i] for i in sorted(rows) if i < len(numbers)]


def _actions(s: TrainSession, ticked: list[int]) -> None:
    row = st.container(horizontal=True, key="runs_actions")
    row.download_button("Download the table (.csv)", s.runs.csv(), file_name="runs.csv", mime="text/csv",
                        key="runs.csv", on_click="ignore", icon=":material/table:", width="content")
    for n in ticked:
        row.button(f"Restore run {n}", key=f"runs.restore.{n}", on_click=_on_restore, args=(n,),
                   icon=":material/restore:", width="content", disabled=s.running,
                   help="Its settings into the sidebar and its model into the page (Continue "
                        "trains it further, as a new run)")


def _on_restore(number: int) -> None:
    s = session()
    run = s.runs.get(number)
    if run is None or s.running:
        return
    cfg = run.config()
    if run.weights is None:                            # above the history's bound: settings only
        set_config(cfg)
        s.notice = f"Restored run {number}'s settings (its weights were not kept): press Train."
        return
    try:
        data = dataset(cfg)
        model = rebuild(run, data)
        JOBS.check(Need(0, model_bytes(model), jobs.client_id(), "this model"))
        s.adopt(model, cfg, data)                      # the session's own run is kept first
        keep_model(s)
    except (ConfigError, ValueError, DatasetUnavailable) as exc:   # BudgetRefused is a ValueError
        st.session_state[PAGE_ERROR] = plain(f"Could not restore run {number}: {exc}", limit=400)
        return
    s.run_mark.parent = number
    s.notice = (f"Restored run {number}: its settings and its model, trained {s.epoch:g} epochs. "
                f"Continue trains it further (a new run in the history); Train starts afresh.")
    set_config(cfg)
