"""Streamlit side of the Train page: settings widgets, buttons, the live view and model files.

The page's state lives in ``st.session_state``: ``train_cfg`` (the settings, a plain dict that
survives page switches), ``train_session`` (a ``TrainSession``: model, trainer, progress) and the
widget keys ``tw.*``. The logic itself is in ``nn.runs.app_state`` (no Streamlit) so tests can reach it.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import streamlit as st

import nn
from app import cnn_view, control_labels, first_screen, inside_view, jobs, own_data, uploads
from nn.core import CNN_PRESETS
from nn.core.activations import ACTIVATIONS
from nn.core.blas_threads import one_blas_thread
from nn.core.init import INITS
from nn.core.optimizers import OPTIMIZERS
from nn.data import TOY_DATASETS, Dataset, DatasetUnavailable
from nn.files.io import model_to_bytes
from nn.hosting import cores, limits
from nn.runs.app_state import (TRAIN_FIELDS, WIDGET_LIMITS, TrainSession, config_from_query, config_to_query,
                               format_seconds, history_csv, model_changed, plain, upload_config)
from nn.runs.config import (CNN_ACTIVATIONS, CNN_INITS, IMAGE_SHAPES, LR_SCHEDULES, MAX_EPOCHS,
                            MAX_HIDDEN_LAYERS, MAX_HIDDEN_SIZE, ConfigError, RunConfig)
from nn.runs.experiment import (check_config_limit, config_from_preset, count_config_params,
                                estimate_config_epoch_seconds, load_data)
from nn.runs import budget
from nn.runs.remote_training import JobLimits
from nn.runs.slots import JOBS, BudgetRefused, Need
from nn.views import pictures, plots

SESSION, CFG, W = "train_session", "train_cfg", "tw."
MAX_LAYERS = MAX_HIDDEN_LAYERS           # the widgets take every value the library does
SHOW_ESTIMATE_ABOVE_S = 2.0              # show the estimated time per epoch when it is longer
LR_STEPS = [1e-5, 2e-5, 5e-5, 1e-4, 2e-4, 5e-4, 1e-3, 2e-3, 5e-3, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5,
            1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0]
BATCH_STEPS: list[Any] = [1, 2, 4, 8, 10, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, "full"]
DATASET_LABELS = {"moons": "Two moons (2-D)", "circles": "Circles (2-D)", "digits": "Digits 8x8",
                  "mnist": "MNIST 28x28", "fashion_mnist": "Fashion-MNIST 28x28", **own_data.LABELS}
PRESET_HELP = {"moons": "Our fast default for two moons: 2-32-32-2 ReLU, Adam.",
               "mnist": "Our fast default for MNIST: 784-256-10 ReLU, SGD with momentum.",
               "seed-moons": "The moons tutorial: 2-64-2 ReLU, plain SGD, batch 10.",
               "seed-mnist": "The MNIST tutorial: 784-5-10 sigmoid, full-batch GD, 1000 iterations.",
               "mnist-cnn": "A convolutional network for MNIST: two conv+pool blocks, dense 128, Adam "
                            "with a cosine schedule, augmented images; 99%+ in 6 epochs."}
DEFAULT_ARCH = CNN_PRESETS["mnist-cnn"]["arch"]
DEFAULT_AUGMENT = CNN_PRESETS["mnist-cnn"]["augment"]
NETWORK_KINDS = ("MLP", "CNN")
GRID_IMAGES = 24
CPU_HEADROOM = 1.5                       # a run's CPU limit: its time limit x threads x this


# --- data and session ----------------------------------------------------------------------------
@st.cache_resource(show_spinner="Loading the dataset…", max_entries=8)
def _cached_dataset(name: str, n_samples: int, noise: float, test_size: float) -> Dataset:
    """One copy per server process, shared read-only by every session."""
    return load_data(RunConfig(dataset=name, n_samples=n_samples, noise=noise, test_size=test_size))


def dataset(cfg: RunConfig) -> Dataset:
    if own_data.is_own(cfg.dataset):                # this session's own data (app/own_data.py)
        return own_data.dataset(cfg)
    if cfg.dataset in TOY_DATASETS:
        return _cached_dataset(cfg.dataset, cfg.n_samples, cfg.noise, cfg.test_size)
    return _cached_dataset(cfg.dataset, 0, 0.0, cfg.test_size if cfg.dataset == "digits" else 0.0)


def session() -> TrainSession:
    if SESSION not in st.session_state:
        st.session_state[SESSION] = TrainSession()
    return st.session_state[SESSION]


# --- settings: URL <-> config <-> widgets --------------------------------------------------------
def _widget_values(cfg: dict[str, Any]) -> dict[str, Any]:
    hidden = list(cfg["hidden"])
    values = {k: cfg[k] for k in RunConfig.__dataclass_fields__ if k != "hidden"}
    values["layers"] = min(len(hidden), MAX_LAYERS)
    for i in range(MAX_LAYERS):
        values[f"h{i}"] = hidden[i] if i < len(hidden) else hidden[-1]
    values["kind"] = "CNN" if cfg.get("arch") else "MLP"       # a CNN: its text and augmentation
    values["arch"] = cfg.get("arch") or DEFAULT_ARCH
    values["augment_on"] = bool(cfg.get("augment")) if cfg.get("arch") else True
    return values


def set_config(cfg: RunConfig) -> None:
    """Make ``cfg`` the page's settings (call before the widgets are drawn, e.g. in a callback):
    the widgets are forgotten and drawn afresh from it (see ``_restore``)."""
    st.session_state[CFG] = cfg.to_dict()
    for key in _widget_values(cfg.to_dict()):
        st.session_state.pop(W + key, None)


def _restore(name: str) -> str:
    """The key of widget ``name``, its value sent to the browser in this run; returns the key.

    The value is the one in session state, or from the settings if the widget was not drawn in
    the previous run (hidden for another dataset or optimizer, fewer layers, another page, or
    ``set_config``). Streamlit sends a widget's value to the browser only in a run that assigned
    it; otherwise the browser keeps its own copy, and a widget that has none shows its default
    (its minimum) and sends that back on the next click. The browser can lack a copy: after a
    visit to MNIST (the two-moons settings collapsed to 100 samples, noise 0, test share 0.05),
    or when a click (Train, within a second of the page opening) reran the page before the
    browser had taken the values of the run that assigned them (all numeric settings at their
    minimums after Stop). So the value is assigned in every run that draws the widget."""
    key = W + name
    ss = st.session_state
    ss[key] = ss[key] if key in ss else _widget_values(ss[CFG])[name]
    return key


def _first_visit() -> list[str]:
    """On a session's first visit, read the settings from the URL (bad values -> warnings)."""
    if CFG in st.session_state:
        return []
    cfg, warnings = config_from_query({k: st.query_params.get_all(k) for k in st.query_params})
    set_config(cfg)
    return warnings


