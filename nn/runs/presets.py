"""Named configurations: the two tutorials reproduced, and our own fast defaults."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from nn.core import CNN_PRESETS

PRESETS: dict[str, dict[str, Any]] = {
    # The MNIST tutorial: 784-5-10 sigmoid, 0.01 N(0,1) init, full-batch GD, 1000 iterations, lr 0.5.
    "seed-mnist": dict(dataset="mnist", hidden=[5], activation="sigmoid", init="small",
                       optimizer="sgd", lr=0.5, batch_size="full", epochs=1000, seed=42),
    # The MNIST tutorial exactly (its first line and its 86.69%): its weights (np.random.seed(42),
    # randn * 0.01 for W1 then W2, zero biases), float64, and the loss it prints (binary
    # cross-entropy summed over the classes, on the softmax; its step is the cross-entropy's).
    "seed-mnist-exact": dict(dataset="mnist", hidden=[5], activation="sigmoid", init="legacy",
                             optimizer="sgd", lr=0.5, batch_size="full", epochs=1000, seed=42,
                             dtype="float64", reported_loss="binary_cross_entropy"),
    # The moons tutorial: 2-64-2 relu, N(0,1) init, minibatch 10, 10 epochs; its summed gradient
    # with step 1e-4 equals our mean gradient with step 1e-3.
    "seed-moons": dict(dataset="moons", hidden=[64], activation="relu", init="normal",
                       optimizer="sgd", lr=1e-3, batch_size=10, epochs=10, seed=0),
    # Our defaults.
    "moons": dict(dataset="moons", hidden=[32, 32], activation="relu", init="he",
                  optimizer="adam", lr=0.01, batch_size=32, epochs=20, seed=0),
    "mnist": dict(dataset="mnist", hidden=[256], activation="relu", init="he",
                  optimizer="momentum", lr=0.05, batch_size=128, epochs=15, seed=0),
    # Playground's input features on the spiral: 8 neurons reach ~97% where x1, x2 alone need ~24
    # (README, benchmarks/bench_spiral_features.py).
    "spiral-features": dict(dataset="spiral", n_samples=1000, noise=0.02, hidden=[8], activation="relu",
                            features_2d=["x1", "x2", "x1sq", "x2sq", "x1x2", "sinx1", "sinx2"],
                            init="he", optimizer="adam", lr=0.01, batch_size=32, epochs=100, seed=0),
}


# The presets whose command line prints the tutorial's own lines (``python -m nn train --trace``).
TUTORIAL_TRACE = ("seed-mnist-exact",)

# Convolutional networks (nn.core.arch): an ``arch`` text instead of ``hidden``.
PRESETS.update(CNN_PRESETS)


@dataclass(frozen=True)
class Measured:
    """A time-to-accuracy recipe's figures from one run of benchmarks/bench_time_to_accuracy.py."""
    mean: float          # test accuracy, %, the mean over the seeds
    lowest: float        # the lowest seed's, %
    seeds: int
    seconds: float       # training seconds, the mean over the seeds
    gflops: int          # the machine's float32 matmul GFLOP/s, measured in the same run

    def __str__(self) -> str:
        return (f"{self.mean:.2f}% mean test accuracy over {self.seeds} seeds (lowest {self.lowest:.2f}%), "
                f"{self.seconds:g} s of training on 2 cores ({self.gflops} GFLOP/s)")

    def short(self) -> str:
        return f"{self.mean:.2f}% in {self.seconds:g} s"


# The time-to-accuracy recipes as measured (README, "Time to accuracy"): shown beside them on the
# Train page.
MEASURED = {
    "mnist-fast": Measured(mean=99.14, lowest=99.06, seeds=5, seconds=5.2, gflops=205),
    "mnist-best": Measured(mean=99.63, lowest=99.61, seeds=3, seconds=133, gflops=197),
}


def get_preset(name: str) -> dict[str, Any]:
    """A copy of the preset's settings (lists and dicts copied too: the caller may change them)."""
    if name not in PRESETS:
        raise ValueError(f"preset must be one of {', '.join(PRESETS)}; got {name!r}")
    return {k: (list(v) if isinstance(v, list) else dict(v) if isinstance(v, dict) else v)
            for k, v in PRESETS[name].items()}
