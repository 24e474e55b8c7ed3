"""Running a sweep: ``start_sweep`` checks it and its budget and starts it in this process, on
local worker processes or on a Dask cluster (a ``SweepRun`` that ``cancel`` ends);
``iter_sweep`` and ``run_sweep`` run it to the end.

Before anything runs, the sweep's work and peak memory are estimated (nn/sweep/budget.py) and
held to the server's limits (nn/hosting); a started sweep can be cancelled at any moment, its
worker processes with it.
"""
from __future__ import annotations

import time
from typing import Any, Callable, Collection, Iterator

from nn.runs.experiment import load_data
from nn.sweep.config import SweepConfig
from nn.core.settings import ConfigError
from nn.sweep.plan import Task, check_workers, estimate, plan
from nn.sweep.run_dask import start_dask
from nn.sweep.run_here import InProcessRun
from nn.sweep.run_local import LocalRun
from nn.sweep.running import SweepRun
from nn.sweep.summary import SweepResult


def start_sweep(sweep: SweepConfig, workers: int | None = None, scheduler: str | None = None,
                in_process: bool | None = None, skip: Collection[Task] = ()) -> SweepRun:
    """Check the sweep and its budget, then start it (see ``SweepRun``). ConfigError if a
    setting, the budget or the scheduler is wrong; nothing runs then.

    ``workers``: local processes (default: every allowed core). ``in_process``: run here, task
    by task (default: when ``workers`` is 1); otherwise in worker processes that ``cancel``
    can end. ``scheduler``: a Dask scheduler address ("tcp://host:8786"); results from it are
    unpickled here, so it must be a cluster you trust. ``skip``: tasks an earlier run of the same
    sweep with as many workers finished (``SweepRun.finished_tasks``): the sweep goes on where it
    stopped (a task's results never depend on the others', see nn/sweep/plan.py).
    """
    sweep.validate()
    if scheduler:
        return start_dask(sweep, scheduler)
    workers = check_workers(workers)
    skip = set(skip)
    tasks = [t for t in plan(sweep, workers) if t not in skip]
    if not tasks:
        raise ConfigError("skip", "every task of this sweep is in skip: nothing is left to run")
    workers = min(workers, len(tasks))
    est = estimate(sweep, workers, tasks).check()
    if in_process or (in_process is None and workers == 1):
        return InProcessRun(sweep, tasks, est, load_data(sweep.run))
    run = LocalRun(sweep, tasks, est, workers)
    try:
        return run.start(load_data(sweep.run))   # fails here, with a clear message, if it can't load
    except BaseException:
        run.cancel()
        raise


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
              on_results: Callable[[list[dict[str, Any]]], None] | None = None) -> SweepResult:
    """Run the whole sweep; ``on_results`` is called with each task's results as they come."""
    started = time.perf_counter()
    trials: list[dict[str, Any]] = []
    for part in iter_sweep(sweep, workers, scheduler):
        trials += part
        if on_results is not None:
            on_results(part)
    return SweepResult(sweep, trials, time.perf_counter() - started)
