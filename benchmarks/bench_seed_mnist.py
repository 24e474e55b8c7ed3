"""The MNIST tutorial's own recipe (784-5-10 sigmoid, softmax, full batch, lr 0.5, 1000
iterations), in one run: the tutorial's code as printed (plain NumPy, float64; ``tutorial``
below, the reading README's "The MNIST tutorial, exactly" pins down) against
``python -m nn train --preset seed-mnist``; with the machine's float32 matmul GFLOP/s, its memory
bandwidth (a NumPy sum over a large array) and what they allow an iteration.

    MNIST_PATH=../shared/data/mnist.npz .venv/bin/python benchmarks/bench_seed_mnist.py [--iterations 1000]

Times: the tutorial's loop (each iteration's step, then its validation pass: the line it
prints), its steps alone, nn's ``train_seconds`` (steps alone: ``--json``) and nn's whole
command (start-up, reading MNIST and a test pass each iteration included). Both use NumPy's
BLAS threads as they come (nn holds this run at one, nn.core.row_blocks, and runs the second
half of each full batch on a second thread when the machine has two cores: nn.core.batch_halves).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, TextIO

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from machine import load, matmul_gflops  # noqa: E402  (benchmarks/machine.py)

N_TRAIN, N_TEST, PIXELS, HIDDEN, CLASSES = 60_000, 10_000, 784, 5, 10
BANDWIDTH_BYTES = 512 * 2**20          # the array summed to measure the memory bandwidth


# --- the tutorial's code, as printed -------------------------------------------------------------
def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def softmax(z):
    e = np.exp(z - np.max(z, axis=1, keepdims=True))
    return e / np.sum(e, axis=1, keepdims=True)


def one_hot(y, classes=10):
    return np.eye(classes)[y]


def tutorial(x_train, y_train, x_test, y_test, iterations: int, out: TextIO) -> dict[str, float]:
    """The tutorial's training, line for line (float64, its weights, its printed loss); returns
    the loop's seconds, the steps' seconds alone and the final test accuracy."""
    X, Y = x_train.reshape(len(x_train), -1) / 255.0, one_hot(y_train)
    X_val, Y_val = x_test.reshape(len(x_test), -1) / 255.0, one_hot(y_test)
    np.random.seed(42)
    W1 = np.random.randn(784, 5) * 0.01
    b1 = np.zeros((1, 5))
    W2 = np.random.randn(5, 10) * 0.01
    b2 = np.zeros((1, 10))
    lr, m = 0.5, X.shape[0]
    steps = 0.0
    start = time.perf_counter()
    for i in range(iterations):
        t = time.perf_counter()
        Z1 = X @ W1 + b1
        A1 = sigmoid(Z1)
        Z2 = A1 @ W2 + b2
        A2 = softmax(Z2)
        loss = -np.mean(np.sum(Y * np.log(A2) + (1 - Y) * np.log(1 - A2), axis=1))
        dZ2 = (A2 - Y) / m
        dW2 = A1.T @ dZ2
        db2 = np.sum(dZ2, axis=0, keepdims=True)
        dA1 = dZ2 @ W2.T
        dZ1 = dA1 * A1 * (1 - A1)
        dW1 = X.T @ dZ1
        db1 = np.sum(dZ1, axis=0, keepdims=True)
        W1 -= lr * dW1
        b1 -= lr * db1
        W2 -= lr * dW2
        b2 -= lr * db2
        steps += time.perf_counter() - t
        A2_val = softmax(sigmoid(X_val @ W1 + b1) @ W2 + b2)
        val_loss = -np.mean(np.sum(Y_val * np.log(A2_val) + (1 - Y_val) * np.log(1 - A2_val), axis=1))
        print(f"Training {loss}, Validation {val_loss}", file=out)
    seconds = time.perf_counter() - start
    accuracy = np.mean(np.argmax(softmax(sigmoid(X_val @ W1 + b1) @ W2 + b2), axis=1) == y_test)
    return {"seconds": seconds, "step_seconds": steps, "test_accuracy": float(accuracy)}


# --- nn, as its command line trains it ----------------------------------------------------------
def nn_command(iterations: int) -> dict[str, float]:
    """``python -m nn train --preset seed-mnist --json``: its train_seconds, test accuracy and
    the command's own seconds."""
    cmd = [sys.executable, "-m", "nn", "train", "--preset", "seed-mnist", "--epochs", str(iterations), "--json"]
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=True)
    seconds = time.perf_counter() - start
    out = json.loads(done.stdout.strip().splitlines()[-1])
    return {"seconds": seconds, "step_seconds": out["train_seconds"], "test_accuracy": out["test_accuracy"]}


