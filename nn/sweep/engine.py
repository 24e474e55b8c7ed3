"""Sweeps: train many networks that differ in one setting and compare their test accuracy.

A sweep is a base ``RunConfig``, the parameter to vary (``hidden``, ``lr``, ``batch_size`` or
``depth``), its values and a number of trials. Trial t of every value uses seed ``seed + t`` for
both initialisation and shuffling, so trial t of value v is exactly what

    python -m nn train <base options> --<param> v --seed <seed + t>

trains (common random numbers: every value sees the same data orders). Networks that share a
data order train in lockstep (nn/sweep/lockstep.py). The lockstep *blocks* depend only on the sweep,
never on the number of workers, and a block's arithmetic does not depend on how many trials
run beside it, so the same sweep gives the same numbers on one core, on all cores (worker
processes, nn/sweep/pool.py) or on a Dask cluster.

Before anything runs, the sweep's work and peak memory are estimated (nn/sweep/budget.py) and
held to the server's limits (nn/hosting.py); a started sweep (``SweepRun``) can be cancelled at
any moment, its worker processes with it.

Equality with training alone: the lockstep does the same computation as ``MLP`` + ``Trainer``
(same initial weights, same batches in the same order, same gradients, same update rules), but
not bit for bit: it sums products in another order (per-network sums where ``MLP`` calls BLAS,
biases inside the sums), and with two classes it works through the logit difference. So the
parameters agree to rounding (on the tutorial's moons, about 1e-7 relative in float32 and 1e-16
in float64 after 10 epochs), and test accuracies agree exactly unless a test point lies within
rounding of a decision boundary (tests/test_sweep.py checks accuracies exactly and losses to
1e-9 in float64, 1e-4 in float32; benchmarks/bench_sweep.py --verify K checks the full sweep).
"""
from __future__ import annotations

import csv
import io
import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from nn.data import Dataset
from nn.hosting import limits
from nn.runs.config import MAX_HIDDEN_LAYERS, MAX_HIDDEN_SIZE, ConfigError, RunConfig
from nn.runs.experiment import load_data
from nn.sweep import dask_probe
from nn.sweep import budget
from nn.sweep.lockstep import Lockstep, NetSpec, Shared
from nn.sweep.pool import WorkerFailed, WorkerPool

PARAMS = ("hidden", "lr", "batch_size", "depth")
DTYPES = ("float32", "float64")
MAX_TRIALS = 100
MAX_VALUES = 500
BLOCK_UNITS = 512        # most hidden units side by side in one lockstep block (fixed: see above)


