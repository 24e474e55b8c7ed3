"""A drawn digit as a network reads it, without Streamlit: the models that can read one, the
prediction and when not to trust it, the probability chart, an MNIST test digit laid on a
drawing board, and the check of what the board sends before it is decoded. (The Draw page's
own logic, which model it offers, is ``app.draw.logic``.)"""
from __future__ import annotations

import base64
import binascii
import io
import json
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import plotly.graph_objects as go
from PIL import Image

from nn.core import Sequential
from nn.core.mlp import MLP
from nn.data.preprocess import SIZE, ink_bbox, ink_map, to_mnist
from nn.files.io import load

DEFAULT_MODEL_PATH = Path(__file__).resolve().parents[2] / "models" / "mnist.npz"   # the 784-256-10 MLP
# The shipped CNN (``python -m nn train --preset mnist-cnn --save models/mnist-cnn.npz``): the Draw
# page's default, it reads drawings moved and resized on the board better than the MLP.
CNN_MODEL_PATH = DEFAULT_MODEL_PATH.with_name("mnist-cnn.npz")
Model = MLP | Sequential
MNIST_PREPROCESSING = "mnist-28x28/255"
BOARD = 280                          # the drawing board's side in screen pixels
# What the board sends: a PNG of BOARD x BOARD RGBA pixels (the canvas exports at multiplier 1,
# whatever the screen's pixel ratio). Even pure noise compresses to no more than about 315 KB.
MAX_DRAWING_PNG_BYTES = 512 * 1024
MAX_DRAWING_JSON_CHARS = 2_000_000   # the Fabric.js description of the strokes, kept per session
PNG_URL_PREFIX = "data:image/png;base64,"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
COMPRESSED_CHUNKS = (b"zTXt", b"iTXt", b"iCCP")   # ancillary chunks that inflate: never drawn


# When a reading is not to be trusted (the page then says why instead of naming a digit):
MIN_INK_SPAN = 0.15      # the ink's longer side below this share of the board: a dot, not a digit
MAX_INK_SHARE = 0.45     # of the 28x28 input above 0.5: more is a blot (MNIST's largest: 0.40)
UNSURE_BELOW = 0.6       # the top probability below this: the model is unsure


class DrawingRejected(ValueError):
    """What the board sent is not a drawing of the board's size: it was not decoded."""


@dataclass(frozen=True)
class Prediction:
    image: np.ndarray        # (28, 28) float32 in [0, 1]: what the network receives
    proba: np.ndarray        # (10,) class probabilities
    digit: int
    confidence: float
    doubt: str | None = None  # why this reading should not be trusted, in a sentence; None if it can

    @property
    def runner_up(self) -> int:
        return int(np.argsort(self.proba)[-2])


def mnist_model_problem(model: Any) -> str | None:
    """Why ``model`` cannot read a 28x28 drawing, or None if it can."""
    if not isinstance(model, (MLP, Sequential)):
        return f"not a network from this library ({type(model).__name__})"
    if model.layer_sizes[0] != SIZE * SIZE or model.layer_sizes[-1] != 10:
        return f"it has layers {model.layer_sizes}; a digit reader needs 784 inputs and 10 outputs"
    dataset = model.meta.get("dataset")
    if dataset not in (None, "mnist"):
        return f"it was trained on {dataset!r}, not on MNIST digits"
    if model.meta.get("preprocessing", MNIST_PREPROCESSING) != MNIST_PREPROCESSING:
        return f"it expects {model.meta['preprocessing']!r} inputs, not {MNIST_PREPROCESSING!r}"
    return None


def load_mnist_model(source: str | Path | bytes) -> Model:
    """Load a model file and check it reads digits; ``ValueError`` (incl. ``ModelFormatError``)
    with the reason otherwise."""
    model = load(source)
    problem = mnist_model_problem(model)
    if problem:
        raise ValueError(f"this model cannot read drawings: {problem}")
    return model


