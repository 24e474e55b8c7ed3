"""Still pictures of the live view: what they show, checked in their pixels."""
from __future__ import annotations

import numpy as np

from nn.views import pictures, plots

HISTORY = [{"epoch": e, "train_loss": 1 / e, "val_loss": 1.2 / e, "train_accuracy": 1 - 0.5 / e,
            "val_accuracy": None if e < 3 else 1 - 0.6 / e} for e in range(1, 41)]


def _has(img: np.ndarray, color: str, at_least: int = 20) -> bool:
    """Whether at least ``at_least`` pixels are exactly ``color`` (a curve drawn in it)."""
    return int((img == plots.hex_rgb(color)).all(axis=-1).sum()) >= at_least


def test_nice_ticks_are_round_and_cover_the_range():
    assert pictures.nice_ticks(40).tolist() == [0, 10, 20, 30, 40]
    assert np.allclose(pictures.nice_ticks(1.0), [0, 0.2, 0.4, 0.6, 0.8, 1.0])
    assert pictures.nice_ticks(1000)[-1] == 1000 and len(pictures.nice_ticks(7)) <= 8


def test_curves_picture_draws_both_curves_in_their_colours():
    for metric in ("loss", "accuracy"):
        img = pictures.curves_image(HISTORY, metric, width=500, height=260)
        assert img.shape == (260, 500, 3) and img.dtype == np.uint8
        assert _has(img, plots.TRAIN_COLOR, 100) and _has(img, plots.VAL_COLOR, 100)


def test_curves_picture_follows_the_data():
    """Falling loss: the training curve's pixels sit lower on the right than on the left."""
    img = pictures.curves_image(HISTORY, "loss", width=500, height=260)
    rows, cols = np.nonzero((img == plots.hex_rgb(plots.TRAIN_COLOR)).all(axis=-1))
    inside = rows > 40                                              # below the legend's swatch
    left, right = rows[inside & (cols < 150)], rows[inside & (cols > 400)]
    assert left.mean() < right.mean()                               # image rows grow downwards


def test_curves_picture_copes_with_no_or_one_record():
    assert not _has(pictures.curves_image([], "loss"), plots.VAL_COLOR, 200)
    one = pictures.curves_image(HISTORY[:1], "accuracy")
    assert _has(one, plots.TRAIN_COLOR)
    huge = [{"epoch": 1, "train_loss": 1e30, "val_loss": 0.0, "train_accuracy": 0.5, "val_accuracy": 0.5},
            {"epoch": 2, "train_loss": float("inf"), "val_loss": 1e-20, "train_accuracy": 0.5, "val_accuracy": 0.5}]
    assert pictures.curves_image(huge, "loss").shape == (320, 560, 3)


def test_decision_boundary_image_colours_each_side_by_its_class():
    X = np.array([[-1.0, 0.0], [1.0, 0.0]], np.float32)
    y = np.array([0, 1])
    proba = lambda pts: np.column_stack([pts[:, 0] < 0, pts[:, 0] >= 0]).astype(float)  # noqa: E731
    img = pictures.decision_boundary_image(proba, X, y, size=100, max_points=0)
    assert img.shape == (100, 100, 3) and img.dtype == np.uint8
    left, right = img[50, 5].astype(int), img[50, 94].astype(int)
    assert left[2] > left[0] and right[0] > right[2]        # blue for class 0, red for class 1


def test_image_grid_picture_frames_right_green_and_wrong_red():
    images = np.zeros((16, 8, 8))
    y_true = np.arange(16) % 10
    y_pred = y_true.copy()
    y_pred[[3]] = 0
    img = pictures.image_grid_image(images, y_true, y_pred, np.full(16, 0.9))
    n_red, n_green = ((img == plots.hex_rgb(c)).all(axis=-1).sum() for c in (plots.WRONG, plots.RIGHT))
    assert 0 < n_red < n_green / 5                          # one red frame, fifteen green ones
