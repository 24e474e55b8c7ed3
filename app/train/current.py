"""The Train page's state in this browser session: its ``TrainSession``, its settings and the
widgets that hold them, and the data they choose.

State (``st.session_state``): ``train_cfg`` (the settings, a plain dict that survives page
switches), ``train_session`` (a ``TrainSession``: model, trainer, progress) and the widget keys
``tw.*``, drawn with ``widget(name)`` (``app.keep.restore``: their values are kept and sent to
the browser in every run that draws them). The logic is in ``app.train.state`` and
``app.train.session`` (no Streamlit).
"""
from __future__ import annotations

from typing import Any

import streamlit as st

from app import jobs
from app.keep import restore
from app.train import own_data, own_settings
from app.train.session import TrainSession
from app.train.state import config_from_query
from nn.core import CNN_PRESETS
from nn.core.config import RunConfig
from nn.core.settings import FEATURES_2D, IMAGE_SHAPES, SETTINGS
from nn.data import TOY_DATASETS, Dataset, DatasetUnavailable
from nn.runs import budget
from nn.runs.experiment import load_data

SESSION, CFG, W = "train_session", "train_cfg", "tw."
MAX_LAYERS = SETTINGS["hidden"].count[1]            # the widgets take every value the library does
DEFAULT_ARCH = CNN_PRESETS["mnist-cnn"]["arch"]
DEFAULT_AUGMENT = CNN_PRESETS["mnist-cnn"]["augment"]
PAGE_ERROR = "train_data_error"                     # a message for the page's next run


@st.cache_resource(show_spinner="Loading the dataset…", max_entries=8)
def _cached_dataset(name: str, n_samples: int, noise: float, test_size: float,
                    features: tuple[str, ...] = ("x1", "x2")) -> Dataset:
    """One copy per server process, shared read-only by every session."""
    return load_data(RunConfig(dataset=name, n_samples=n_samples, noise=noise, test_size=test_size,
                               features_2d=list(features)))


def dataset(cfg: RunConfig) -> Dataset:
    """The data ``cfg`` chooses: the visitor's own (``app.train.own_data``) or a built-in set."""
    if own_data.is_own(cfg.dataset):
        return own_data.dataset(cfg)
    if cfg.dataset in TOY_DATASETS:
        return _cached_dataset(cfg.dataset, cfg.n_samples, cfg.noise, cfg.test_size, tuple(cfg.features_2d))
    return _cached_dataset(cfg.dataset, 0, 0.0, cfg.test_size if cfg.dataset == "digits" else 0.0)


def loaded(cfg: RunConfig) -> Dataset | None:
    """The chosen dataset, loaded now; None if it is not (why is kept for the page's messages)."""
    try:
        return dataset(cfg)
    except own_data.NotReady:                       # the own-data panel says what is missing
        return None
    except (DatasetUnavailable, ValueError) as exc:
        st.session_state[PAGE_ERROR] = str(exc)
        return None


def loaded_ok(cfg: RunConfig) -> bool:
    """Load the chosen dataset now (errors such as MNIST being unavailable offline are kept
    for the page's messages); True if it loaded."""
    return loaded(cfg) is not None


def model_dataset(s: TrainSession, data: Dataset | None) -> Dataset | None:
    """The dataset the session's model trains on (``data``, the chosen one, when there is no model)."""
    if s.model is None:
        return data
    return own_data.model_dataset(s) if own_data.is_own(s.cfg.dataset) else dataset(s.cfg)


def session() -> TrainSession:
    """This browser session's ``TrainSession`` (made on first need)."""
    if SESSION not in st.session_state:
        st.session_state[SESSION] = TrainSession()
    return st.session_state[SESSION]


def model_bytes(model: Any) -> int:
    """What a session's model holds: its weights, optimizer state and copies."""
    return budget.PARAM_COPIES * sum(p.nbytes for p in model.params)


def keep_model(s: TrainSession) -> None:
    """Count the session's model (its weights, optimizer state and copies) against the client's
    share and the server's budget for as long as the session keeps it (BudgetRefused if full)."""
    jobs.keep(s, model_bytes(s.model) if s.model is not None else 0, "this model")


# --- settings <-> widgets -------------------------------------------------------------------------
def _widget_values(cfg: dict[str, Any]) -> dict[str, Any]:
    hidden = list(cfg["hidden"])
    values = {k: cfg[k] for k in RunConfig.__dataclass_fields__ if k != "hidden"}
    values["layers"] = min(len(hidden), MAX_LAYERS)
    for i in range(MAX_LAYERS):
        values[f"h{i}"] = hidden[i] if i < len(hidden) else hidden[-1]
    values["kind"] = "CNN" if cfg.get("arch") else "MLP"       # a CNN: its text and augmentation
    values["arch"] = cfg.get("arch") or DEFAULT_ARCH
    values["augment_on"] = bool(cfg.get("augment")) if cfg.get("arch") else True
    for name in FEATURES_2D:                                   # a 2-D set's input features: ticks
        values[f"f_{name}"] = name in cfg["features_2d"]
    return values


def widget(name: str) -> str:
    """The key of settings widget ``name``, its value (the widget's own, else the settings')
    assigned for this run (``app.keep.restore``)."""
    return restore(W + name, _widget_values(st.session_state[CFG])[name])


def value(name: str) -> Any:
    """The value widget ``name`` holds in this run."""
    return st.session_state[W + name]


def set_config(cfg: RunConfig) -> None:
    """Make ``cfg`` the page's settings (call before the widgets are drawn, e.g. in a callback):
    the widgets are forgotten and drawn afresh from it."""
    st.session_state[CFG] = cfg.to_dict()
    for key in _widget_values(cfg.to_dict()):
        st.session_state.pop(W + key, None)


def keep_config(cfg: RunConfig) -> None:
    """``cfg`` (valid) is the page's settings from now on."""
    st.session_state[CFG] = cfg.to_dict()


def first_visit() -> list[str]:
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
    # a table's label is a class or a quantity (asked in its panel); reg-* are regression anyway
    values["task"] = own_data.table_task() if values["dataset"] == "table" else "classification"
    if any(W + f"f_{name}" in ss for name in FEATURES_2D):    # drawn for a 2-D set only
        values["features_2d"] = [name for name in FEATURES_2D if ss.get(W + f"f_{name}")]
    _network_kind(values)
    return own_settings.with_chosen(RunConfig.from_dict(values).validate())   # a table's, if chosen


def _network_kind(values: dict[str, Any]) -> None:
    """``arch`` and ``augment`` from the MLP/CNN choice (an MLP for a dataset without images)."""
    ss = st.session_state
    cnn = values["dataset"] in IMAGE_SHAPES and ss.get(W + "kind", "CNN" if values.get("arch") else "MLP") == "CNN"
    if not cnn:
        values["arch"] = values["augment"] = None
        values["tta"] = 1                            # test-time augmentation reads images
        return
    values["arch"] = str(ss.get(W + "arch", values.get("arch") or DEFAULT_ARCH))
    if W + "augment_on" in ss:
        values["augment"] = dict(DEFAULT_AUGMENT) if ss[W + "augment_on"] else None
