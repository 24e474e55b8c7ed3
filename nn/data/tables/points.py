"""Points clicked onto the 2-D plane: a tiny editable dataset for the Train page."""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from nn.core.settings import REGRESSION_DATASETS, SETTINGS
from nn.data import TOY_DATASETS, Dataset, load_dataset
from nn.data.features import PLAIN, expand
from nn.data.tables.building import freeze, split_indices
from nn.data.tables.limits import TableError, q

MAX_POINT_CLASSES = 10
MAX_POINTS = 5000
MIN_POINTS_PER_CLASS = 5


def _check_xy(x: float, y: float) -> None:
    """ValueError unless x and y are finite real numbers (not text, lists, NaN or infinities)."""
    ok = all(isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)
             and math.isfinite(v) for v in (x, y))
    if not ok:
        raise ValueError(f"a point needs finite coordinates; got ({q(x)}, {q(y)})")


class Points:
    """Clicked points (x, y, class). Start empty or from moons/circles, ``add`` and
    ``remove_nearest``, then ``to_dataset`` (to train) or ``to_csv`` (to download).

    JSON-able through ``to_records``/``from_records`` (lists of [x, y, class]).
    """

    def __init__(self, n_classes: int = 2, records: Sequence[Sequence[float]] = ()) -> None:
        if not isinstance(n_classes, int) or not 2 <= n_classes <= MAX_POINT_CLASSES:
            raise ValueError(f"n_classes must be a whole number from 2 to {MAX_POINT_CLASSES}; "
                             f"got {q(n_classes)}")
        self.n_classes = n_classes
        self._xy: list[tuple[float, float]] = []
        self._cls: list[int] = []
        for x, y, c in records:
            self.add(x, y, int(c))

    def __len__(self) -> int:
        return len(self._cls)

    def __repr__(self) -> str:
        return f"Points({len(self)} points, counts={self.counts().tolist()})"

    @classmethod
    def from_toy(cls, name: str = "moons", n_points: int = 100, noise: float = 0.1,
                 seed: int = 0) -> "Points":
        """The points of a 2-D set of ``nn.data`` (train and test together)."""
        classes = [t for t in TOY_DATASETS if t not in REGRESSION_DATASETS]
        if name not in classes:
            raise ValueError(f"name must be one of {', '.join(classes)}; got {q(name)}")
        if not isinstance(n_points, int) or not 20 <= n_points <= MAX_POINTS:
            raise ValueError(f"n_points must be a whole number from 20 to {MAX_POINTS}; got {q(n_points)}")
        data = load_dataset(name, n_samples=n_points, noise=noise, seed=seed)
        X = np.concatenate([data.X_train, data.X_test])
        y = np.concatenate([data.y_train, data.y_test])
        return cls(2, [(float(a), float(b), int(c)) for (a, b), c in zip(X, y)])

    @classmethod
    def from_records(cls, records: Sequence[Sequence[float]], n_classes: int = 2) -> "Points":
        return cls(n_classes, records)

    def to_records(self) -> list[list[float]]:
        return [[x, y, c] for (x, y), c in zip(self._xy, self._cls)]

    # --- editing ---------------------------------------------------------------------------
    def add(self, x: float, y: float, cls: int, bounds: tuple[float, float] | None = None) -> None:
        """Add a point of class ``cls`` (0 to n_classes - 1) at (x, y); with ``bounds`` (low,
        high), both coordinates must lie within them (the drawing plane)."""
        if not (isinstance(cls, (int, np.integer)) and not isinstance(cls, bool)
                and 0 <= cls < self.n_classes):
            raise ValueError(f"class must be a whole number from 0 to {self.n_classes - 1}; got {q(cls)}")
        _check_xy(x, y)
        if bounds is not None and not (bounds[0] <= float(x) <= bounds[1] and bounds[0] <= float(y) <= bounds[1]):
            raise ValueError(f"a point must lie on the plane, from {bounds[0]:g} to {bounds[1]:g} on "
                             f"both axes; got ({float(x):.4g}, {float(y):.4g})")
        if len(self) >= MAX_POINTS:
            raise ValueError(f"at most {MAX_POINTS} points; remove some first")
        self._xy.append((float(x), float(y)))
        self._cls.append(int(cls))

    def remove_nearest(self, x: float, y: float,
                       max_distance: float | None = None) -> tuple[float, float, int] | None:
        """Remove the point nearest to (x, y) (within ``max_distance`` if given); return it, or
        None when there is none to remove."""
        _check_xy(x, y)
        if not self._xy:
            return None
        d = np.hypot(*(np.asarray(self._xy) - (float(x), float(y))).T)     # no overflow at 1e300
        i = int(d.argmin())
        if max_distance is not None and d[i] > max_distance:
            return None
        (px, py), c = self._xy.pop(i), self._cls.pop(i)
        return px, py, c

    def clear(self) -> None:
        self._xy.clear()
        self._cls.clear()

    # --- reading ---------------------------------------------------------------------------
    @property
    def X(self) -> np.ndarray:
        return np.asarray(self._xy, dtype=np.float32).reshape(-1, 2)

    @property
    def y(self) -> np.ndarray:
        return np.asarray(self._cls, dtype=np.intp)

    def counts(self) -> np.ndarray:
        """Points per class, for classes 0 to n_classes - 1."""
        return np.bincount(self.y, minlength=self.n_classes)

    def problem(self) -> str | None:
        """Why these points cannot be trained on yet (None when they can)."""
        counts = self.counts()
        used = np.flatnonzero(counts)
        if len(used) < 2:
            return (f"draw points of at least 2 classes, {MIN_POINTS_PER_CLASS} or more of each "
                    f"(now: {self._count_text(counts)})")
        top = int(used.max())
        short = [k for k in range(top + 1) if counts[k] < MIN_POINTS_PER_CLASS]
        if short:
            k = short[0]
            return (f"class {k} has {counts[k]} point{'s' * int(counts[k] != 1)}; every class up to "
                    f"{top} needs at least {MIN_POINTS_PER_CLASS} (now: {self._count_text(counts)})")
        return None

    @staticmethod
    def _count_text(counts: np.ndarray) -> str:
        return ", ".join(f"class {k}: {n}" for k, n in enumerate(counts))

    def to_dataset(self, test_size: float = 0.25, seed: int = 0, name: str = "points",
                   features: Sequence[str] = PLAIN) -> Dataset:
        """A 2-D ``Dataset`` (coordinates as clicked, no scaling), split stratified and seeded,
        read as ``features`` of each point (nn.data.features). Raises ``TableError`` with a
        clear message when there are too few points."""
        problem = self.problem()
        if problem:
            raise TableError(problem)
        if not SETTINGS["test_size"].item_ok(test_size):
            raise TableError(f"test_size must be {SETTINGS['test_size'].allowed()}; got {q(test_size)}")
        X, y = self.X, self.y
        n_classes = int(y.max()) + 1
        train, test = split_indices(y, n_classes, test_size, seed)
        P_train, P_test = freeze(X[train], X[test])
        return Dataset(name, *freeze(expand(P_train, features), y[train], expand(P_test, features), y[test]),
                       n_classes=n_classes, points_train=P_train, points_test=P_test, features=tuple(features))

    def to_csv(self) -> bytes:
        """Columns x1, x2, label (UTF-8, one row per point)."""
        lines = ["x1,x2,label"] + [f"{x:.7g},{y:.7g},{c}" for (x, y), c in zip(self._xy, self._cls)]
        return ("\n".join(lines) + "\n").encode()