def current_config() -> RunConfig:
    """The settings the widgets hold (raises ConfigError when they don't fit together)."""
    ss = st.session_state
    values = dict(ss[CFG])
    values.update({k: ss[W + k] for k in RunConfig.__dataclass_fields__ if W + k in ss and k != "hidden"})
    if W + "layers" in ss:
        values["hidden"] = [int(ss[W + f"h{i}"]) for i in range(int(ss[W + "layers"]))]
    for k in ("n_samples", "epochs", "seed"):
        values[k] = int(values[k])
    _network_kind(values)
    return RunConfig.from_dict(values).validate()


def _network_kind(values: dict[str, Any]) -> None:
    """``arch`` and ``augment`` from the MLP/CNN choice (an MLP for a dataset without images)."""
    ss = st.session_state
    cnn = values["dataset"] in IMAGE_SHAPES and ss.get(W + "kind", "CNN" if values.get("arch") else "MLP") == "CNN"
    if not cnn:
        values["arch"] = values["augment"] = None
        return
    values["arch"] = str(ss.get(W + "arch", values.get("arch") or DEFAULT_ARCH))
    if W + "augment_on" in ss:
        values["augment"] = dict(DEFAULT_AUGMENT) if ss[W + "augment_on"] else None


def _apply_preset(name: str) -> None:
    set_config(config_from_preset(name))


