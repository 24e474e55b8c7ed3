"""Time per epoch of one network, 784-256-10 relu, batch 128, on real MNIST, trained by
nn, scikit-learn's MLPClassifier and Keras (JAX backend) in one run, with momentum (lr 0.05)
and with Adam (lr 1e-3). Prints each time per epoch, the ratios and each test accuracy, and the
fraction of the machine's float32 matmul limit that nn reaches.

    MNIST_PATH=../shared/data/mnist.npz .venv/bin/python benchmarks/bench_mnist.py [--epochs 5]

Per-epoch times are medians over epochs 2..N (the first epoch holds Keras's compilation). Each
framework and optimizer trains in a process of its own (``--only``), so that no framework's
leftover threads (JAX's) or allocator state slow the next one: in one process nn's Adam epochs
after Keras's took 0.88-1.10 s against 0.57-0.69 s alone.

With ``--rounds R`` the frameworks take turns R times (nn, scikit-learn, Keras, nn, ...), and
each ratio is read per round and its median printed: the speed of a shared machine drifts by
up to 2x over tens of seconds (the 2048x2048 matmul ran at 117 and at 196 GFLOP/s an hour
apart), and frameworks that run side by side in time see the same drift."""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import warnings
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "jax")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

import nn  # noqa: E402
from nn.data import load_dataset  # noqa: E402
from machine import matmul_gflops  # noqa: E402  (benchmarks/machine.py)

HIDDEN, BATCH = 256, 128
SETTINGS = {"momentum": 0.05, "adam": 1e-3}


def bench_nn(data, optimizer: str, lr: float, epochs: int) -> tuple[list[float], float]:
    model = nn.MLP([784, HIDDEN, 10], activation="relu", init="he", seed=0)
    cfg = nn.TrainConfig(optimizer=optimizer, lr=lr, batch_size=BATCH, epochs=epochs, seed=0)
    trainer = nn.Trainer(model, data.X_train, data.y_train, config=cfg)   # no per-epoch eval
    ends = [r["seconds"] for r in trainer.run() if r["end_of_epoch"]]
    return list(np.diff([0.0, *ends])), model.score(data.X_test, data.y_test)


def bench_sklearn(data, optimizer: str, lr: float, epochs: int) -> tuple[list[float], float]:
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier
    solver = {"momentum": dict(solver="sgd", momentum=0.9, nesterovs_momentum=False),
              "adam": dict(solver="adam")}[optimizer]
    clf = MLPClassifier(hidden_layer_sizes=(HIDDEN,), activation="relu", batch_size=BATCH,
                        learning_rate_init=lr, alpha=0.0, max_iter=1, warm_start=True,
                        shuffle=True, random_state=0, tol=0.0, n_iter_no_change=10**6, **solver)
    times = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for _ in range(epochs):
            t = time.perf_counter()
            clf.fit(data.X_train, data.y_train)
            times.append(time.perf_counter() - t)
    return times, float(clf.score(data.X_test, data.y_test))


def bench_keras(data, optimizer: str, lr: float, epochs: int) -> tuple[list[float], float]:
    import keras
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((784,)), keras.layers.Dense(HIDDEN, activation="relu"),
                              keras.layers.Dense(10, activation="softmax")])
    opt = (keras.optimizers.SGD(lr, momentum=0.9) if optimizer == "momentum"
           else keras.optimizers.Adam(lr))
    model.compile(optimizer=opt, loss="sparse_categorical_crossentropy", metrics=["accuracy"])

    class Timer(keras.callbacks.Callback):
        times: list[float] = []

        def on_epoch_begin(self, epoch, logs=None):
            self.t = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.times.append(time.perf_counter() - self.t)

    timer = Timer()
    timer.times = []
    model.fit(data.X_train, data.y_train, batch_size=BATCH, epochs=epochs, verbose=0,
              shuffle=True, callbacks=[timer])
    _, acc = model.evaluate(data.X_test, data.y_test, verbose=0)
    return timer.times, float(acc)


def epoch_flops(n: int) -> float:
    """Forward 2nkm per layer, dW 2nkm per layer, dX 2nkm for all but the first layer."""
    return 2 * n * (2 * 784 * HIDDEN + 3 * HIDDEN * 10)


BENCHES = {"nn": bench_nn, "sklearn": bench_sklearn, "keras_jax": bench_keras}


def run_one(name: str, optimizer: str, epochs: int) -> dict:
    """One framework's epochs in this process: times, median of epochs 2..N, test accuracy."""
    times, acc = BENCHES[name](load_dataset("mnist"), optimizer, SETTINGS[optimizer], epochs)
    return {"s_per_epoch": statistics.median(times[1:] or times), "test_accuracy": acc,
            "epoch_times": [round(t, 4) for t in times]}


def run_apart(name: str, optimizer: str, epochs: int) -> dict:
    """``run_one`` in a fresh Python process."""
    out = subprocess.run([sys.executable, __file__, "--epochs", str(epochs), "--only", name, optimizer],
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def compare(optimizer: str, epochs: int, rounds: int) -> dict:
    """Each framework's ``run_apart`` ``rounds`` times in turn; the per-round ratios nn/other
    and their medians."""
    runs: dict[str, list[dict]] = {name: [] for name in BENCHES}
    for _ in range(rounds):
        for name in BENCHES:
            runs[name].append(run_apart(name, optimizer, epochs))
    ratios = {name: [ours["s_per_epoch"] / theirs["s_per_epoch"] for ours, theirs in zip(runs["nn"], r)]
              for name, r in runs.items() if name != "nn"}
    return {"runs": runs, "ratios": ratios,
            "median_ratio": {name: statistics.median(r) for name, r in ratios.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=1, help="frameworks take turns this many times")
    parser.add_argument("--json", action="store_true", help="end with one JSON line")
    parser.add_argument("--only", nargs=2, metavar=("FRAMEWORK", "OPTIMIZER"),
                        help="run one framework with one optimizer here and print its JSON (internal)")
    args = parser.parse_args()
    if args.only:
        print(json.dumps(run_one(*args.only, args.epochs)))
        return
    n_train = len(load_dataset("mnist").X_train)
    gflops = matmul_gflops()
    limit = epoch_flops(n_train) / (gflops * 1e9)
    print(f"float32 2048x2048 matmul: {gflops:.0f} GFLOP/s -> an epoch is {limit:.3f} s of pure arithmetic")
    results = {"matmul_gflops": gflops, "arithmetic_limit_s": limit}
    for optimizer, lr in SETTINGS.items():
        row = compare(optimizer, args.epochs, max(1, args.rounds))
        print(f"\n{optimizer} (lr {lr}, {args.epochs} epochs, median of epochs 2..{args.epochs})")
        for name, runs in row["runs"].items():
            times = ", ".join(f"{r['s_per_epoch']:.3f}" for r in runs)
            ratio = ("" if name == "nn" else f"  nn/{name} = " + ", ".join(f"{q:.2f}x" for q in row["ratios"][name])
                     + (f" (median {row['median_ratio'][name]:.2f}x)" if len(runs) > 1 else ""))
            print(f"  {name:10s} {times} s/epoch  test accuracy {runs[-1]['test_accuracy']:.2%}{ratio}")
        typical = statistics.median(r["s_per_epoch"] for r in row["runs"]["nn"])
        print(f"  nn reaches {limit / typical:.0%} of the matmul limit (median epoch)")
        results[optimizer] = row
    if args.json:
        print(json.dumps(results))


if __name__ == "__main__":
    main()
