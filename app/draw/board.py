"""The Draw page's board (Streamlit side): the stroke width, the board, the reading right under
it, Clear and the random MNIST digit, and the prediction beside it. The board's state and what
it sent are ``app.draw.logic``'s.

A random MNIST digit is put on the board as an image object of the drawing itself, so the board
returns it with whatever the user draws over it. A freshly mounted board sends nothing until
touched, so until then the page reads the image it mounted the board with.
"""
from __future__ import annotations

import numpy as np
import streamlit as st

from app.draw import logic
from app.draw.models import KEPT, mnist_test_set
from app.keep import kept
from nn import data as nn_data
from nn.views.draw import BOARD, Model, Prediction, predict_drawing, preview, probability_figure


def _clear() -> None:
    logic.clear(st.session_state)


def _random_digit() -> None:
    try:
        X, y = mnist_test_set()
    except nn_data.DatasetUnavailable as exc:
        st.session_state.draw_sample_error = str(exc)
        return
    logic.place_digit(st.session_state, X, y, np.random.default_rng())


def enter_page() -> None:
    """Call first on the page: on arrival, a board holding the last drawing."""
    logic.enter_page(st.session_state)


def board_column(model: Model) -> tuple[np.ndarray | None, Prediction | None]:
    """The stroke width, the board, the reading right under it (so that on a phone it is seen
    with the board), Clear and the random-digit button; returns the drawing and its reading (None:
    nothing drawn)."""
    from streamlit_drawable_canvas import st_canvas   # looked up each run, as a page script would:
    ss = st.session_state                             # the page tests stand a stub in for it
    stroke = st.slider("Stroke width", 8, 40, step=2,           # (also room for the board's toolbar)
                       **kept(logic.STROKE_KEY, 20, KEPT))
    mounted = ss.get("draw_mounted")
    result = st_canvas(stroke_width=stroke, stroke_color="#FFFFFF", background_color="#000000",
                       width=BOARD, height=BOARD, drawing_mode="freedraw", return_image_data=True,
                       initial_drawing=mounted["json"] if mounted else None,
                       key=f"draw_canvas_{ss.draw_board}")
    image, refused = logic.board_image(ss, result)
    if refused:
        st.warning(f"This drawing was not read: {refused}. The previous one is kept.")
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
    ss = st.session_state
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


def show_prediction(pred: Prediction | None) -> None:
    """What the network sees (28x28), the digit it reads and the ten probabilities."""
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
