"""Worker processes for a sweep that can be ended at any moment, with everything they run.

joblib's loky workers go on with a task after its generator is closed, so a stopped sweep (a
closed tab, a Stop button) kept the cores busy for minutes. Here each worker is a plain child
process (``python -m nn.sweep.worker``) that this process talks to over a socket pair: it gets
the data once, then one task at a time, and sends back progress and results. ``close()``
kills them (SIGKILL after a short SIGTERM grace), so nothing of a stopped sweep keeps running.
A worker also dies with the thread that started it (Linux ``PR_SET_PDEATHSIG``), so a server
that is killed does not leave orphans training, and it exits when its socket closes.

Each worker runs under hard limits it sets on itself at start (``resource.setrlimit``): an
address space of ``memory_mb`` plus ``ADDRESS_BASE_MB`` for the interpreter and its libraries
(RLIMIT_AS: an allocation beyond fails with MemoryError, which ends that task with a message)
and ``cpu_seconds`` of CPU time (RLIMIT_CPU: the kernel ends the worker). By default a worker may
hold a sweep's memory limit (NN_MAX_SWEEP_MEMORY_MB) and twice its work limit in CPU time
(NN_MAX_SWEEP_SECONDS); the Sweep page gives the sweep's admitted estimate (``worker_limits``):
so a wrong estimate ends one sweep with a message, never the server.

Messages are pickled only between this process and its own children, never from elsewhere.
"""
from __future__ import annotations

import os
import pickle
import resource
import signal
import socket
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
import traceback
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any, Callable, Iterator

from nn.hosting import cores, limits
from nn.hosting.isolated import die_with_parent

ROOT = str(Path(__file__).resolve().parents[2])       # so that ``import nn`` works in a worker
PROGRESS_EVERY = 0.5                                   # seconds between a worker's progress notes
BLAS_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
ADDRESS_BASE_MB = 768        # address space of Python, NumPy, SciPy and the BLAS threads' buffers
LIMIT_VARIABLES = ("NN_WORKER_AS_MB", "NN_WORKER_CPU_SECONDS")   # parent -> worker, at start


_local = threading.local()


def default_limits() -> tuple[int, int]:
    """(memory MB, CPU seconds) a worker may use: those of ``worker_limits`` around this
    thread's pools, else a sweep's memory limit and twice its work limit (NN_MAX_SWEEP_*)."""
    given = getattr(_local, "limits", None)
    if given is not None:
        return given
    lim = limits()
    return lim.max_sweep_memory_mb, int(2 * lim.max_sweep_seconds) + 30


@contextmanager
def worker_limits(memory_mb: int, cpu_seconds: int, blas_threads: int | None = None) -> Iterator[None]:
    """Pools started by this thread inside the block give each worker these limits (the page
    passes a sweep's admitted estimate, so a worker that outgrows it ends alone) and, if given,
    this many BLAS threads (one on a busy server)."""
    old = getattr(_local, "limits", None), getattr(_local, "blas", None)
    _local.limits = (max(1, int(memory_mb)), max(1, int(cpu_seconds)))
    _local.blas = blas_threads
    try:
        yield
    finally:
        _local.limits, _local.blas = old


class WorkerFailed(RuntimeError):
    """A worker raised, or died (exit code in the message)."""


