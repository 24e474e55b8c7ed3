"""benchmarks/bench_step_floor.py: its flat loop takes the same step as nn.Trainer (the same
parameters after one step from the same start), so the time it compares is the same work."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import bench_step_floor as bench  # noqa: E402


def _trainer(seed: int = 0):
    rng = np.random.default_rng(seed)
    X = rng.random((300, 20), dtype=np.float32)
    y = X[:, :10].argmax(axis=1)               # learnable: the largest of the first ten inputs
    return bench.trainer(X, y, [20, 16, 10])


def test_the_flat_step_is_the_trainers_step():
    product, flat = _trainer(), _trainer()
    rows = np.random.default_rng(1).permutation(300)[:bench.BATCH]
    for _ in range(2):                        # the second step also reads the momentum
        product.model.train_step_grads(product.X[rows], product.y[rows], product.grads)
        product.optimizer.step(product.model.params, product.grads)
        bench.FlatEpoch(flat).step(rows)
    start = _trainer().model.params
    for p, q, p0 in zip(product.model.params, flat.model.params, start):
        assert not np.array_equal(p, p0)      # the step moved every parameter
        np.testing.assert_allclose(q, p, rtol=1e-5, atol=1e-7)


def test_the_flat_epoch_trains():
    t = _trainer()
    before = t.model.score(t.X, t.y)
    flat = bench.FlatEpoch(t)
    for _ in range(30):
        assert flat() > 0
    assert t.model.score(t.X, t.y) > before + 0.2
