"""The Train page's training run: train (in one of the server's job slots, ``nn.runs.slots``)
and redraw the live view as it goes; then evaluate the test set for the final view."""
from __future__ import annotations

import time

import streamlit as st

from app import jobs
from app.train import cnn_view, inside, runs_panel
from app.train.current import session
from app.train.live import View, draw, layout, progress
from app.train.session import TrainSession
from app.train.state import format_seconds
from nn.core.blas_threads import one_blas_thread
from nn.core.config import RunConfig
from nn.data import Dataset
from nn.hosting import cores, limits
from nn.runs import budget
from nn.runs.remote_training import JobLimits
from nn.runs.slots import JOBS, BudgetRefused, Need, Slot

CPU_HEADROOM = 1.5                       # a run's CPU limit: its time limit x threads x this
CHEAP_EVALUATION_S = 0.5        # an evaluation estimated shorter runs without asking for a slot


def live(data: Dataset | None, cfg: RunConfig | None = None, missing: str | None = None) -> None:
    """Progress, charts and results; while training runs, train here and redraw as it goes.

    Redraws are paced by the session's ``Throttle`` (about once a second, spaced so that
    drawing costs about 5% of the time). A click elsewhere (Stop) interrupts this
    run at the next redraw; the trainer keeps its place, so nothing is lost.
    """
    s, view = session(), layout()
    view.cfg, view.missing = cfg, missing
    runs = st.container()                # the history of runs, under the charts
    view.cnn = cnn_view.layout(s, data)
    view.inside = inside.layout(s, data)
    if s.trainer is not None:
        s.trainer.stop()                 # an older run of this page may still be training...
    shown = False
    with s.lock:                         # ... wait until it has let go (within one step)
        if s.running and data is not None:
            shown = runs_panel.panel(runs, s)     # the runs so far, while this one trains
            changed = s.apply_rates(cfg) if cfg is not None else None   # moved while it trains
            if changed:
                st.toast(changed, icon=":material/tune:")
            _train_and_draw(view, s, data)
        if s.model is not None and data is not None and not s.running:
            progress(view, s)               # "Stopped at ..." at once, before the evaluation
            _evaluate(view, s, data)
            s.keep_run(data)                # finished or stopped: into the history of runs
        draw(view, s, data, final=True)
    if not shown:
        runs_panel.panel(runs, s)


def _evaluate(view: View, s: TrainSession, data: Dataset) -> None:
    """The test set's figures for the final view, in pieces with a stop check (a click or a
    closed tab ends it within a second), in a job slot unless cheap."""
    if s.test_ready(data):
        return
    est = budget.run_estimate(s.cfg, data)
    seconds = est.extra_seconds
    if seconds < CHEAP_EVALUATION_S:
        s.evaluate_test(data, jobs.interrupted)
        return
    n = len(data.y_test)
    show = lambda done: view.metrics.progress(done / max(n, 1), text=f"Evaluating the test set: "
                                              f"{done:,} of {n:,} images")   # noqa: E731
    try:
        place = JOBS.slot(Need(1, n * data.n_classes * 4, jobs.client_id(), "the test evaluation"))
    except BudgetRefused as exc:
        view.metrics.warning(str(exc))
        return
    with place as slot:
        if slot.acquire(should_stop=jobs.interrupted, on_wait=lambda ahead: view.metrics.caption(
                f"Waiting for room on the server to evaluate the test set: {ahead} ahead")):
            s.evaluate_test(data, jobs.interrupted, show)


def _train_and_draw(view: View, s: TrainSession, data: Dataset) -> None:
    """Train in one of the server's job slots (``nn.runs.slots``), its estimated memory counted
    against the server and the client: wait in line if there is no room, and give the place
    back however this run ends (finished, Stop, a click, session gone), or when its turn is over
    (``Slot.turn_over``: another client waits): then it joins the end of the line and goes on
    from where it stopped when its turn comes again."""
    try:
        place = JOBS.slot(budget.need(s.cfg, data, jobs.client_id()))
    except BudgetRefused as exc:              # the budget or the client's kept data changed
        s.stop()
        s.notice = str(exc)
        return
    with place as slot:
        try:
            if not slot.acquire(should_stop=lambda: not s.running or jobs.interrupted(),
                                on_wait=lambda ahead: _waiting(view, s, ahead)):
                return
        finally:
            s.queue_ahead = None
        turn = _Turn(slot)
        _train_in_slot(view, s, data, turn)
        if turn.over:
            slot.give_way()
    if turn.over and s.running:
        st.rerun()                       # in line again, at its end: the next page run waits there


class _Turn:
    """The running job's stop check for its turn in the slot (see ``nn.runs.slots``)."""

    def __init__(self, slot: Slot) -> None:
        self.slot, self.over = slot, False

    def __call__(self) -> bool:
        self.over = self.over or self.slot.turn_over()
        return self.over


def _waiting(view: View, s: TrainSession, ahead: int) -> None:
    """The place in line, sent only when it changes: 20 visitors waiting would otherwise send 80
    messages a second, each taking the server's lock (the health check waits behind them)."""
    if ahead == s.queue_ahead:
        return
    s.queue_ahead = ahead
    view.progress.progress(0.0, text=f"Waiting for room on the server: {ahead} ahead · "
                                     f"{limits().describe()} Yours starts when there is room "
                                     f"(Stop leaves the line)")


def _train_in_slot(view: View, s: TrainSession, data: Dataset, turn: "_Turn") -> None:
    progress(view, s)                   # what stays put while training runs is drawn once
    view.metrics.caption("Live pictures while training runs; the charts become interactive (zoom, "
                         "hover) and the final figures appear when it stops.")
    if data.image_shape is not None:
        view.after.caption("The confusion matrix and the most confidently wrong test images appear "
                           "when training stops.")
    counted = time.perf_counter()        # wall-clock time is counted up to here
    s.throttle.begin(counted)
    most = limits().max_run_seconds      # a visitor's run ends at the server's limit
    s.trainer.deadline = counted + max(most - s.run_wall, 0.0) if most else None
    s.trainer.also_stop = jobs.stop_check(turn)   # a click, a closed tab or the turn's end
    # a small network's redraws too get one BLAS thread (a second one would spin in between)
    with one_blas_thread(s.trainer.small_steps):
        try:
            for _ in inside.follow(s, data, s.steps(_job_limits(s, data), data)):
                if s.throttle.due() and s.trainer.epochs_done < s.target:    # the last: drawn below
                    drawn = time.perf_counter()
                    s.add_time(drawn - counted)          # the progress text shows it
                    counted = drawn
                    draw(view, s, data, final=False)
                    s.throttle.drew(drawn)
        finally:                         # also when a click interrupts this run
            s.add_time(time.perf_counter() - counted)
    if s.trainer.out_of_time:
        s.stop()
        s.notice = (f"Stopped at this server's limit of {format_seconds(most)} per run; the model "
                    f"and its history are kept (Continue trains further).")
    if not s.running:
        st.rerun()                       # done: refresh the buttons and messages too


def _job_limits(s: TrainSession, data: Dataset) -> JobLimits:
    """The worker's limits for this run: its admitted memory estimate; CPU time for the
    visitor's longest run (none on one's own machine); both cores only on an idle server."""
    used, _ = JOBS.used()
    blas = cores() if used <= 1 and JOBS.waiting == 0 else 1
    most = limits().max_run_seconds
    return JobLimits(budget.run_estimate(s.cfg, data).bytes,
                     most * blas * CPU_HEADROOM + 60 if most else None, blas)
