"""Sweeps: train many networks that differ in one setting and compare their test accuracy.

A sweep is a base ``RunConfig``, the parameter to vary (``hidden``, ``lr``, ``batch_size`` or
``depth``), its values and a number of trials. Trial t of every value uses seed ``seed + t`` for
both initialisation and shuffling, so trial t of value v is exactly what

    python -m nn train <base options> --<param> v --seed <seed + t>

trains (common random numbers: every value sees the same data orders). Networks that share a
data order train in lockstep (nn/lockstep.py). The lockstep *blocks* depend only on the sweep,
never on the number of workers, and a block's arithmetic does not depend on how many trials
run beside it, so the same sweep gives the same numbers on one core, on all cores (joblib's
loky processes) or on a Dask cluster (joblib's Dask backend).

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
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from .config import MAX_HIDDEN_LAYERS, MAX_HIDDEN_SIZE, ConfigError, RunConfig
from .data import Dataset
from .experiment import load_data
from .lockstep import Lockstep, NetSpec, Shared

PARAMS = ("hidden", "lr", "batch_size", "depth")
DTYPES = ("float32", "float64")
MAX_TRIALS = 100
MAX_VALUES = 500
BLOCK_UNITS = 512        # most hidden units side by side in one lockstep block (fixed: see above)
CONNECT_TIMEOUT = 10     # seconds to reach a Dask scheduler


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
    (``3:40`` is 3, 4, ..., 40; ``0.01:0.05:0.01`` is 0.01, 0.02, ..., 0.05)."""
    out: list[Any] = []
    for token in (t for tok in tokens for t in str(tok).replace(",", " ").split()):
        try:
            out += _parse_range(param, token) if ":" in token else [_number(param, token)]
        except ValueError:
            raise ConfigError("values", f"values (--values) for --param {param} must be {allowed(param)}, "
                                        f"or ranges START:STOP[:STEP]; could not read {token!r}") from None
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
    if step <= 0 or stop < start:
        raise ValueError(token)
    count = int(math.floor((stop - start) / step + 1e-9)) + 1
    if count > MAX_VALUES:
        raise ConfigError("values", f"values (--values) takes 1 to {MAX_VALUES} values; "
                                    f"{token} gives {count}")
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
def run_task(sweep: dict[str, Any] | SweepConfig, task: Task,
             data: Dataset | None = None) -> list[dict[str, Any]]:
    """Train one task's networks in lockstep; one result per (value, trial). Runs in a worker,
    given the data (a worker that loads it itself spends a second importing scikit-learn)."""
    sw = sweep if isinstance(sweep, SweepConfig) else SweepConfig.from_dict(sweep)
    cfgs = [sw.config_for(sw.values[i]) for i in task.values]
    c0 = cfgs[0]
    data = data if data is not None else load_data(c0)
    shared = Shared(data.n_features, data.n_classes, c0.activation, c0.init, c0.optimizer,
                    c0.momentum, c0.weight_decay, c0.batch_size, sw.dtype)
    seeds = [sw.trial_seed(t) for t in task.trials]
    ls = Lockstep([NetSpec(tuple(c.hidden), c.lr) for c in cfgs], seeds, shared)
    started = time.perf_counter()
    ls.train(data.X_train, data.y_train, c0.epochs)
    seconds = (time.perf_counter() - started) / (len(seeds) * len(cfgs))   # shared equally
    return [_result(sw, ls, data, s, k, task, seconds) for s in range(len(seeds))
            for k in range(len(cfgs))]


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


def default_workers() -> int:
    """Every usable core (joblib's count respects CPU affinity and container limits)."""
    from joblib import cpu_count
    return max(1, cpu_count())


def iter_sweep(sweep: SweepConfig, workers: int | None = None,
               scheduler: str | None = None) -> Iterator[list[dict[str, Any]]]:
    """Run the sweep, yielding each task's results as it finishes (in no fixed order).

    ``workers``: local processes (default: every core; 1 runs here, in this process).
    ``scheduler``: a Dask scheduler address ("tcp://host:8786"); tasks then run on its cluster.
    """
    sweep.validate()
    if scheduler:
        yield from _on_dask(sweep, scheduler, load_data(sweep.run))
        return
    workers = default_workers() if workers in (None, -1) else int(workers)
    if workers < 1:
        raise ConfigError("workers", f"workers (--workers) must be a whole number >= 1, or -1 for "
                                     f"every core; got {workers}")
    tasks = plan(sweep, workers)
    n_jobs = min(workers, len(tasks))
    warm = _start_workers(n_jobs) if n_jobs > 1 else None
    data = load_data(sweep.run)               # fails here, with a clear message, if it can't load
    if warm is not None:
        warm.join()
    if n_jobs == 1:
        for task in tasks:
            yield run_task(sweep, task, data)
        return
    from joblib import Parallel, delayed
    par = Parallel(n_jobs=n_jobs, return_as="generator_unordered")
    yield from par(delayed(run_task)(sweep.to_dict(), t, data) for t in tasks)


def _start_workers(n_jobs: int) -> threading.Thread:
    """Start joblib's worker processes (and their imports) while this process loads the data;
    the sweep's ``Parallel`` call then reuses them."""
    from joblib import Parallel, delayed

    def warm() -> None:
        Parallel(n_jobs=n_jobs)(delayed(_ready)() for _ in range(n_jobs))
    thread = threading.Thread(target=warm, daemon=True)
    thread.start()
    return thread


def _ready() -> bool:
    return True


def _on_dask(sweep: SweepConfig, address: str, data: Dataset) -> Iterator[list[dict[str, Any]]]:
    from dask.distributed import Client
    from joblib import Parallel, delayed, parallel_config
    try:
        client = Client(address, timeout=CONNECT_TIMEOUT)
    except (OSError, ValueError, TypeError) as exc:
        raise ConfigError("scheduler", f"scheduler (--scheduler): could not connect to a Dask "
                                       f"scheduler at {address!r} ({exc})") from None
    with client:
        n = max(1, sum(client.nthreads().values()))
        tasks = plan(sweep, n)
        with parallel_config(backend="dask"):
            par = Parallel(n_jobs=-1, return_as="generator_unordered")
            yield from par(delayed(run_task)(sweep.to_dict(), t, data) for t in tasks)


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
