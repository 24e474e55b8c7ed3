"""The ``mnist-cnn`` preset trained by nn (NumPy, driven by ``nn.Trainer``), Keras with the JAX
backend and PyTorch on the CPU, same architecture, optimizer, learning-rate schedule, batch size
and epochs, in one run. Prints each one's time per epoch, the ratios, each test accuracy, the
FLOPs of an epoch and the fraction of the machine's float32 matmul peak that nn reaches.

    MNIST_PATH=../shared/data/mnist.npz .venv/bin/python benchmarks/bench_cnn.py
    ... --frameworks nn                # only ours: the preset's accuracy and train seconds
    ... --epochs 2 --frameworks nn,torch

The three are compared without augmentation (the same work for each); nn then trains the preset as
shipped, with its augmentation (``nn+augment``), for its accuracy and train seconds.
PyTorch's network is benchmarks/torch_twin.py's twin of nn's (the same layers, initialised as
nn initialises them). PyTorch is skipped when it is not installed (it is not in requirements.txt). Per-epoch times are
medians over epochs 2..N when N > 2 (the first epoch holds Keras's compilation); the machine is
shared, so the load average is printed with the figures.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "jax")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

import nn  # noqa: E402
from nn.core import CNN_PRESETS, build_network, flops_per_sample, parse_arch  # noqa: E402
from nn.data import load_dataset  # noqa: E402
from nn.data.augment import Augment  # noqa: E402
from machine import load, matmul_gflops  # noqa: E402  (benchmarks/machine.py)
from torch_twin import epoch_lr  # noqa: E402


def bench_nn(data, preset: dict, epochs: int, augment: bool = False) -> tuple[list[float], float]:
    model = build_network(preset["arch"], (1, 28, 28), 10, activation=preset["activation"],
                          seed=preset["seed"])
    if augment:
        model.augment = Augment(**preset["augment"]).validate()
    cfg = nn.TrainConfig(optimizer=preset["optimizer"], lr=preset["lr"], batch_size=preset["batch_size"],
                         epochs=epochs, seed=preset["seed"], report_every=3600,
                         lr_schedule=preset.get("lr_schedule", "constant"))   # the trainer applies it
    trainer = nn.Trainer(model, data.X_train, data.y_train, config=cfg)   # no per-epoch evaluation
    ends = [r["seconds"] for r in trainer.run() if r["end_of_epoch"]]
    return [float(t) for t in np.diff([0.0, *ends])], model.score(data.X_test, data.y_test)


def keras_layers(preset: dict):
    import keras
    layers = [keras.Input((28, 28, 1))]
    blocks = parse_arch(preset["arch"])
    for i, b in enumerate(blocks):
        if b["type"] == "conv":
            pooled = i + 1 < len(blocks) and blocks[i + 1]["type"] == "pool"
            layers.append(keras.layers.Conv2D(b["filters"], tuple(b["kernel"]), strides=b["stride"],
                                              padding="valid" if not b["padding"] else "same",
                                              activation=None if pooled else preset["activation"]))
        elif b["type"] == "pool":
            layers.append(keras.layers.MaxPooling2D(b["size"], b["stride"]))
            layers.append(keras.layers.Activation(preset["activation"]))
        elif b["type"] == "dense":
            if not any(isinstance(x, keras.layers.Flatten) for x in layers[1:]):
                layers.append(keras.layers.Flatten())
            layers.append(keras.layers.Dense(b["units"], activation=preset["activation"]))
        else:
            layers.append(keras.layers.Dropout(b["rate"]))
    layers.append(keras.layers.Dense(10, activation="softmax"))
    return layers


def bench_keras(data, preset: dict, epochs: int) -> tuple[list[float], float]:
    import keras
    keras.utils.set_random_seed(preset["seed"])
    model = keras.Sequential(keras_layers(preset))
    model.compile(optimizer=keras.optimizers.Adam(preset["lr"]), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    times: list[float] = []

    class Timer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.t = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            times.append(time.perf_counter() - self.t)

    schedule = keras.callbacks.LearningRateScheduler(lambda e: epoch_lr(preset, e, epochs))
    X = data.X_train.reshape(-1, 28, 28, 1)
    model.fit(X, data.y_train, batch_size=preset["batch_size"], epochs=epochs, verbose=0,
              shuffle=True, callbacks=[schedule, Timer()])
    _, acc = model.evaluate(data.X_test.reshape(-1, 28, 28, 1), data.y_test, verbose=0)
    return times, float(acc)


def bench_torch(data, preset: dict, epochs: int) -> tuple[list[float], float] | None:
    try:
        import torch
    except ImportError:
        return None
    from torch_twin import torch_network, train_torch, tta_accuracy   # benchmarks/torch_twin.py
    torch.set_num_threads(len(os.sched_getaffinity(0)))
    torch.manual_seed(preset["seed"])
    recipe = dict(preset, label_smoothing=0.0)          # compared without augmentation or TTA
    model = torch_network(recipe, (1, 28, 28), 10)
    times = train_torch(model, recipe, data.X_train, data.y_train, epochs, preset["seed"])
    return times, tta_accuracy(model, data.X_test, data.y_test)


def per_epoch(times: list[float]) -> float:
    return statistics.median(times[1:] if len(times) > 2 else times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--preset", default="mnist-cnn", choices=list(CNN_PRESETS))
    ap.add_argument("--epochs", type=int, help="default: the preset's")
    ap.add_argument("--frameworks", default="nn,keras,torch",
                    help="comma-separated, of nn, keras, torch (all without augmentation)")
    ap.add_argument("--no-preset-run", action="store_true",
                    help="skip the extra nn run of the preset as shipped (with its augmentation)")
    args = ap.parse_args()
    preset = CNN_PRESETS[args.preset]
    epochs = args.epochs or preset["epochs"]
    data = load_dataset(preset["dataset"])
    print(f"{args.preset}: {preset['arch']}; {preset['optimizer']} lr {preset['lr']:g} "
          f"({preset.get('lr_schedule', 'constant')}), batch {preset['batch_size']}, {epochs} epochs")
    print(f"before: {load()}")
    runners = {"nn": bench_nn, "keras": bench_keras, "torch": bench_torch,
               "nn+augment": lambda *a: bench_nn(*a, augment=True)}
    names = args.frameworks.split(",")
    if "nn" in names and preset.get("augment") and not args.no_preset_run:
        names.append("nn+augment")             # the preset as shipped, augmentation included
    results: dict[str, dict] = {}
    for name in names:
        out = runners[name](data, preset, epochs)
        if out is None:
            print(f"{name}: skipped (not installed)")
            continue
        times, acc = out
        results[name] = {"seconds_per_epoch": round(per_epoch(times), 3), "train_seconds": round(sum(times), 2),
                         "test_accuracy": acc, "epoch_seconds": [round(t, 3) for t in times], "load": load()}
        print(f"{name:10s} {per_epoch(times):7.3f} s/epoch  total {sum(times):6.2f} s  test acc {acc:.2%}  "
              f"epochs {[round(t, 2) for t in times]}  ({load()})", flush=True)
    if "nn" in results:
        base = results["nn"]["seconds_per_epoch"]
        for name, r in results.items():
            if name not in ("nn", "nn+augment"):
                print(f"{name} / nn time per epoch: {r['seconds_per_epoch'] / base:.2f}")
        model = build_network(preset["arch"], (1, 28, 28), 10)
        flops = flops_per_sample(model)["train"] * len(data.X_train)
        peak = matmul_gflops()
        results["nn"].update(gflop_per_epoch=round(flops / 1e9, 1), matmul_peak_gflops=round(peak, 1),
                             arithmetic_seconds=round(flops / peak / 1e9, 2),
                             fraction_of_peak=round(flops / peak / 1e9 / base, 3))
        print(f"an epoch is {flops / 1e9:.0f} GFLOP of matrix products; at the measured matmul peak "
              f"({peak:.0f} GFLOP/s, {load()}) that is {flops / peak / 1e9:.2f} s: nn reaches "
              f"{flops / peak / 1e9 / base:.0%} of it")
    print(json.dumps({"preset": args.preset, "epochs": epochs, "results": results}))


if __name__ == "__main__":
    main()