def describe_model(model: Model) -> str:
    """One line about a model: its layers and, when recorded, its last test accuracy."""
    if isinstance(model, Sequential):
        text = f"{model.activation} CNN ({model.meta.get('arch') or 'convolutional'}; {model.n_params:,} parameters)"
    else:
        text = f"{model.activation} MLP {model.layer_sizes}"
    history = model.meta.get("history") or []
    last = history[-1] if isinstance(history, list) and history else {}
    if isinstance(last, dict) and isinstance(last.get("val_accuracy"), (int, float)):
        text += f", {last['val_accuracy']:.1%} on the MNIST test set"
    return text


def predict_drawing(model: Model, image: np.ndarray) -> Prediction | None:
    """Preprocess a drawing like MNIST and classify it; None when nothing is drawn."""
    x = to_mnist(image)
    if x is None:
        return None
    proba = model.predict_proba(x.reshape(1, -1))[0]
    digit = int(proba.argmax())
    return Prediction(x, proba, digit, float(proba[digit]), reading_doubt(image, x, proba))


def reading_doubt(image: np.ndarray, x: np.ndarray, proba: np.ndarray) -> str | None:
    """Why a reading of ``image`` (its MNIST-style input ``x``, the model's ``proba``) should not
    be trusted: too little ink (a dot or a speck, which preprocessing would blow up to a digit's
    size), a blot unlike any handwritten digit, or a model that is unsure; None if none holds."""
    ink = ink_map(image)
    top, bottom, left, right = ink_bbox(ink) or (0, 0, 0, 0)
    if max(bottom - top, right - left) < MIN_INK_SPAN * max(ink.shape):
        return "Too little ink to read: draw the digit larger, filling most of the board."
    if float((x > 0.5).mean()) > MAX_INK_SHARE:
        return "This does not look like a handwritten digit: too much of it is ink."
    first, second = np.argsort(proba)[::-1][:2]
    if proba[first] < UNSURE_BELOW:
        return (f"Not sure: {first} ({proba[first]:.0%}) or {second} ({proba[second]:.0%}). "
                "Try drawing it more clearly.")
    return None


def preview(image: np.ndarray, scale: int = 6) -> np.ndarray:
    """The 28x28 input as a uint8 picture, each pixel a scale x scale block (no smoothing)."""
    pixels = np.round(np.clip(image, 0, 1) * 255).astype(np.uint8)
    return np.kron(pixels, np.ones((scale, scale), dtype=np.uint8))


def probability_figure(proba: np.ndarray, height: int = 300) -> go.Figure:
    """Bar chart of the ten class probabilities, the predicted digit highlighted."""
    proba = np.asarray(proba, dtype=float)
    best = int(proba.argmax())
    colours = ["#ff4b4b" if k == best else "#8da0cb" for k in range(len(proba))]
    fig = go.Figure(go.Bar(x=[str(k) for k in range(len(proba))], y=proba, marker_color=colours,
                           text=[f"{p:.0%}" for p in proba], textposition="outside",
                           hovertemplate="digit %{x}: %{y:.2%}<extra></extra>"))
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=30, b=10),
                      title=dict(text="Probability of each digit", font=dict(size=14)),
                      xaxis=dict(title=None, type="category"),
                      yaxis=dict(range=[0, 1.15], tickformat=".0%", title=None), showlegend=False)
    return fig


def digit_drawing(digit: np.ndarray, board: int = BOARD) -> dict[str, Any]:
    """A canvas ``initial_drawing`` (Fabric.js JSON) holding a 28x28 uint8 digit as one image
    stretched over the whole board: it is part of the drawing, so the canvas returns it and the
    user can draw over it."""
    buf = io.BytesIO()
    Image.fromarray(np.asarray(digit, dtype=np.uint8)).save(buf, format="PNG")
    src = "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")
    side = digit.shape[0]
    return {"version": "6.0.0", "objects": [{
        "type": "Image", "src": src, "left": 0, "top": 0, "width": side, "height": side,
        "originX": "left", "originY": "top", "scaleX": board / side, "scaleY": board / side,
        "selectable": False, "evented": False}]}


def random_test_digit(X_test: np.ndarray, y_test: np.ndarray,
                      rng: np.random.Generator) -> tuple[np.ndarray, int, int]:
    """(28x28 uint8 digit, its label, its index) drawn at random from MNIST's test set
    (rows of 784 floats in [0, 1], as ``nn.data`` holds them)."""
    i = int(rng.integers(len(X_test)))
    digit = np.round(X_test[i].reshape(SIZE, SIZE) * 255).astype(np.uint8)
    return digit, int(y_test[i]), i


