"""Early stopping: hold out a share of the TRAINING rows, watch their loss after each epoch,
stop when it has not improved for ``patience`` epochs, and keep the best weights.

The held-out rows are drawn once (stratified by class, seeded), never from the test split: the
test figures stay an unbiased estimate. As scikit-learn's ``MLPClassifier(early_stopping=True)``
and Keras's ``EarlyStopping(restore_best_weights=True)``, but on the held-out cross-entropy
(smoother than the accuracy on a few dozen rows).

    >>> fit, held = holdout_rows(np.array([0, 0, 0, 0, 1, 1, 1, 1]), 0.25, seed=0)
    >>> len(fit), len(held), np.array([0, 0, 0, 0, 1, 1, 1, 1])[held].tolist()
    (6, 2, [0, 1])
"""
from __future__ import annotations

import math

import numpy as np

# An epoch counts as better when the held-out loss falls by more than this (scikit-learn's tol).
MIN_DELTA = 1e-4


def holdout_rows(y: np.ndarray, share: float, seed: int,
                 stratify: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """(rows to train on, rows held out): about ``share`` of each class held out (rounded, and
    at least one row of a class with two or more), in a seeded random order. Without
    ``stratify`` (a regression's numeric labels), ``share`` of all the rows."""
    rng = np.random.default_rng([seed, 2])          # init uses [seed], batches [seed, 1]
    groups = [np.flatnonzero(y == k) for k in np.unique(y)] if stratify else [np.arange(len(y))]
    held = []
    for rows in groups:
        rows = rng.permutation(rows)
        n = min(len(rows) - 1, max(1, round(share * len(rows)))) if len(rows) > 1 else 0
        held.append(rows[:n])
    held_rows = np.sort(np.concatenate(held)) if held else np.zeros(0, np.intp)
    keep = np.ones(len(y), bool)
    keep[held_rows] = False
    return np.flatnonzero(keep), held_rows


class EarlyStopping:
    """The best held-out loss so far, the weights that gave it, and the epochs since."""

    def __init__(self, patience: int, params: list[np.ndarray]) -> None:
        self.patience = int(patience)
        self.best_loss = math.inf
        self.best_epoch: int | None = None
        self.best_params = [p.copy() for p in params]
        self.bad_epochs = 0

    def update(self, epoch: int, loss: float, params: list[np.ndarray]) -> bool:
        """Note ``epoch``'s held-out ``loss`` (and keep its weights if it is the best); True
        when ``patience`` epochs in a row have not improved on the best by ``MIN_DELTA``."""
        if loss < self.best_loss - MIN_DELTA:
            self.best_loss, self.best_epoch, self.bad_epochs = loss, epoch, 0
            for best, p in zip(self.best_params, params):
                np.copyto(best, p)
        else:
            self.bad_epochs += 1
        return self.bad_epochs >= self.patience

    def restore(self, params: list[np.ndarray]) -> int | None:
        """Put the best weights back into ``params``; the epoch they come from (None: no epoch
        was scored yet, nothing changed)."""
        if self.best_epoch is not None:
            for p, best in zip(params, self.best_params):
                np.copyto(p, best)
        return self.best_epoch

    def again(self) -> None:
        """A new run (Continue) goes on for at least ``patience`` epochs."""
        self.bad_epochs = 0
