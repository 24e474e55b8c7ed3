"""Heavy or risky work in a single-use worker process with hard limits.

A visitor's training run, a large Step or the parsing of an uploaded table runs in a child
process of its own, so that an estimate that turns out wrong ends that one job with a message,
never the server, and so that the server's own threads (the pages, the health endpoint) do not
wait for the work's Python code (the GIL). One job, one process: nothing of one visitor's work is
left in a process that another visitor's job uses.

    with IsolatedJob(task, payload, arrays, memory_bytes, cpu_seconds) as job:
        for kind, value in job.messages(timeout=0.1): ...   # what task sent, then ("result", r)
        job.stop()                                          # task's channel.stop_requested() -> True

``task(channel, payload, arrays)`` is a module-level function (pickled by name) run in the child;
``arrays`` are NumPy arrays sent as raw bytes (no pickling, no copy in this process). Its return
value comes back as ("result", value); an exception as ``JobFailed`` with a message for the
visitor (the traceback goes to the log only).

The child sets its own limits when its job arrives (``resource.setrlimit``): an address space of
what it holds then, plus ``memory_bytes`` and ``AS_MARGIN`` (RLIMIT_AS: an allocation beyond fails
with MemoryError) and ``cpu_seconds`` of CPU time (RLIMIT_CPU: the kernel ends it). The payload
arrives as pickled bytes and is unpickled under the limit, so that what it holds (a trainer's
weights and optimizer state) counts against ``memory_bytes`` as the estimates count it; had the
limit been taken after unpickling, whatever that left in the heap (copies freed but kept by the
allocator) would have silently widened the room by up to the payload's size. It dies with
this process (Linux ``PR_SET_PDEATHSIG``, tied to the long-lived thread that starts workers) and
when its socket closes. Workers are started ahead of need (``SPARES``: a warm worker per job slot
waits with NumPy and the network code imported), so a job starts in milliseconds, not the 0.6 s
(seconds on a loaded machine) an interpreter takes to import them.

Messages are pickled only between this process and its own children, never from elsewhere.
"""
from __future__ import annotations

import logging
import os
import pickle
import resource
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback
from collections import deque
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np

from nn.hosting import limits
from nn.hosting.shared_arrays import attach, shared_name

log = logging.getLogger(__name__)
ROOT = str(Path(__file__).resolve().parents[2])       # so that ``import nn`` works in a worker
AS_MARGIN = 256 * 2**20     # address space beyond the estimate: thread stacks, BLAS buffers, slack
START_TIMEOUT = 60.0        # seconds a new worker may take to import its modules
SOCKET_BUFFER = 4 * 2**20
MAX_SPARES = 4              # warm workers kept ready, at most (each holds about 55 MB)
MEMORY_EXIT = 3             # a worker's exit code when it ran out of memory and could not say so
BLAS_EXIT = 1               # OpenBLAS exits with 1 when it cannot map a buffer (out of address space)
PRELOAD = ("numpy", "nn.core.training", "nn.runs.experiment")
Task = Callable[["Channel", Any, dict[str, np.ndarray]], Any]


class JobFailed(RuntimeError):
    """The job raised, ran out of its memory or time, or its process died; the message is for
    the visitor (plain words, no traceback)."""


class JobStopped(RuntimeError):
    """``run`` was told to stop before the job finished."""


