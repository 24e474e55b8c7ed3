"""Input features of the 2-D sets, as TensorFlow Playground offers them: a point (x1, x2) of the
plane becomes the inputs a network reads, in the order chosen (``nn.core.settings.FEATURES_2D``).

    >>> expand(np.array([[1.0, 2.0]]), ["x1", "x1x2", "x2sq"]).tolist()
    [[1.0, 2.0, 4.0]]

The map is fixed (no learned parameters), so the same function serves the training points, the
decision boundary's grid, the neuron maps and a loaded model (its record names its features).
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from nn.core.settings import FEATURES_2D, TOY_DATASETS, check

PLAIN = ("x1", "x2")
# The data whose rows are points (x1, x2) that features are made from: the 2-D sets and the
# points drawn on the Train page's plane.
FEATURE_DATASETS = (*TOY_DATASETS, "points")

# Each feature of the point p = (x1, x2), columns of an (n, 2) array.
_MAPS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "x1": lambda p: p[:, 0],
    "x2": lambda p: p[:, 1],
    "x1sq": lambda p: p[:, 0] ** 2,
    "x2sq": lambda p: p[:, 1] ** 2,
    "x1x2": lambda p: p[:, 0] * p[:, 1],
    "sinx1": lambda p: np.sin(p[:, 0]),
    "sinx2": lambda p: np.sin(p[:, 1]),
}
assert tuple(_MAPS) == FEATURES_2D
# How the diagram and the page name them.
LABELS = {"x1": "x1", "x2": "x2", "x1sq": "x1²", "x2sq": "x2²", "x1x2": "x1·x2",
          "sinx1": "sin x1", "sinx2": "sin x2"}


def expand(points: np.ndarray, names: Sequence[str]) -> np.ndarray:
    """The (n, k) float32 inputs for the (n, 2) ``points``: column j is feature ``names[j]``
    (ConfigError naming ``features_2d`` for an unknown name, a repeat or an empty list)."""
    names = check("features_2d", list(names))
    p = np.asarray(points, dtype=np.float32)
    if p.ndim != 2 or p.shape[1] != 2:
        raise ValueError(f"expected points of shape (n, 2); got {p.shape}")
    if tuple(names) == PLAIN:
        return p
    return np.column_stack([_MAPS[name](p) for name in names]).astype(np.float32, copy=False)


def model_features(model: Any) -> tuple[str, ...]:
    """The features a 2-D model reads, from its record (``meta['config']``: its dataset and
    ``features_2d``); plain (x1, x2) for a model of other data or one that names none (saved
    before features existed)."""
    config = getattr(model, "meta", {}).get("config")
    if not isinstance(config, dict) or config.get("dataset") not in FEATURE_DATASETS:
        return PLAIN
    return tuple(config.get("features_2d") or PLAIN)


def plane_proba(model: Any) -> Callable[[np.ndarray], np.ndarray]:
    """``model.predict_proba`` for raw plane points (n, 2): each expanded to the model's features."""
    names = model_features(model)
    return lambda points: model.predict_proba(expand(points, names))


def plane_predict(model: Any) -> Callable[[np.ndarray], np.ndarray]:
    """``model.predict`` (a regression's values) for raw plane points, as ``plane_proba``."""
    names = model_features(model)
    return lambda points: model.predict(expand(points, names))