# --- what each part buys ------------------------------------------------------------------------
# name: (uint8 codes, row blocks, one BLAS thread, the halves on two threads)
PARTS = {"before (float32 pieces, one product each, BLAS threads)": (False, False, False, False),
         "before, one BLAS thread": (False, False, True, False),
         "uint8 codes, one thread": (True, False, True, False),
         "row blocks, one thread": (False, True, True, False), "both, one thread": (True, True, True, False),
         "both, halves on two threads (as shipped)": (True, True, True, True)}


def parts(reps: int) -> dict[str, dict[str, float]]:
    """Seconds of one full-batch gradient of seed-mnist's network on MNIST (``Trainer``'s pieces)
    with the codes, the row blocks, one BLAS thread and the two threads each on or off: the
    best and the median of ``reps``, the variants taking turns."""
    import nn.core.row_blocks as row_blocks
    import nn.core.training as training
    from nn import MLP, Trainer, TrainConfig
    from nn.core.blas_threads import training_steps
    from nn.data import load_dataset
    data, small, codes = load_dataset("mnist"), row_blocks.SMALL_PRODUCT, training.pixel_codes
    allowed = training.allowed_threads
    trainers = {}
    for name, (use_codes, use_blocks, _, _) in PARTS.items():
        row_blocks.SMALL_PRODUCT = small if use_blocks else 0         # 0: no layer is blocked
        training.pixel_codes = codes if use_codes else (lambda X: None)
        model = MLP([PIXELS, HIDDEN, CLASSES], activation="sigmoid", init="small", seed=42)
        trainers[name] = trainer = Trainer(model, data.X_train, data.y_train, config=TrainConfig(
            optimizer="sgd", lr=0.5, batch_size="full", epochs=1))
        trainer._start_pass()
        trainer._pixel_codes()                   # found before the timing
    times: dict[str, list[float]] = {name: [] for name in PARTS}
    try:
        for _ in range(reps):
            for name, (_, use_blocks, one_thread, two) in PARTS.items():
                row_blocks.SMALL_PRODUCT = small if use_blocks else 0
                training.allowed_threads = allowed if two else (lambda: 1)
                trainer = trainers[name]
                with training_steps(small=one_thread):
                    t = time.perf_counter()
                    trainer._batch_grads(trainer.X, trainer.y)
                    times[name].append(time.perf_counter() - t)
    finally:
        row_blocks.SMALL_PRODUCT, training.pixel_codes, training.allowed_threads = small, codes, allowed
    return {name: {"best_s": min(v), "median_s": float(np.median(v))} for name, v in times.items()}


