"""The shipped model reads MNIST digits drawn anywhere on the board, at any size, as it reads
the originals: the figure behind the Draw page (issue 4)."""
import numpy as np
import pytest
from PIL import Image

import nn
from nn.data.preprocess import to_mnist
from nn.views.draw import BOARD, DEFAULT_MODEL_PATH

N_DIGITS = 500
MIN_AGREEMENT = 0.95

pytestmark = pytest.mark.mnist


def on_board(digit: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Paste a 28x28 digit on a 280x280 canvas-like RGBA board, resized by a random factor
    (0.75x to 9x, log-uniform: 21 to 252 px) at a random spot; half the boards are opaque
    white-on-black, half draw the ink in the alpha channel of a transparent board."""
    side = int(round(28 * np.exp(rng.uniform(np.log(0.75), np.log(9.0)))))
    big = np.asarray(Image.fromarray(digit).resize((side, side), Image.Resampling.BILINEAR))
    top, left = rng.integers(0, BOARD - side + 1, size=2)
    ink = np.zeros((BOARD, BOARD), np.uint8)
    ink[top:top + side, left:left + side] = big
    rgba = np.zeros((BOARD, BOARD, 4), np.uint8)
    if rng.random() < 0.5:
        rgba[..., :3], rgba[..., 3] = ink[..., None], 255          # white on opaque black
    else:
        rgba[..., :3], rgba[..., 3] = 255, ink                      # white in alpha, transparent
    return rgba


def board_agreement(model_path, mnist_path: str, n_digits: int) -> float:
    """Share of ``n_digits`` random MNIST test digits that the model at ``model_path`` reads the
    same after they are moved and rescaled on the board (``on_board``) as in their original form."""
    with np.load(mnist_path) as f:
        x_test = f["x_test"]
    rng = np.random.default_rng(2024)
    digits = x_test[rng.choice(len(x_test), n_digits, replace=False)]
    model = nn.load(model_path)
    original = model.predict(digits.reshape(n_digits, -1) / np.float32(255))
    drawn = np.stack([to_mnist(on_board(d, rng)).ravel() for d in digits])
    return float((model.predict(drawn) == original).mean())


def test_shipped_model_reads_moved_and_resized_digits_as_the_originals(mnist_path):
    agreement = board_agreement(DEFAULT_MODEL_PATH, mnist_path, N_DIGITS)
    print(f"\nagreement on {N_DIGITS} moved/resized MNIST test digits: {agreement:.1%}")
    assert agreement >= MIN_AGREEMENT


def test_shipped_model_is_small_and_an_mnist_model():
    assert DEFAULT_MODEL_PATH.stat().st_size <= 2 * 1024 * 1024
    model = nn.load(DEFAULT_MODEL_PATH)
    assert model.layer_sizes[0] == 784 and model.layer_sizes[-1] == 10
    assert model.meta["dataset"] == "mnist"
    assert model.meta["preprocessing"] == "mnist-28x28/255"
