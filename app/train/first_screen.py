"""The Train page before its first run: the data and the untrained network, as Playground shows.

Until a model exists the page shows what Train will start from: the network the settings build
(its first draw of weights, from the seed) on the chosen data — the two moons under its still
random decision boundary with every neuron's picture, or test images with its (mostly wrong)
first guesses — redrawn as the settings change. The pictures are interactive charts: they also
load the chart library while the visitor reads, so the final charts after Train appear at once
(measured in Chromium: 0.0-0.6 s from "Done" to drawn, against 2.2-4.1 s when the first chart
came only then). The network is built only when it is cheap
(``PREVIEW_PARAMS``, ``PREVIEW_SECONDS``), once per settings (kept in the session); otherwise the
data alone is shown. When Train is off, ``why_not_ready`` says what is missing instead of "Ready".
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import streamlit as st

from nn.core import Sequential
from nn.data import Dataset
from nn.data.features import plane_predict, plane_proba
from nn.core.config import RunConfig
from nn.core.settings import BUILT_IN_DATASETS
from nn.runs.experiment import build_model, estimate_config_epoch_seconds
from nn.views import plots
from nn.views.inspect import pictures as ip
from nn.views.inspect.neurons import neuron_maps
from nn.views.regression_figures import surface_figure

KEY = "train_preview"
PREVIEW_PARAMS = 1_000_000      # larger networks are not built just to be looked at
PREVIEW_SECONDS = 0.3           # nor those whose first guesses would take longer than this
GRID_IMAGES = 24
NETWORK_UNITS = 12


def why_not_ready(cfg: RunConfig | None, data: Dataset | None, own: bool) -> str | None:
    """Why Train is off, in a few words (None when it is on)."""
    if cfg is None:
        return "Train is off until the settings fit together: see the message above."
    if data is None and own:
        return "Train is off until your own data is ready: see the panel above."
    if data is None:
        return "Train is off: this dataset could not be loaded (see the message above)."
    return None


def _model(cfg: RunConfig, data: Dataset) -> Any | None:
    """The untrained network of ``cfg``, or None when it is too costly to build for a look."""
    seconds = estimate_config_epoch_seconds(cfg, data) / max(3 * len(data.y_train), 1) * GRID_IMAGES
    if seconds >= PREVIEW_SECONDS:
        return None
    try:
        model = build_model(cfg, data)
    except (ValueError, MemoryError):
        return None
    return model if model.n_params <= PREVIEW_PARAMS else None


@dataclass(frozen=True)
class Pictures:
    """What the first screen shows: a chart, maybe the network's picture, and their captions."""
    figure: Any
    caption: str
    network: np.ndarray | None = None
    network_caption: str = ""


def _pictures(cfg: RunConfig, data: Dataset) -> Pictures | None:
    model = _model(cfg, data)
    if data.image_shape is not None:
        return _images(data, model)
    if data.two_d:
        return _plane(data, model)
    return None


@st.cache_resource(max_entries=32, show_spinner=False)
def _shared_pictures(key: str, _cfg: RunConfig, _data: Dataset) -> Pictures | None:
    """A built-in dataset's first screen, made once per settings for every session (many
    visitors opening the same link cost one build, not one each)."""
    return _pictures(_cfg, _data)


def pictures(cfg: RunConfig, data: Dataset) -> Pictures | None:
    """The first screen for these settings: kept in the session while they stay; shared between
    sessions only for built-in datasets (a visitor's own data is never shown to another)."""
    key = repr(sorted(cfg.to_dict().items()))
    kept = st.session_state.get(KEY)
    if kept is not None and kept[0] == (key, id(data)):
        return kept[1]
    shared = cfg.dataset in BUILT_IN_DATASETS                 # never a visitor's own table or points
    made = _shared_pictures(key, cfg, data) if shared else _pictures(cfg, data)
    st.session_state[KEY] = ((key, id(data)), made)
    return made


def forget() -> None:
    """Drop the kept preview (a model now exists)."""
    st.session_state.pop(KEY, None)


def show(slot: Any, cfg: RunConfig, data: Dataset) -> None:
    """The data, and the untrained network on it when cheap, in ``slot``."""
    made = pictures(cfg, data)
    with slot.container():
        if made is None:
            st.caption(f"{data.name}: {len(data.y_train):,} training and {len(data.y_test):,} test rows, "
                       f"{data.n_features} features, " + ("a quantity to predict." if data.task == "regression"
                                                          else f"{data.n_classes} classes."))
            return
        left, right = st.columns(2) if made.network is not None else (st.container(), None)
        left.plotly_chart(made.figure, width="stretch", key="train.preview")
        left.caption(made.caption)
        if right is not None:
            right.image(made.network, caption=made.network_caption)


def _describe(model: Any) -> str:
    if model is None:
        return "the data (the network is built when you press Train)"
    if isinstance(model, Sequential):
        return f"the untrained CNN ({model.n_params:,} parameters)"
    return f"the untrained {'-'.join(map(str, model.layer_sizes))} network ({model.n_params:,} parameters)"


def _plane(data: Dataset, model: Any) -> Pictures:
    if data.task == "regression":                   # the predicted value over the plane
        predict = plane_predict(model) if model is not None else (lambda X: np.zeros(len(X)))
        fig = surface_figure(predict, data.plane_train, data.y_train, data.plane_test, data.y_test)
        caption = f"Before training: {_describe(model)} · the colour is the predicted value, still random"
    else:
        if model is None:
            proba = lambda X: np.full((len(X), data.n_classes), 1.0 / data.n_classes)   # noqa: E731
        else:
            proba = plane_proba(model)
        fig = plots.decision_boundary_figure(proba, data.plane_train, data.y_train, data.plane_test,
                                             data.y_test)
        caption = f"Before training: {_describe(model)} · the colour is P(class 1), still random"
    if model is None or isinstance(model, Sequential):
        return Pictures(fig, caption)
    network = ip.network_image(model, neuron_maps(model, data.plane_train, 40), height=600,
                               max_units=NETWORK_UNITS)
    return Pictures(fig, caption, network, "The network: each square is a neuron's output over the "
                                           "same plane. Its weights are the seed's first draw; Train "
                                           "shapes them.")


def _images(data: Dataset, model: Any) -> Pictures:
    idx = np.linspace(0, len(data.X_test) - 1, GRID_IMAGES).round().astype(int)
    images = data.X_test[idx].reshape(-1, *data.image_shape)
    if model is None:
        pred, conf = data.y_test[idx], np.ones(len(idx))
        title = "Test images"
    else:
        proba = model.predict_proba(data.X_test[idx])
        pred = proba.argmax(axis=1)
        conf, title = proba[np.arange(len(idx)), pred], "Test images: the untrained network's guesses"
    fig = plots.image_grid_figure(images, data.y_test[idx], pred, conf, data.label, title=title)
    return Pictures(fig, f"Before training: {_describe(model)}. Train turns the guesses from red "
                         f"(wrong) to green (right).")