def _options(values: list[Any], current: Any) -> list[Any]:
    if current in values:
        return values
    if isinstance(current, str):
        return values + [current]
    numbers = sorted([v for v in values if not isinstance(v, str)] + [current])
    return numbers + [v for v in values if isinstance(v, str)]


PRESETS_SHOWN = ("moons", "mnist", "seed-moons", "seed-mnist", "mnist-cnn")
PHONE_ONLY = "<style>@media (min-width: 640px) {.st-key-phone_presets {display: none}}</style>"


def phone_presets() -> None:
    """The presets above the buttons on a narrow screen, where the sidebar starts collapsed (on
    a wide one they are in the sidebar, and this row is hidden by CSS)."""
    st.html(PHONE_ONLY)
    with st.container(horizontal=True, key="phone_presets"):
        for name in PRESETS_SHOWN:
            st.button(name, key=f"phone.preset.{name}", help=PRESET_HELP[name], on_click=_apply_preset,
                      args=(name,), type="tertiary", width="content")


def sidebar() -> tuple[RunConfig | None, list[str]]:
    """Draw the settings; return the config (None if invalid) and messages for the user."""
    messages = _first_visit()
    ss = st.session_state
    with st.sidebar:
        st.subheader("Presets")
        cols = st.columns(2)
        for i, name in enumerate(PRESETS_SHOWN):
            cols[i % 2].button(name, key=f"preset.{name}", help=PRESET_HELP[name],
                               on_click=_apply_preset, args=(name,), width="stretch")
        _data_widgets()
        _network_widgets()
        network_note = st.empty()          # the parameter limit, next to the network settings
        _training_widgets()
    try:
        cfg = current_config()
        check_config_limit(cfg, own_data.current(cfg))
    except ConfigError as exc:
        if exc.param in ("hidden", "arch"):
            network_note.error(control_labels.page_text(plain(exc, limit=400)), icon=":material/block:")
        messages.append(f"Invalid setting **{exc.param}**: {plain(exc, limit=400)}")
        return None, messages
    limit = limits().max_params
    network_note.caption(f"{count_config_params(cfg, own_data.current(cfg)):,} parameters (this server's limit: {limit:,})")
    ss[CFG] = cfg.to_dict()
    query = config_to_query(cfg)
    if {k: st.query_params.get(k) for k in st.query_params} != query:
        st.query_params.from_dict(query)            # the URL always reproduces the settings
    return cfg, messages


def _data_widgets() -> None:
    st.subheader("Data")
    st.selectbox("Dataset", list(DATASET_LABELS), key=_restore("dataset"), format_func=DATASET_LABELS.get)
    name = st.session_state[W + "dataset"]
    if name in TOY_DATASETS:
        st.number_input("Number of samples", 20, 1_000_000, step=500, key=_restore("n_samples"))
        st.slider("Noise", 0.0, 2.0, step=0.01, key=_restore("noise"))
    if name in (*TOY_DATASETS, "digits", *own_data.LABELS):
        st.slider("Test share", 0.05, 0.9, step=0.05, key=_restore("test_size"))
    else:
        st.caption("Official split: 60,000 training and 10,000 test images.")


def _network_widgets() -> None:
    st.subheader("Network")
    if st.session_state[W + "dataset"] in IMAGE_SHAPES:
        st.segmented_control("Kind", NETWORK_KINDS, key=_restore("kind"), required=True,
                             help="MLP: fully connected layers. CNN: convolutional layers that "
                                  "slide small filters over the image, then dense layers.")
        if st.session_state[W + "kind"] == "CNN":
            _cnn_widgets()
            return
    st.slider("Hidden layers", 1, MAX_LAYERS, key=_restore("layers"))
    n = st.session_state[W + "layers"]
    cols = st.columns(min(n, 3))
    for i in range(n):
        cols[i % len(cols)].number_input(f"Layer {i + 1} size", 1, MAX_HIDDEN_SIZE, step=1,
                                         key=_restore(f"h{i}"))
    c1, c2 = st.columns(2)
    c1.selectbox("Activation", list(ACTIVATIONS), key=_restore("activation"))
    c2.selectbox("Initialisation", list(INITS), key=_restore("init"),
                 help="small: 0.01·N(0,1); normal: N(0,1); he: N(0, 2/fan_in); xavier: N(0, 1/fan_in)")


