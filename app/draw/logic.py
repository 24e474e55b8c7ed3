"""The Draw page's logic without Streamlit, on the session's state (any mapping: tests pass a
dict): which models are on offer, and the drawing board's life (a fresh board, Clear, a random
MNIST digit laid on it, the last drawing kept across page switches).

State: ``draw_board`` (a counter in the canvas key: a new value mounts a fresh board),
``draw_mounted`` (what that board starts with: Fabric JSON and the image it shows, or None),
``draw_last`` (the latest drawing the board sent, restored on return), ``draw_sample`` (the MNIST
digit placed by the button). How a drawing is read is ``nn.views.draw``.
"""
from __future__ import annotations

from typing import Any, MutableMapping

import numpy as np

from nn.views.draw import (DrawingRejected, Model, digit_drawing, mnist_model_problem, random_test_digit,
                           read_board)

TRAIN_SESSION_KEY = "train_session"  # the Train page's TrainSession; its .model is the network
SESSION_MODEL_KEY = "model"          # fallback: a bare model in session state
STROKE_KEY = "draw_stroke"           # the stroke slider: its key is gone when the visitor left
State = MutableMapping[str, Any]


def session_mnist_model(state: Any) -> Model | None:
    """The MNIST model trained in this session, if there is one: the Train page's
    ``state["train_session"].model``, else ``state["model"]``; untrained models are skipped."""
    if not hasattr(state, "get"):
        return None
    trained = getattr(state.get(TRAIN_SESSION_KEY), "model", None)
    for model in (trained, state.get(SESSION_MODEL_KEY)):
        if (model is not None and mnist_model_problem(model) is None
                and model.meta.get("dataset") == "mnist" and model.meta.get("history")):
            return model
    return None


def model_choices(session: Model | None, uploaded: Model | None, shipped: Model | None,
                  shipped_mlp: Model | None = None) -> dict[str, Model]:
    """The models on offer, in the order of preference: session, upload, the shipped default
    (the CNN), the shipped MLP (whose inside the page can show)."""
    named = {"Trained in this session": session, "Uploaded": uploaded, "Shipped default": shipped,
             "Shipped MLP": shipped_mlp}
    return {name: m for name, m in named.items() if m is not None}


# --- the board ---------------------------------------------------------------------------------
def new_board(state: State, json: dict | None = None, image: np.ndarray | None = None) -> None:
    """Mount a fresh board, holding ``json`` (showing ``image``) if given."""
    state["draw_board"] = state.get("draw_board", 0) + 1
    state["draw_mounted"] = {"json": json, "image": image} if json is not None else None


def clear(state: State) -> None:
    """An empty board; the last drawing and the placed digit are forgotten."""
    new_board(state)
    state["draw_last"] = state["draw_sample"] = None


def place_digit(state: State, X_test: np.ndarray, y_test: np.ndarray, rng: np.random.Generator) -> None:
    """A board holding a random MNIST test digit, as part of the drawing (drawn over, it stays)."""
    digit, label, index = random_test_digit(X_test, y_test, rng)
    new_board(state, digit_drawing(digit), digit)
    state["draw_last"] = state["draw_mounted"]
    state["draw_sample"] = {"label": label, "index": index}


def enter_page(state: State) -> None:
    """On arrival (the stroke slider's key is gone), mount a board holding the last drawing."""
    if STROKE_KEY not in state:
        last = state.get("draw_last") or {"json": None, "image": None}
        new_board(state, last["json"], last["image"])


def board_image(state: State, result: Any) -> tuple[np.ndarray | None, str | None]:
    """What is on the board, and why what it sent was refused (None if it was not): the image
    it sent, or, until it sends, what it was mounted with. An image that is not a drawing of the
    board's size is refused before it is decoded, and the previous drawing stays."""
    mounted = state.get("draw_mounted")
    try:
        image = read_board(result)                    # checks, then decodes the PNG: read it once
    except DrawingRejected as exc:
        kept = state.get("draw_last") or mounted
        return (kept["image"] if kept else None), str(exc)
    if image is None:
        return (mounted["image"] if mounted else None), None
    state["draw_last"] = {"json": result.json_data, "image": image}
    if not (result.json_data or {}).get("objects"):
        state["draw_sample"] = None                   # emptied with the board's own reset button
    return image, None