class WorkerPool:
    """``n`` worker processes; ``submit`` a task to an idle one, ``events`` to hear back."""

    def __init__(self, n: int, blas_threads: int | None = None, memory_mb: int | None = None,
                 cpu_seconds: int | None = None) -> None:
        blas_threads = (blas_threads or getattr(_local, "blas", None)
                        or max(1, cores() // n))               # the cores shared out, as joblib does
        default_mb, default_cpu = default_limits()
        self.memory_mb, self.cpu_seconds = memory_mb or default_mb, cpu_seconds or default_cpu
        env = {**os.environ, **{v: str(blas_threads) for v in BLAS_VARIABLES},
               "NN_WORKER_AS_MB": str(self.memory_mb + ADDRESS_BASE_MB),
               "NN_WORKER_CPU_SECONDS": str(self.cpu_seconds),
               "PYTHONPATH": os.pathsep.join(p for p in (ROOT, os.environ.get("PYTHONPATH")) if p)}
        self.procs: list[subprocess.Popen] = []
        self.conns: list[Connection] = []
        self.busy: dict[int, Any] = {}                 # worker index -> its task's key
        try:
            for _ in range(n):
                ours, theirs = socket.socketpair()
                proc = subprocess.Popen([sys.executable, "-m", "nn.sweep.worker", str(theirs.fileno())],
                                        pass_fds=(theirs.fileno(),), env=env, stdin=subprocess.DEVNULL)
                theirs.close()
                self.procs.append(proc)
                self.conns.append(Connection(ours.detach()))
        except BaseException:
            self.close()
            raise

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.procs]

    def send_data(self, data: Any) -> None:
        """The data to every worker, once, before any task (pickled once for all)."""
        blob = pickle.dumps(("data", None, data), protocol=pickle.HIGHEST_PROTOCOL)
        for conn in self.conns:
            conn.send_bytes(blob)

    def idle(self) -> list[int]:
        return [i for i in range(len(self.procs)) if i not in self.busy]

    def submit(self, worker: int, key: Any, func: Callable, *args: Any) -> None:
        self.busy[worker] = key
        self.conns[worker].send(("task", key, func, args))

    def events(self, timeout: float) -> list[tuple[str, Any, Any]]:
        """What came back within ``timeout`` s: ("progress", key, value) and ("done", key,
        result) tuples. Raises WorkerFailed if a task raised or a worker died."""
        ready = wait([c for i, c in enumerate(self.conns) if i in self.busy], timeout)
        out = []
        for conn in ready:
            i = self.conns.index(conn)
            try:
                kind, key, value = conn.recv()
            except (EOFError, OSError):
                raise WorkerFailed(self._death(i)) from None
            if kind == "error" and "MemoryError" in value:
                raise WorkerFailed(f"a task needed more than a worker's memory limit of "
                                   f"{self.memory_mb} MB (the estimate was too low); nothing else "
                                   f"was affected")
            if kind == "error":
                raise WorkerFailed(f"a task failed in a worker process:\n{value}")
            if kind == "done":
                del self.busy[i]
            out.append((kind, key, value))
        return out

    def _death(self, i: int) -> str:
        proc = self.procs[i]
        try:
            code = proc.wait(2)
        except subprocess.TimeoutExpired:
            code = None
        why = {-signal.SIGKILL: " (killed: out of memory or past its CPU time limit of "
                                f"{self.cpu_seconds} s?)",
               -signal.SIGXCPU: f" (past its CPU time limit of {self.cpu_seconds} s)"}.get(code, "")
        return f"a worker process (pid {proc.pid}) ended unexpectedly with exit code {code}{why}"

    def close(self, grace: float = 0.5) -> None:
        """End every worker now: SIGTERM, then SIGKILL those still alive after ``grace`` s."""
        for conn in self.conns:
            conn.close()
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
        deadline = time.monotonic() + grace
        for proc in self.procs:
            try:
                proc.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.conns, self.busy = [], {}

    def __enter__(self) -> "WorkerPool":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


# --- in the worker ---------------------------------------------------------------------------
def _limit_self() -> None:
    """The hard limits the parent passed (see the module's docstring), on this process."""
    for name, kind, scale in (("NN_WORKER_AS_MB", resource.RLIMIT_AS, 2**20),
                              ("NN_WORKER_CPU_SECONDS", resource.RLIMIT_CPU, 1)):
        value = os.environ.get(name, "").strip()
        if value.isdigit() and int(value) > 0:
            soft = int(value) * scale
            hard = soft + 5 if kind == resource.RLIMIT_CPU else soft   # SIGXCPU, then SIGKILL
            resource.setrlimit(kind, (soft, hard))


def worker_main(fd: int) -> None:
    parent = os.getppid()
    die_with_parent()
    _limit_self()
    if os.getppid() != parent:                         # the parent ended before prctl
        return
    signal.signal(signal.SIGINT, signal.SIG_IGN)       # Ctrl-C is the parent's to handle
    os.nice(limits().worker_nice)                      # the server's pages first (hosting: 5)
    conn = Connection(fd)
    context: dict[str, Any] = {}
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        if message[0] == "data":
            context["data"] = message[2]
            continue
        _, key, func, args = message
        last = [time.monotonic()]

        def progress(value: Any) -> None:
            if time.monotonic() - last[0] >= PROGRESS_EVERY:
                last[0] = time.monotonic()
                conn.send(("progress", key, value))
        try:
            result = func(*args, data=context.get("data"), progress=progress)
            conn.send(("done", key, result))
        except BaseException:
            conn.send(("error", key, traceback.format_exc(limit=8)))


def probe(megabytes: int = 0, busy_seconds: float = 0.0, data: Any = None, progress: Any = None) -> int:
    """A task that holds ``megabytes`` and spins ``busy_seconds`` of CPU: checks a worker's limits."""
    block = bytearray(megabytes * 2**20)
    for i in range(0, len(block), 4096):
        block[i] = 1                                   # touch every page
    end = time.process_time() + busy_seconds
    while time.process_time() < end:
        pass
    return len(block)
