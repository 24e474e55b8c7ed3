"""Sweep page: train many networks over a range of one setting, several trials each, and plot
mean test accuracy with a band of one standard deviation. The engine is nn.sweep."""
from __future__ import annotations

import streamlit as st

from app import jobs
from app.navigation import require_navigation

from nn.core.activations import ACTIVATIONS
from nn.core.init import INITS
from nn.core.optimizers import OPTIMIZERS
from nn.data import DATASETS, DatasetUnavailable
from nn.hosting import limits
from nn.runs.config import ConfigError, RunConfig
from nn.runs.presets import get_preset
from nn.runs.slots import JOBS, MB, BudgetRefused, Need
from nn.sweep import (PARAMS, SweepConfig, SweepError, default_workers, estimate, parse_values,
                      start_sweep, summarize, summary_csv)
from nn.sweep.budget import duration, megabytes
from nn.sweep.pool import worker_limits
from nn.sweep.plots import LABELS, sweep_figure

# The moons tutorial's experiment: seed-moons, 100 epochs, hidden 3..40, 3 trials.
TUTORIAL = {**get_preset("seed-moons"), "epochs": 100}
DEFAULTS = {
    "dataset": TUTORIAL["dataset"], "n_samples": 5000, "noise": 0.1, "param": "hidden", "values": "3:40",
    "trials": 3, "hidden": " ".join(map(str, TUTORIAL["hidden"])), "activation": TUTORIAL["activation"],
    "init": TUTORIAL["init"], "optimizer": TUTORIAL["optimizer"], "lr": TUTORIAL["lr"],
    "batch_size": str(TUTORIAL["batch_size"]), "epochs": TUTORIAL["epochs"], "momentum": 0.9,
    "weight_decay": 0.0, "seed": 0, "workers": default_workers(), "scheduler": "",
}
POLL_SECONDS = 0.5       # the page waits for results in short polls: a Stop click or a closed tab
                         # stops the script at its next st.* call, and the sweep with it
EXAMPLES = {"hidden": "3:40", "lr": "0.0001 0.0003 0.001 0.003 0.01", "batch_size": "1 10 32 100 full",
            "depth": "1:4"}


def keep_settings() -> None:
    """Widget values vanish when the user leaves the page: restore them from a plain key."""
    saved = st.session_state.setdefault("sweep_settings", dict(DEFAULTS))
    saved["workers"] = max(1, min(int(saved.get("workers") or 1), limits().max_workers))
    for name, value in saved.items():
        st.session_state.setdefault(f"sw_{name}", value)


def settings_form() -> dict | None:
    """The widgets; the settings when Run is pressed."""
    with st.form("sweep_form"):
        c1, c2, c3, c4 = st.columns(4)
        c1.selectbox("Dataset", DATASETS, key="sw_dataset")
        c2.number_input("Samples (2-D sets)", 20, 1_000_000, step=500, key="sw_n_samples")
        c3.number_input("Noise (2-D sets)", 0.0, 2.0, step=0.05, key="sw_noise")
        c4.number_input("Trials per value", 1, 100, key="sw_trials")
        c1, c2 = st.columns([1, 3])
        c1.selectbox("Parameter to sweep", PARAMS, key="sw_param",
                     help=", ".join(f"{p}: {LABELS[p]}" for p in PARAMS))
        c2.text_input("Values: numbers and ranges START:STOP[:STEP]", key="sw_values",
                      help="Examples: " + "; ".join(f"{p}: {v}" for p, v in EXAMPLES.items()))
        st.markdown("**The rest of the configuration**")
        c1, c2, c3, c4 = st.columns(4)
        c1.text_input("Hidden layers", key="sw_hidden", help="sizes, e.g. '64' or '32 32'. Sweeping "
                      "hidden sets every layer to the value; sweeping depth repeats the first size")
        c2.selectbox("Activation", list(ACTIVATIONS), key="sw_activation")
        c3.selectbox("Init", INITS, key="sw_init")
        c4.selectbox("Optimizer", OPTIMIZERS, key="sw_optimizer")
        c1, c2, c3, c4 = st.columns(4)
        c1.number_input("Learning rate", 1e-6, 100.0, format="%g", key="sw_lr")
        c2.text_input("Batch size", key="sw_batch_size", help="a whole number or 'full'")
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


