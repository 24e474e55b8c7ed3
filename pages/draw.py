"""Draw a digit: the network reads what the user draws on the board, each time a stroke ends.

State (``st.session_state``), kept when the user visits another page and comes back:
``draw_board`` (a counter in the canvas key: a new value mounts a fresh board), ``draw_mounted``
(what that board starts with: Fabric JSON and the image it shows, or None), ``draw_last`` (the
latest drawing the board sent, restored on return), ``draw_sample`` (the MNIST digit placed by the
button), ``draw_uploaded`` (the last uploaded model that loaded), ``draw_upload_error`` (why the
latest upload was refused) and ``draw_kept`` (settings).

What the board sends is checked before it is decoded (``nn.views.draw.read_board``): an image that is
not the board's size is refused with a message, and the previous drawing stays.

A random MNIST digit is put on the board as an image object of the drawing itself, so the board
returns it with whatever the user draws over it. A freshly mounted board sends nothing until
touched, so until then the page reads the image it mounted the board with.
"""
from __future__ import annotations

from typing import Any

import re

import numpy as np
import streamlit as st
from streamlit_drawable_canvas import st_canvas

from app.control_labels import page_text
from app.inside_view import drawing_inside
from app.navigation import require_navigation

from nn import data as nn_data
from nn.core import Sequential
from nn.views.draw import (BOARD, CNN_MODEL_PATH, DEFAULT_MODEL_PATH, DrawingRejected, Prediction,
                           describe_model, digit_drawing, load_mnist_model, model_choices,
                           predict_drawing, preview, probability_figure, random_test_digit,
                           read_board, session_mnist_model)
from nn.core.mlp import MLP
from nn.hosting import limits

ss = st.session_state
_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:])")


def _plain(text: str) -> str:
    """``text`` shown as typed: Markdown's special characters escaped (file names come from the
    visitor)."""
    return _MARKDOWN.sub(r"\\\1", text)


# --- state -----------------------------------------------------------------------------------
def _keep(key: str) -> None:
    """Copy a widget's value to a plain key: widget keys are dropped when the user leaves."""
    ss.setdefault("draw_kept", {})[key] = ss[key]


def _restore(key: str, default: Any) -> None:
    if key not in ss:
        ss[key] = ss.get("draw_kept", {}).get(key, default)


def _new_board(json: dict | None = None, image: np.ndarray | None = None) -> None:
    ss.draw_board = ss.get("draw_board", 0) + 1
    ss.draw_mounted = {"json": json, "image": image} if json is not None else None


def _clear() -> None:
    _new_board()
    ss.draw_last = ss.draw_sample = None


def _random_digit() -> None:
    try:
        X, y = mnist_test_set()
    except nn_data.DatasetUnavailable as exc:
        ss.draw_sample_error = str(exc)
        return
    digit, label, index = random_test_digit(X, y, np.random.default_rng())
    _new_board(digit_drawing(digit), digit)
    ss.draw_last = ss.draw_mounted
    ss.draw_sample = {"label": label, "index": index}


def _enter_page() -> None:
    """On arrival (the stroke slider's key is gone), mount a board holding the last drawing."""
    if "draw_stroke" not in ss:
        last = ss.get("draw_last") or {"json": None, "image": None}
        _new_board(last["json"], last["image"])


# --- models and data -------------------------------------------------------------------------
@st.cache_resource(show_spinner=False)
def shipped_model() -> Sequential:
    """The default model shipped at models/mnist-cnn.npz (a CNN), loaded once per process (read-only)."""
    return load_mnist_model(CNN_MODEL_PATH)


@st.cache_resource(show_spinner=False)
def shipped_mlp() -> MLP:
    """The MLP shipped at models/mnist.npz (the inside view reads MLPs), loaded once per process."""
    return load_mnist_model(DEFAULT_MODEL_PATH)


def _shipped(load: Any, path: Any) -> Any:
    try:
        return load()
    except (OSError, ValueError) as exc:
        st.warning(f"The shipped model {path.name} could not be loaded: {exc}")
        return None


@st.cache_resource(show_spinner="Loading MNIST...")
def mnist_test_set() -> tuple[np.ndarray, np.ndarray]:
    d = nn_data.load_dataset("mnist")
    return d.X_test, d.y_test


def _on_upload() -> None:
    """Parse an uploaded model once; select it if it can read digits. A refused file changes
    nothing: the model reading the drawing stays (an earlier upload included)."""
    file = ss.get("draw_upload")
    ss.pop("draw_upload_error", None)
    if file is None:
        ss.pop("draw_uploaded", None)
        return
    try:
        model = load_mnist_model(file.getvalue())      # checked before anything is built
    except ValueError as exc:                         # ModelFormatError is a ValueError
        ss.draw_upload_error = {"name": file.name, "error": page_text(str(exc))}   # controls, not flags
        return
    ss.draw_uploaded = {"name": file.name, "model": model}
    ss.draw_model_choice = "Uploaded"
    _keep("draw_model_choice")


def _uploaded_model() -> MLP | None:
    up, refused = ss.get("draw_uploaded"), ss.get("draw_upload_error")
    if refused:
        st.error(f"{_plain(refused['name'])} was not loaded: {_plain(refused['error'])}")
    if up and (refused or ss.get("draw_upload") is None):
        st.caption(f"Using {_plain(up['name'])}, uploaded earlier.")
    return up["model"] if up else None