# --- the parent's side -------------------------------------------------------------------------
class Spares:
    """Warm worker processes, started ahead of need by one long-lived thread (a worker dies
    with the thread that started it, so that thread must outlive every job)."""

    def __init__(self, keep: int | None = None) -> None:
        self._keep = keep
        self._ready: deque[tuple[subprocess.Popen, Connection]] = deque()
        self._takers = 0
        self._running = 0          # jobs running now: spares are refilled when none runs
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._error: str | None = None

    @property
    def keep(self) -> int:
        """Spares kept ready: one per job slot (at most ``MAX_SPARES``), so that jobs starting
        together do not wait for an interpreter to start (seconds on a loaded machine)."""
        return self._keep if self._keep is not None else min(limits().job_slots, MAX_SPARES)

    def take(self, timeout: float = START_TIMEOUT) -> tuple[subprocess.Popen, Connection]:
        """A ready worker (waits for one to start if none is ready)."""
        with self._cond:
            self._ensure_thread()
            self._takers += 1
            self._cond.notify_all()
            try:
                if not self._cond.wait_for(lambda: self._ready or self._error, timeout):
                    raise JobFailed("no worker process could be started in time")
                if not self._ready:
                    raise JobFailed(f"no worker process could be started ({self._error})")
                self._running += 1
                return self._ready.popleft()
            finally:
                self._takers -= 1
                self._cond.notify_all()

    def job_ended(self) -> None:
        """A job taken with ``take`` has ended: when none runs, the spares are refilled."""
        with self._cond:
            self._running = max(self._running - 1, 0)
            self._cond.notify_all()

    def _wanted(self) -> int:
        """Spares to have now: ``keep`` while no job runs; while jobs run, only those waited for
        (an interpreter importing NumPy takes a core for 0.3-0.6 s: not while a job computes)."""
        return (self.keep if self._running == 0 else 0) + self._takers

    def warm(self) -> None:
        """Start the spare now (e.g. when the app starts), so the first job need not wait."""
        with self._cond:
            self._ensure_thread()

    def _ensure_thread(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._error = None
            self._thread = threading.Thread(target=self._spawner, name="nn-spare-workers", daemon=True)
            self._thread.start()

    def _spawner(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: len(self._ready) < self._wanted())
            try:
                worker = _start_worker()
            except Exception as exc:               # e.g. out of processes: tell the takers
                log.exception("could not start a worker process")
                with self._cond:
                    self._error = f"{type(exc).__name__}: {exc}"
                    self._cond.notify_all()
                    self._thread = None
                return
            with self._cond:
                self._ready.append(worker)
                self._cond.notify_all()


def _start_worker() -> tuple[subprocess.Popen, Connection]:
    ours, theirs = socket.socketpair()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (ROOT, os.environ.get("PYTHONPATH")) if p)}
    proc = subprocess.Popen([sys.executable, "-m", "nn.hosting.isolated", str(theirs.fileno())],
                            pass_fds=(theirs.fileno(),), env=env, stdin=subprocess.DEVNULL)
    theirs.close()
    conn = Connection(ours.detach())
    if not conn.poll(START_TIMEOUT):
        proc.kill()
        raise RuntimeError("a worker process did not start in time")
    try:
        conn.recv()                                # ("ready", pid)
    except (EOFError, OSError):
        raise RuntimeError(f"a worker process ended at start (exit code {proc.wait()})") from None
    return proc, conn


SPARES = Spares()


