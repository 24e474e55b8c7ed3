"""Our default settings for a table (nn.runs.table_defaults) against scikit-learn's defaults.

For each table (scikit-learn's iris, wine and breast cancer, written to CSV and read back with
``nn.data.tables.read_table``, as a user uploads them) and each of several split seeds, the same
stratified 75/25 split (``dataset_from_table(..., seed=s)``) is given to:

  nn defaults       a 64-unit ReLU MLP (the command line's default network) with the settings
                    ``table_defaults.choose`` picks, on the features standardised or kept as
                    they are as ``table_defaults.scaling_of`` chooses from the training rows:
                    what ``python -m nn train --data FILE --label class`` does with no options
  nn defaults std   the same, the features always standardised (--standardize)
  nn defaults raw   the same on the raw features (--no-standardize)
  nn old defaults   the same network with the settings' plain defaults (10 epochs of Adam at
                    0.001, batch 32): what the same command did before
  MLPClassifier()   scikit-learn's defaults on the raw features, as a user would call it
  MLPClassifier() std   the same on our standardised features
  LogisticRegression    scikit-learn's defaults on our standardised features

and the table gives each one's mean and lowest test accuracy over the seeds and its mean
seconds to train. Seed s is also each model's random seed.

Regression (scikit-learn's diabetes, its 'target' read as a quantity: ``task="regression"``, a
seeded random 75/25 split, the label standardised by the training rows) gives the same split to:

  nn defaults       the 64-unit ReLU MLP with ``choose(..., task="regression")``: what
                    ``python -m nn train --data FILE --label target --task regression`` does
  nn old defaults   the same network with the settings' plain defaults
  MLPRegressor()    scikit-learn's defaults on the raw features and the label in its own units
  MLPRegressor() std   the same on our standardised features and label
  LinearRegression  ordinary least squares on our standardised features

and the table gives test R^2 (invariant to the label's scaling), mean and lowest, and seconds.

Run: PYTHONPATH=. .venv/bin/python benchmarks/bench_defaults.py [--seeds 10]
     [--tables iris,wine,breast_cancer,diabetes]
"""
from __future__ import annotations

import argparse
import io
import time
import warnings
from typing import Any, Callable

import numpy as np
from sklearn import datasets
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.neural_network import MLPClassifier, MLPRegressor

from nn.core.config import RunConfig
from nn.data.tables import dataset_from_table, read_table
from nn.runs.experiment import build_trainer
from nn.runs.table_defaults import choose, scaling_of

TABLES = {"iris": datasets.load_iris, "wine": datasets.load_wine,
          "breast_cancer": datasets.load_breast_cancer}
LABEL = "class"
QUANTITIES = {"diabetes": datasets.load_diabetes}       # label 'target', read as a quantity
QUANTITY = "target"


def table_csv(loader: Callable[..., Any]) -> bytes:
    """A scikit-learn table as the CSV a user would upload: its features and a text label."""
    bunch = loader(as_frame=True)
    frame = bunch.frame.drop(columns="target")
    frame[LABEL] = np.asarray(bunch.target_names)[bunch.target]
    return frame.to_csv(index=False).encode()


def ours(data: Any, seed: int, chosen: bool) -> tuple[float, float, int]:
    """(test accuracy, seconds, epochs trained) of our MLP with the chosen (or the plain) defaults."""
    cfg = RunConfig(dataset="table", seed=seed, task=data.task)
    if chosen:
        cfg = choose(len(data.y_train), data.n_features, data.n_classes, data.task).apply(cfg)
    started = time.perf_counter()
    trainer = build_trainer(cfg, data)
    for _ in trainer.run():
        pass
    seconds = time.perf_counter() - started
    return trainer.model.score(data.X_test, data.y_test), seconds, trainer.epochs_done


def sklearn_fit(model: Any, data: Any, units: bool = False) -> tuple[float, float]:
    """(test score, seconds): accuracy, or R^2 for a regressor (with ``units``: on the label in
    its own units, as a user's call would see it)."""
    y_train, y_test = (data.y_train, data.y_test) if not units else (in_units(data, data.y_train),
                                                                     in_units(data, data.y_test))
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")          # MLP*'s ConvergenceWarning on small tables
        model.fit(data.X_train, y_train)
    seconds = time.perf_counter() - started
    return model.score(data.X_test, y_test), seconds


