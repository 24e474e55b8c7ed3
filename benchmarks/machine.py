"""What a benchmark reports of the machine it ran on: the float32 matmul speed (so a time can be
read on another machine as GFLOP-equivalents: seconds x GFLOP/s) and the load average."""
from __future__ import annotations

import os
import time

import numpy as np


def matmul_gflops(n: int = 2048, reps: int = 5) -> float:
    """GFLOP/s of an n x n float32 matmul (2 n^3 flops), the best of ``reps`` after a warm-up."""
    a = np.random.default_rng(0).random((n, n), dtype=np.float32)
    a @ a
    best = float("inf")
    for _ in range(reps):
        t = time.perf_counter()
        a @ a
        best = min(best, time.perf_counter() - t)
    return 2 * n**3 / best / 1e9


def load() -> str:
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())
