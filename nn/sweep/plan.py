"""A sweep's plan: its lockstep blocks and tasks (``Task``), the workers it may use, and its
estimated work and peak memory against the server's limits (with nn/sweep/budget.py).

Networks that share a data order train in lockstep (nn/sweep/lockstep.py). The blocks depend only
on the sweep, never on the number of workers, and a block's arithmetic does not depend on how many
trials run beside it, so the same sweep gives the same numbers on one core, on all cores or on a
Dask cluster; the number of workers only decides how a block's trials are split into tasks.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from nn.core.settings import ConfigError
from nn.hosting import limits
from nn.sweep.budget import (MARGIN, WORKER_BASE_MB, Estimate, TaskShape, data_bytes, data_shape,
                             task_bytes, task_seconds, task_shape)
from nn.sweep.config import SweepConfig

BLOCK_UNITS = 512        # most hidden units side by side in one lockstep block (fixed: see above)


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


# --- the workers and the budget -----------------------------------------------------------------
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


def _task_shape(sweep: SweepConfig, task: Task, n_train: int) -> TaskShape:
    cfgs = [sweep.config_for(sweep.values[i]) for i in task.values]
    return task_shape([tuple(c.hidden) for c in cfgs], len(task.trials), cfgs[0].batch_size,
                      cfgs[0].epochs, n_train)


def task_costs(sweep: SweepConfig, tasks: list[Task]) -> list[float]:
    """Estimated core seconds of each task (see nn/sweep/budget.py)."""
    shape = data_shape(sweep.run)
    return [task_seconds(_task_shape(sweep, t, shape.n_train), shape) for t in tasks]


def estimate(sweep: SweepConfig, workers: int, tasks: list[Task] | None = None) -> Estimate:
    """The sweep's estimated work (core seconds) and peak memory with ``workers`` processes at
    once, against this server's limits (``.check()`` refuses what exceeds them)."""
    tasks = plan(sweep, workers) if tasks is None else tasks
    shape = data_shape(sweep.run)
    itemsize = np.dtype(sweep.dtype).itemsize
    at_once = min(workers, len(tasks))
    biggest = sorted((task_bytes(_task_shape(sweep, t, shape.n_train), shape, itemsize)
                      for t in tasks), reverse=True)[:at_once]
    data = data_bytes(shape)
    processes = (at_once + 1) * WORKER_BASE_MB * 2**20          # the workers and this one
    memory = MARGIN * (processes + 2 * data + at_once * data + sum(biggest))
    lim = limits()
    return Estimate(sum(task_costs(sweep, tasks)), memory / 2**20, at_once,
                    len(sweep.values) * sweep.trials, lim.max_sweep_seconds, lim.max_sweep_memory_mb)
