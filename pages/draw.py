"""Draw a digit: the network reads what the user draws on the board, each time a stroke ends."""
from __future__ import annotations

import numpy as np
import streamlit as st
from streamlit_drawable_canvas import st_canvas

from nn import data as nn_data
from nn.draw import (BOARD, DEFAULT_MODEL_PATH, describe_model, digit_drawing, load_mnist_model,
                     model_choices, predict_drawing, preview, probability_figure,
                     random_test_digit, session_mnist_model)

# Widget values are dropped when the user leaves a page; re-assigning keeps them.
for _key in ("draw_stroke", "draw_model_choice"):
    if _key in st.session_state:
        st.session_state[_key] = st.session_state[_key]
st.session_state.setdefault("draw_board", 0)      # bumped to give the user a fresh board
st.session_state.setdefault("draw_stroke", 20)


@st.cache_resource(show_spinner=False)
def shipped_model():
    """The default model shipped at models/mnist.npz, loaded once per process (read-only)."""
    return load_mnist_model(DEFAULT_MODEL_PATH)


@st.cache_resource(show_spinner="Loading MNIST...")
def mnist_test_set() -> tuple[np.ndarray, np.ndarray]:
    d = nn_data.load_dataset("mnist")
    return d.X_test, d.y_test


def _clear() -> None:
    st.session_state.draw_board += 1
    st.session_state.draw_sample = None


def _random_digit() -> None:
    try:
        X, y = mnist_test_set()
    except nn_data.DatasetUnavailable as exc:
        st.session_state.draw_sample_error = str(exc)
        return
    digit, label, index = random_test_digit(X, y, np.random.default_rng())
    st.session_state.draw_board += 1
    st.session_state.draw_sample = {"digit": digit, "label": label, "index": index}


def _prefer_upload() -> None:
    if st.session_state.get("draw_upload") is not None:
        st.session_state.draw_model_choice = "Uploaded"


def _uploaded_model():
    """The model in the uploader, parsed once per file; errors are shown, not raised."""
    file = st.session_state.get("draw_upload")
    if file is None:
        return None
    cached = st.session_state.get("draw_uploaded")
    if cached is None or cached[0] != file.file_id:
        try:
            cached = (file.file_id, load_mnist_model(file.getvalue()), None)
        except ValueError as exc:                     # ModelFormatError is a ValueError
            cached = (file.file_id, None, str(exc))
        st.session_state.draw_uploaded = cached
    if cached[2]:
        st.error(f"{file.name}: {cached[2]}")
    return cached[1]


def choose_model():
    with st.expander("Use your own model"):
        st.file_uploader("A model file saved by this app (.npz)", type=["npz"], key="draw_upload",
                         on_change=_prefer_upload)
        uploaded = _uploaded_model()
    try:
        shipped = shipped_model()
    except (OSError, ValueError) as exc:
        st.warning(f"The shipped model {DEFAULT_MODEL_PATH.name} could not be loaded: {exc}")
        shipped = None
    choices = model_choices(session_mnist_model(st.session_state), uploaded, shipped)
    if not choices:
        st.error("No model can read drawings: train one on MNIST on the Train page or upload one.")
        st.stop()
    if len(choices) == 1:
        name = next(iter(choices))
    else:
        if st.session_state.get("draw_model_choice") not in choices:
            st.session_state.pop("draw_model_choice", None)
        name = st.radio("Model reading the drawing", list(choices), horizontal=True,
                        key="draw_model_choice")
    st.caption(f"Model reading the drawing: **{name}**, {describe_model(choices[name])}")
    return choices[name]


def board_column():
    """The board, its stroke width, Clear and the random-digit button; returns the image."""
    stroke = st.slider("Stroke width", 8, 40, step=2, key="draw_stroke")
    sample = st.session_state.get("draw_sample")
    result = st_canvas(stroke_width=stroke, stroke_color="#FFFFFF", background_color="#000000",
                       width=BOARD, height=BOARD, drawing_mode="freedraw", return_image_data=True,
                       initial_drawing=digit_drawing(sample["digit"]) if sample else None,
                       key=f"draw_canvas_{st.session_state.draw_board}")
    left, right = st.columns([1, 2])
    left.button("Clear", on_click=_clear, key="draw_clear", width="stretch")
    available = nn_data.mnist_available()
    right.button("Random MNIST digit", on_click=_random_digit, key="draw_random", width="stretch",
                 disabled=not available,
                 help=None if available else "MNIST is not on this machine (set MNIST_PATH).")
    if st.session_state.pop("draw_sample_error", None) or not available:
        st.caption("MNIST is not available here, so there are no test digits to show.")
    image = result.image_data
    if image is None and sample:
        # A freshly placed digit is on the board but the board sends nothing until touched:
        # read the same 28x28 digit directly.
        image = sample["digit"]
    if sample:
        st.caption(f"MNIST test digit #{sample['index']}, labelled **{sample['label']}**. "
                   "Draw over it or press Clear.")
    return image


def show_prediction(model, image) -> None:
    pred = predict_drawing(model, image) if image is not None else None
    seen, chart = st.columns([1, 2])
    with seen:
        st.markdown("**What the network sees** (28x28)")
        blank = np.zeros((28, 28), dtype=np.float32)
        st.image(preview(pred.image if pred else blank), width=168)
        if pred is None:
            st.info("Draw a digit on the board.")
            return
        st.metric("Prediction", str(pred.digit))
        st.markdown(f"with **{pred.confidence:.1%}** confidence")
    with chart:
        st.plotly_chart(probability_figure(pred.proba), width="stretch", key="draw_proba",
                        config={"displayModeBar": False})


st.title("✏️ Draw a digit")
st.caption("Draw one digit with the mouse, large enough to fill most of the board (a small digit "
           "drawn with a thick pen reads as a bold one). The network reads it each time you lift "
           "the button: cropped to the ink, fitted into 20x20 pixels and centred by its centre of "
           "mass in 28x28, the way MNIST was made.")
model = choose_model()
board, result = st.columns([1.2, 2.2])
with board:
    drawing = board_column()
with result:
    show_prediction(model, drawing)