def _cnn_widgets() -> None:
    st.text_input("Architecture", key=_restore("arch"), max_chars=2000,
                  help="Comma-separated: 'conv 5x5x16' (a 5x5 convolution, 16 filters; options "
                       "'stride 2', 'pad 1' or 'pad same'), 'pool 2' (2x2 max-pooling), 'dense 128', "
                       "'dropout 0.25'. The activation follows each conv and dense layer; an output "
                       f"layer with one unit per class ends the network. Default: {DEFAULT_ARCH}")
    for name, allowed in (("activation", CNN_ACTIVATIONS), ("init", CNN_INITS)):
        if st.session_state[_restore(name)] not in allowed:   # e.g. the MLP's 'small' init
            st.session_state[W + name] = allowed[0]
    c1, c2 = st.columns(2)
    c1.selectbox("Activation", list(CNN_ACTIVATIONS), key=_restore("activation"))
    c2.selectbox("Initialisation", list(CNN_INITS), key=_restore("init"),
                 help="he: N(0, 2/fan_in); xavier: U(-a, a), a = sqrt(6/(fan_in + fan_out))")
    st.checkbox("Augment the training images", key=_restore("augment_on"),
                help="Each minibatch's images moved by up to ±{shift:g} px, turned by up to ±{rotate:g}° "
                     "and scaled by up to ±{scale:.0%}: drawings on the Draw page read better."
                     .format(**DEFAULT_AUGMENT))


def _training_widgets() -> None:
    st.subheader("Training")
    ss = st.session_state
    st.selectbox("Optimizer", list(OPTIMIZERS), key=_restore("optimizer"))
    if ss[W + "optimizer"] == "momentum":
        st.slider("Momentum", *WIDGET_LIMITS["momentum"], step=0.001, format="%.3f", key=_restore("momentum"))
    lr, batch = _restore("lr"), _restore("batch_size")
    st.select_slider("Learning rate (log scale)", _options(LR_STEPS, ss[lr]), key=lr,
                     format_func=lambda v: f"{v:g}")
    st.select_slider("Batch size", _options(BATCH_STEPS, ss[batch]), key=batch,
                     help="'full' = full-batch gradient descent (one step per epoch)")
    st.selectbox("Learning-rate schedule", list(LR_SCHEDULES), key=_restore("lr_schedule"),
                 help="cosine: epoch e of E trains at lr·(1 + cos(πe/E))/2, from the full rate "
                      "down towards 0")
    c1, c2 = st.columns(2)
    c1.number_input("Epochs", 1, MAX_EPOCHS, step=1, key=_restore("epochs"))
    c2.number_input("Seed", 0, 2**32 - 1, step=1, key=_restore("seed"))
    st.number_input("Weight decay (L2)", *WIDGET_LIMITS["weight_decay"], step=1e-4, format="%.4f",
                    key=_restore("weight_decay"))


# --- buttons -------------------------------------------------------------------------------------
def _loaded(cfg: RunConfig) -> Dataset | None:
    try:
        return dataset(cfg)
    except own_data.NotReady:                       # the own-data panel says what is missing
        return None
    except (DatasetUnavailable, ValueError) as exc:
        st.session_state["train_data_error"] = str(exc)
        return None


def _on_train() -> None:
    try:
        cfg = current_config()
    except ConfigError:
        return
    data = _loaded(cfg)
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
        st.session_state["train_data_error"] = plain(str(exc), limit=400)
        return
    s.start(admitted[0])
    s.notice = admitted[1]


def _on_reset() -> None:
    s = session()
    s.reset()
    JOBS.release(s)                            # its model no longer counts against the budget


def keep_model(s: TrainSession) -> None:
    """Count the session's model (its weights, optimizer state and copies) against the client's
    share and the server's budget for as long as the session keeps it (BudgetRefused if full)."""
    nbytes = budget.PARAM_COPIES * sum(p.nbytes for p in s.model.params) if s.model is not None else 0
    JOBS.keep(s, jobs.client_id(), nbytes, "this model")


