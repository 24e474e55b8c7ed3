"""Augmentation: the identity when every range is 0, whole-pixel shifts move images exactly, and
ranges are validated."""
import numpy as np
import pytest

from nn.data.augment import Augment, augment_batch


def test_zero_ranges_are_the_identity():
    X = np.random.default_rng(0).random((5, 784), dtype=np.float32)
    out = augment_batch(X, np.random.default_rng(1), settings=Augment(0, 0, 0))
    assert out.dtype == np.float32 and out.shape == X.shape
    np.testing.assert_allclose(out, X, atol=1e-6)


class Fixed:
    """Stands for a generator: each ``uniform`` call returns the next given value, broadcast."""

    def __init__(self, *values):
        self.values = iter(values)

    def uniform(self, low, high, size):
        return np.broadcast_to(np.asarray(next(self.values), float), size)


def test_a_whole_pixel_shift_moves_the_image():
    img = np.zeros((1, 10, 10), np.float32)
    img[0, 4, 5] = 1.0
    # no rotation, zoom 1, shift 1 pixel down and 2 right
    out = augment_batch(img.reshape(1, -1), Fixed(0.0, 1.0, [[1.0], [2.0]]), (10, 10))
    expected = np.zeros((10, 10), np.float32)
    expected[5, 7] = 1.0
    np.testing.assert_allclose(out.reshape(10, 10), expected, atol=1e-6)


def test_a_quarter_turn_turns_the_image_clockwise():
    img = np.random.default_rng(3).random((1, 8, 8), dtype=np.float32)
    out = augment_batch(img.reshape(1, -1), Fixed(90.0, 1.0, [[0.0], [0.0]]), (8, 8))
    np.testing.assert_allclose(out.reshape(8, 8), np.rot90(img[0], k=-1), atol=1e-5)


def test_random_maps_keep_most_of_the_ink_and_differ_per_image():
    rng = np.random.default_rng(2)
    img = np.zeros((28, 28), np.float32)
    img[8:20, 12:16] = 1.0                                   # a centred stroke
    X = np.repeat(img.reshape(1, -1), 6, axis=0)
    out = augment_batch(X, rng)
    ink = out.sum(axis=1) / img.sum()
    assert np.all((ink > 0.75) & (ink < 1.3))               # scale 0.9-1.1: area 0.81-1.21
    assert len({out[i].tobytes() for i in range(6)}) == 6


@pytest.mark.parametrize("field,value", [("shift", -1), ("rotate", 90), ("scale", 0.9)])
def test_ranges_are_validated(field, value):
    with pytest.raises(ValueError, match=f"augment {field} must be in"):
        Augment(**{field: value}).validate()
