"""The Sweep page's run (Streamlit side): wait for room in the server's budget, then run the
sweep in worker processes, redrawing its progress and figure as results come in."""
from __future__ import annotations

import streamlit as st

from app import jobs
from nn.hosting import limits
from nn.runs.slots import JOBS, MB, Need
from nn.sweep import SweepConfig, estimate, start_sweep, summarize
from nn.sweep.plots import sweep_figure
from nn.sweep.pool import worker_limits

POLL_SECONDS = 0.5       # the page waits for results in short polls: a Stop click or a closed tab
                         # stops the script at its next st.* call, and the sweep with it


def admitted(sweep: SweepConfig, workers: int, scheduler: str | None) -> None:
    """Run ``sweep`` once the server's budget has room for it: one job slot per local worker and
    its estimated peak memory, counted against the server and this visitor's share (a cluster's
    sweep counts only this process's part). Waits in a visible line; BudgetRefused if it can
    never fit. Each worker is held to the estimate (``worker_limits``)."""
    most = limits().client_slots
    if workers > most and not scheduler:
        st.caption(f"This server gives a visitor {most} job slot(s) at once: the sweep runs on "
                   f"{most} worker process(es).")
        workers = most
    if scheduler:
        need = Need(1, 0, jobs.client_id(), "this sweep")
    else:
        est = estimate(sweep.validate(), workers)
        need = Need(est.workers, int(est.memory_mb * MB), jobs.client_id(), "this sweep")
    line = st.empty()
    idle = JOBS.used()[0] == 0               # else each worker gets one BLAS thread
    with JOBS.slot(need) as slot:
        if not slot.acquire(should_stop=jobs.interrupted, on_wait=lambda ahead: line.info(
                f"Waiting for room on the server: {ahead} job(s) ahead. {limits().describe()}")):
            return
        line.empty()
        if scheduler:
            run(sweep, workers, scheduler)
            return
        per_worker = est.memory_mb / max(1, est.workers)
        with worker_limits(int(2 * per_worker) + 64, int(2 * limits().max_sweep_seconds) + 30,
                           None if idle else 1):
            run(sweep, workers, scheduler)


def run(sweep: SweepConfig, workers: int, scheduler: str | None) -> None:
    """Run in worker processes, polling for results every POLL_SECONDS: the progress bar and
    the figure are redrawn as results come in. However the script ends (done, an error, Stop,
    another click, a closed tab), leaving ``with`` cancels the sweep and ends its workers.
    The previous results stay until this sweep has started; from then on ``sweep_partial``
    holds how far it got (a Stop shows it), until it finishes."""
    total = len(sweep.values) * sweep.trials
    with start_sweep(sweep, workers, scheduler, in_process=False) as sweep_run:
        st.session_state["sweep_result"] = None
        partial = {"sweep": sweep, "summary": [], "trained": 0, "total": total, "progress": 0.0}
        st.session_state["sweep_partial"] = partial
        where = "the server's Dask cluster" if limits().public and scheduler else sweep_run.where
        st.caption(sweep_run.estimate.describe())
        stop = st.empty()                  # emptied when the sweep ends: no Stop without a sweep
        stop.button("Stop", key="sw_stop", help="stop the sweep and its worker processes; the results "
                                                "so far stay")
        bar = st.progress(0.0, text=f"Training {total} networks on {where}...")
        chart = st.empty()
        trials: list[dict] = []
        try:
            while not sweep_run.done:
                part = sweep_run.poll(POLL_SECONDS)
                if part is not None:
                    trials += part
                    partial.update(summary=summarize(sweep, trials), trained=len(trials))
                    chart.plotly_chart(sweep_figure(partial["summary"], sweep.param), width="stretch")
                partial["progress"] = sweep_run.progress
                bar.progress(sweep_run.progress, text=f"{len(trials)} of {total} networks trained "
                                                      f"({sweep_run.progress:.0%} of the work) on {where}")
        except Exception:                  # an error: the page says so, with the results so far
            stop.empty()                   # (a Stop or another click is no Exception: it reruns)
            bar.empty()
            chart.empty()
            raise
        stop.empty()
        bar.empty()
        chart.empty()
    st.session_state["sweep_result"] = {"sweep": sweep, "summary": summarize(sweep, trials)}
    st.session_state["sweep_partial"] = None
