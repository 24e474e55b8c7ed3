"""What a sweep will cost, estimated before it starts, and the server's budget for it.

Work is counted in seconds of one core. A task (nn/sweep.py) trains S streams x K networks in
lockstep (nn/sweep/lockstep.py); each of its ``steps = epochs x batches per epoch`` costs

    t_step = STEP_S + MAC_S * S*b*macs + ELEM_S * S*b*units + PARAM_S * S*params

with ``b`` the batch size, ``macs`` the multiply-adds of one sample through the block's matmuls
(input layer, middle layers), ``units`` the elementwise work of one sample (every hidden unit, and
every (unit, class) product of the output layer, which the lockstep does elementwise), and
``params`` the parameters of one stream (the optimizer's elementwise update). The constants were
fitted (least squares, non-negative) on this project's 2-core machine by ``calibrate()`` below:

    PYTHONPATH=. .venv/bin/python -m nn.sweep.budget      # prints the four constants, a few seconds

which times one-epoch lockstep runs of 16 shapes (1 to 10 streams, batch 1 to 1000, widths 8 to
1024, depth 1 to 3, 2 to 784 inputs), and fits them within 25% but for the tiniest shape. For
the tutorial's sweep it estimates 7.7 core seconds where its two tasks took 6.0 CPU seconds. A
slower or busier machine runs longer than the estimate: the limit (NN_MAX_SWEEP_SECONDS,
nn/hosting.py) leaves room for that.

Memory is the peak of every process together: each worker holds the data (and its float copy
with a column of ones, the one-hot labels, one epoch's rows in order for small data), and the
biggest task it may run (parameters, gradients and optimizer state: about 6 arrays of the
parameters' size plus the float64 learning rates; the activations of one batch, three arrays per
layer and the output layer's per-unit products), plus the interpreter and NumPy (WORKER_BASE_MB)
in every worker and in this process, and 15% for what the allocator keeps (MARGIN).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from nn.core.settings import ConfigError

# Fitted by calibrate() on the project's 2-core machine (see the module's docstring).
STEP_S = 3.0e-5         # fixed cost of one lockstep step (about twenty NumPy calls)
MAC_S = 5.3e-11         # per multiply-add of a matmul, forward and backward together
ELEM_S = 1.7e-9         # per elementwise value, forward and backward together
PARAM_S = 4.2e-9        # per parameter, optimizer step
WORKER_BASE_MB = 80      # a worker process with NumPy and SciPy imported, before any data
START_S = 1.0            # starting workers, loading the data: counted once per sweep
MARGIN = 1.15            # memory: allocator overhead and short-lived temporaries (a depth-3 sweep
                         # of width 1024, 10 trials, measured 1776 MB for 1518 MB without it)

# Inputs, classes and train/test sizes of the datasets that do not depend on settings.
IMAGE_SHAPES = {"digits": (64, 10, 1797), "mnist": (784, 10, 70000), "fashion_mnist": (784, 10, 70000)}
OFFICIAL_TEST = {"mnist": 10000, "fashion_mnist": 10000}


@dataclass(frozen=True)
class DataShape:
    n_features: int
    n_classes: int
    n_train: int
    n_test: int


def data_shape(run: Any) -> DataShape:
    """The dataset's sizes from the configuration alone (no data is loaded)."""
    if run.dataset in IMAGE_SHAPES:
        d, c, n = IMAGE_SHAPES[run.dataset]
        test = OFFICIAL_TEST.get(run.dataset) or math.ceil(n * run.test_size)
        return DataShape(d, c, n - test, test)
    n = int(run.n_samples)
    test = math.ceil(n * run.test_size)
    return DataShape(len(run.features_2d), 2, n - test, test)       # a 2-D set read as its features