def build_sweep(s: dict) -> SweepConfig:
    """The widgets' settings as a validated sweep; ConfigError names what is wrong."""
    hidden = s["hidden"].replace(",", " ").split()
    if not all(h.isascii() and h.isdigit() for h in hidden):       # int("²") raises ValueError
        raise ConfigError("hidden", f"hidden layers must be whole numbers, e.g. '64' or '32 32'; "
                                    f"got {s['hidden']!r}")
    hidden = [int(h) for h in hidden]
    run = RunConfig(dataset=s["dataset"], n_samples=int(s["n_samples"]), noise=float(s["noise"]),
                    hidden=hidden, activation=s["activation"], init=s["init"], optimizer=s["optimizer"],
                    lr=float(s["lr"]), batch_size=batch_size(s["batch_size"]), epochs=int(s["epochs"]),
                    momentum=float(s["momentum"]), weight_decay=float(s["weight_decay"]), seed=int(s["seed"]))
    values = parse_values(s["param"], [s["values"]])
    return SweepConfig(run, s["param"], values, int(s["trials"])).validate()


def batch_size(text: str) -> int | str:
    """The batch size from its text box: a whole number (ASCII digits only: "²" counts as a
    digit for str.isdigit but not for int) or 'full'; ConfigError otherwise."""
    bs = text.strip().lower()
    if bs == "full":
        return bs
    if not (bs.isascii() and bs.isdigit()):
        raise ConfigError("batch_size", f"batch size must be a whole number from 1 to 10000000 or "
                                        f"'full'; got {text!r}")
    return int(bs)


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
        if not slot.acquire(on_wait=lambda ahead: line.info(
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
    another click, a closed tab), leaving ``with`` cancels the sweep and ends its workers."""
    total = len(sweep.values) * sweep.trials
    st.session_state["sweep_result"] = None
    st.session_state["sweep_partial"] = None
    with start_sweep(sweep, workers, scheduler, in_process=False) as sweep_run:
        where = "the server's Dask cluster" if limits().public and scheduler else sweep_run.where
        st.caption(sweep_run.estimate.describe())
        st.button("Stop", key="sw_stop", help="stop the sweep and its worker processes; the results "
                                              "so far stay")
        bar = st.progress(0.0, text=f"Training {total} networks on {where}...")
        chart = st.empty()
        trials: list[dict] = []
        while not sweep_run.done:
            part = sweep_run.poll(POLL_SECONDS)
            if part is not None:
                trials += part
                summary = summarize(sweep, trials)
                chart.plotly_chart(sweep_figure(summary, sweep.param), width="stretch")
                st.session_state["sweep_partial"] = {"sweep": sweep, "summary": summary,
                                                     "trained": len(trials), "total": total}
            bar.progress(sweep_run.progress, text=f"{len(trials)} of {total} networks trained "
                                                  f"({sweep_run.progress:.0%} of the work) on {where}")
    st.session_state["sweep_result"] = {"sweep": sweep, "summary": summarize(sweep, trials)}
    st.session_state["sweep_partial"] = None
    bar.empty()
    chart.empty()


def error_text(exc: Exception, scheduler: str | None) -> str:
    """The message, without the operator's cluster address in hosting mode."""
    text = str(exc)
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


require_navigation()
st.title("Sweep")
st.caption("Train networks that differ in one setting, a few trials each (trial t uses seed + t), and "
           "compare their test accuracy. Networks train side by side in lockstep, on every local core or "
           "on a Dask cluster. The defaults are the moons tutorial's unfinished experiment.")
keep_settings()
settings = settings_form()
if settings is not None:
    scheduler = scheduler_of(settings)
    try:
        admitted(build_sweep(settings), int(settings["workers"]), scheduler)
    except (ConfigError, DatasetUnavailable, SweepError, BudgetRefused) as exc:
        st.error(error_text(exc, scheduler))
if st.session_state.get("sweep_result"):
    show(st.session_state["sweep_result"])
elif settings is None and st.session_state.get("sweep_partial"):
    partial = st.session_state["sweep_partial"]
    how = "stopped" if st.session_state.get("sw_stop") else "interrupted"
    st.info(f"The last sweep was {how} after {partial['trained']} of {partial['total']} networks "
            "(its worker processes are ended); its results so far:")
    show(partial)
