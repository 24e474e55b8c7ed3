"""The Sweep page's run (Streamlit side): wait for room in the server's budget, then run the
sweep in worker processes, redrawing its progress and figure as results come in."""
from __future__ import annotations

from contextlib import ExitStack

import streamlit as st

from app import jobs
from nn.hosting import limits
from nn.runs.slots import JOBS, MB, Need, Slot
from nn.sweep import SweepConfig, estimate, start_sweep, summarize
from nn.sweep.plots import sweep_figure
from nn.sweep.pool import worker_limits

POLL_SECONDS = 0.5       # the page waits for results in short polls: a Stop click or a closed tab
                         # stops the script at its next st.* call, and the sweep with it


def admitted(sweep: SweepConfig, workers: int, scheduler: str | None) -> None:
    """Run ``sweep`` once the server's budget has room for it: one job slot per local worker and
    its estimated peak memory, counted against the server and this visitor's share (a cluster's
    sweep counts only this process's part). Waits in a visible line; BudgetRefused if it can
    never fit. Each worker is held to the estimate (``worker_limits``).

    A local sweep takes turns as a training run does (``nn.runs.slots``): once its turn is over
    and another client waits, it ends its workers after a task has finished, gives its place
    away, and goes on with the tasks still to do when its turn comes again (at least one task
    finishes in each turn, so it always gets on)."""
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
    view, done = _View(), _Done(sweep)
    try:
        while not done.complete:
            idle = JOBS.used()[0] == 0               # else each worker gets one BLAS thread
            with JOBS.slot(need) as slot:
                if not slot.acquire(should_stop=jobs.interrupted, on_wait=view.waiting):
                    return
                view.line.empty()
                if scheduler:
                    run(sweep, workers, scheduler, view, done)
                    return
                per_worker = est.memory_mb / max(1, est.workers)
                with worker_limits(int(2 * per_worker) + 64, int(2 * limits().max_sweep_seconds) + 30,
                                   None if idle else 1):
                    run(sweep, workers, scheduler, view, done, slot)
                if not done.complete:
                    slot.give_way()
                    view.line.info("This sweep gave its place to another visitor for a while (its "
                                   "turn was over); it goes on where it stopped when its turn comes.")
    finally:                               # done, an error, Stop: the live parts go
        view.clear()


class _View:
    """The sweep's live parts, made once for all its turns (a widget key is used once a run)."""

    def __init__(self) -> None:
        self.line = st.empty()
        self.caption = st.empty()
        self.stop = st.empty()
        self.stop.button("Stop", key="sw_stop", help="stop the sweep and its worker processes; the "
                                                     "results so far stay")
        self.bar = st.empty()
        self.chart = st.empty()

    def waiting(self, ahead: int) -> None:
        self.line.info(f"Waiting for room on the server: {ahead} job(s) ahead. {limits().describe()}")

    def clear(self) -> None:
        """All but the estimate's caption, which stays with the results."""
        for part in (self.line, self.stop, self.bar, self.chart):
            part.empty()


class _Done:
    """What a sweep has done over its turns: its results, and the tasks they came from."""

    def __init__(self, sweep: SweepConfig) -> None:
        self.trials: list[dict] = []
        self.tasks: list = []
        self.total = len(sweep.values) * sweep.trials
        self.complete = False


def run(sweep: SweepConfig, workers: int, scheduler: str | None, view: _View, done: _Done,
        slot: Slot | None = None) -> None:
    """Run in worker processes (skipping the tasks of earlier turns), polling for results every
    POLL_SECONDS: the progress bar and the figure are redrawn as results come in. However the
    script ends (done, an error, Stop, another click, a closed tab), leaving ``with`` cancels the
    sweep and ends its workers. ``sweep_partial`` holds how far it got (a Stop shows it, even
    while the workers start), until it finishes; if it is refused or fails to start, the
    previous results stay. With a
    ``slot``, it returns early, ``done.complete`` False, once the slot's turn is over
    (``Slot.turn_over``) and a task has finished in this turn."""
    total, trials = done.total, done.trials
    previous = st.session_state.get("sweep_result"), st.session_state.get("sweep_partial")
    partial = {"sweep": sweep, "summary": summarize(sweep, trials), "trained": len(trials),
               "total": total, "progress": len(trials) / total}
    # set before the workers start (which can take seconds), so that a Stop meanwhile says so
    st.session_state["sweep_result"], st.session_state["sweep_partial"] = None, partial
    with ExitStack() as started:
        try:
            sweep_run = started.enter_context(start_sweep(sweep, workers, scheduler, in_process=False,
                                                          skip=done.tasks))
        except Exception:                  # refused or failed to start: the previous results stay
            st.session_state["sweep_result"], st.session_state["sweep_partial"] = previous
            raise
        where = "the server's Dask cluster" if limits().public and scheduler else sweep_run.where
        view.caption.caption(sweep_run.estimate.describe())
        before = len(trials)               # trials of earlier turns; the rest of the bar is this run's
        while not sweep_run.done:
            part = sweep_run.poll(POLL_SECONDS)
            if part is not None:
                trials += part
                partial.update(summary=summarize(sweep, trials), trained=len(trials))
                view.chart.plotly_chart(sweep_figure(partial["summary"], sweep.param), width="stretch")
            share = (before + sweep_run.progress * (total - before)) / total
            partial["progress"] = share
            view.bar.progress(share, text=f"{len(trials)} of {total} networks trained "
                                          f"({share:.0%} of the work) on {where}")
            if slot is not None and sweep_run.finished_tasks and slot.turn_over():
                done.tasks += sweep_run.finished_tasks
                return                     # leaving ``with`` ends the workers; the caller gives way
    done.complete = True
    st.session_state["sweep_result"] = {"sweep": sweep, "summary": summarize(sweep, trials)}
    st.session_state["sweep_partial"] = None