@dataclass(frozen=True)
class Estimate:
    """A sweep's estimated work and peak memory, and the budget they are held to."""
    core_seconds: float
    memory_mb: float
    workers: int                 # processes (or cluster threads) that run tasks at once
    networks: int
    max_core_seconds: float
    max_memory_mb: float

    @property
    def wall_seconds(self) -> float:
        """About how long it takes on ``workers`` idle cores (the work spread evenly)."""
        return START_S + self.core_seconds / max(1, self.workers)

    def describe(self) -> str:
        return (f"Estimated work: {duration(self.core_seconds)} of one core (limit "
                f"{duration(self.max_core_seconds)}), about {duration(self.wall_seconds)} on "
                f"{self.workers} worker(s); peak memory about {megabytes(self.memory_mb)} "
                f"(limit {megabytes(self.max_memory_mb)}).")

    def check(self) -> "Estimate":
        """ConfigError with the estimate, the limit and what to reduce, if over budget."""
        problems = []
        if self.memory_mb > self.max_memory_mb:
            problems.append(f"would need about {megabytes(self.memory_mb)} of memory at its peak "
                            f"({self.workers} worker(s) at once), over this server's limit of "
                            f"{megabytes(self.max_memory_mb)} (NN_MAX_SWEEP_MEMORY_MB): reduce the "
                            "hidden size, the depth, the trials or the workers")
        if self.core_seconds > self.max_core_seconds:
            problems.append(f"is about {duration(self.core_seconds)} of work for one core, over this "
                            f"server's limit of {duration(self.max_core_seconds)} "
                            "(NN_MAX_SWEEP_SECONDS): reduce the epochs, the number of values, the "
                            "trials, the samples or the network size")
        if problems:
            raise ConfigError("budget", f"This sweep of {self.networks} networks "
                                        + "; and it ".join(problems) + ".")
        return self


def duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s" if seconds >= 10 else f"{seconds:.1f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} h"
    days = seconds / 86400
    return f"{days:.0f} days" if days < 1e5 else f"{days:.1e} days"


def megabytes(mb: float) -> str:
    return f"{mb:.0f} MB" if mb < 10_000 else f"{mb / 1024:.1f} GB" if mb < 1e7 else f"{mb / 1024:.1e} GB"


# --- one task -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TaskShape:
    """What the cost model needs of one lockstep task."""
    streams: int                       # S: trials side by side
    widths: tuple[int, ...]            # hidden layers of the block (the last holds every network,
    networks: int                      #   with one bias unit each); K networks
    batch: int                         # rows per step (the whole train set for "full")
    epochs: int


def task_shape(widths_per_net: list[tuple[int, ...]], streams: int, batch_size: Any, epochs: int,
               n_train: int) -> TaskShape:
    if len(widths_per_net) == 1:
        hidden = widths_per_net[0]
        widths = (*hidden[:-1], hidden[-1] + 1)
    else:                                # one hidden layer each, side by side
        widths = (sum(w[0] + 1 for w in widths_per_net),)
    b = n_train if batch_size == "full" else min(int(batch_size), n_train)
    return TaskShape(streams, widths, len(widths_per_net), max(1, b), epochs)


def _macs(t: TaskShape, d: int) -> int:
    fans = [d + 1, *t.widths]
    return sum(a * b for a, b in zip(fans[:-1], fans[1:]))


def _params(t: TaskShape, d: int, c: int) -> int:
    return _macs(t, d) + sum(t.widths[1:]) + c * t.widths[-1]


def _units(t: TaskShape, c: int) -> int:
    return sum(t.widths) + (1 if c == 2 else c) * t.widths[-1]


def task_seconds(t: TaskShape, shape: DataShape) -> float:
    """Core seconds of one task: its training steps and its networks' test evaluation."""
    d, c, S = shape.n_features, shape.n_classes, t.streams
    steps = t.epochs * math.ceil(shape.n_train / t.batch)
    step = (STEP_S + MAC_S * S * t.batch * _macs(t, d) + ELEM_S * S * t.batch * _units(t, c)
            + PARAM_S * S * _params(t, d, c))
    evaluate = (MAC_S * _macs(t, d) + ELEM_S * _units(t, c)) * S * shape.n_test
    return steps * step + evaluate