def choose_model(below: Any) -> MLP:
    """The radio of models (where it is called: above the board); the upload and the line about
    the model go into ``below`` (under the board, so that on a phone the board comes first)."""
    mb = limits().max_model_mb
    with below.expander("Use your own model"):
        st.file_uploader(f"A model file saved by this app (.npz, up to {mb} MB)", type=["npz"],
                         key="draw_upload", on_change=_on_upload, max_upload_size=mb,
                         help=f"Files over {mb} MB or over {limits().max_params:,} parameters are "
                              "refused (NN_MAX_MODEL_MB, NN_MAX_PARAMS).")
        uploaded = _uploaded_model()
    shipped = _shipped(shipped_model, CNN_MODEL_PATH)
    choices = model_choices(session_mnist_model(ss), uploaded, shipped,
                            _shipped(shipped_mlp, DEFAULT_MODEL_PATH))
    if not choices:
        st.error("No model can read drawings: train one on MNIST on the Train page or upload one.")
        st.stop()
    name = next(iter(choices))
    if len(choices) > 1:
        _restore("draw_model_choice", name)
        if ss.draw_model_choice not in choices:
            ss.draw_model_choice = name
        name = st.radio("Model reading the drawing", list(choices), horizontal=True,
                        key="draw_model_choice", on_change=_keep, args=("draw_model_choice",))
    below.caption(f"Model reading the drawing: **{name}**, {describe_model(choices[name])}")
    return choices[name]


# --- layout ----------------------------------------------------------------------------------
def board_column(model: MLP | Sequential) -> tuple[np.ndarray | None, Prediction | None]:
    """The stroke width, the board, the reading right under it (so that on a phone it is seen
    with the board), Clear and the random-digit button; returns the drawing and its reading (None:
    nothing drawn)."""
    _restore("draw_stroke", 20)
    stroke = st.slider("Stroke width", 8, 40, step=2, key="draw_stroke",   # (also room for the
                       on_change=_keep, args=("draw_stroke",))             # board's own toolbar)
    mounted = ss.get("draw_mounted")
    result = st_canvas(stroke_width=stroke, stroke_color="#FFFFFF", background_color="#000000",
                       width=BOARD, height=BOARD, drawing_mode="freedraw", return_image_data=True,
                       initial_drawing=mounted["json"] if mounted else None,
                       key=f"draw_canvas_{ss.draw_board}")
    image = board_image(result, mounted)
    pred = predict_drawing(model, image) if image is not None else None
    reading_line(pred)
    _buttons()
    return image, pred


def reading_line(pred: Prediction | None) -> None:
    """One line under the board: the digit read, or why there is none to trust."""
    if pred is None:
        st.info("Draw a digit on the board.")
    elif pred.doubt:
        st.warning(pred.doubt)
    else:
        st.markdown(f"### Reads **{pred.digit}** ({pred.confidence:.1%})")


def _buttons() -> None:
    left, right = st.columns([1, 2])
    left.button("Clear", on_click=_clear, key="draw_clear", width="stretch")
    available = nn_data.mnist_available()
    right.button("Random MNIST digit", on_click=_random_digit, key="draw_random", width="stretch",
                 disabled=not available,
                 help=None if available else "MNIST is not on this machine (set MNIST_PATH).")
    if ss.pop("draw_sample_error", None) or not available:
        st.caption("MNIST is not available here, so there are no test digits to show.")
    if sample := ss.get("draw_sample"):
        st.caption(f"MNIST test digit #{sample['index']}, labelled **{sample['label']}**. "
                   "Draw over it or press Clear.")


def board_image(result: Any, mounted: dict | None) -> np.ndarray | None:
    """What is on the board: the image it sent, or, until it sends, what it was mounted with.
    An image that is not a drawing of the board's size is refused before it is decoded, and the
    previous drawing stays."""
    try:
        image = read_board(result)                    # checks, then decodes the PNG: read it once
    except DrawingRejected as exc:
        st.warning(f"This drawing was not read: {exc}. The previous one is kept.")
        kept = ss.get("draw_last") or mounted
        return kept["image"] if kept else None
    if image is None:
        return mounted["image"] if mounted else None
    ss.draw_last = {"json": result.json_data, "image": image}
    if not (result.json_data or {}).get("objects"):
        ss.draw_sample = None                         # emptied with the board's own reset button
    return image


def show_prediction(pred: Prediction | None) -> None:
    seen, chart = st.columns([1, 2])
    with seen:
        st.markdown("**What the network sees** (28x28)")
        blank = np.zeros((28, 28), dtype=np.float32)
        st.image(preview(pred.image if pred else blank), width=168)
        if pred is None:
            return
        if pred.doubt:                                 # a guess, not a reading
            st.metric("Best guess", str(pred.digit), help=pred.doubt)
            st.markdown(f"{pred.confidence:.1%}: a guess, not a reading (see the note under the board)")
            return
        st.metric("Prediction", str(pred.digit))
        st.markdown(f"with **{pred.confidence:.1%}** confidence")
    with chart:
        st.plotly_chart(probability_figure(pred.proba), width="stretch", key="draw_proba",
                        config={"displayModeBar": False})


_enter_page()
require_navigation()
st.title("✏️ Draw a digit")
st.caption("Draw one digit, large enough to fill most of the board. The network reads it each "
           "time you lift the button.", help="The drawing is cropped to the ink, fitted into 20x20 "
           "pixels and centred by its centre of mass in 28x28, the way MNIST was made (a small "
           "digit drawn with a thick pen reads as a bold one).")
top = st.container()        # one block whatever it holds: the board below is never remounted
board, result = st.columns([1.2, 2.2])
bottom = st.container()
with top:
    model = choose_model(below=bottom)
with board:
    drawing, reading = board_column(model)
with result:
    show_prediction(reading)
    drawing_inside(model, drawing)         # each layer's activations, the units that pushed most
    if isinstance(model, Sequential):
        st.caption("Looking inside covers fully connected networks (MLPs): choose **Shipped MLP** "
                   "(or an MLP of yours) above to see each layer's activations for the drawing.")
