"""A narrow dense layer's products with a tall input, in row blocks.

A large batch through a narrow layer (full-batch MNIST, 784-5-10: X is 2048 x 784 per piece, W
784 x 5) is a product OpenBLAS does slowly: past about M N K = 1e6 it packs the whole input
before multiplying. Measured on the 2-core machine (OpenBLAS 0.3.31, one thread, X W and X^T dZ
over the 60,000 MNIST rows): 56 to 70 ms in 2048-row pieces, 38 ms in blocks of 255 rows; the
drop is between 240 rows (M N K = 940,800) and 256 (1,003,520). The block products are one
stacked ``np.matmul`` (NumPy loops over the blocks in C), so Python adds nothing per block.

The sums are the same, grouped differently: X W row block by row block is X W, and
X^T dZ = sum_b X_b^T dZ_b over the row blocks b, equal up to float rounding.
"""
from __future__ import annotations

import numpy as np

from nn.core.blas_threads import SINGLE_THREAD_MNK

SMALL_PRODUCT = 1_000_000     # M N K of a product OpenBLAS still does without packing (measured)
MIN_BLOCK_ROWS = 16           # narrower blocks than this: one product is as good


def block_rows(n: int, fan_in: int, fan_out: int) -> int | None:
    """Rows per block for the products of an (n, fan_in) input with a (fan_in, fan_out) layer,
    or None when one product is as good (few rows, or a layer too wide for useful blocks)."""
    rows = SMALL_PRODUCT // max(1, fan_in * fan_out)
    return rows if MIN_BLOCK_ROWS <= rows < n else None


def blocked_matmul(X: np.ndarray, W: np.ndarray, out: np.ndarray, rows: int) -> np.ndarray:
    """out = X W, computed ``rows`` rows at a time (the rows of X W are the rows of X times W)."""
    nb = len(X) // rows
    head = nb * rows
    np.matmul(X[:head].reshape(nb, rows, -1), W, out=out[:head].reshape(nb, rows, -1))
    if head < len(X):
        np.matmul(X[head:], W, out=out[head:])
    return out


def blocked_t_matmul(X: np.ndarray, dZ: np.ndarray, out: np.ndarray, rows: int) -> np.ndarray:
    """out = X^T dZ = sum_b X_b^T dZ_b over blocks of ``rows`` rows (as dZ_b^T X_b, whose short
    side is dZ's width: the faster way round, measured), into the (fan_in, fan_out) ``out``."""
    nb = len(X) // rows
    head = nb * rows
    X3, dZ3 = X[:head].reshape(nb, rows, -1), dZ[:head].reshape(nb, rows, -1)
    total = np.matmul(dZ3.transpose(0, 2, 1), X3).sum(axis=0)      # (fan_out, fan_in)
    if head < len(X):
        total += dZ[head:].T @ X[head:]
    out[...] = total.T
    return out


def blocked_step_is_small(layer_sizes: list[int], n: int) -> bool:
    """True if a step on ``n`` rows with blocked products runs best on one BLAS thread: every
    layer in row blocks, or small enough for one thread anyway (SINGLE_THREAD_MNK). Measured,
    seed-mnist's full-batch gradient on the shared 2-core machine (load average 3): 38 ms on
    one BLAS thread, 141 ms on two, whose threads wait for each other at every block."""
    return all(block_rows(n, a, b) is not None or n * a * b <= SINGLE_THREAD_MNK
               for a, b in zip(layer_sizes[:-1], layer_sizes[1:]))
