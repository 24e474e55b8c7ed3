"""The Draw page's models (Streamlit side): the shipped ones (loaded once per process), an
uploaded one, and the choice of which reads the drawing.

State: ``draw_uploaded`` (the last uploaded model that loaded), ``draw_upload_error`` (why the
latest upload was refused) and ``draw_kept`` (the widgets' values, ``app.keep``).
"""
from __future__ import annotations

from typing import Any

import numpy as np
import streamlit as st

from app import uploads
from app.control_labels import page_text
from app.keep import keep, restore
from app.text import plain
from app.draw.logic import model_choices, session_mnist_model
from nn import data as nn_data
from nn.core import Sequential
from nn.core.mlp import MLP
from nn.hosting import limits
from nn.views.draw import CNN_MODEL_PATH, DEFAULT_MODEL_PATH, Model, describe_model, load_mnist_model

KEPT = "draw_kept"
CHOICE = "draw_model_choice"
NAME_CHARS = 1000          # file names and reasons are shown whole, escaped (``app.text.plain``)


@st.cache_resource(show_spinner=False)
def shipped_model() -> Sequential:
    """The default model shipped at models/mnist-cnn.npz (a CNN), loaded once per process (read-only)."""
    return load_mnist_model(CNN_MODEL_PATH)


@st.cache_resource(show_spinner=False)
def shipped_mlp() -> MLP:
    """The MLP shipped at models/mnist.npz (the inside view reads MLPs), loaded once per process."""
    return load_mnist_model(DEFAULT_MODEL_PATH)


@st.cache_resource(show_spinner="Loading MNIST...")
def mnist_test_set() -> tuple[np.ndarray, np.ndarray]:
    d = nn_data.load_dataset("mnist")
    return d.X_test, d.y_test


def _shipped(load: Any, path: Any) -> Any:
    try:
        return load()
    except (OSError, ValueError) as exc:
        st.warning(f"The shipped model {path.name} could not be loaded: {exc}")
        return None


def _on_upload() -> None:
    """Parse an uploaded model once; select it if it can read digits. A refused file changes
    nothing: the model reading the drawing stays (an earlier upload included)."""
    ss = st.session_state
    file = ss.get("draw_upload")
    ss.pop("draw_upload_error", None)
    if file is None:
        ss.pop("draw_uploaded", None)
        return
    blob = file.getvalue()
    uploads.release(file)                             # read once: Streamlit's copy is let go
    try:
        model = load_mnist_model(blob)                # checked before anything is built
    except ValueError as exc:                         # ModelFormatError is a ValueError
        ss.draw_upload_error = {"name": file.name, "error": page_text(str(exc))}   # controls, not flags
        return
    ss.draw_uploaded = {"name": file.name, "model": model}
    ss[CHOICE] = "Uploaded"
    keep(CHOICE, KEPT)


def _uploaded_model() -> Model | None:
    ss = st.session_state
    up, refused = ss.get("draw_uploaded"), ss.get("draw_upload_error")
    if refused:
        st.error(f"{plain(refused['name'], NAME_CHARS)} was not loaded: {plain(refused['error'], NAME_CHARS)}")
    if up and (refused or ss.get("draw_upload") is None):
        st.caption(f"Using {plain(up['name'], NAME_CHARS)}, uploaded earlier.")
    return up["model"] if up else None


def choose_model(below: Any) -> Model:
    """The radio of models (where it is called: above the board); the upload and the line about
    the model go into ``below`` (under the board, so that on a phone the board comes first)."""
    mb = limits().max_model_mb
    with below.expander("Use your own model"):
        st.file_uploader(f"A model file saved by this app (.npz, up to {mb} MB)", type=["npz"],
                         key="draw_upload", on_change=_on_upload, max_upload_size=mb,
                         help=f"Files over {mb} MB or over {limits().max_params:,} parameters are "
                              "refused (NN_MAX_MODEL_MB, NN_MAX_PARAMS). " + uploads.BUSY_HELP)
        uploaded = _uploaded_model()
    shipped = _shipped(shipped_model, CNN_MODEL_PATH)
    choices = model_choices(session_mnist_model(st.session_state), uploaded, shipped,
                            _shipped(shipped_mlp, DEFAULT_MODEL_PATH))
    if not choices:
        st.error("No model can read drawings: train one on MNIST on the Train page or upload one.")
        st.stop()
    name = next(iter(choices))
    if len(choices) > 1:
        restore(CHOICE, name, KEPT)
        if st.session_state[CHOICE] not in choices:
            st.session_state[CHOICE] = name
        name = st.radio("Model reading the drawing", list(choices), horizontal=True, key=CHOICE,
                        on_change=keep, args=(CHOICE, KEPT))
    below.caption(f"Model reading the drawing: **{name}**, {describe_model(choices[name])}")
    return choices[name]
