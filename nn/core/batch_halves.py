"""A large batch's gradient (full-batch MNIST: 60,000 rows) in two halves of pieces, on one
thread or on two at once.

The mean loss's gradient over n rows is the sum of its pieces' gradients weighted by their
shares of the rows, dL/dθ = Σ_p (n_p / n) dL_p/dθ. The pieces (of ``size`` rows, the last one
shorter) are cut into two halves at a piece boundary; each half is summed piece by piece in
order, and the batch's gradient is the first half's sum plus the second's. That is the same
arithmetic whether the halves run one after the other or at once on two threads
(``nn.core.worker_threads``), so the result is the same bit for bit with either, and a run does
not depend on the threads it was given (a hosted run gets two cores only on an idle server).

Two threads are worth it when the step runs on one BLAS thread anyway (an MLP's narrow layers in
row blocks, ``nn.core.row_blocks``) and is large enough to pay for the handover.
"""
from __future__ import annotations

import math
from typing import Callable

import numpy as np

from nn.core.pixels import pixels_to_float

HALVES = 2                   # a large batch's halves, each on at most one thread
# Training flops of a step below which its halves stay on one thread. A handover to the pool
# (submit, wait) took 43 us at best, 86 us median (2 cores, load average 6); a 50 MFLOP step
# takes 1 ms or more on one core, so the handover costs it under a tenth of what it saves.
MIN_THREADED_FLOPS = 50e6

Pass = Callable[[np.ndarray, np.ndarray, list[np.ndarray]], tuple[float, int]]


def half_ranges(n: int, size: int) -> list[range]:
    """The pieces' first rows, per half: the first ceil(k/2) of the k = ceil(n / size) pieces,
    then the rest (one range when there is a single piece)."""
    k = math.ceil(n / size)
    cut = min(n, math.ceil(k / 2) * size)
    return [range(0, cut, size), range(cut, n, size)] if cut < n else [range(0, n, size)]


class HalfBuffers:
    """One half's buffers, kept from step to step: the sum of its pieces' gradients, a piece's
    gradients, and a piece's floats when the rows are read from 8-bit pixels."""

    def __init__(self, params: list[np.ndarray]) -> None:
        self.grads = [np.empty_like(p) for p in params]
        self.piece_grads = [np.empty_like(p) for p in params]
        self.floats: np.ndarray | None = None

    def decoded(self, codes: np.ndarray, dtype: np.dtype) -> np.ndarray:
        """The floats of a piece's codes (nn.core.pixels), in a buffer reused piece after piece."""
        if self.floats is None or len(self.floats) < len(codes):
            self.floats = np.empty(codes.shape, dtype)
        return pixels_to_float(codes, dtype, out=self.floats[:len(codes)])


def half_grads(run_pass: Pass, X: np.ndarray, y: np.ndarray, codes: np.ndarray | None, pieces: range,
               n: int, buffers: HalfBuffers, should_stop: Callable[[], bool]) -> tuple[float, int] | None:
    """Σ (n_p / n) dL_p/dθ over the pieces starting at ``pieces`` (rows of X, or of its 8-bit
    ``codes``) into ``buffers.grads``; returns (Σ (n_p / n) L_p, rows predicted correctly), or
    None when ``should_stop()`` turns True before a piece."""
    for g in buffers.grads:
        g.fill(0)
    loss, correct = 0.0, 0
    for start in pieces:
        if should_stop():
            return None
        rows = slice(start, min(start + pieces.step, pieces.stop))
        piece = X[rows] if codes is None else buffers.decoded(codes[rows], X.dtype)
        piece_loss, piece_correct = run_pass(piece, y[rows], buffers.piece_grads)
        share = len(piece) / n                   # a batch mean = the piece means weighted by size
        for g, pg in zip(buffers.grads, buffers.piece_grads):
            pg *= share
            g += pg
        loss += piece_loss * share
        correct += piece_correct
    return loss, correct


def add_halves(halves: list[HalfBuffers], out: list[np.ndarray]) -> None:
    """out = the first half's sum + the second's (the one half's sum when there is one)."""
    for i, g in enumerate(out):
        if len(halves) == 1:
            np.copyto(g, halves[0].grads[i])
        else:
            np.add(halves[0].grads[i], halves[1].grads[i], out=g)


def half_threads(layer_sizes: list[int], n: int, allowed: int) -> int:
    """Threads for the halves of an MLP's step on ``n`` rows whose products run on one BLAS
    thread: two when the step has MIN_THREADED_FLOPS and the job may use two (``allowed``)."""
    # forward, dW and dX: a multiply-add (2 flops) per weight and row each
    flops = 6 * n * sum(a * b for a, b in zip(layer_sizes[:-1], layer_sizes[1:]))
    return min(HALVES, allowed) if flops >= MIN_THREADED_FLOPS else 1