def _admitted_epochs(cfg: RunConfig, data: Dataset, epochs: int) -> tuple[int, str | None] | None:
    """The epochs this run may train within the server's budget (nn.runs.budget), and why they
    were capped; None, with the reason shown, if the run can never fit."""
    try:
        JOBS.check(budget.need(cfg, data, jobs.client_id()))
        return budget.fit_run(cfg, data, epochs, limits().max_run_seconds)
    except (BudgetRefused, ValueError) as exc:
        st.session_state["train_data_error"] = plain(str(exc), limit=400)
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


def model_dataset(s: TrainSession, data: Dataset | None) -> Dataset | None:
    """The dataset the session's model trains on (``data``, the chosen one, when there is no model)."""
    if s.model is None:
        return data
    return own_data.model_dataset(s) if own_data.is_own(s.cfg.dataset) else dataset(s.cfg)


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
                width="content", help="Forget the model and its history")
    if cfg is not None and not s.running:
        _estimate(cfg, data)
    _changed_notes(s, cfg, changed)


def _changed_notes(s: TrainSession, cfg: RunConfig | None, changed: list[str]) -> None:
    """Say at once what a settings change does to the model there is (as Playground resets at
    once): a change of network or data needs a new model; a change of how to train applies from
    the next Train or Continue, not to the run under way."""
    if changed and s.running:
        st.warning(f"You changed **{control_labels.labels(changed)}**: the network training now "
                   f"({_layers(s.model)} on {s.cfg.dataset}) cannot take that. Press **Train** to start "
                   f"over with the new settings (this run's model is let go), or put them back.")
    elif changed:
        st.warning(f"You changed **{control_labels.labels(changed)}**: the current model "
                   f"({_layers(s.model)} on {s.cfg.dataset}) cannot take that. Press **Train** for a "
                   f"new model (its history starts afresh), or put the settings back to Continue.")
    elif s.running and cfg is not None:
        a, b = s.cfg.to_dict(), cfg.to_dict()
        later = [f for f in TRAIN_FIELDS if a[f] != b[f]]
        if later:
            st.info(f"**{control_labels.labels(later)}** changed: this run goes on as it started. The new value "
                    f"applies when you Stop and Continue (the same model), or on the next Train.")


def _estimate(cfg: RunConfig, data: Dataset | None = None) -> None:
    """The estimated time per epoch (nn.runs.experiment's cost model), shown when it is long,
    and in hosting mode the server's budget."""
    seconds = estimate_config_epoch_seconds(cfg, data if own_data.is_own(cfg.dataset) else None)
    if seconds > SHOW_ESTIMATE_ABOVE_S:
        st.caption(f":material/schedule: Estimated time per epoch: about {format_seconds(seconds)} "
                   f"({cfg.epochs:,} epochs: about {format_seconds(seconds * cfg.epochs)}).")
    lim = limits()
    if lim.public:
        st.caption(f":material/memory: {lim.describe()}")


def _layers(model: Any) -> str:
    return "-".join(map(str, model.layer_sizes)) if isinstance(model, nn.MLP) else "cnn"


# --- model files ---------------------------------------------------------------------------------
def _on_upload() -> None:
    file = st.session_state.get(W + "upload")
    if not hasattr(file, "getvalue"):            # None, or a file Streamlit no longer holds
        return
    blob = file.getvalue()
    uploads.release(file)                        # read once: Streamlit's copy is let go
    try:
        model = nn.load(blob)
        cfg, switched = upload_config(model, current_config())   # the model's own dataset and settings
        data = dataset(cfg)
        JOBS.check(Need(0, budget.PARAM_COPIES * sum(p.nbytes for p in model.params),
                        jobs.client_id(), "this model"))
        session().adopt(model, cfg, data)        # checks all first: on error nothing changes
        keep_model(session())
        if switched:
            session().notice = f"{switched} {session().notice}"
    except Exception as exc:                     # whatever the file does, the session's model stays
        st.session_state["train_upload_error"] = f"Could not use **{plain(file.name)}**: {_reason(exc)}"
        return
    set_config(cfg)