def task_bytes(t: TaskShape, shape: DataShape, itemsize: int) -> float:
    """Peak bytes of one task in a worker, beyond the data it was given."""
    d, c, S, b = shape.n_features, shape.n_classes, t.streams, t.batch
    params = S * _params(t, d, c) * (6 * itemsize + 16)       # p, g, tmp, m, v, wd; lr and wd in float64
    per_batch = S * b * (3 * sum(t.widths) + c * t.widths[-1] + c * t.networks) * itemsize
    rows = shape.n_train * (d + 1 + c) * itemsize              # [X 1] and one-hot Y
    ordered = S * rows if rows <= 16 << 20 else S * b * (d + 1 + c) * itemsize   # PREGATHER_BYTES
    order = S * shape.n_train * 8
    evaluate = min(shape.n_test, 8192) * max(t.widths) * 8 * 3
    return params + 2 * per_batch + rows + ordered + order + evaluate


def data_bytes(shape: DataShape) -> int:
    """The dataset as float32 features and int64 labels."""
    return (shape.n_train + shape.n_test) * (shape.n_features * 4 + 8)


# --- calibration ------------------------------------------------------------------------------
CALIBRATION_SHAPES = [  # (S, widths per network, batch, inputs, classes, rows)
    (1, [(8,)], 1, 2, 2, 400), (3, [(8,)] * 4, 10, 2, 2, 3000), (3, [(w,) for w in range(3, 41)], 10, 2, 2, 3000),
    (10, [(64,)], 10, 2, 2, 3000), (1, [(512,)], 100, 2, 2, 20000), (3, [(256,)], 1000, 2, 2, 20000),
    (3, [(64, 64)], 10, 2, 2, 3000), (2, [(256, 256, 256)], 32, 2, 2, 4000),
    (1, [(32,)], 32, 64, 10, 1300), (3, [(128,)] * 3, 128, 784, 10, 6000), (1, [(256,)], 128, 784, 10, 6000),
    (1, [(512, 512)], 64, 784, 10, 3000), (5, [(16,)] * 10, 1, 2, 2, 500), (1, [(4,)], 1000, 2, 2, 50000),
    (2, [(100,)] * 5, 50, 64, 10, 1300), (1, [(1024, 1024)], 128, 64, 10, 2000),
]


def calibrate(repeats: int = 2) -> dict[str, float]:
    """Time one epoch of each CALIBRATION_SHAPES task and fit STEP_S, MAC_S, ELEM_S and PARAM_S
    (non-negative least squares on the relative error). Returns the constants."""
    import time

    import numpy as np
    from scipy.optimize import nnls

    from nn.sweep.lockstep import Lockstep, NetSpec, Shared
    rows, times = [], []
    for S, nets, b, d, c, n in CALIBRATION_SHAPES:
        rng = np.random.default_rng(0)
        X, y = rng.standard_normal((n, d)).astype(np.float32), rng.integers(0, c, n)
        ls = Lockstep([NetSpec(w, 0.01) for w in nets], list(range(S)), Shared(d, c, batch_size=b))
        best = math.inf
        for _ in range(repeats):
            started = time.process_time()
            ls.train(X, y, 1)
            best = min(best, time.process_time() - started)
        t = task_shape(nets, S, b, 1, n)
        steps = math.ceil(n / t.batch)
        feats = [steps, steps * S * t.batch * _macs(t, d), steps * S * t.batch * _units(t, c),
                 steps * S * _params(t, d, c)]
        rows.append([f / best for f in feats])          # relative error: each shape counts alike
        times.append(1.0)
    coef, _ = nnls(np.array(rows), np.array(times))
    return dict(zip(("STEP_S", "MAC_S", "ELEM_S", "PARAM_S"), map(float, coef)))


if __name__ == "__main__":
    for name, value in calibrate().items():
        print(f"{name} = {value:.2e}")