def in_units(data: Any, y: np.ndarray) -> np.ndarray:
    """A standardised quantity back in the label's units (nn.data.tables.quantity)."""
    return y * data.schema["target_scale"] + data.schema["target_mean"]


def quantity_csv(loader: Callable[..., Any]) -> bytes:
    """A scikit-learn regression table as a CSV: its features and 'target'."""
    return loader(as_frame=True).frame.to_csv(index=False).encode()


def measure_quantity(csv: bytes, seed: int) -> dict[str, tuple[float, float]]:
    frame = read_table(io.BytesIO(csv))
    std = dataset_from_table(frame, QUANTITY, test_size=0.25, seed=seed, task="regression")
    raw = dataset_from_table(frame, QUANTITY, test_size=0.25, seed=seed, standardize=False,
                             task="regression")
    return {"nn defaults": ours(std if scaling_of(std).standardize else raw, seed, chosen=True)[:2],
            "nn old defaults": ours(std, seed, chosen=False)[:2],
            "MLPRegressor()": sklearn_fit(MLPRegressor(random_state=seed), raw, units=True),
            "MLPRegressor() std": sklearn_fit(MLPRegressor(random_state=seed), std),
            "LinearRegression std": sklearn_fit(LinearRegression(), std)}


def measure(csv: bytes, seed: int) -> dict[str, tuple[float, float]]:
    frame = read_table(io.BytesIO(csv))
    std = dataset_from_table(frame, LABEL, test_size=0.25, seed=seed)
    raw = dataset_from_table(frame, LABEL, test_size=0.25, seed=seed, standardize=False)
    return {"nn defaults": ours(std if scaling_of(std).standardize else raw, seed, chosen=True)[:2],
            "nn defaults std": ours(std, seed, chosen=True)[:2],
            "nn defaults raw": ours(raw, seed, chosen=True)[:2],
            "nn old defaults": ours(std, seed, chosen=False)[:2],
            "MLPClassifier()": sklearn_fit(MLPClassifier(random_state=seed), raw),
            "MLPClassifier() std": sklearn_fit(MLPClassifier(random_state=seed), std),
            "LogisticRegression std": sklearn_fit(LogisticRegression(random_state=seed), std)}


def table(results: dict[str, list[dict[str, tuple[float, float]]]], seeds: int,
          score: str = "Test accuracy", fmt: str = ".2%") -> str:
    methods = list(next(iter(results.values()))[0])
    lines = [f"| table | {' | '.join(methods)} |", "|---" * (len(methods) + 1) + "|"]
    for name, runs in results.items():
        cells = []
        for m in methods:
            acc = np.array([r[m][0] for r in runs])
            sec = np.mean([r[m][1] for r in runs])
            cells.append(f"{acc.mean():{fmt}} (min {acc.min():{fmt}}), {sec:.2f} s")
        lines.append(f"| {name} | {' | '.join(cells)} |")
    return "\n".join(lines) + (f"\n\n{score}: mean (lowest) over {seeds} splits; seconds to "
                               f"train, mean. Split and model seeds 0..{seeds - 1}.")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seeds", type=int, default=10)
    p.add_argument("--tables", default=",".join([*TABLES, *QUANTITIES]))
    args = p.parse_args()
    names = args.tables.split(",")
    classes = {n: [measure(table_csv(TABLES[n]), s) for s in range(args.seeds)] for n in names if n in TABLES}
    quantities = {n: [measure_quantity(quantity_csv(QUANTITIES[n]), s) for s in range(args.seeds)]
                  for n in names if n in QUANTITIES}
    if classes:
        print(table(classes, args.seeds))
    if quantities:
        print(("\n" if classes else "") + table(quantities, args.seeds, score="Test R²", fmt=".3f"))


if __name__ == "__main__":
    main()