def _reason(exc: Exception) -> str:
    """Why an upload was refused, as plain text (never NumPy's advice to allow pickles)."""
    known = (nn.ModelFormatError, ConfigError, ValueError, DatasetUnavailable, BudgetRefused)
    text = str(exc) if isinstance(exc, known) else ""
    if not text or "pickle" in text:
        text = f"it is not a model file this app can read ({type(exc).__name__})"
    return plain(text, limit=300)


def files(s: TrainSession) -> None:
    with st.sidebar:
        st.subheader("Model files")
        model, history = s.model, s.history
        name = f"{s.cfg.dataset}-{_layers(model)}" if model is not None else "model"
        st.download_button("Download model (.npz)", (lambda: model_to_bytes(model)) if model else b"",
                           file_name=f"{name}.npz", mime="application/octet-stream", key="train.dl_model",
                           on_click="ignore", disabled=model is None, width="stretch", icon=":material/download:")
        st.download_button("Download history (.csv)", (lambda: history_csv(history)) if history else "",
                           file_name=f"{name}-history.csv", mime="text/csv", key="train.dl_history",
                           on_click="ignore", disabled=not history, width="stretch", icon=":material/table:")
        st.file_uploader("Upload a model saved earlier (.npz)", type=["npz"], key=W + "upload",
                         on_change=_on_upload, max_upload_size=limits().max_model_mb)


# --- messages ------------------------------------------------------------------------------------
def messages(s: TrainSession, problems: list[str]) -> None:
    for text in problems:
        st.warning(text)
    for key in ("train_data_error", "train_upload_error"):
        if key in st.session_state:
            st.error(st.session_state.pop(key))
    if s.notice:
        st.info(s.notice)
    if s.error:
        st.error(s.error, icon=":material/warning:")


# --- live view -----------------------------------------------------------------------------------
@dataclass
class View:
    progress: Any
    metrics: Any
    loss: Any
    accuracy: Any
    data: Any
    after: Any
    draws: int = 0
    inside: Any = None                   # app.inside_view.Slots
    cnn: Any = None                      # app.cnn_view.Slots (a CNN's filters and feature maps)
    cfg: RunConfig | None = None         # the settings (the first screen previews them)
    missing: str | None = None           # why Train is off, if it is


def layout() -> View:
    progress, metrics = st.empty(), st.empty()
    left, right = st.columns(2)
    loss, accuracy = left.empty(), right.empty()
    data = st.empty()
    after = st.empty()
    return View(progress, metrics, loss, accuracy, data, after)


def _progress(view: View, s: TrainSession) -> None:
    if s.model is None:
        view.progress.progress(0.0, text=view.missing or "Ready: choose settings and press **Train**.")
        return
    span = max(s.target - s.run_from, 1e-9)
    frac = min(max((s.epoch - s.run_from) / span, 0.0), 1.0)
    if s.running:
        eta = s.eta_seconds()
        left = f"about {format_seconds(eta)} left" if math.isfinite(eta) else "estimating the time left…"
        text = f"Epoch {_epoch(s.epoch)} of {s.target} · {format_seconds(s.wall_seconds)} elapsed · {left}"
        last = s.history[-1] if s.history else {}
        if last.get("val_accuracy") is not None:
            text += f" · test accuracy {last['val_accuracy']:.2%}, loss {last['val_loss']:.4f}"
    elif s.error:
        text = f"Stopped at epoch {_epoch(s.epoch)} of {s.target}: training diverged"
    elif not s.history and not s.uploaded:          # a network built by Step, not trained yet
        text = ("A new network, not trained yet: each Step through backprop changes its weights "
                "(see below) · press Continue to train it from here, or Train for a fresh one")
        frac = 0.0
    elif s.uploaded:
        text = (f"Loaded a model trained for {_epoch(s.epoch)} epochs · press Continue to train it "
                f"further, or Train for a new one")
        frac = 1.0
    elif s.epoch < s.target:
        text = (f"Stopped at epoch {_epoch(s.epoch)} of {s.target} · {format_seconds(s.wall_seconds)}"
                f" · press Continue to finish")
    else:
        text = f"Done: epoch {_epoch(s.epoch)} of {s.target} in {format_seconds(s.wall_seconds)}"
    view.progress.progress(frac, text=text)


