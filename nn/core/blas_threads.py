"""How many threads BLAS (NumPy's matrix products) may use while networks train.

Two cases where more than one thread costs time instead of saving it:

- A small network. OpenBLAS multiplies small matrices on one thread anyway, but a larger product
  now and then (the validation set, after each short epoch) wakes its other threads, which then
  busy-wait for the next job: a second core runs at 100% for nothing, and in the app it is the
  core the browser and the server need. Measured on moons, 200 epochs: 3.62 s on one thread,
  3.67 s on two, with twice the CPU time.
- Several runs at once (the hosted app: each session trains in a thread of one process). Their
  threaded products queue for the same BLAS threads. Measured on 2 cores, three MNIST epochs at
  once: 4.74 s with two BLAS threads, 1.39 s with one each.

So BLAS is held at one thread while a small network trains, or while two or more runs train at
once, and given back its own setting otherwise. The setting is process-wide, hence the counts
under a lock: whoever enters or leaves re-decides.

Whoever starts a job gives it its threads through the same setting: a hosted run's worker
process gets one BLAS thread unless the server is idle (``nn.hosting.isolated``), a sweep's
workers theirs through the environment. ``allowed_threads`` reads that allowance back, for work
spread over threads of its own (``nn.core.worker_threads``).
"""
from __future__ import annotations

import os
import threading
from contextlib import AbstractContextManager, contextmanager
from typing import Any, Iterator, Sequence

# OpenBLAS runs a matrix product on one thread when M*N*K is at most 65536 * GEMM_MULTITHREAD_THRESHOLD
# (default 4): interface/gemm.c. Steps below this gain nothing from more threads.
SINGLE_THREAD_MNK = 65536 * 4

_lock = threading.Lock()
_runs = 0               # stretches of training steps running now (any size)
_one_thread = 0         # holders that want one thread: small runs, and their pages' redraws
_limiter: Any = None    # the active one-thread limit (threadpoolctl), if any
_given = 1              # BLAS threads as set before that limit
_controller: Any = None


def cores() -> int:
    """The cores this process may run on (its CPU affinity)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:           # not on Linux
        return max(1, os.cpu_count() or 1)


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


def _blas_setting() -> int:
    """BLAS threads as set now (the fewest of the BLAS libraries loaded; cores if none)."""
    threads = [info["num_threads"] for info in _blas_controller().select(user_api="blas").info()]
    return min(threads, default=cores())


def allowed_threads() -> int:
    """Threads a job of this process may compute on: its cores, and no more than BLAS was given
    by whoever started the job (not counting this module's own one-thread holds); one while
    several runs train at once in the process (as BLAS then)."""
    with _lock:
        if _runs > 1:
            return 1
        given = _given if _limiter is not None else _blas_setting()
    return max(1, min(cores(), given))


def _change(runs: int, one_thread: int) -> None:
    """Adjust the counts and the BLAS setting to match (call with ``_lock`` held)."""
    global _runs, _one_thread, _limiter, _given
    _runs += runs
    _one_thread += one_thread
    want_one = _one_thread > 0 or _runs > 1
    if want_one and _limiter is None:
        _given = _blas_setting()
        _limiter = _blas_controller().limit(limits=1, user_api="blas")
    elif not want_one and _limiter is not None:
        _limiter.restore_original_limits()
        _limiter = None


@contextmanager
def _counted(runs: int, one_thread: int) -> Iterator[None]:
    with _lock:
        _change(runs, one_thread)
    try:
        yield
    finally:
        with _lock:
            _change(-runs, -one_thread)


def training_steps(small: bool) -> AbstractContextManager[None]:
    """Wrap a stretch of training steps (not a ``yield``: the caller's own work is not training)."""
    return _counted(1, int(small))


def one_blas_thread(active: bool = True) -> AbstractContextManager[None]:
    """Hold BLAS at one thread for the block, if ``active`` (e.g. a small network's redraws)."""
    return _counted(0, int(active))