@dataclass
class SweepConfig:
    """A sweep: the base configuration, the parameter to vary, its values, trials per value."""
    run: RunConfig
    param: str = "hidden"
    values: list[Any] = field(default_factory=lambda: list(range(3, 41)))
    trials: int = 3
    dtype: str = "float32"

    def validate(self) -> "SweepConfig":
        if self.param not in PARAMS:
            raise ConfigError("param", f"param (--param) must be one of: {', '.join(PARAMS)}; "
                                       f"got {self.param!r}")
        self.values = check_values(self.param, self.values)
        if isinstance(self.trials, bool) or not isinstance(self.trials, (int, np.integer)) \
                or not 1 <= self.trials <= MAX_TRIALS:
            raise ConfigError("trials", f"trials (--trials) must be a whole number from 1 to "
                                        f"{MAX_TRIALS}; got {self.trials!r}")
        if self.dtype not in DTYPES:
            raise ConfigError("dtype", f"dtype (--dtype) must be one of: {', '.join(DTYPES)}; "
                                       f"got {self.dtype!r}")
        self.run.validate()
        if self.run.arch is not None:
            raise ConfigError("arch", "a sweep trains MLPs (networks in lockstep); a network given by "
                                      f"--arch ({self.run.arch!r}) cannot be swept")
        if self.run.seed + self.trials - 1 > 2**32 - 1:
            raise ConfigError("seed", f"seed (--seed) plus trials must stay below 2**32; got "
                                      f"{self.run.seed} + {self.trials}")
        return self

    def trial_seed(self, trial: int) -> int:
        return self.run.seed + trial

    def config_for(self, value: Any) -> RunConfig:
        """The base configuration with the swept parameter set to ``value``."""
        values = self.run.to_dict()
        if self.param == "hidden":
            values["hidden"] = [value] * len(self.run.hidden)     # every hidden layer
        elif self.param == "depth":
            values["hidden"] = [self.run.hidden[0]] * value        # ``value`` layers of the first width
        else:
            values[self.param] = value
        return RunConfig.from_dict(values)

    def to_dict(self) -> dict[str, Any]:
        return {"param": self.param, "values": list(self.values), "trials": self.trials,
                "dtype": self.dtype, "run": self.run.to_dict()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "SweepConfig":
        return cls(RunConfig.from_dict(d["run"]), d["param"], list(d["values"]), d["trials"], d["dtype"])


# --- values ------------------------------------------------------------------------------------
_LIMITS = {"hidden": (1, MAX_HIDDEN_SIZE), "batch_size": (1, 10**7), "depth": (1, MAX_HIDDEN_LAYERS)}


def check_values(param: str, values: Sequence[Any]) -> list[Any]:
    """The values as a list, or ConfigError naming --values and what ``param`` allows."""
    values = list(values)
    if not 1 <= len(values) <= MAX_VALUES:
        raise ConfigError("values", f"values (--values) takes 1 to {MAX_VALUES} values; got {len(values)}")
    if len(set(map(str, values))) != len(values):
        raise ConfigError("values", f"values (--values) must not repeat; got {values}")
    for v in values:
        if not _value_ok(param, v):
            raise ConfigError("values", f"values (--values) for --param {param} must be {allowed(param)}; "
                                        f"got {v!r}")
    return [v if v == "full" else (float(v) if param == "lr" else int(v)) for v in values]


def allowed(param: str) -> str:
    if param == "lr":
        return "numbers with 0 < lr <= 100"
    low, high = _LIMITS[param]
    extra = " or 'full'" if param == "batch_size" else ""
    return f"whole numbers from {low} to {high}{extra}"


def _value_ok(param: str, v: Any) -> bool:
    if isinstance(v, bool):
        return False
    if param == "lr":
        return isinstance(v, (int, float, np.integer, np.floating)) and 0 < v <= 100
    if param == "batch_size" and v == "full":
        return True
    low, high = _LIMITS[param]
    return isinstance(v, (int, np.integer)) and low <= v <= high


def parse_values(param: str, tokens: Sequence[str]) -> list[Any]:
    """Values from text: numbers, and inclusive ranges ``START:STOP`` or ``START:STOP:STEP``
    (``3:40`` is 3, 4, ..., 40; ``0.01:0.05:0.01`` is 0.01, 0.02, ..., 0.05). ConfigError naming
    --values: text that is not a number or a range, a range that leaves what ``param`` allows
    (out of range) or that gives more than MAX_VALUES values."""
    out: list[Any] = []
    for token in (t for tok in tokens for t in str(tok).replace(",", " ").split()):
        try:
            out += _parse_range(param, token) if ":" in token else [_number(param, token)]
        except ConfigError:
            raise                         # readable, but out of range or too many: it says so
        except ValueError as exc:
            why = f": {exc}" if str(exc).startswith("a range") else ""
            raise ConfigError("values", f"values (--values) for --param {param} must be {allowed(param)}, "
                                        f"or ranges START:STOP[:STEP]; could not read {token!r}{why}") from None
    return check_values(param, out)


def _number(param: str, text: str) -> Any:
    if param == "batch_size" and text == "full":
        return text
    return float(text) if param == "lr" else int(text)


def _parse_range(param: str, token: str) -> list[Any]:
    parts = [_number(param, p) for p in token.split(":")]
    if len(parts) not in (2, 3) or "full" in parts:
        raise ValueError(token)
    start, stop = parts[0], parts[1]
    step = parts[2] if len(parts) == 3 else 1
    if not all(math.isfinite(x) for x in parts):
        raise ValueError(token)
    if stop < start or step <= 0:
        raise ValueError("a range needs START <= STOP and a STEP above 0")
    for end in (start, stop):
        if not _value_ok(param, end):
            raise ConfigError("values", f"values (--values): {token} is out of range for --param "
                                        f"{param}, which takes {allowed(param)} ({end:g} is not)")
    count = int(math.floor((stop - start) / step + 1e-9)) + 1
    if count > MAX_VALUES:
        hint = ""
        if param != "lr":
            hint = f" (e.g. {start}:{stop}:{math.ceil((stop - start + 1) / MAX_VALUES)})"
        raise ConfigError("values", f"values (--values): {token} gives {count} values for --param "
                                    f"{param}, and a sweep takes at most {MAX_VALUES}: use a larger "
                                    f"step{hint} or a shorter range")
    if param == "lr":
        return [float(f"{start + i * step:.12g}") for i in range(count)]
    return [start + i * step for i in range(count)]


# --- planning ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Task:
    """One piece of work for a worker: a lockstep block of values, for some trials."""
    values: tuple[int, ...]        # indices into SweepConfig.values
    trials: tuple[int, ...]


def blocks(sweep: SweepConfig) -> list[tuple[int, ...]]:
    """Values that train side by side: same batch size and depth, one hidden layer, at most
    BLOCK_UNITS hidden units in all (split evenly). Deeper networks train one value per block."""
    groups: dict[tuple[Any, ...], list[int]] = {}
    for i, v in enumerate(sweep.values):
        c = sweep.config_for(v)
        groups.setdefault((str(c.batch_size), len(c.hidden)), []).append(i)
    out: list[tuple[int, ...]] = []
    for (_, depth), idx in groups.items():
        if depth > 1:
            out += [(i,) for i in idx]
            continue
        widths = [sweep.config_for(sweep.values[i]).hidden[0] for i in idx]
        n = max(1, math.ceil(sum(widths) / BLOCK_UNITS))
        out += _split_even(idx, widths, n)
    return out


def _split_even(idx: list[int], widths: list[int], n: int) -> list[tuple[int, ...]]:
    """``idx`` in order, cut into at most ``n`` runs of about equal total width."""
    total, cum, cuts = sum(widths), 0, []
    target = total / n
    for j, w in enumerate(widths):
        cum += w
        if len(cuts) < n - 1 and cum >= target * (len(cuts) + 1) and j < len(widths) - 1:
            cuts.append(j + 1)
    bounds = [0, *cuts, len(idx)]
    return [tuple(idx[a:b]) for a, b in zip(bounds[:-1], bounds[1:]) if b > a]


def plan(sweep: SweepConfig, workers: int) -> list[Task]:
    """Every block, with its trials split so that there are about ``workers`` tasks or more;
    biggest first. Splitting trials never changes a result (each trial has its own stream)."""
    bs = blocks(sweep)
    pieces = min(sweep.trials, max(1, math.ceil(workers / len(bs))))
    trials = np.array_split(np.arange(sweep.trials), pieces)
    tasks = [Task(b, tuple(int(t) for t in ts)) for b in bs for ts in trials]
    return sorted(tasks, key=lambda t: -_cost(sweep, t))


def _cost(sweep: SweepConfig, task: Task) -> float:
    """Rough work: steps x (fixed cost per step + units), for ordering the tasks."""
    cfgs = [sweep.config_for(sweep.values[i]) for i in task.values]
    units = sum(sum(c.hidden) for c in cfgs) * len(task.trials)
    bs = cfgs[0].batch_size
    steps = cfgs[0].epochs * (1 if bs == "full" else max(1, sweep.run.n_samples // int(bs)))
    return steps * (200 + units)


# --- running -----------------------------------------------------------------------------------
def run_task(sweep: dict[str, Any] | SweepConfig, task: Task, data: Dataset | None = None,
             progress: Callable[[int], None] | None = None) -> list[dict[str, Any]]:
    """Train one task's networks in lockstep; one result per (value, trial). Runs in a worker,
    given the data (a worker that loads it itself spends a second importing scikit-learn);
    ``progress(epochs_done)`` is called after every epoch."""
    sw = sweep if isinstance(sweep, SweepConfig) else SweepConfig.from_dict(sweep)
    cfgs = [sw.config_for(sw.values[i]) for i in task.values]
    c0 = cfgs[0]
    data = data if data is not None else load_data(c0)
    shared = Shared(data.n_features, data.n_classes, c0.activation, c0.init, c0.optimizer,
                    c0.momentum, c0.weight_decay, c0.batch_size, sw.dtype)
    seeds = [sw.trial_seed(t) for t in task.trials]
    ls = Lockstep([NetSpec(tuple(c.hidden), c.lr) for c in cfgs], seeds, shared)
    started = time.perf_counter()
    ls.train(data.X_train, data.y_train, c0.epochs, on_epoch=progress)
    seconds = (time.perf_counter() - started) / len(seeds)
    # the networks trained together share the time in proportion to their parameters (their
    # share of every product): equal for a sweep of learning rates, growing with hidden sizes
    sizes = [sum(a * b + b for a, b in zip(ls.layer_sizes(k)[:-1], ls.layer_sizes(k)[1:]))
             for k in range(len(cfgs))]
    return [_result(sw, ls, data, s, k, task, seconds * sizes[k] / sum(sizes))
            for s in range(len(seeds)) for k in range(len(cfgs))]


def _result(sw: SweepConfig, ls: Lockstep, data: Dataset, s: int, k: int, task: Task,
            seconds: float) -> dict[str, Any]:
    trial, i = task.trials[s], task.values[k]
    diverged = not ls.finite(s, k)
    loss = acc = None
    if not diverged:
        loss, acc = ls.model(s, k).evaluate(data.X_test, data.y_test)
        diverged = not math.isfinite(loss)
    return {"value_index": i, "value": sw.values[i], "trial": trial, "seed": sw.trial_seed(trial),
            "accuracy": None if diverged else acc, "test_loss": None if diverged else loss,
            "diverged": diverged, "seconds": seconds}


class SweepError(RuntimeError):
    """The sweep could not finish: a worker or the Dask cluster failed; the message says why."""


def default_workers() -> int:
    """Every core this server allows a sweep (``limits().max_workers``: the usable cores, or
    fewer with NN_MAX_WORKERS)."""
    return limits().max_workers


def check_workers(workers: int | None) -> int:
    """``workers`` as a number of local processes (None or -1: every allowed core), or
    ConfigError naming --workers and the allowed range."""
    top = default_workers()
    if workers in (None, -1):
        return top
    if isinstance(workers, bool) or not isinstance(workers, (int, np.integer)) or not 1 <= workers <= top:
        raise ConfigError("workers", f"workers (--workers) must be a whole number from 1 to {top} "
                                     f"(this machine's cores, or NN_MAX_WORKERS), or -1 for all of "
                                     f"them; got {workers!r}")
    return int(workers)


# --- the budget --------------------------------------------------------------------------------
def _task_shape(sweep: SweepConfig, task: Task, n_train: int) -> budget.TaskShape:
    cfgs = [sweep.config_for(sweep.values[i]) for i in task.values]
    return budget.task_shape([tuple(c.hidden) for c in cfgs], len(task.trials), cfgs[0].batch_size,
                             cfgs[0].epochs, n_train)


def task_costs(sweep: SweepConfig, tasks: list[Task]) -> list[float]:
    """Estimated core seconds of each task (see nn/sweep/budget.py)."""
    shape = budget.data_shape(sweep.run)
    return [budget.task_seconds(_task_shape(sweep, t, shape.n_train), shape) for t in tasks]


def estimate(sweep: SweepConfig, workers: int, tasks: list[Task] | None = None) -> budget.Estimate:
    """The sweep's estimated work (core seconds) and peak memory with ``workers`` processes at
    once, against this server's limits (``.check()`` refuses what exceeds them)."""
    tasks = plan(sweep, workers) if tasks is None else tasks
    shape = budget.data_shape(sweep.run)
    itemsize = np.dtype(sweep.dtype).itemsize
    at_once = min(workers, len(tasks))
    biggest = sorted((budget.task_bytes(_task_shape(sweep, t, shape.n_train), shape, itemsize)
                      for t in tasks), reverse=True)[:at_once]
    data = budget.data_bytes(shape)
    processes = (at_once + 1) * budget.WORKER_BASE_MB * 2**20          # the workers and this one
    memory = budget.MARGIN * (processes + 2 * data + at_once * data + sum(biggest))
    lim = limits()
    return budget.Estimate(sum(task_costs(sweep, tasks)), memory / 2**20, at_once,
                           len(sweep.values) * sweep.trials, lim.max_sweep_seconds,
                           lim.max_sweep_memory_mb)


# --- a running sweep ----------------------------------------------------------------------------
class SweepRun:
    """A started sweep. ``poll(timeout)`` returns one task's results when one finishes within
    ``timeout`` seconds (else None); ``progress`` is the share of the work done; ``cancel()``
    ends it at once, with its worker processes. Use it in a ``with`` block: leaving the block
    in any way (an exception, a stopped Streamlit script) cancels what is still running."""

    def __init__(self, sweep: SweepConfig, tasks: list[Task], estimate: budget.Estimate,
                 where: str) -> None:
        self.sweep, self.tasks, self.estimate, self.where = sweep, tasks, estimate, where
        self.total = len(sweep.values) * sweep.trials
        self._weights = task_costs(sweep, tasks)
        self._epochs = [sweep.run.epochs] * len(tasks)        # (every value has the base's epochs)
        self._done: dict[int, float] = {}                     # task index -> share of it done
        self.finished = 0                                     # tasks finished

    @property
    def done(self) -> bool:
        return self.finished == len(self.tasks)

    @property
    def progress(self) -> float:
        total = sum(self._weights) or 1.0
        return min(1.0, sum(self._weights[i] * f for i, f in self._done.items()) / total)

    def _note(self, i: int, epochs_done: int) -> None:
        self._done[i] = min(1.0, epochs_done / max(1, self._epochs[i]))

    def _finish(self, i: int) -> None:
        self._done[i] = 1.0
        self.finished += 1

    def poll(self, timeout: float) -> list[dict[str, Any]] | None:
        raise NotImplementedError

    def cancel(self) -> None:
        """End what is still running (idempotent)."""

    def __enter__(self) -> "SweepRun":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.cancel()


class _InProcess(SweepRun):
    """Tasks one after the other in this process (one worker): ``poll`` trains a whole task."""

    def __init__(self, sweep: SweepConfig, tasks: list[Task], est: budget.Estimate, data: Dataset):
        super().__init__(sweep, tasks, est, "this process")
        self.data = data

    def poll(self, timeout: float) -> list[dict[str, Any]] | None:
        if self.done:
            return None
        i = self.finished
        out = run_task(self.sweep, self.tasks[i], self.data, progress=lambda e: self._note(i, e))
        self._finish(i)
        return out


class _Local(SweepRun):
    """Tasks on local worker processes (nn/sweep/pool.py), biggest first, one per idle worker."""

    def __init__(self, sweep: SweepConfig, tasks: list[Task], est: budget.Estimate, workers: int):
        super().__init__(sweep, tasks, est, f"{workers} local worker process(es)")
        self.pool = WorkerPool(workers)                       # they start while the data loads
        self.next = 0
        self.sweep_dict = sweep.to_dict()

    def start(self, data: Dataset) -> "_Local":
        self.pool.send_data(data)
        self._feed()
        return self

    def _feed(self) -> None:
        for w in self.pool.idle():
            if self.next >= len(self.tasks):
                return
            self.pool.submit(w, self.next, run_task, self.sweep_dict, self.tasks[self.next])
            self.next += 1

    def poll(self, timeout: float) -> list[dict[str, Any]] | None:
        deadline = time.monotonic() + timeout
        while not self.done:
            try:
                events = self.pool.events(max(0.0, deadline - time.monotonic()))
            except WorkerFailed as exc:
                raise SweepError(f"The sweep stopped: {exc}") from None
            results = None
            for kind, i, value in events:
                if kind == "progress":
                    self._note(i, value)
                else:
                    self._finish(i)
                    results = (results or []) + value
            self._feed()
            if results is not None or time.monotonic() >= deadline:
                return results
        return None

    @property
    def pids(self) -> list[int]:
        return self.pool.pids

    def cancel(self) -> None:
        self.pool.close()


class _Dask(SweepRun):
    """Tasks on a Dask cluster, submitted at once; a task that fails there ends the sweep."""

    def __init__(self, sweep: SweepConfig, address: str, client: Any, tasks: list[Task],
                 est: budget.Estimate, data: Dataset):
        super().__init__(sweep, tasks, est, f"the Dask cluster at {address}")
        self.address, self.client = address, client
        try:
            [data_future] = client.scatter([data])
            sd = sweep.to_dict()
            self.futures = {client.submit(run_task, sd, t, data_future, pure=False): i
                            for i, t in enumerate(tasks)}
        except Exception as exc:        # e.g. workers that cannot unpickle the data: no ``nn``
            raise SweepError(self._cannot(exc)) from None
        self.pending = set(self.futures)

    def _cannot(self, exc: BaseException | str) -> str:
        return (f"The Dask cluster at {self.address} could not run the sweep's tasks "
                f"({type(exc).__name__ if not isinstance(exc, str) else 'status'}: {exc}). Its "
                "workers need this package (nn) and its dependencies installed.")

    def poll(self, timeout: float) -> list[dict[str, Any]] | None:
        if not self.pending:
            return None
        deadline = time.monotonic() + timeout
        while not (done := [f for f in self.pending if f.done()]):
            if time.monotonic() >= deadline:
                if not self.client.scheduler_info().get("workers"):
                    raise SweepError(f"The Dask cluster at {self.address} has no workers left; "
                                     "the sweep cannot finish.")
                return None
            time.sleep(0.05)
        future = done[0]
        self.pending.discard(future)
        if future.status != "finished":
            raise SweepError(self._cannot(future.exception() if future.status == "error"
                                          else future.status))
        self._finish(self.futures[future])
        return future.result()

    def cancel(self) -> None:
        if self.client is not None:
            try:
                self.client.cancel(list(self.pending))
            finally:
                self.client.close()
                self.client = None


def start_sweep(sweep: SweepConfig, workers: int | None = None, scheduler: str | None = None,
                in_process: bool | None = None) -> SweepRun:
    """Check the sweep and its budget, then start it (see ``SweepRun``). ConfigError if a
    setting, the budget or the scheduler is wrong; nothing runs then.

    ``workers``: local processes (default: every allowed core). ``in_process``: run here, task
    by task (default: when ``workers`` is 1); otherwise in worker processes that ``cancel``
    can end. ``scheduler``: a Dask scheduler address ("tcp://host:8786"); results from it are
    unpickled here, so it must be a cluster you trust.
    """
    sweep.validate()
    if scheduler:
        return _start_dask(sweep, scheduler)
    workers = check_workers(workers)
    tasks = plan(sweep, workers)
    workers = min(workers, len(tasks))
    est = estimate(sweep, workers, tasks).check()
    if in_process or (in_process is None and workers == 1):
        return _InProcess(sweep, tasks, est, load_data(sweep.run))
    run = _Local(sweep, tasks, est, workers)
    try:
        return run.start(load_data(sweep.run))   # fails here, with a clear message, if it can't load
    except BaseException:
        run.cancel()
        raise


def _start_dask(sweep: SweepConfig, address: str) -> SweepRun:
    client = dask_probe.connect(address)
    try:
        threads = _cluster_threads(client, address)
        tasks = plan(sweep, threads)
        est = estimate(sweep, threads, tasks).check()
        return _Dask(sweep, address, client, tasks, est, load_data(sweep.run))
    except BaseException:
        client.close()
        raise


def _cluster_threads(client: Any, address: str, wait_seconds: float = 10.0) -> int:
    """Threads of the cluster's workers, waiting a little for the first worker to join."""
    try:
        client.wait_for_workers(1, timeout=wait_seconds)
    except (TimeoutError, OSError):
        raise ConfigError("scheduler", f"scheduler (--scheduler): the Dask cluster at {address!r} "
                                       f"has no workers (waited {wait_seconds:g} s)") from None
    return max(1, sum(client.nthreads().values()))


def iter_sweep(sweep: SweepConfig, workers: int | None = None,
               scheduler: str | None = None) -> Iterator[list[dict[str, Any]]]:
    """Run the sweep, yielding each task's results as it finishes (in no fixed order); closing
    the generator ends the sweep's workers."""
    with start_sweep(sweep, workers, scheduler) as run:
        while not run.done:
            part = run.poll(1.0)
            if part is not None:
                yield part


def run_sweep(sweep: SweepConfig, workers: int | None = None, scheduler: str | None = None,
              on_results: Callable[[list[dict[str, Any]]], None] | None = None) -> "SweepResult":
    """Run the whole sweep; ``on_results`` is called with each task's results as they come."""
    started = time.perf_counter()
    trials: list[dict[str, Any]] = []
    for part in iter_sweep(sweep, workers, scheduler):
        trials += part
        if on_results is not None:
            on_results(part)
    return SweepResult(sweep, trials, time.perf_counter() - started)


# --- results -----------------------------------------------------------------------------------
@dataclass
class SweepResult:
    sweep: SweepConfig
    trials: list[dict[str, Any]]         # one per (value, trial)
    seconds: float

    def summary(self) -> list[dict[str, Any]]:
        return summarize(self.sweep, self.trials)

    def to_json(self) -> dict[str, Any]:
        return {"param": self.sweep.param, "results": self.summary(), "seconds": round(self.seconds, 3),
                "n_runs": len(self.trials), "config": self.sweep.to_dict()}


def summarize(sweep: SweepConfig, trials: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One entry per value that has results, in the sweep's order: mean and standard deviation
    (sample, ddof=1; 0 for one trial) of the test accuracy over the trials that did not diverge;
    ``trials`` counts the trials, ``runs`` holds each one."""
    by_value: dict[int, list[dict[str, Any]]] = {}
    for r in trials:
        by_value.setdefault(r["value_index"], []).append(r)
    out = []
    for i in sorted(by_value):
        rs = sorted(by_value[i], key=lambda r: r["trial"])
        accs = np.array([r["accuracy"] for r in rs if not r["diverged"]], dtype=float)
        out.append({
            "value": sweep.values[i],
            "mean_accuracy": float(accs.mean()) if len(accs) else None,
            "std_accuracy": float(accs.std(ddof=1)) if len(accs) > 1 else (0.0 if len(accs) else None),
            "trials": len(rs),
            "runs": [{"trial": r["trial"], "seed": r["seed"], "accuracy": r["accuracy"],
                      "test_loss": r["test_loss"], "diverged": r["diverged"]} for r in rs],
            "diverged": sum(r["diverged"] for r in rs),
            "seconds": float(sum(r["seconds"] for r in rs)),
        })
    return out


def summary_csv(summary: list[dict[str, Any]]) -> str:
    """The summary as CSV: value, mean and std accuracy, then each trial's accuracy."""
    n = max((s["trials"] for s in summary), default=0)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["value", "mean_accuracy", "std_accuracy", "trials", "diverged", "seconds",
                *[f"accuracy_trial_{t}" for t in range(n)]])
    for s in summary:
        accs = ["" if t["accuracy"] is None else t["accuracy"] for t in s["runs"]]
        w.writerow([s["value"], _blank(s["mean_accuracy"]), _blank(s["std_accuracy"]), s["trials"],
                    s["diverged"], round(s["seconds"], 6), *accs])
    return buf.getvalue()


def _blank(x: float | None) -> Any:
    return "" if x is None else x
