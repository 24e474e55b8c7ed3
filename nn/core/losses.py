"""Softmax with cross-entropy, computed stably through log-sum-exp."""
from __future__ import annotations

import numpy as np


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """log p = Z - max(Z) - log(sum(exp(Z - max(Z)))): finite for any finite logits."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    shifted -= np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return shifted


def softmax_cross_entropy_grad(logits: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Loss and its gradient w.r.t. the logits, overwriting ``logits`` with the gradient.

    For the mean loss L = -1/n sum log softmax(Z)[y]:  dZ = (softmax(Z) - onehot(y)) / n.
    """
    n = len(y)
    rows = np.arange(n)
    logits -= logits.max(axis=1, keepdims=True)
    shifted_true = logits[rows, y]                   # Z[y] - max(Z)
    np.exp(logits, out=logits)                       # unnormalised probabilities
    sums = logits.sum(axis=1, keepdims=True)
    # -log p[y] = log(sum exp(Z - max)) - (Z[y] - max)
    loss = float((np.log(sums[:, 0]) - shifted_true).mean(dtype=np.float64))
    logits /= sums                                   # softmax(Z)
    logits[rows, y] -= 1                             # - onehot(y)
    logits /= n
    return loss, logits