# --- what the board sends --------------------------------------------------------------------------
def canvas_png_url(result: Any) -> str | None:
    """The PNG data URL in a ``st_canvas`` result, not decoded. (streamlit-drawable-canvas 0.13
    keeps it in ``CanvasResult._image_data_url``; its ``image_data`` property decodes it with no
    check of its size, so a forged 13000x13000 PNG would be inflated to 676 MB.)"""
    return result._image_data_url


def read_board(result: Any, board: int = BOARD) -> np.ndarray | None:
    """The drawing in a ``st_canvas`` result as an RGBA (board, board, 4) uint8 array, or None when
    the board has sent nothing; ``DrawingRejected`` for anything else, before decoding it."""
    url = canvas_png_url(result)
    if url is None:
        return None
    problem = drawing_json_problem(result.json_data)
    if problem:
        raise DrawingRejected(problem)
    return decode_drawing(url, board)


def drawing_json_problem(json_data: Any) -> str | None:
    """Why the board's description of the strokes is not kept, or None."""
    if json_data is None:
        return None
    try:
        size = len(json.dumps(json_data, separators=(",", ":")))
    except (TypeError, ValueError, RecursionError):
        return "its description is not plain JSON"
    if size > MAX_DRAWING_JSON_CHARS:
        return (f"its description is {size / 1e6:.1f} MB; a drawing on this board is at most "
                f"{MAX_DRAWING_JSON_CHARS / 1e6:.0f} MB")
    return None


def png_dimensions(head: bytes) -> tuple[int, int]:
    """(width, height) from the first 24 bytes of a PNG (its signature and IHDR chunk)."""
    if len(head) < 24 or not head.startswith(PNG_SIGNATURE) or head[12:16] != b"IHDR":
        raise DrawingRejected("it is not a PNG image")
    width, height = struct.unpack(">II", head[16:24])
    return width, height


def decode_drawing(data_url: str, board: int = BOARD) -> np.ndarray:
    """A board PNG data URL as an RGBA (board, board, 4) uint8 array. Refused before decoding
    (``DrawingRejected``): anything but a PNG data URL, over ``MAX_DRAWING_PNG_BYTES``, whose
    header declares another size than board x board, or holding compressed text or profiles."""
    if not isinstance(data_url, str) or not data_url.startswith(PNG_URL_PREFIX):
        raise DrawingRejected("it is not a PNG image")
    encoded = data_url[len(PNG_URL_PREFIX):]
    if len(encoded) * 3 // 4 > MAX_DRAWING_PNG_BYTES:
        raise DrawingRejected(f"it is {len(encoded) * 3 // 4 // 1024} KB; a drawing on this board "
                              f"is at most {MAX_DRAWING_PNG_BYTES // 1024} KB")
    width, height = png_dimensions(_b64(encoded[:32]))
    if (width, height) != (board, board):
        raise DrawingRejected(f"it is {width}x{height} pixels; the board is {board}x{board}")
    png = _b64(encoded)
    _check_chunks(png)
    try:
        with Image.open(io.BytesIO(png), formats=["PNG"]) as picture:
            if picture.size != (board, board):
                raise DrawingRejected(f"it is {picture.size[0]}x{picture.size[1]} pixels; the board "
                                      f"is {board}x{board}")
            return np.asarray(picture.convert("RGBA"))
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        if isinstance(exc, DrawingRejected):
            raise
        raise DrawingRejected("it is not a readable PNG image") from None


def _b64(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise DrawingRejected("it is not a PNG image (bad base64)") from None


def _check_chunks(png: bytes) -> None:
    """Walk the PNG's chunks (lengths and types only): refuse the ancillary ones that inflate."""
    pos = len(PNG_SIGNATURE)
    while pos + 8 <= len(png):
        length, kind = struct.unpack(">I4s", png[pos:pos + 8])
        if kind in COMPRESSED_CHUNKS:
            raise DrawingRejected(f"it holds a compressed {kind.decode('latin-1')} chunk, which the "
                                  "board never sends")
        if kind == b"IEND":
            return
        pos += 12 + length