# --- the machine -------------------------------------------------------------------------------
def bandwidth_gbs(reps: int = 5) -> float:
    """GB/s read from memory: a float32 sum over BANDWIDTH_BYTES (far past the caches), the best
    of ``reps``."""
    a = np.ones(BANDWIDTH_BYTES // 4, np.float32)
    best = float("inf")
    for _ in range(reps):
        t = time.perf_counter()
        a.sum()
        best = min(best, time.perf_counter() - t)
    return a.nbytes / best / 1e9


def iteration_limits(gflops: float, gbs: float) -> dict[str, float]:
    """Bytes read from memory per iteration and the seconds they and the arithmetic take at
    best. nn: the 8-bit training pixels once (each piece's floats are used from the cache by
    forward and backward); the tutorial: X in float64 twice (forward X W1, backward X^T dZ1) and
    its validation images once. Arithmetic: X W1 and X^T dZ1, 2 n 784 5 flops each."""
    nn_bytes = N_TRAIN * PIXELS
    tutorial_bytes = 2 * N_TRAIN * PIXELS * 8 + N_TEST * PIXELS * 8
    flops = 2 * 2 * N_TRAIN * PIXELS * HIDDEN
    return {"nn_bytes": nn_bytes, "tutorial_bytes": tutorial_bytes,
            "nn_memory_s": nn_bytes / (gbs * 1e9), "tutorial_memory_s": tutorial_bytes / (gbs * 1e9),
            "arithmetic_s": flops / (gflops * 1e9)}


def report(results: dict[str, Any]) -> str:
    t, n, lim, k = results["tutorial"], results["nn"], results["limits"], results["iterations"]
    lines = [
        f"{k} iterations; float32 matmul {results['matmul_gflops']:.0f} GFLOP/s, memory "
        f"{results['bandwidth_gbs']:.1f} GB/s; {results['load_before']} -> {results['load_after']}",
        f"tutorial's code: {t['seconds']:.1f} s ({t['step_seconds']:.1f} s of steps), "
        f"test accuracy {t['test_accuracy']:.2%}",
        f"nn seed-mnist:   {n['seconds']:.1f} s ({n['step_seconds']:.1f} s of steps, train_seconds), "
        f"test accuracy {n['test_accuracy']:.2%}",
        f"ratio nn / tutorial: steps {n['step_seconds'] / t['step_seconds']:.2f}x, "
        f"whole {n['seconds'] / t['seconds']:.2f}x",
        f"per iteration: nn {1e3 * n['step_seconds'] / k:.1f} ms (reads {lim['nn_bytes'] / 1e6:.0f} MB: "
        f"{1e3 * lim['nn_memory_s']:.1f} ms at the measured bandwidth; arithmetic "
        f"{1e3 * lim['arithmetic_s']:.1f} ms at the matmul GFLOP/s), tutorial "
        f"{1e3 * t['step_seconds'] / k:.1f} ms of steps (reads {lim['tutorial_bytes'] / 1e6:.0f} MB: "
        f"{1e3 * lim['tutorial_memory_s']:.1f} ms)",
    ]
    for name, p in results.get("parts", {}).items():
        lines.append(f"one full-batch gradient, {name}: {1e3 * p['best_s']:.1f} ms best, "
                     f"{1e3 * p['median_s']:.1f} ms median")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--iterations", type=int, default=1000, help="full-batch steps of each (default 1000)")
    ap.add_argument("--parts", type=int, default=7, metavar="REPS",
                    help="time one full-batch gradient with each part on and off, REPS times (0: skip)")
    ap.add_argument("--json", action="store_true", help="end with one JSON line")
    args = ap.parse_args(argv)
    path = os.environ.get("MNIST_PATH")
    if not path:
        sys.exit("set MNIST_PATH to a keras-format mnist.npz")
    with np.load(path) as f:
        data = [f[k] for k in ("x_train", "y_train", "x_test", "y_test")]
    results: dict[str, Any] = {"iterations": args.iterations, "load_before": load()}
    results["matmul_gflops"], results["bandwidth_gbs"] = matmul_gflops(), bandwidth_gbs()
    with open(os.devnull, "w") as sink:
        results["tutorial"] = tutorial(*data, args.iterations, sink)
    results["nn"] = nn_command(args.iterations)
    if args.parts:
        results["parts"] = parts(args.parts)
    results["load_after"] = load()
    results["limits"] = iteration_limits(results["matmul_gflops"], results["bandwidth_gbs"])
    print(report(results))
    if args.json:
        print(json.dumps(results))
    return results


if __name__ == "__main__":
    main()
