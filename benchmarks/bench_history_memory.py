"""Memory of the Train page's history of runs (``app.train.run_history``) with 20 kept runs.

Each run is the biggest network the page allows on MNIST (two hidden layers, 4096 and 434 units:
4,997,808 parameters, under NN_MAX_PARAMS = 5,000,000) with 2,400 records (a 20-minute run, the
hosting limit, recorded every 0.5 s). The session trains it on a few random MNIST-shaped rows (the
store keeps the same things whatever the data). Reported: the bytes the store counts against the
visitor's budget (``RunHistory.nbytes``), tracemalloc's measure of what it really holds, the
process's resident memory (after the first line, freed memory is reused: read tracemalloc's),
and the time to keep one run; first with no byte bound (20 runs),
then under the default NN_HISTORY_MB, then for the default moons network.

    PYTHONPATH=. .venv/bin/python benchmarks/bench_history_memory.py [--records 2400]
"""
from __future__ import annotations

import argparse
import time
import tracemalloc
from pathlib import Path

import numpy as np

from app.train.run_history import MAX_RUNS, RunHistory
from app.train.session import TrainSession
from nn.core.config import RunConfig
from nn.data import Dataset
from nn.hosting import limits

MB = 2**20
BIGGEST = [4096, 434]                # (784 + 1) * 4096 + (4096 + 1) * 434 + (434 + 1) * 10 params


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def trained_session(cfg: RunConfig, features: int, classes: int, records: int) -> TrainSession:
    rng = np.random.default_rng(0)
    data = Dataset(cfg.dataset, rng.random((64, features), np.float32), rng.integers(0, classes, 64),
                   rng.random((32, features), np.float32), rng.integers(0, classes, 32), classes)
    s = TrainSession()
    s.new_model(cfg, data)
    s.start(1)
    list(s.steps())
    last = s.history[-1]
    while len(s.history) < records:            # a long run's records (the store keeps them all)
        k = len(s.history)
        s.history.append({**last, "epoch": k / 2, "step": k * 2, "end_of_epoch": k % 2 == 0})
    return s


def keep_seconds(s: TrainSession, times: int = 5) -> float:
    """The median time to keep one run (outside tracemalloc, which slows every allocation)."""
    h, seconds = RunHistory(), []
    for _ in range(times):
        s.run_mark.number = s.run_mark.kept_at = None          # a new run each time
        t = time.perf_counter()
        h.record(s, None, 10**12)
        seconds.append(time.perf_counter() - t)
    return float(np.median(seconds))


def measure(s: TrainSession, max_bytes: int, label: str) -> None:
    seconds = keep_seconds(s)
    h, rss = RunHistory(), rss_mb()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    for _ in range(MAX_RUNS):
        s.run_mark.number = s.run_mark.kept_at = None
        h.record(s, None, max_bytes)
    held = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.stop()
    print(f"{label:40s} kept {len(h.kept):2d} runs · counted {h.nbytes / MB:6.1f} MB · held "
          f"(tracemalloc) {held / MB:6.1f} MB · RSS +{rss_mb() - rss:6.1f} MB · keep a run "
          f"{1000 * seconds:5.1f} ms", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=2400)
    args = ap.parse_args()
    bound = limits().history_mb * MB
    tracemalloc.start()
    big = trained_session(RunConfig(dataset="mnist", hidden=BIGGEST, epochs=1), 784, 10, args.records)
    session = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    print(f"biggest MLP: {big.model.n_params:,} parameters ({big.model.n_params * 4 / MB:.1f} MB "
          f"of float32 weights), {len(big.history):,} records a run; the session without its "
          f"history (model, optimizer, records, 96 rows of data): {session / MB:.1f} MB")
    measure(big, 10**12, "biggest, no byte bound (20 runs)")
    measure(big, bound, f"biggest, NN_HISTORY_MB={limits().history_mb}")
    moons = trained_session(RunConfig(dataset="moons"), 2, 2, args.records)
    measure(moons, bound, f"moons default ({moons.model.n_params:,} params)")


if __name__ == "__main__":
    main()