class IsolatedJob:
    """One job in its own worker process (see the module's docstring)."""

    def __init__(self, task: Task, payload: Any, arrays: Mapping[str, np.ndarray] | None = None,
                 memory_bytes: int = 0, cpu_seconds: float | None = None, blas_threads: int = 1,
                 what: str = "this job") -> None:
        self.what, self.memory_bytes, self.cpu_seconds = what, int(memory_bytes), cpu_seconds
        self.result: Any = None
        self.finished = False
        self.failed: str | None = None          # why it failed (JobFailed was raised)
        self.closed = False
        self.proc, self.conn = SPARES.take()
        try:
            arrays = {k: np.ascontiguousarray(v) for k, v in (arrays or {}).items() if v is not None}
            specs = [(k, a.dtype.str, a.shape, shared_name(a)) for k, a in arrays.items()]
            self.conn.send(("job", dict(task=task, payload=pickle.dumps(payload, pickle.HIGHEST_PROTOCOL),
                                        arrays=specs, memory=self.memory_bytes,
                                        cpu=cpu_seconds, blas=int(blas_threads))))
            raw = socket.socket(fileno=os.dup(self.conn.fileno()))    # arrays: raw bytes
            with raw:
                _big_buffers(raw, socket.SO_SNDBUF)
                for (_, _, _, shared), a in zip(specs, arrays.values()):
                    if a.nbytes and shared is None:           # a shared one: its name says it
                        raw.sendall(memoryview(a).cast("B"))
        except (OSError, EOFError):
            self.close()
            raise JobFailed(self._death()) from None
        except BaseException:
            self.close()
            raise

    @property
    def pid(self) -> int:
        return self.proc.pid

    def messages(self, timeout: float = 0.0) -> list[tuple[str, Any]]:
        """What the job sent within ``timeout`` seconds, in order; ("result", value) last when it
        finished. Raises ``JobFailed`` if it failed or died."""
        out: list[tuple[str, Any]] = []
        if self.finished or self.failed:
            return out
        if not wait([self.conn], timeout):
            return out
        while not self.finished and self.conn.poll(0):
            try:
                kind, value = self.conn.recv()
            except (EOFError, OSError):
                self._fail(self._death())
            if kind == "memory":
                self._fail(f"{self.what} needed more memory than the {_mb(self.memory_bytes)} "
                           f"estimated for it and was ended; nothing else was affected")
            if kind == "error":
                log.error("%s failed in worker %s:\n%s", self.what, self.pid, value)
                self._fail(f"{self.what} failed ({value.strip().splitlines()[-1][:200]})")
            if kind == "result":
                self.finished, self.result = True, value
            out.append((kind, value))
        return out

    def _fail(self, message: str) -> None:
        self.failed = message
        raise JobFailed(message) from None

    def stop(self) -> None:
        """Ask the job to end (its ``channel.stop_requested()`` turns True)."""
        try:
            self.conn.send(("stop", None))
        except (OSError, ValueError):
            pass

    def _death(self) -> str:
        try:
            code = self.proc.wait(2)
        except subprocess.TimeoutExpired:
            code = None
        if code == MEMORY_EXIT or (code == BLAS_EXIT and self.memory_bytes):
            return (f"{self.what} needed more memory than the {_mb(self.memory_bytes)} estimated "
                    f"for it and was ended; nothing else was affected")
        if code in (-signal.SIGKILL, -signal.SIGXCPU) and self.cpu_seconds:
            return (f"{self.what} was ended: it went past its limit of {self.cpu_seconds:.0f} s of "
                    f"CPU time (or out of memory)")
        return f"{self.what} ended unexpectedly (its worker process exited with code {code})"

    def close(self, grace: float = 0.2) -> None:
        """End the worker now (SIGTERM, then SIGKILL after ``grace`` seconds)."""
        if not self.closed:
            self.closed = True
            SPARES.job_ended()
        self.conn.close()
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(grace)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def __enter__(self) -> "IsolatedJob":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def run(task: Task, payload: Any, arrays: Mapping[str, np.ndarray] | None = None, *,
        memory_bytes: int = 0, cpu_seconds: float | None = None,
        should_stop: Callable[[], bool] = lambda: False, on_message: Callable[[str, Any], None] = lambda k, v: None,
        what: str = "this job", poll: float = 0.05) -> Any:
    """Run ``task`` in a worker to the end and return its result; ``JobStopped`` (the worker
    killed at once) as soon as ``should_stop()`` turns True; ``JobFailed`` if it failed."""
    with IsolatedJob(task, payload, arrays, memory_bytes, cpu_seconds, what=what) as job:
        while True:
            for kind, value in job.messages(poll):
                if kind == "result":
                    return value
                on_message(kind, value)
            if should_stop():
                raise JobStopped(what)


def _big_buffers(raw: socket.socket, which: int) -> None:
    """4 MB socket buffers: MNIST's 188 MB cross in 0.13 s instead of 0.5 s (the system's
    ``net.core.[rw]mem_max`` may cap it)."""
    try:
        raw.setsockopt(socket.SOL_SOCKET, which, SOCKET_BUFFER)
    except OSError:
        pass


def _mb(nbytes: int) -> str:
    return f"{nbytes / 2**20:,.0f} MB"


# --- the child's side ----------------------------------------------------------------------------
class Channel:
    """The task's line to the parent: ``send`` a message, ask whether it was told to stop."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self.stopped = False

    def send(self, kind: str, value: Any = None) -> None:
        self._conn.send((kind, value))

    def stop_requested(self) -> bool:
        while not self.stopped and self._conn.poll(0):
            try:
                kind, _ = self._conn.recv()
            except (EOFError, OSError):            # the parent is gone: stop
                kind = "stop"
            self.stopped = kind == "stop"
        return self.stopped


def die_with_parent() -> None:
    """Linux: SIGKILL this process when the thread that started it ends."""
    try:
        import ctypes
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)      # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _address_space() -> int:
    """Bytes of address space this process holds now (VmSize)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 0


