"""Softmax with cross-entropy, computed stably through log-sum-exp; mean squared error for a
linear output (regression); and the losses a classification run may report instead
(``REPORTED_LOSSES``): its training always follows the softmax cross-entropy's gradient.

``binary_cross_entropy`` is the loss the MNIST tutorial prints: each class's softmax probability
p_k against its one-hot label y_k, summed over the classes and averaged over the rows,

    L = -1/n sum_i sum_k [y_ik log p_ik + (1 - y_ik) log(1 - p_ik)],

while its gradient step is the cross-entropy's, dZ = (p - onehot(y)) / n. For uniform
probabilities (p_k = 0.1 over ten classes) L = -ln 0.1 - 9 ln 0.9 = 3.2508.
"""
from __future__ import annotations

import numpy as np

# Up to this many classes a row's largest logit is taken column by column: NumPy's max along a
# short contiguous axis spends ~40 ns a row on its loop set-up. Measured, 2048 x 10 float32
# (MNIST's classes): 14 us in 9 ``np.maximum`` over the columns, 89 us as ``max(axis=1)``.
COLUMNWISE_MAX = 32


def row_max(Z: np.ndarray) -> np.ndarray:
    """The largest value of each row of Z (n, K), as an (n, 1) column: ``Z.max(axis=1,
    keepdims=True)`` exactly (a maximum is exact in any order, NaN included)."""
    if not 2 <= Z.shape[1] <= COLUMNWISE_MAX:
        return Z.max(axis=1, keepdims=True)
    top = np.maximum(Z[:, 0], Z[:, 1])
    for k in range(2, Z.shape[1]):
        np.maximum(top, Z[:, k], out=top)
    return top[:, None]


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """log p = Z - max(Z) - log(sum(exp(Z - max(Z)))): finite for any finite logits."""
    shifted = logits - row_max(logits)
    shifted -= np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return shifted


REPORTED_LOSSES = ("cross_entropy", "binary_cross_entropy")


def binary_cross_entropy_sum(log_true: np.ndarray, probs: np.ndarray, y: np.ndarray) -> float:
    """sum_i -[log p_i,y_i + sum_{k != y_i} log(1 - p_ik)]: the binary cross-entropy of every
    class's probability against the one-hot label, summed over classes and rows. ``log_true``:
    log p of each row's label (from the stable log-softmax); ``probs``: all the probabilities."""
    log_not = np.log1p(-probs)                       # log(1 - p_k)
    log_not[np.arange(len(y)), y] = 0.0              # the label's own term is log p_y
    return -float(log_true.sum(dtype=np.float64) + log_not.sum(dtype=np.float64))


def reported_loss_sum(logp: np.ndarray, y: np.ndarray, report: str = "cross_entropy") -> float:
    """The ``report`` loss (one of ``REPORTED_LOSSES``) summed over the rows of log-probabilities
    ``logp``: cross-entropy -sum log p_y, or ``binary_cross_entropy_sum``."""
    log_true = logp[np.arange(len(y)), y]
    if report == "binary_cross_entropy":
        return binary_cross_entropy_sum(log_true, np.exp(logp), y)
    return -float(log_true.sum(dtype=np.float64))


def softmax_cross_entropy_grad(logits: np.ndarray, y: np.ndarray, label_smoothing: float = 0.0,
                               report: str = "cross_entropy") -> tuple[float, np.ndarray]:
    """Loss and its gradient w.r.t. the logits, overwriting ``logits`` with the gradient.

    For the mean loss L = -1/n sum log softmax(Z)[y]:  dZ = (softmax(Z) - onehot(y)) / n.
    With label smoothing eps (Szegedy et al., 2016) the target is q = (1 - eps) onehot(y) + eps / K
    over K classes: L = -1/n sum_k q_k log softmax(Z)_k and dZ = (softmax(Z) - q) / n.
    ``report="binary_cross_entropy"`` returns that loss's mean instead (``REPORTED_LOSSES``);
    the gradient is always the one above.
    """
    n, K = logits.shape
    rows = np.arange(n)
    eps = float(label_smoothing)
    logits -= row_max(logits)
    shifted_true = label_true = logits[rows, y]      # Z[y] - max(Z)
    if eps:                                          # sum_k q_k (Z_k - max): sum q = 1
        shifted_true = (1 - eps) * shifted_true + eps * logits.mean(axis=1)
    np.exp(logits, out=logits)                       # unnormalised probabilities
    sums = logits.sum(axis=1, keepdims=True)
    # -sum_k q_k log p_k = log(sum exp(Z - max)) - sum_k q_k (Z_k - max)
    # the mean as np.mean computes it (a float64 sum over n), without its Python wrapper
    loss = float(np.add.reduce(np.log(sums[:, 0]) - shifted_true, dtype=np.float64) / n)
    logits /= sums                                   # softmax(Z)
    if report == "binary_cross_entropy":             # log p_y = (Z[y] - max) - log(sum exp(Z - max))
        loss = binary_cross_entropy_sum(label_true - np.log(sums[:, 0]), logits, y) / n
    logits[rows, y] -= 1 - eps                       # - q
    if eps:
        logits -= eps / K
    logits /= n
    return loss, logits


def mean_squared_error_grad(outputs: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Loss and its gradient w.r.t. the (n, 1) linear outputs, overwriting ``outputs`` with it.

    For L = 1/n sum (z - y)^2 (no 1/2 factor, so L is the MSE that R^2 and RMSE are read from):
    dL/dz = 2 (z - y) / n.
    """
    n = len(y)
    outputs -= np.asarray(y, dtype=outputs.dtype).reshape(n, 1)       # residuals z - y
    loss = float(np.square(outputs, dtype=np.float64).mean())
    outputs *= outputs.dtype.type(2 / n)
    return loss, outputs


def r2_score(sse: float, y: np.ndarray) -> float:
    """R^2 = 1 - SSE / SST, SST = sum (y - mean y)^2 (scikit-learn's r2_score; a constant y
    gives 1 for a perfect fit and 0 otherwise, as there)."""
    y = np.asarray(y, dtype=np.float64)
    sst = float(np.square(y - y.mean()).sum()) if len(y) else 0.0
    if sst <= 0:
        return 1.0 if sse <= 0 else 0.0
    return 1.0 - sse / sst
