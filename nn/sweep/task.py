"""One task of a sweep (``run_task``): its networks trained in lockstep, one result per (value,
trial). Every way to run a sweep (here, local worker processes, a Dask cluster) calls it.

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

import math
import time
from typing import Any, Callable

from nn.data import Dataset
from nn.runs.experiment import load_data
from nn.sweep.config import SweepConfig
from nn.sweep.lockstep import Lockstep, NetSpec, Shared
from nn.sweep.plan import Task


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
                    c0.momentum, c0.weight_decay, c0.batch_size, sw.dtype, c0.l1, task=data.task)
    seeds = [sw.trial_seed(t) for t in task.trials]
    ls = Lockstep([NetSpec(tuple(c.hidden), c.lr) for c in cfgs], seeds, shared)
    started = time.perf_counter()
    ls.train(data.X_train, data.y_train, c0.epochs, on_epoch=progress)
    seconds = (time.perf_counter() - started) / len(seeds)
    shares = _time_shares(ls, len(cfgs))
    return [_result(sw, ls, data, s, k, task, seconds * shares[k])
            for s in range(len(seeds)) for k in range(len(cfgs))]


def _time_shares(ls: Lockstep, n: int) -> list[float]:
    """The networks trained together share the time in proportion to their parameters (their
    share of every product): equal for a sweep of learning rates, growing with hidden sizes."""
    sizes = [sum(a * b + b for a, b in zip(ls.layer_sizes(k)[:-1], ls.layer_sizes(k)[1:]))
             for k in range(n)]
    return [size / sum(sizes) for size in sizes]


def _result(sw: SweepConfig, ls: Lockstep, data: Dataset, s: int, k: int, task: Task,
            seconds: float) -> dict[str, Any]:
    trial, i = task.trials[s], task.values[k]
    diverged = not ls.finite(s, k)
    loss = score = None
    if not diverged:
        loss, score = ls.model(s, k).evaluate(data.X_test, data.y_test, report=sw.run.reported_loss)
        diverged = not math.isfinite(loss)
    result = {"value_index": i, "value": sw.values[i], "trial": trial, "seed": sw.trial_seed(trial),
              "accuracy": None if diverged else score, "test_loss": None if diverged else loss,
              "diverged": diverged, "seconds": seconds}
    if data.task == "regression":        # R² (not an accuracy): the summary reads "r2"
        result.update(accuracy=None, r2=None if diverged else score)
    return result
