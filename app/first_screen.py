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

from typing import Any

import numpy as np
import streamlit as st

from nn.core import Sequential
from nn.data import Dataset
from nn.runs.config import RunConfig
from nn.runs.experiment import build_model, estimate_config_epoch_seconds
from nn.views import plots
from nn.views.inspect import pictures as ip
from nn.views.inspect.neurons import neuron_maps

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
    """The untrained network of ``cfg`` (kept per settings), or None when it is too costly."""
    key = (cfg.to_dict().__repr__(), id(data))
    kept = st.session_state.get(KEY)
    if kept is not None and kept[0] == key:
        return kept[1]
    model = None
    seconds = estimate_config_epoch_seconds(cfg, data) / max(3 * len(data.y_train), 1) * GRID_IMAGES
    if seconds < PREVIEW_SECONDS:
        try:
            model = build_model(cfg, data)
        except (ValueError, MemoryError):
            model = None
        if model is not None and model.n_params > PREVIEW_PARAMS:
            model = None
    st.session_state[KEY] = (key, model)
    return model


def forget() -> None:
    """Drop the kept preview (a model now exists)."""
    st.session_state.pop(KEY, None)


def show(slot: Any, cfg: RunConfig, data: Dataset) -> None:
    """The data, and the untrained network on it when cheap, in ``slot``."""
    model = _model(cfg, data)
    with slot.container():
        if data.image_shape is not None:
            _images(data, model)
        elif data.n_features == 2:
            _plane(data, model)
        else:
            st.caption(f"{data.name}: {len(data.y_train):,} training and {len(data.y_test):,} test rows, "
                       f"{data.n_features} features, {data.n_classes} classes.")


def _describe(model: Any) -> str:
    if model is None:
        return "the data (the network is built when you press Train)"
    if isinstance(model, Sequential):
        return f"the untrained CNN ({model.n_params:,} parameters)"
    return f"the untrained {'-'.join(map(str, model.layer_sizes))} network ({model.n_params:,} parameters)"


def _plane(data: Dataset, model: Any) -> None:
    left, right = st.columns(2)
    if model is None:
        proba = lambda X: np.full((len(X), data.n_classes), 1.0 / data.n_classes)   # noqa: E731
    else:
        proba = model.predict_proba
    fig = plots.decision_boundary_figure(proba, data.X_train, data.y_train, data.X_test, data.y_test)
    left.plotly_chart(fig, width="stretch", key="train.preview")
    left.caption(f"Before training: {_describe(model)} · the colour is P(class 1), still random")
    if model is not None and not isinstance(model, Sequential):
        right.image(ip.network_image(model, neuron_maps(model, data.X_train, 40), height=600,
                                     max_units=NETWORK_UNITS),
                    caption="The network: each square is a neuron's output over the same plane. Its "
                            "weights are the seed's first draw; Train shapes them.")


def _images(data: Dataset, model: Any) -> None:
    idx = np.linspace(0, len(data.X_test) - 1, GRID_IMAGES).round().astype(int)
    images = data.X_test[idx].reshape(-1, *data.image_shape)
    if model is None:
        pred, conf = data.y_test[idx], np.ones(len(idx))
        title = "Test images"
    else:
        proba = model.predict_proba(data.X_test[idx])
        pred = proba.argmax(axis=1)
        conf, title = proba[np.arange(len(idx)), pred], "Test images: the untrained network's guesses"
    st.plotly_chart(plots.image_grid_figure(images, data.y_test[idx], pred, conf, data.label, title=title),
                    width="stretch", key="train.preview")
    st.caption(f"Before training: {_describe(model)}. Train turns the guesses from red (wrong) to "
               f"green (right).")
