"""One BLAS thread while a small network trains.

OpenBLAS (NumPy's BLAS) multiplies small matrices on one thread anyway. But a larger product
now and then (evaluating the validation set after each short epoch) wakes its other threads,
which then busy-wait for the next job: with a small network a second core runs at 100% for
nothing. On the command line that only wastes power; in the app it takes the core the browser
and the Streamlit server need, and training itself slows down. So while a small network trains,
BLAS is held at one thread (measured: moons, 200 epochs, 3.62 s on one thread and 3.67 s on
two, with half the CPU time).

The setting is process-wide and sessions train in parallel threads: a count of the small runs
in progress lets the first one set it and the last one put it back.
"""
from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Any, Iterator, Sequence

# OpenBLAS runs a matrix product on one thread when M*N*K is at most 65536 * GEMM_MULTITHREAD_THRESHOLD
# (default 4): interface/gemm.c. Steps below this gain nothing from more threads.
SINGLE_THREAD_MNK = 65536 * 4

_lock = threading.Lock()
_holders = 0
_limiter: Any = None
_controller: Any = None


def step_is_small(layer_sizes: Sequence[int], batch_size: int) -> bool:
    """True if every matrix product of a training step is one OpenBLAS keeps on one thread."""
    widest = max(a * b for a, b in zip(layer_sizes[:-1], layer_sizes[1:]))
    return batch_size * widest <= SINGLE_THREAD_MNK


def _blas_controller() -> Any:
    global _controller
    if _controller is None:
        from threadpoolctl import ThreadpoolController     # finds the BLAS NumPy has loaded
        _controller = ThreadpoolController()
    return _controller


@contextmanager
def one_blas_thread(active: bool = True) -> Iterator[None]:
    """Run the block with BLAS on one thread (if ``active``); safe to nest and to use from
    several threads at once."""
    global _holders, _limiter
    if not active:
        yield
        return
    with _lock:
        if _holders == 0:
            _limiter = _blas_controller().limit(limits=1, user_api="blas")
        _holders += 1
    try:
        yield
    finally:
        with _lock:
            _holders -= 1
            if _holders == 0:
                _limiter.restore_original_limits()
                _limiter = None