def _epoch(e: float) -> str:
    """80 -> '80', 80.996 -> '80.99' (truncated: never shows an epoch not yet finished)."""
    return str(int(e)) if e == int(e) else f"{math.floor(e * 100) / 100:.2f}"


def _metrics(view: View, s: TrainSession, data: Dataset) -> None:
    """The final figures of the model as it is now (after training, or stopped)."""
    test_loss, test_acc = s.test_figures(data)
    epochs = max(s.trainer.epochs_done, 1)
    with view.metrics.container():
        c = st.columns(5)
        c[0].metric("Test accuracy", f"{test_acc:.2%}")
        c[1].metric("Test loss", f"{test_loss:.4f}")
        c[2].metric("Parameters", f"{s.model.n_params:,}", help=f"layers {_layers(s.model)}")
        c[3].metric("Time per epoch", f"{s.trainer.seconds / epochs:.3f} s" if s.trainer.epochs_done else "–",
                    help="compute time per epoch (as `python -m nn train` reports it)")
        c[4].metric("Epochs trained", _epoch(s.epoch))
        if s.history:
            st.caption(f"Wall-clock training time: {s.wall_seconds:.3f} s (training, evaluation "
                       f"and live charts) · compute time: {s.trainer.seconds:.3f} s")


def _chart(slot: Any, fig: Any, view: View, name: str) -> None:
    view.draws += 1                       # a fresh key per draw: no duplicate-element clash
    slot.plotly_chart(fig, width="stretch", key=f"train.{name}.{view.draws}")


def _data_view(view: View, s: TrainSession, data: Dataset, final: bool) -> None:
    """The decision boundary (2-D data) or a grid of test images with their predictions."""
    if own_data.handles(data):                      # own data: more features or classes
        own_data.results_view(view.data, s, data, final, lambda slot, fig, name: _chart(slot, fig, view, name))
        return
    if data.image_shape is None:
        args = (s.model.predict_proba, data.X_train, data.y_train, data.X_test, data.y_test)
        if final:
            _chart(view.data, plots.decision_boundary_figure(*args), view, "data")
        else:
            view.data.image(pictures.decision_boundary_image(*args),
                            caption="Decision boundary: P(class 1) over the plane · train points: "
                                    "dots · test points: diamonds")
        return
    idx = np.linspace(0, len(data.X_test) - 1, GRID_IMAGES).round().astype(int)
    proba = s.model.predict_proba(data.X_test[idx])
    pred = proba.argmax(axis=1)
    args = (data.X_test[idx].reshape(-1, *data.image_shape), data.y_test[idx], pred,
            proba[np.arange(len(idx)), pred], data.label)
    if final:
        _chart(view.data, plots.image_grid_figure(*args, title="Test images"), view, "data")
    else:
        view.data.image(pictures.image_grid_image(*args, title="Test images"))


def _curves(view: View, s: TrainSession, final: bool) -> None:
    h = s.history
    if final:
        _chart(view.loss, plots.loss_figure(h), view, "loss")
        _chart(view.accuracy, plots.accuracy_figure(h), view, "accuracy")
    else:
        view.loss.image(pictures.curves_image(h, "loss"))
        view.accuracy.image(pictures.curves_image(h, "accuracy"))


def draw(view: View, s: TrainSession, data: Dataset | None, final: bool) -> None:
    """Redraw the whole live view from the session's model and history.

    While training runs, the browser shares the CPU with training (on a laptop), and each
    element sent costs it work: the live view is the progress bar (which also shows the latest
    test accuracy) and still pictures. The metrics and the interactive figures come at the end.
    """
    _progress(view, s)
    if s.model is None:
        if data is not None and view.cfg is not None:
            first_screen.show(view.data, view.cfg, data)       # the data and the untrained network
        return
    first_screen.forget()
    if data is None:
        return
    if final and not s.test_ready(data):
        view.metrics.caption("The test figures are not computed yet (interrupted): they come with "
                             "the next redraw.")
        final = False
    if final:
        _metrics(view, s, data)
    if s.history:
        _curves(view, s, final)
    _data_view(view, s, data, final)
    if final and data.image_shape is not None:
        _after_training(view, s, data)
    cnn_view.draw(view.cnn, s, data, final)
    inside_view.draw(view.inside, s, data, final)


