"""Test-time augmentation: an image read as the mean prediction of a few copies of it, each
shifted by at most one pixel (zeros coming in at the edge), p(y | x) ~ 1/N sum_k p(y | shift_k(x)).

A network trained on digits that sit a pixel off now and then gives slightly different answers
for the same digit moved by a pixel; averaging those answers smooths out that noise. Off by
default (``tta`` = 1); evaluation with N copies costs N forward passes.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from nn.core.classifier import Classifier

# The copies, in order: the image itself, then its shifts (rows, columns) by one pixel, the four
# sides first, then the four corners. ``tta`` = N uses the first N.
SHIFTS: tuple[tuple[int, int], ...] = ((0, 0), (0, 1), (0, -1), (1, 0), (-1, 0),
                                       (1, 1), (1, -1), (-1, 1), (-1, -1))
MAX_COPIES = len(SHIFTS)


def shifted(X: np.ndarray, input_shape: tuple[int, ...], dy: int, dx: int) -> np.ndarray:
    """Rows of images (``input_shape`` = (channels, height, width), each row (c, h, w) in order)
    moved down by ``dy`` and right by ``dx`` pixels; pixels from outside the image are 0."""
    C, H, W = input_shape
    images = X.reshape(len(X), C, H, W)
    out = np.zeros_like(images)
    out[:, :, max(dy, 0):H + min(dy, 0), max(dx, 0):W + min(dx, 0)] = \
        images[:, :, max(-dy, 0):H + min(-dy, 0), max(-dx, 0):W + min(-dx, 0)]
    return out.reshape(len(X), -1)


def tta_log_proba(model: Classifier, X: np.ndarray, copies: int,
                  should_stop: Callable[[], bool] | None = None) -> np.ndarray:
    """log (1/N sum_k softmax(f(shift_k(X)))) for the first N = ``copies`` of ``SHIFTS``:
    ``model.log_proba(X)`` itself when N is 1. Needs an image network (a 3-D ``input_shape``)."""
    if not 1 <= copies <= MAX_COPIES:
        raise ValueError(f"tta must be a whole number from 1 to {MAX_COPIES}; got {copies!r}")
    if copies == 1:
        return model.log_proba(X, should_stop)
    input_shape = tuple(getattr(model, "input_shape", ()))
    if len(input_shape) != 3:
        raise ValueError("test-time augmentation needs a network reading images (channels, height, width)")
    X = np.asarray(X)
    total = None                                     # log sum_k p_k, summed in the log domain
    for dy, dx in SHIFTS[:copies]:
        logp = model.log_proba(shifted(X, input_shape, dy, dx), should_stop)
        total = logp if total is None else np.logaddexp(total, logp)
    return total - np.log(copies)


def tta_evaluate(model: Classifier, X: np.ndarray, y: np.ndarray, copies: int) -> tuple[float, float]:
    """(mean cross-entropy, accuracy) of the ``copies``-copy predictions on (X, y), as
    ``model.evaluate`` gives them for single copies."""
    y = np.asarray(y)
    if len(y) == 0:
        return float("nan"), float("nan")
    logp = tta_log_proba(model, X, copies)
    loss = -float(logp[np.arange(len(y)), y].mean(dtype=np.float64))
    return loss, float(np.mean(logp.argmax(axis=1) == y))