def _limit_self(memory: int, cpu: float | None) -> None:
    if memory:
        limit = _address_space() + memory + AS_MARGIN
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    if cpu:
        used = time.process_time()
        soft = int(used + cpu) + 1
        resource.setrlimit(resource.RLIMIT_CPU, (soft, soft + 5))     # SIGXCPU, then SIGKILL


def _receive_arrays(conn: Connection, specs: list[tuple[str, str, tuple, str | None]]) -> dict[str, np.ndarray]:
    """The arrays the parent sent after the job, straight into their memory (no copy), or
    mapped from the parent's shared memory (``nn.hosting.shared_arrays``)."""
    arrays = {}
    with socket.socket(fileno=os.dup(conn.fileno())) as raw:
        _big_buffers(raw, socket.SO_RCVBUF)
        for name, dtype, shape, shared in specs:
            if shared is not None:
                arrays[name] = attach(shared, dtype, shape)
                continue
            a = np.empty(shape, dtype=np.dtype(dtype))
            view, got = (memoryview(a).cast("B") if a.nbytes else None), 0
            while got < a.nbytes:
                n = raw.recv_into(view[got:])
                if not n:
                    raise EOFError("the parent closed the line while sending data")
                got += n
            arrays[name] = a
    return arrays


def _blas_threads(n: int) -> None:
    try:
        from threadpoolctl import threadpool_limits
        threadpool_limits(limits=max(1, n), user_api="blas")
    except Exception:                                   # no threadpoolctl: keep the default
        pass


def _warm_blas() -> None:
    """A product in each precision, so that OpenBLAS maps its buffers before the memory limit
    (a buffer it cannot map later ends the process with exit code 1)."""
    for dtype in (np.float32, np.float64):
        a = np.ones((128, 128), dtype)
        a @ a


def worker_main(fd: int) -> None:
    parent = os.getppid()
    die_with_parent()
    if os.getppid() != parent:                          # the parent ended before prctl
        return
    signal.signal(signal.SIGINT, signal.SIG_IGN)        # Ctrl-C is the parent's to handle
    os.nice(limits().worker_nice)                       # the server's pages first (hosting: 5)
    for name in PRELOAD:
        __import__(name)
    conn = Connection(fd)
    conn.send(("ready", os.getpid()))
    try:
        _, job = conn.recv()
    except (EOFError, OSError):
        return
    out_of_memory = pickle.dumps(("memory", None))        # made before the limit: no room later
    failed = False
    try:
        _blas_threads(job["blas"])
        _warm_blas()
        _limit_self(job["memory"], job["cpu"])
        payload = pickle.loads(job.pop("payload"))        # under the limit (see the docstring)
        arrays = _receive_arrays(conn, job["arrays"])
        result = job["task"](Channel(conn), payload, arrays)
        conn.send(("result", result))
    except MemoryError:
        failed = True                                     # sent below, the task's frames freed
    except BaseException:
        try:
            conn.send(("error", traceback.format_exc(limit=8)))
        except MemoryError:
            failed = True
    if failed:
        arrays = result = payload = None
        try:
            conn.send_bytes(out_of_memory)
        except (OSError, MemoryError):
            os._exit(MEMORY_EXIT)


def probe(channel: Channel, payload: Mapping[str, Any], arrays: dict[str, np.ndarray]) -> dict[str, Any]:
    """A task that holds ``payload['megabytes']``, spins ``payload['busy_seconds']`` of CPU (or
    until stopped) and reports the arrays it got: checks a worker's limits and its line."""
    block = bytearray(int(payload.get("megabytes", 0)) * 2**20)
    for i in range(0, len(block), 4096):
        block[i] = 1                                    # touch every page
    end = time.process_time() + float(payload.get("busy_seconds", 0.0))
    channel.send("started", os.getpid())
    while time.process_time() < end and not channel.stop_requested():
        pass
    return {"pid": os.getpid(), "sums": {k: float(a.sum()) for k, a in arrays.items()},
            "stopped": channel.stopped, "bytes": len(block), "nice": os.nice(0)}


if __name__ == "__main__":
    worker_main(int(sys.argv[1]))