def _after_training(view: View, s: TrainSession, data: Dataset) -> None:
    proba = np.exp(s.test_log_proba(data))
    pred = proba.argmax(axis=1)
    wrong = plots.most_confident_wrong(proba, data.y_test, k=16)
    with view.after.container():
        left, right = st.columns([2, 3])
        labels = [data.label(k) for k in range(data.n_classes)]
        _chart(left, plots.confusion_matrix_figure(data.y_test, pred, data.n_classes, labels), view, "cm")
        if len(wrong):
            fig = plots.image_grid_figure(data.X_test[wrong].reshape(-1, *data.image_shape),
                                          data.y_test[wrong], pred[wrong], proba[wrong, pred[wrong]],
                                          data.label, count_right=False,
                                          title=f"Most confidently wrong ({len(wrong)} shown of "
                                                f"{int((pred != data.y_test).sum())} wrong)")
            _chart(right, fig, view, "wrong")
        else:
            right.success("No test image is misclassified.")


def live(data: Dataset | None, cfg: RunConfig | None = None, missing: str | None = None) -> None:
    """Progress, charts and results; while training runs, train here and redraw as it goes.

    Redraws are paced by the session's ``Throttle`` (about once a second, spaced so that
    drawing costs about 5% of the time). A click elsewhere (Stop) interrupts this
    run at the next redraw; the trainer keeps its place, so nothing is lost.
    """
    s, view = session(), layout()
    view.cfg, view.missing = cfg, missing
    view.cnn = cnn_view.layout(s, data)
    view.inside = inside_view.layout(s, data)
    if s.trainer is not None:
        s.trainer.stop()                 # an older run of this page may still be training...
    with s.lock:                         # ... wait until it has let go (within one step)
        if s.running and data is not None:
            _train_and_draw(view, s, data)
        if s.model is not None and data is not None and not s.running:
            _progress(view, s)               # "Stopped at ..." at once, before the evaluation
            _evaluate(view, s, data)
        draw(view, s, data, final=True)


CHEAP_EVALUATION_S = 0.5        # an evaluation estimated shorter runs without asking for a slot


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
    back however this run ends (finished, Stop, a click, session gone)."""
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
        _train_in_slot(view, s, data)


def _waiting(view: View, s: TrainSession, ahead: int) -> None:
    """The place in line, sent only when it changes: 20 visitors waiting would otherwise send 80
    messages a second, each taking the server's lock (the health check waits behind them)."""
    if ahead == s.queue_ahead:
        return
    s.queue_ahead = ahead
    view.progress.progress(0.0, text=f"Waiting for room on the server: {ahead} ahead · "
                                     f"{limits().describe()} Yours starts when there is room "
                                     f"(Stop leaves the line)")


def _train_in_slot(view: View, s: TrainSession, data: Dataset) -> None:
    _progress(view, s)                   # what stays put while training runs is drawn once
    view.metrics.caption("Live pictures while training runs; the charts become interactive (zoom, "
                         "hover) and the final figures appear when it stops.")
    if data.image_shape is not None:
        view.after.caption("The confusion matrix and the most confidently wrong test images appear "
                           "when training stops.")
    counted = time.perf_counter()        # wall-clock time is counted up to here
    s.throttle.begin(counted)
    most = limits().max_run_seconds      # a visitor's run ends at the server's limit
    s.trainer.deadline = counted + max(most - s.run_wall, 0.0) if most else None
    s.trainer.also_stop = jobs.interrupted    # a click or a closed tab: within a piece of work
    # a small network's redraws too get one BLAS thread (a second one would spin in between)
    with one_blas_thread(s.trainer.small_steps):
        try:
            for _ in inside_view.follow(s, data, s.steps(_job_limits(s, data), data)):
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


def loaded_ok(cfg: RunConfig) -> bool:
    """Load the chosen dataset now (errors such as MNIST being unavailable offline are kept
    for ``messages``); True if it loaded."""
    return _loaded(cfg) is not None
