"""The process's worker threads for data parallelism on the cores: a pass over many rows cut
into parts, each part on its own thread with one BLAS thread (NumPy releases the GIL inside its
loops and BLAS calls). One small persistent pool serves every model of the process (a
``Sequential``'s chunks, a full batch's halves in ``nn.Trainer``): no thread is made per step.
"""
from __future__ import annotations

import sys
import threading
from concurrent.futures import ThreadPoolExecutor, wait
from contextlib import contextmanager
from typing import Any, Callable, Iterator

from nn.core.blas_threads import cores, one_blas_thread

_pool_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None

# How often a thread that wants the GIL makes the holder give it up (Python's default: 5 ms).
# The two workers of a step hand the GIL back and forth hundreds of times a pass; at 5 ms a
# worker now and then waits that long for the other one. Measured, mnist-cnn, batch 128, 2
# workers, median step: 9.1-9.2 ms at 5 ms, 8.7 ms at 1 ms, 8.6 ms at 0.5 ms and 0.1 ms.
GIL_SWITCH_SECONDS = 0.0005
_switch_lock = threading.Lock()
_switch_users = 0             # passes running on worker threads now, in any model of the process
_switch_saved = 0.005


@contextmanager
def quick_gil_handover() -> Iterator[None]:
    """Shorten the interpreter's GIL switch interval to ``GIL_SWITCH_SECONDS`` while worker
    threads run passes (never lengthen it). The setting is process-wide, so the first of
    overlapping users saves it and the last puts it back: outside training steps (in the app's
    server, between them) it is what it was."""
    global _switch_users, _switch_saved
    with _switch_lock:
        if _switch_users == 0:
            _switch_saved = sys.getswitchinterval()
            sys.setswitchinterval(min(_switch_saved, GIL_SWITCH_SECONDS))
        _switch_users += 1
    try:
        yield
    finally:
        with _switch_lock:
            _switch_users -= 1
            if _switch_users == 0:
                sys.setswitchinterval(_switch_saved)


def run_parallel(tasks: list[Callable[[], Any]]) -> list[Any]:
    """Run the tasks on the process's worker threads (the last one on the caller's thread),
    with BLAS held at one thread meanwhile (``nn.core.blas_threads``, which counts its holders);
    their results in the tasks' order."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=cores(), thread_name_prefix="nn-core")
    with one_blas_thread(), quick_gil_handover():
        futures = [_pool.submit(task) for task in tasks[:-1]]
        try:
            last = tasks[-1]()
        finally:
            wait(futures)                      # never leave a worker writing into our buffers
        return [f.result() for f in futures] + [last]
