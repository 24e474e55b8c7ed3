"""nn.data.preprocess.to_mnist: a drawing of any size and format -> MNIST's 28x28 in [0, 1]."""
import numpy as np
import pytest
from scipy import ndimage

from nn.data.preprocess import to_mnist


def board(h: int = 280, w: int = 280) -> np.ndarray:
    return np.zeros((h, w), dtype=np.uint8)


def seven(h: int = 280, w: int = 280, top: int = 40, left: int = 60, size: int = 150,
          thick: int = 18) -> np.ndarray:
    """A crude '7' of white strokes on a black uint8 board."""
    b = board(h, w)
    b[top:top + thick, left:left + size] = 255                     # the bar
    for r in range(top, top + 2 * size):                            # the slanted leg
        c = left + size - (r - top) // 3
        b[r:r + 1, max(c - thick, 0):c] = 255
    return b


def check_mnist_like(x: np.ndarray) -> None:
    assert x.shape == (28, 28) and x.dtype == np.float32
    assert 0 <= x.min() and x.max() == pytest.approx(1.0)
    rows, cols = np.flatnonzero(x.max(1) > 0.1), np.flatnonzero(x.max(0) > 0.1)
    assert max(rows[-1] - rows[0], cols[-1] - cols[0]) + 1 in (19, 20, 21)   # 20-px box
    cy, cx = ndimage.center_of_mass(x)
    assert abs(cy - 14) <= 1 and abs(cx - 14) <= 1                           # mass-centred


def test_drawing_becomes_mnist_like():
    check_mnist_like(to_mnist(seven()))


def test_position_and_size_do_not_matter():
    a = to_mnist(seven(top=10, left=100, size=100, thick=12))
    b = to_mnist(seven(top=5, left=5, size=90, thick=11))
    assert np.abs(a - b).mean() < 0.03


@pytest.mark.parametrize("image", [board(), np.zeros((280, 280, 4), np.uint8),
                                   np.zeros((280, 280, 3), np.uint8), np.zeros((5, 7))],
                         ids=["gray", "rgba-transparent", "rgb-black", "float"])
def test_nothing_drawn_is_none(image):
    assert to_mnist(image) is None


def test_faint_specks_are_not_a_drawing():
    b = board()
    b[100, 100] = 20                         # below the ink threshold
    assert to_mnist(b) is None


def test_tiny_dot_is_read_as_a_blob_in_the_box():
    b = board()
    b[140:143, 200:203] = 255
    x = to_mnist(b)
    assert x is not None and x.shape == (28, 28) and x.max() == pytest.approx(1.0)
    cy, cx = ndimage.center_of_mass(x)
    assert abs(cy - 14) <= 1 and abs(cx - 14) <= 1


def test_single_pixel_image():
    assert to_mnist(np.full((1, 1), 255, np.uint8)).shape == (28, 28)


def test_all_white_board_fills_the_box():
    x = to_mnist(np.full((280, 280), 255, np.uint8))
    assert np.count_nonzero(x > 0.5) == 400          # the whole 20x20 box


def test_rgb_and_rgba_opaque_match_gray():
    gray = seven()
    rgb = np.repeat(gray[..., None], 3, axis=2)
    rgba = np.dstack([rgb, np.full(gray.shape, 255, np.uint8)])
    expected = to_mnist(gray)
    np.testing.assert_allclose(to_mnist(rgb), expected, atol=1e-5)
    np.testing.assert_allclose(to_mnist(rgba), expected, atol=1e-5)


def test_rgba_alpha_only_drawing_on_transparent_board():
    """A black (or any colour) stroke on a transparent board: the ink is the alpha channel."""
    alpha = seven()
    rgba = np.zeros(alpha.shape + (4,), np.uint8)
    rgba[..., 3] = alpha                               # RGB all zero: black ink
    np.testing.assert_allclose(to_mnist(rgba), to_mnist(alpha), atol=1e-5)


def test_coloured_ink_on_black():
    red = np.zeros((280, 280, 3), np.uint8)
    red[..., 0] = seven()
    x = to_mnist(red)
    assert x is not None and x.max() == pytest.approx(1.0)   # contrast scaled like MNIST


@pytest.mark.parametrize("h,w", [(100, 400), (400, 90), (28, 28), (37, 1000)])
def test_non_square_sizes(h, w):
    b = board(h, w)
    b[h // 4:3 * h // 4, w // 3:w // 3 + max(2, w // 10)] = 255
    x = to_mnist(b)
    assert x.shape == (28, 28) and x.dtype == np.float32 and 0 <= x.min() <= x.max() <= 1


def test_aspect_ratio_is_kept():
    b = board()
    b[40:240, 130:150] = 255                           # a tall bar: 200 x 20 -> 20 x 2
    x = to_mnist(b)
    cols = np.flatnonzero(x.max(0) > 0.5)
    assert len(cols) <= 3


def test_float_and_bool_and_int_inputs():
    gray = seven()
    expected = to_mnist(gray)
    np.testing.assert_allclose(to_mnist(gray / 255.0), expected, atol=1e-5)
    np.testing.assert_allclose(to_mnist(gray.astype(np.int64)), expected, atol=1e-5)
    np.testing.assert_allclose(to_mnist(gray > 127), expected, atol=1e-5)


def test_mnist_digit_is_nearly_unchanged():
    """An MNIST-shaped input (a 20-px blob centred by mass in 28x28) passes through."""
    x0 = to_mnist(seven())
    x1 = to_mnist(np.round(x0 * 255).astype(np.uint8))
    assert np.abs(x1 - x0).max() < 0.05


def test_input_is_not_modified():
    gray = seven()
    copy = gray.copy()
    to_mnist(gray)
    np.testing.assert_array_equal(gray, copy)


@pytest.mark.parametrize("bad,match", [
    (np.zeros((28, 28, 2), np.uint8), "shape"),
    (np.zeros((2, 28, 28, 3), np.uint8), "shape"),
    (np.zeros(784, np.uint8), "shape"),
    (np.zeros((0, 28), np.uint8), "empty"),
    (np.full((28, 28), "x"), "numbers"),
    (np.zeros((28, 28), np.complex64), "numbers"),
    (np.full((28, 28), np.nan), "NaN"),
    (np.full((28, 28), 255.0), r"\[0, 1\]"),
    (np.full((28, 28), -1, np.int16), "0..255"),
    (np.full((28, 28), 1000, np.int32), "0..255"),
    ([[0, 1], [2]], "array"),
], ids=["2-channels", "4-d", "1-d", "empty", "strings", "complex", "nan", "float-255",
        "negative", "too-big", "ragged"])
def test_bad_input_raises_a_clear_value_error(bad, match):
    with pytest.raises(ValueError, match=match):
        to_mnist(bad)
