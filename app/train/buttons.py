"""The Train page's buttons (Train, Stop, Continue, Reset), what a change of settings does to
the model there is, the estimated time per epoch and batch norm's pieces."""
from __future__ import annotations

import streamlit as st

from app import control_labels, jobs
from app.text import plain
from app.train import own_data
from app.train.current import PAGE_ERROR, current_config, keep_model, loaded, model_dataset, session
from app.train.session import LIVE_RATES, TrainSession
from app.train.state import TRAIN_FIELDS, format_seconds, layers_text, model_changed
from nn.core.config import RunConfig
from nn.core.settings import ConfigError
from nn.data import Dataset
from nn.hosting import limits
from nn.runs import budget
from nn.runs.experiment import bn_piece_note, estimate_config_epoch_seconds
from nn.runs.slots import JOBS, BudgetRefused

SHOW_ESTIMATE_ABOVE_S = 2.0              # show the estimated time per epoch when it is longer


def _on_train() -> None:
    try:
        cfg = current_config()
    except ConfigError:
        return
    data = loaded(cfg)
    if data is None:
        return
    admitted = _admitted_epochs(cfg, data, cfg.epochs)
    if admitted is None:
        return
    s = session()
    try:
        s.new_model(cfg, data)
        keep_model(s)
    except (ConfigError, BudgetRefused) as exc:   # e.g. the parameter limit changed meanwhile
        _on_reset()
        st.session_state[PAGE_ERROR] = plain(str(exc), limit=400)
        return
    s.start(admitted[0])
    s.notice = admitted[1]


def _on_reset() -> None:
    s = session()
    s.reset()
    JOBS.release(s)                            # its model no longer counts against the budget


def _admitted_epochs(cfg: RunConfig, data: Dataset, epochs: int) -> tuple[int, str | None] | None:
    """The epochs this run may train within the server's budget (nn.runs.budget), and why they
    were capped; None, with the reason shown, if the run can never fit."""
    try:
        JOBS.check(budget.need(cfg, data, jobs.client_id()))
        return budget.fit_run(cfg, data, epochs, limits().max_run_seconds)
    except (BudgetRefused, ValueError) as exc:
        st.session_state[PAGE_ERROR] = plain(str(exc), limit=400)
        return None


def _on_continue() -> None:
    s = session()
    try:
        cfg = current_config()
    except ConfigError:
        return
    data = model_dataset(s, None)
    if s.model is None or data is None or model_changed(s.cfg, cfg) + own_data.changed(s, cfg):
        return
    more = s.continue_target(cfg.epochs) - s.trainer.epochs_done
    admitted = _admitted_epochs(cfg, data, more)
    if admitted is None:
        return
    s.resume(cfg, data)
    s.target = min(s.target, s.trainer.epochs_done + admitted[0])
    s.notice = admitted[1] or s.notice


def controls(s: TrainSession, cfg: RunConfig | None, data: Dataset | None) -> None:
    changed = model_changed(s.cfg, cfg) + own_data.changed(s, cfg) if (s.model is not None and cfg is not None) else []
    c = [st.container(horizontal=True, key="train_buttons")] * 4   # a row, on a phone too
    until = s.continue_target(cfg.epochs if cfg is not None else 0) if s.model is not None else 0
    c[0].button("Train", key="train.go", type="primary", icon=":material/play_arrow:", on_click=_on_train,
                disabled=cfg is None or data is None, width="content",
                help="Build a new network from the settings and train it")
    c[1].button("Stop", key="train.stop", icon=":material/stop:", on_click=s.stop, disabled=not s.running,
                width="content", help="Stop; the model and its history are kept")
    c[2].button(f"Continue to {until}" if s.model is not None else "Continue", key="train.continue",
                icon=":material/fast_forward:", on_click=_on_continue,
                disabled=s.model is None or s.running or cfg is None or bool(changed), width="content",
                help=(f"Finish the stopped run: train the same model up to epoch {until}"
                      if s.interrupted else "Train the same model for 'Epochs' more epochs"))
    c[3].button("Reset", key="train.reset", icon=":material/restart_alt:", on_click=_on_reset, disabled=s.model is None,
                width="content", help="Forget the model (its run stays in the history of runs below)")
    if cfg is not None and not s.running:
        _estimate(cfg, data)
    _changed_notes(s, cfg, changed)


def _changed_notes(s: TrainSession, cfg: RunConfig | None, changed: list[str]) -> None:
    """Say at once what a settings change does to the model there is (as Playground resets at
    once): a change of network or data needs a new model; a change of how to train applies from
    the next Train or Continue, not to the run under way (but for the rates, which apply at once)."""
    if changed and s.running:
        st.warning(f"You changed **{control_labels.labels(changed)}**: the network training now "
                   f"({layers_text(s.model)} on {s.cfg.dataset}) cannot take that. Press **Train** to start "
                   f"over with the new settings (this run's model is let go), or put them back.")
    elif changed:
        st.warning(f"You changed **{control_labels.labels(changed)}**: the current model "
                   f"({layers_text(s.model)} on {s.cfg.dataset}) cannot take that. Press **Train** for a "
                   f"new model (its history starts afresh), or put the settings back to Continue.")
    elif s.running and cfg is not None:
        a, b = s.cfg.to_dict(), cfg.to_dict()
        later = [f for f in TRAIN_FIELDS if a[f] != b[f] and f not in LIVE_RATES]
        if later:
            st.info(f"**{control_labels.labels(later)}** changed: this run goes on as it started. The new value "
                    f"applies when you Stop and Continue (the same model), or on the next Train.")


def _estimate(cfg: RunConfig, data: Dataset | None = None) -> None:
    """The estimated time per epoch (nn.runs.experiment's cost model), shown when it is long,
    batch norm's pieces when they cut the batch, and in hosting mode the server's budget."""
    own = data if own_data.is_own(cfg.dataset) else None
    seconds = estimate_config_epoch_seconds(cfg, own)
    if seconds > SHOW_ESTIMATE_ABOVE_S:
        st.caption(f":material/schedule: Estimated time per epoch: about {format_seconds(seconds)} "
                   f"({cfg.epochs:,} epochs: about {format_seconds(seconds * cfg.epochs)}).")
    note = bn_piece_note(cfg, own)
    if note:
        st.caption(f":material/view_agenda: {note}")
    lim = limits()
    if lim.public:
        st.caption(f":material/memory: {lim.describe()}")
