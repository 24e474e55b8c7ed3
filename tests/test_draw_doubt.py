"""The Draw page says when a reading is not to be trusted (issue 19): a dot or a speck, a blot, or
a model that is unsure, instead of naming a digit with confidence; real digits still read."""
import numpy as np
import pytest
from PIL import Image

from nn.views.draw import (BOARD, CNN_MODEL_PATH, DEFAULT_MODEL_PATH, load_mnist_model,
                           predict_drawing, reading_doubt)

MODELS = [CNN_MODEL_PATH, DEFAULT_MODEL_PATH]


def board(ink: np.ndarray | None = None) -> np.ndarray:
    """An opaque black 280x280 RGBA board with white ``ink`` (a boolean or 0..255 map)."""
    rgba = np.zeros((BOARD, BOARD, 4), np.uint8)
    rgba[..., 3] = 255
    if ink is not None:
        rgba[..., :3] = np.asarray(ink, np.uint8)[..., None] * (255 if ink.dtype == bool else 1)
    return rgba


@pytest.mark.parametrize("path", MODELS, ids=lambda p: p.name)
def test_a_dot_or_a_blot_gets_a_doubt_not_a_digit(path):
    model = load_mnist_model(path)
    dot = np.zeros((BOARD, BOARD), bool)
    dot[130:150, 130:150] = True                      # one dab of a 20 px pen
    blot = np.zeros((BOARD, BOARD), bool)
    blot[40:240, 40:240] = True
    assert predict_drawing(model, board(dot)).doubt.startswith("Too little ink")
    assert "does not look like a handwritten digit" in predict_drawing(model, board(blot)).doubt
    one = np.zeros((BOARD, BOARD), bool)
    one[40:240, 130:150] = True
    assert predict_drawing(model, board(one)).doubt is None


def test_an_unsure_model_says_so_and_names_its_two_guesses():
    x = np.zeros((28, 28), np.float32)
    x[4:24, 12:16] = 1.0
    image = board(np.kron(x, np.ones((10, 10))).astype(bool))
    proba = np.full(10, 0.02)
    proba[8], proba[3] = 0.5, 0.34
    assert reading_doubt(image, x, proba) == ("Not sure: 8 (50%) or 3 (34%). Try drawing it more clearly.")
    proba[8], proba[3] = 0.7, 0.14
    assert reading_doubt(image, x, proba) is None


@pytest.mark.mnist
@pytest.mark.parametrize("path", MODELS, ids=lambda p: p.name)
def test_real_digits_drawn_large_are_rarely_doubted(mnist_path, path):
    """500 MNIST test digits pasted on the board at 84 to 252 px: at most 2% get a doubt."""
    model = load_mnist_model(path)
    with np.load(mnist_path) as f:
        x_test = f["x_test"]
    rng = np.random.default_rng(0)
    doubted = 0
    for digit in x_test[rng.choice(len(x_test), 500, replace=False)]:
        side = int(rng.integers(84, 253))
        big = np.asarray(Image.fromarray(digit).resize((side, side), Image.Resampling.BILINEAR))
        ink = np.zeros((BOARD, BOARD), np.uint8)
        top, left = rng.integers(0, BOARD - side + 1, 2)
        ink[top:top + side, left:left + side] = big
        doubted += predict_drawing(model, board(ink)).doubt is not None
    assert doubted <= 10
