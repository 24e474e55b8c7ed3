"""A table's numeric label read as a quantity to predict (regression), not as classes.

The network learns the label standardised by the training split's mean and standard deviation
(``target_mean``, ``target_scale`` in the model's schema): a loss of 1 is then what predicting the
mean costs, whatever the label's units, and Adam's usual learning rates suit every table. A
prediction is ``output * target_scale + target_mean`` in the label's own units.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from nn.data.tables.describe import BOOLEAN, NUMERIC, column_kind
from nn.data.tables.limits import TableError, q

MIN_ROWS = 4                      # at least two to train on and two to test on
TARGET_KEYS = ("target_mean", "target_scale")


def target_values(series: pd.Series, label: str) -> np.ndarray:
    """The label column as float64 quantities; text or infinities raise ``TableError``."""
    if column_kind(series) not in (NUMERIC, BOOLEAN):
        raise TableError(f"label: column {q(label)} holds text; a quantity to predict (regression) "
                         f"must be numbers", column=label)
    values = series.to_numpy(dtype=np.float64)
    bad = ~np.isfinite(values)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise TableError(f"label: column {q(label)} has {values[i]} in row {i + 1}; a quantity to "
                         f"predict must be a finite number", row=i + 1, column=label)
    return values


def random_split(n: int, test_size: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A seeded split of rows 0..n-1 (nothing to stratify on): (train rows, test rows), each
    with at least two rows."""
    from sklearn.model_selection import train_test_split
    if n < MIN_ROWS:
        raise TableError(f"the table has {n} usable row{'s' * (n != 1)}; regression needs at least "
                         f"{MIN_ROWS} (two to train on, two to test on)")
    n_test = min(max(math.ceil(test_size * n), 2), n - 2)
    return train_test_split(np.arange(n), test_size=n_test, random_state=seed)


def target_scaling(y: np.ndarray, train: np.ndarray) -> tuple[float, float]:
    """Mean and standard deviation of the training rows' label (a constant label: scale 1)."""
    mean, scale = float(y[train].mean()), float(y[train].std())
    return mean, (scale if math.isfinite(scale) and scale > 0 else 1.0)


def standardised(y: np.ndarray, schema: dict[str, Any]) -> np.ndarray:
    """The label in the network's units: (y - target_mean) / target_scale, float32."""
    return ((y - schema["target_mean"]) / schema["target_scale"]).astype(np.float32)


def in_label_units(outputs: np.ndarray, schema: dict[str, Any] | None) -> np.ndarray:
    """Network outputs back in the label's units (no schema: the outputs as they are)."""
    if not schema or schema.get("task") != "regression":
        return np.asarray(outputs, dtype=np.float64)
    return np.asarray(outputs, dtype=np.float64) * schema["target_scale"] + schema["target_mean"]


def target_damage(schema: dict[str, Any]) -> str | None:
    """What is wrong with a schema's task and target fields (None if nothing)."""
    task = schema.get("task", "classification")
    if task not in ("classification", "regression"):
        return "the model's table schema is damaged (bad 'task')"
    if task == "classification":
        return None if all(schema.get(k) is None for k in TARGET_KEYS) else \
            "the model's table schema is damaged (target fields on a classifier)"
    mean, scale = schema.get("target_mean"), schema.get("target_scale")
    numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
                  for v in (mean, scale))
    if not numbers or scale <= 0 or schema.get("classes") != []:
        return "the model's table schema is damaged (bad regression target)"
    return None


def label_tasks(kind: str, n_distinct: int, whole_numbers: bool, max_classes: int) -> tuple[str, ...]:
    """What a label column can be: text and true/false are classes; numbers with fractions, or
    more distinct whole numbers than ``max_classes``, a quantity; 2 to ``max_classes`` distinct
    whole numbers either (a rating 1-5 or a count): the page then asks."""
    if kind != NUMERIC:
        return ("classification",)
    if whole_numbers and 2 <= n_distinct <= max_classes:
        return ("classification", "regression")
    return ("regression",)
