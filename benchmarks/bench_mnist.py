"""Time per epoch of one network, 784-256-10 relu, batch 128, on real MNIST, trained by
nn, scikit-learn's MLPClassifier and Keras (JAX backend) in one run, with momentum (lr 0.05)
and with Adam (lr 1e-3). Prints each time per epoch, the ratios and each test accuracy, and the
fraction of the machine's float32 matmul limit that nn reaches.

    MNIST_PATH=../shared/data/mnist.npz .venv/bin/python benchmarks/bench_mnist.py [--epochs 5]

Each framework and optimizer trains in a process of its own (``--serve``), so that no
framework's leftover threads (JAX's) or allocator state slow the next one: in one process nn's
Adam epochs after Keras's took 0.88-1.10 s against 0.57-0.69 s alone. The three take turns epoch
by epoch (nn, scikit-learn, Keras, nn, ...), and each ratio is read per epoch, between turns a
second or two apart: this machine's speed drifts by up to 2x within seconds (nn's epochs in one
run: 0.76-1.07 s for five, then 0.42-0.57 s), so frameworks timed one after the other for half
a minute each saw different machines. Per-epoch times are medians over epochs 2..N (the first
epoch holds Keras's compilation)."""
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


import nn  # noqa: E402
from nn.data import load_dataset  # noqa: E402
from machine import matmul_gflops  # noqa: E402  (benchmarks/machine.py)

HIDDEN, BATCH = 256, 128
SETTINGS = {"momentum": 0.05, "adam": 1e-3}


class NnEpochs:
    def __init__(self, data, optimizer: str, lr: float) -> None:
        self.data = data
        self.model = nn.MLP([784, HIDDEN, 10], activation="relu", init="he", seed=0)
        cfg = nn.TrainConfig(optimizer=optimizer, lr=lr, batch_size=BATCH, epochs=1, seed=0)
        self.trainer = nn.Trainer(self.model, data.X_train, data.y_train, config=cfg)  # no per-epoch eval

    def epoch(self) -> float:
        """One more epoch; its seconds of training steps (the trainer's own clock)."""
        before = self.trainer.seconds
        for _ in self.trainer.run(epochs=1):
            pass
        return self.trainer.seconds - before

    def accuracy(self) -> float:
        return self.model.score(self.data.X_test, self.data.y_test)


class SklearnEpochs:
    def __init__(self, data, optimizer: str, lr: float) -> None:
        from sklearn.neural_network import MLPClassifier
        self.data = data
        solver = {"momentum": dict(solver="sgd", momentum=0.9, nesterovs_momentum=False),
                  "adam": dict(solver="adam")}[optimizer]
        self.clf = MLPClassifier(hidden_layer_sizes=(HIDDEN,), activation="relu", batch_size=BATCH,
                                 learning_rate_init=lr, alpha=0.0, max_iter=1, warm_start=True,
                                 shuffle=True, random_state=0, tol=0.0, n_iter_no_change=10**6, **solver)

    def epoch(self) -> float:
        from sklearn.exceptions import ConvergenceWarning
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            t = time.perf_counter()
            self.clf.fit(self.data.X_train, self.data.y_train)
            return time.perf_counter() - t

    def accuracy(self) -> float:
        return float(self.clf.score(self.data.X_test, self.data.y_test))


class KerasEpochs:
    def __init__(self, data, optimizer: str, lr: float) -> None:
        import keras
        self.data = data
        keras.utils.set_random_seed(0)
        self.model = keras.Sequential([keras.Input((784,)), keras.layers.Dense(HIDDEN, activation="relu"),
                                       keras.layers.Dense(10, activation="softmax")])
        opt = (keras.optimizers.SGD(lr, momentum=0.9) if optimizer == "momentum"
               else keras.optimizers.Adam(lr))
        self.model.compile(optimizer=opt, loss="sparse_categorical_crossentropy", metrics=["accuracy"])

        class Timer(keras.callbacks.Callback):
            """The epoch's own time (from its first batch to its last), as for the others."""
            def on_epoch_begin(self, epoch, logs=None):
                self.started = time.perf_counter()

            def on_epoch_end(self, epoch, logs=None):
                self.seconds = time.perf_counter() - self.started

        self.timer = Timer()

    def epoch(self) -> float:
        self.model.fit(self.data.X_train, self.data.y_train, batch_size=BATCH, epochs=1, verbose=0,
                       shuffle=True, callbacks=[self.timer])
        return self.timer.seconds

    def accuracy(self) -> float:
        return float(self.model.evaluate(self.data.X_test, self.data.y_test, verbose=0)[1])


