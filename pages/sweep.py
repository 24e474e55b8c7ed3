"""Sweep page: train many networks over a range of one setting, several trials each, and plot
mean test accuracy with a band of one standard deviation. The engine is nn.sweep; the form's
logic (settings to a sweep, Values per parameter, messages naming the page's controls) is
nn.sweep.form."""
from __future__ import annotations

import streamlit as st

from app import jobs
from app.navigation import require_navigation

from nn.core.activations import ACTIVATIONS
from nn.core.init import INITS
from nn.core.optimizers import OPTIMIZERS
from nn.data import DATASETS, DatasetUnavailable
from nn.hosting import limits
from nn.runs.config import ConfigError
from nn.runs.presets import get_preset
from nn.runs.slots import JOBS, MB, BudgetRefused, Need
from nn.sweep import (PARAMS, SweepConfig, SweepError, default_workers, estimate, start_sweep, summarize,
                      summary_csv)
from nn.sweep.budget import duration, megabytes
from nn.sweep.form import (DEFAULT_VALUES, OVERRIDDEN, build_sweep, describe, page_message, stopped_text,
                           values_for, which_wins)
from nn.sweep.pool import worker_limits
from nn.sweep.plots import LABELS, sweep_figure

# The moons tutorial's experiment: seed-moons, 100 epochs, hidden 3..40, 3 trials.
TUTORIAL = {**get_preset("seed-moons"), "epochs": 100}
DEFAULTS = {
    "dataset": TUTORIAL["dataset"], "n_samples": 5000, "noise": 0.1, "param": "hidden",
    "values": DEFAULT_VALUES["hidden"], "trials": 3, "hidden": " ".join(map(str, TUTORIAL["hidden"])),
    "activation": TUTORIAL["activation"], "init": TUTORIAL["init"], "optimizer": TUTORIAL["optimizer"],
    "lr": TUTORIAL["lr"], "batch_size": str(TUTORIAL["batch_size"]), "epochs": TUTORIAL["epochs"],
    "momentum": 0.9, "weight_decay": 0.0, "seed": 0, "workers": default_workers(), "scheduler": "",
}
POLL_SECONDS = 0.5       # the page waits for results in short polls: a Stop click or a closed tab
                         # stops the script at its next st.* call, and the sweep with it


def keep_settings() -> None:
    """Widget values vanish when the user leaves the page: restore them from a plain key."""
    saved = st.session_state.setdefault("sweep_settings", dict(DEFAULTS))
    saved["workers"] = max(1, min(int(saved.get("workers") or 1), limits().max_workers))
    for name, value in saved.items():
        st.session_state.setdefault(f"sw_{name}", value)


def param_changed() -> None:
    """The swept parameter changed: Values gets the text last used for the new one, or its
    default (hidden units "3:40" are no learning rates); the old one's text is kept for a switch
    back. Kept in the saved settings too, so that leaving the page keeps the pair together."""
    saved = st.session_state["sweep_settings"]
    new = st.session_state["sw_param"]
    remembered = st.session_state.setdefault("sweep_values_by_param", {})
    text = values_for(new, saved.get("param", DEFAULTS["param"]), str(st.session_state.get("sw_values", "")),
                      remembered)
    st.session_state["sw_values"] = text
    saved["param"], saved["values"] = new, text


def param_ui() -> str:
    """The parameter to sweep, outside the form so that the form follows it at once: Values
    gets a text for it and the field it overrides is greyed out."""
    c1, c2 = st.columns([1, 3], vertical_alignment="bottom")
    param = c1.selectbox("Parameter to sweep", PARAMS, key="sw_param", on_change=param_changed,
                         help=", ".join(f"{p}: {LABELS[p]}" for p in PARAMS))
    c2.caption(which_wins(param))
    return param


