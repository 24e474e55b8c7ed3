"""How close is nn's MLP step to what NumPy itself allows? 784-256-10 relu, momentum, batch 128,
on real MNIST: epochs of ``nn.Trainer`` against the same epoch written as one flat loop of the same
NumPy and BLAS calls (gather, products, bias, ReLU, softmax, gradients, the optimizer's two
passes) with none of the trainer's, model's, layers' and optimizer's Python around them. The two
alternate in one process, so a drifting machine hits both alike. Also the fixed cost of a step:
a 4-8-10 network, whose arithmetic is nothing, trained the same way.

    MNIST_PATH=../shared/data/mnist.npz PYTHONPATH=. .venv/bin/python benchmarks/bench_step_floor.py [--epochs 8]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import nn  # noqa: E402
from nn.core.blas_threads import training_steps  # noqa: E402
from nn.core.numpy_blas import axpby, axpy  # noqa: E402
from nn.data import load_dataset  # noqa: E402

BATCH, LR, MU = 128, 0.05, 0.9


def trainer(X: np.ndarray, y: np.ndarray, sizes: list[int]) -> nn.Trainer:
    cfg = nn.TrainConfig(optimizer="momentum", lr=LR, batch_size=BATCH, epochs=1, seed=0)
    return nn.Trainer(nn.MLP(sizes, seed=0), X, y, config=cfg)


def product_epoch(t: nn.Trainer) -> float:
    before = t.seconds
    for _ in t.run(epochs=1):
        pass
    return t.seconds - before


class FlatEpoch:
    """The trainer's step, inlined: the same calls on the trainer's own arrays (its model's
    parameters, gradients and momentum, all packed), so both versions train one network."""

    def __init__(self, t: nn.Trainer) -> None:
        self.X, self.y, self.rng = t.X, t.y, np.random.default_rng(1)
        self.W1, self.b1, self.W2, self.b2 = t.model.params
        self.dW1, self.db1, self.dW2, self.db2 = t.grads
        opt = t.optimizer
        self.p, self.g, self.v = opt._flat(t.model.params), opt._flat(t.grads), opt._flat(opt.v)
        n, h, k = BATCH, self.W1.shape[1], self.W2.shape[1]
        self.xb = np.empty((n, self.X.shape[1]), np.float32)
        self.Z1, self.A1, self.dA1 = (np.empty((n, h), np.float32) for _ in range(3))
        self.Z2, self.top, self.sums = np.empty((n, k), np.float32), np.empty(n, np.float32), np.empty((n, 1), np.float32)
        self.mask, self.ones, self.rows = np.empty((n, h), bool), np.ones(n, np.float32), np.arange(n)

    def __call__(self) -> float:
        started = time.perf_counter()
        order = self.rng.permutation(len(self.X))
        for s in range(0, len(order) - BATCH + 1, BATCH):
            self.step(order[s:s + BATCH])
        return time.perf_counter() - started

    def step(self, r: np.ndarray) -> None:
        xb, Z1, A1, Z2, dA1 = self.xb, self.Z1, self.A1, self.Z2, self.dA1
        np.take(self.X, r, axis=0, out=xb)
        yb = self.y[r]
        np.matmul(xb, self.W1, out=Z1)                       # Z1 = X W1 + b1, A1 = relu(Z1)
        np.add(Z1, self.b1, out=Z1)
        np.maximum(Z1, 0, out=A1)
        np.matmul(A1, self.W2, out=Z2)                       # Z2 = A1 W2 + b2
        np.add(Z2, self.b2, out=Z2)
        np.maximum(Z2[:, 0], Z2[:, 1], out=self.top)          # dZ2 = (softmax(Z2) - onehot(y)) / n
        for j in range(2, Z2.shape[1]):
            np.maximum(self.top, Z2[:, j], out=self.top)
        np.subtract(Z2, self.top[:, None], out=Z2)
        true = Z2[self.rows, yb]
        np.exp(Z2, out=Z2)
        np.sum(Z2, axis=1, keepdims=True, out=self.sums)
        float(np.add.reduce(np.log(self.sums[:, 0]) - true, dtype=np.float64))     # the loss
        np.divide(Z2, self.sums, out=Z2)
        Z2[self.rows, yb] -= 1
        np.divide(Z2, BATCH, out=Z2)
        np.matmul(A1.T, Z2, out=self.dW2)                    # dW2 = A1^T dZ2, db2 = 1^T dZ2
        np.matmul(self.ones, Z2, out=self.db2)
        np.matmul(Z2, self.W2.T, out=dA1)                    # dZ1 = dZ2 W2^T * (Z1 > 0)
        np.greater(Z1, 0, out=self.mask)
        np.multiply(dA1, self.mask, out=dA1)
        np.matmul(xb.T, dA1, out=self.dW1)                   # dW1 = X^T dZ1, db1 = 1^T dZ1
        np.matmul(self.ones, dA1, out=self.db1)
        axpby(-LR, self.g, MU, self.v)                       # v = mu v - lr g;  w += v
        axpy(1.0, self.v, self.p)


def fixed_cost_us(epochs: int) -> list[float]:
    """Microseconds a step of a 4-8-10 network takes: the step's calls, with no arithmetic."""
    rng = np.random.default_rng(0)
    X = rng.random((60_000, 4), dtype=np.float32)
    t = trainer(X, (X[:, 0] > 0.5).astype(np.int64), [4, 8, 10])
    return [product_epoch(t) / t.steps_per_epoch * 1e6 for _ in range(epochs)]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--epochs", type=int, default=8, help="epochs of each version (after one warm-up)")
    args = p.parse_args()
    data = load_dataset("mnist")
    t = trainer(data.X_train, data.y_train, [784, 256, 10])
    flat = FlatEpoch(t)
    product_epoch(t)
    ours, flats = [], []
    for _ in range(args.epochs):                 # alternating: product, flat, product, ...
        ours.append(product_epoch(t))
        with training_steps(small=t.small_steps):
            flats.append(flat())
    print("nn.Trainer  s/epoch:", " ".join(f"{x:.3f}" for x in ours))
    print("flat loop   s/epoch:", " ".join(f"{x:.3f}" for x in flats))
    print(f"flat / nn: {statistics.median(flats) / statistics.median(ours):.3f} (medians), "
          f"{statistics.median(f / o for f, o in zip(flats, ours)):.3f} (median of pairs)")
    print(f"test accuracy after both: {t.model.score(data.X_test, data.y_test):.2%}")
    fixed = fixed_cost_us(4)
    print("a 4-8-10 step (fixed cost), us:", " ".join(f"{x:.0f}" for x in fixed))


if __name__ == "__main__":
    main()