def epoch_flops(n: int) -> float:
    """Forward 2nkm per layer, dW 2nkm per layer, dX 2nkm for all but the first layer."""
    return 2 * n * (2 * 784 * HIDDEN + 3 * HIDDEN * 10)


BENCHES = {"nn": NnEpochs, "sklearn": SklearnEpochs, "keras_jax": KerasEpochs}
# Between two turns every process is idle this long, so that the BLAS threads of the one that
# just trained (OpenBLAS spins about 0.1 s after its last product) are asleep when the next starts.
PAUSE_S = 0.3


def serve(name: str, optimizer: str) -> None:
    """A framework's process: builds its network, then trains one epoch per "epoch" line on
    stdin and prints its seconds; "end" prints the test accuracy."""
    trainer = BENCHES[name](load_dataset("mnist"), optimizer, SETTINGS[optimizer])
    print("ready", flush=True)
    for line in sys.stdin:
        if line.strip() == "epoch":
            print(json.dumps({"seconds": trainer.epoch()}), flush=True)
        else:
            print(json.dumps({"test_accuracy": trainer.accuracy()}), flush=True)
            return


def _ask(proc: subprocess.Popen, line: str) -> dict:
    proc.stdin.write(line + "\n")
    proc.stdin.flush()
    while True:                          # skip whatever a framework prints itself
        out = proc.stdout.readline()
        if not out:
            raise RuntimeError("a framework's process ended early")
        if out.startswith("{"):
            return json.loads(out)


def compare(optimizer: str, epochs: int) -> dict:
    """The frameworks' epochs in turns (nn, scikit-learn, Keras, nn, ...), each framework in a
    process of its own; per framework the median epoch of 2..N, and per epoch the ratios nn/other
    of the turns next to each other in time, with their median."""
    procs = {name: subprocess.Popen([sys.executable, __file__, "--serve", name, optimizer], text=True,
                                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
             for name in BENCHES}
    try:
        for proc in procs.values():
            while proc.stdout.readline().strip() != "ready":
                if proc.poll() is not None:
                    raise RuntimeError("a framework's process failed to start")
        times: dict[str, list[float]] = {name: [] for name in BENCHES}
        for _ in range(epochs):
            for name, proc in procs.items():
                time.sleep(PAUSE_S)
                times[name].append(_ask(proc, "epoch")["seconds"])
        accuracy = {name: _ask(proc, "end")["test_accuracy"] for name, proc in procs.items()}
    finally:
        for proc in procs.values():
            proc.kill()
    later = slice(1, None) if epochs > 1 else slice(None)     # the first epoch holds Keras's compilation
    ratios = {name: [a / b for a, b in zip(times["nn"][later], t[later])] for name, t in times.items() if name != "nn"}
    return {"epoch_times": times, "test_accuracy": accuracy,
            "s_per_epoch": {name: statistics.median(t[later]) for name, t in times.items()},
            "ratios": ratios, "median_ratio": {name: statistics.median(r) for name, r in ratios.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--json", action="store_true", help="end with one JSON line")
    parser.add_argument("--serve", nargs=2, metavar=("FRAMEWORK", "OPTIMIZER"),
                        help="one framework's process (internal)")
    args = parser.parse_args()
    if args.serve:
        serve(*args.serve)
        return
    n_train = len(load_dataset("mnist").X_train)
    # the machine's speed, probed before and after (the higher: a probe at a slow moment would
    # flatter the fraction of the limit)
    before = matmul_gflops()
    rows = {optimizer: compare(optimizer, max(1, args.epochs)) for optimizer in SETTINGS}
    gflops = max(before, matmul_gflops())
    limit = epoch_flops(n_train) / (gflops * 1e9)
    print(f"float32 2048x2048 matmul: {gflops:.0f} GFLOP/s -> an epoch is {limit:.3f} s of pure arithmetic")
    results = {"matmul_gflops": gflops, "arithmetic_limit_s": limit}
    for optimizer, lr in SETTINGS.items():
        row = rows[optimizer]
        print(f"\n{optimizer} (lr {lr}, {args.epochs} epochs in turns; medians of epochs 2..{args.epochs})")
        for name, epoch in row["s_per_epoch"].items():
            ratio = "" if name == "nn" else (f"  nn/{name} = {row['median_ratio'][name]:.2f}x (per epoch: "
                                            + ", ".join(f"{q:.2f}" for q in row["ratios"][name]) + ")")
            print(f"  {name:10s} {epoch:.3f} s/epoch  test accuracy {row['test_accuracy'][name]:.2%}{ratio}")
        print(f"  nn reaches {limit / row['s_per_epoch']['nn']:.0%} of the matmul limit")
        results[optimizer] = row
    if args.json:
        print(json.dumps(results))


if __name__ == "__main__":
    main()