def settings_form(param: str) -> dict | None:
    """The widgets; the settings when Run is pressed."""
    swept = OVERRIDDEN.get(param)
    with st.form("sweep_form"):
        c1, c2 = st.columns([3, 1])
        c1.text_input("Values (numbers, and ranges START:STOP or START:STOP:STEP)", key="sw_values",
                      help="Examples: " + "; ".join(f"{p}: {v}" for p, v in DEFAULT_VALUES.items()))
        c2.number_input("Trials per value", 1, 100, key="sw_trials")
        st.markdown("**The rest of the configuration**")
        c1, c2, c3, _ = st.columns(4)
        c1.selectbox("Dataset", DATASETS, key="sw_dataset")
        c2.number_input("Samples (2-D sets)", 20, 1_000_000, step=500, key="sw_n_samples")
        c3.number_input("Noise (2-D sets)", 0.0, 2.0, step=0.05, key="sw_noise")
        c1, c2, c3, c4 = st.columns(4)
        c1.text_input("Hidden layers", key="sw_hidden", help="sizes, e.g. '64' or '32 32'. Sweeping "
                      "hidden sets every layer to the value; sweeping depth repeats the first size")
        c2.selectbox("Activation", list(ACTIVATIONS), key="sw_activation")
        c3.selectbox("Init", INITS, key="sw_init")
        c4.selectbox("Optimizer", OPTIMIZERS, key="sw_optimizer")
        c1, c2, c3, c4 = st.columns(4)
        c1.number_input("Learning rate", 1e-6, 100.0, format="%g", key="sw_lr", disabled=swept == "lr",
                        help="not used: the learning rate is swept (see Values)" if swept == "lr" else None)
        c2.text_input("Batch size", key="sw_batch_size", disabled=swept == "batch_size",
                      help="not used: the batch size is swept (see Values)" if swept == "batch_size"
                      else "a whole number or 'full'")
        c3.number_input("Epochs", 1, 100_000, key="sw_epochs")
        c4.number_input("Seed (trial t uses seed + t)", 0, 2**32 - 1, key="sw_seed")
        lim = limits()
        with st.expander("Momentum, weight decay, workers" + ("" if lim.public else ", Dask cluster")):
            c1, c2, c3, c4 = st.columns(4)
            c1.number_input("Momentum", 0.0, 0.999, key="sw_momentum")
            c2.number_input("Weight decay", 0.0, 0.999, format="%g", key="sw_weight_decay")
            c3.number_input(f"Local workers (at most {lim.max_workers})", 1, lim.max_workers,
                            key="sw_workers", help="processes on this machine, one per core at most")
            if not lim.public:     # hosting mode: no visitor picks a server to talk to (see below)
                c4.text_input("Dask scheduler address", key="sw_scheduler", placeholder="tcp://host:8786",
                              help="empty: run on this machine's cores. Results from the cluster are "
                                   "unpickled here, which runs code: use only a cluster you trust fully.")
        st.caption(f"Limits of this server: about {duration(lim.max_sweep_seconds)} of work for one "
                   f"core and {megabytes(lim.max_sweep_memory_mb)} of memory per sweep; the estimate "
                   f"is shown when it starts. A sweep takes one job slot per worker. {lim.describe()}")
        run = st.form_submit_button("Run sweep", type="primary", key="sw_run")
    settings = {name: st.session_state.get(f"sw_{name}", DEFAULTS[name]) for name in DEFAULTS}
    if run:
        st.session_state["sweep_settings"] = dict(settings)
        return settings
    return None


def scheduler_of(settings: dict) -> str | None:
    """Where the sweep runs: in hosting mode only the operator's cluster (NN_DASK_SCHEDULER) or
    this machine, whatever was sent; locally the address typed in, if any."""
    lim = limits()
    if lim.public:
        return lim.dask_scheduler
    return str(settings.get("scheduler") or "").strip() or None


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


def error_text(exc: Exception, scheduler: str | None) -> str:
    """The message, naming the page's controls (not the command line's flags), and without the
    operator's cluster address in hosting mode."""
    text = page_message(str(exc))
    if limits().public and scheduler:
        text = text.replace(repr(scheduler), "(the server's cluster)").replace(scheduler, "(the server's cluster)")
    return text


def show(result: dict) -> None:
    sweep, summary = result["sweep"], result["summary"]
    st.plotly_chart(sweep_figure(summary, sweep.param), width="stretch", key="sweep_figure")
    best = max((s for s in summary if s["mean_accuracy"] is not None), key=lambda s: s["mean_accuracy"],
               default=None)
    if best is not None:
        st.caption(f"Best mean test accuracy {best['mean_accuracy']:.2%} at {sweep.param} = {best['value']}. "
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


require_navigation()
st.title("Sweep")
st.caption("Train networks that differ in one setting, a few trials each (trial t uses seed + t), and "
           "compare their test accuracy. Networks train side by side in lockstep, on every local core or "
           "on a Dask cluster. The defaults are the moons tutorial's unfinished experiment.")
keep_settings()
settings = settings_form(param_ui())
failed = False
partial_before = st.session_state.get("sweep_partial")
if settings is not None:
    scheduler = scheduler_of(settings)
    try:
        admitted(build_sweep(settings), int(settings["workers"]), scheduler)
    except (ConfigError, DatasetUnavailable, SweepError, BudgetRefused) as exc:
        st.error(error_text(exc, scheduler))
        failed = True
results_ui(settings is not None, failed, partial_before)
