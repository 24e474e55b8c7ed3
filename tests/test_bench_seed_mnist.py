"""benchmarks/bench_seed_mnist.py: its copy of the MNIST tutorial's code prints the tutorial's
own first line, and its limits and report hold together."""
from __future__ import annotations

import io
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import bench_seed_mnist as bench  # noqa: E402
from test_mnist_exact import TUTORIAL_FIRST_LINE  # noqa: E402


def test_the_tutorials_code_prints_its_first_line(mnist_path):
    with np.load(mnist_path) as f:
        data = [f[k] for k in ("x_train", "y_train", "x_test", "y_test")]
    out = io.StringIO()
    result = bench.tutorial(*data, iterations=1, out=out)
    train, val = (float(part.split()[-1]) for part in out.getvalue().strip().split(","))
    assert train == pytest.approx(TUTORIAL_FIRST_LINE[0], abs=1e-12)
    assert val == pytest.approx(TUTORIAL_FIRST_LINE[1], abs=1e-12)
    assert 0 < result["step_seconds"] <= result["seconds"] and 0 <= result["test_accuracy"] <= 1


def test_limits_and_report():
    limits = bench.iteration_limits(gflops=100.0, gbs=10.0)
    assert limits["nn_bytes"] == 60_000 * 784                       # one byte a pixel, read once
    assert limits["tutorial_bytes"] == 2 * 60_000 * 784 * 8 + 10_000 * 784 * 8
    assert limits["nn_memory_s"] == pytest.approx(60_000 * 784 / 10e9)
    assert limits["arithmetic_s"] == pytest.approx(4 * 60_000 * 784 * 5 / 100e9)
    run = {"seconds": 10.0, "step_seconds": 8.0, "test_accuracy": 0.87}
    text = bench.report({"iterations": 100, "matmul_gflops": 100.0, "bandwidth_gbs": 10.0, "load_before": "a",
                         "load_after": "b", "limits": limits, "tutorial": {**run, "step_seconds": 32.0},
                         "nn": run})
    assert "steps 0.25x" in text and "whole 1.00x" in text and "nn 80.0 ms" in text
