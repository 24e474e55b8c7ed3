"""Datasets as float32 features and integer labels, split into train and test (MNIST and
Fashion-MNIST also in float64 on request: the pixels / 255 in float64, as the MNIST tutorial reads them).

2-D toy sets: moons, circles and two Gaussian blobs from scikit-learn, XOR and the two-armed
spiral drawn here as TensorFlow Playground draws them, and its two regression sets (reg-plane,
reg-gauss: a quantity over the plane, float32 labels); ``digits`` is scikit-learn's bundled 8x8 set (offline);
MNIST and Fashion-MNIST come from ``keras.datasets``, or from a local keras-format ``.npz`` named
by ``MNIST_PATH`` / ``FASHION_MNIST_PATH`` (then nothing is downloaded). Arrays are read-only: one
copy per process is shared by every caller.
"""
from __future__ import annotations

import functools
import os
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from nn.core.pixels import pixels_to_float
from nn.core.settings import BUILT_IN_DATASETS as DATASETS
from nn.core.settings import REGRESSION_DATASETS, TOY_DATASETS, check
from nn.data.features import PLAIN, expand
from nn.hosting.shared_arrays import share

IMAGE_DATASETS = ("digits", "mnist", "fashion_mnist")
FASHION_CLASSES = ("T-shirt", "Trouser", "Pullover", "Dress", "Coat",
                   "Sandal", "Shirt", "Sneaker", "Bag", "Boot")
_PATH_VARIABLES = {"mnist": "MNIST_PATH", "fashion_mnist": "FASHION_MNIST_PATH"}


class DatasetUnavailable(RuntimeError):
    """The dataset cannot be read or downloaded here; the message says how to fix it."""


@dataclass(frozen=True)
class Dataset:
    name: str
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    n_classes: int                                  # a regression set: 1 (one output)
    image_shape: tuple[int, int] | None = None     # (height, width) for image sets
    preprocessing: str = "none"                     # what a model trained on it expects
    class_names: tuple[str, ...] = ()
    task: str = "classification"                    # or "regression": y holds quantities
    # 2-D sets: the points on the plane (x1, x2) and the features made from them (nn.data.features)
    # that X_train and X_test hold; the same arrays as X_train and X_test for plain (x1, x2).
    points_train: np.ndarray | None = None
    points_test: np.ndarray | None = None
    features: tuple[str, ...] = ()

    @property
    def n_features(self) -> int:
        return self.X_train.shape[1]

    @property
    def two_d(self) -> bool:
        """Whether the rows are points of a plane: a 2-D set's (x1, x2), whatever features the
        network reads, or a table of two columns."""
        return self.image_shape is None and (self.points_train is not None or self.n_features == 2)

    @property
    def plane_train(self) -> np.ndarray:
        """The training rows as points of the plane (the decision boundary's and neuron maps')."""
        return self.X_train if self.points_train is None else self.points_train

    @property
    def plane_test(self) -> np.ndarray:
        return self.X_test if self.points_test is None else self.points_test

    def label(self, k: int) -> str:
        return self.class_names[k] if self.class_names else str(k)


def load_dataset(name: str, n_samples: int = 5000, noise: float = 0.1, test_size: float = 0.25,
                 seed: int = 0, features: tuple[str, ...] = PLAIN, dtype: str = "float32") -> Dataset:
    """Load a dataset by name. ``n_samples``, ``noise``, ``seed`` and ``features`` (the inputs
    made from each point, nn.data.features) apply to the 2-D sets, ``test_size`` to every set
    but MNIST and Fashion-MNIST, which keep their official split; ``dtype`` to those two (the
    other sets are float32)."""
    if name not in DATASETS:
        raise ValueError(f"dataset must be one of {', '.join(DATASETS)}; got {name!r}")
    if name in TOY_DATASETS:
        _check_toy_settings(n_samples, noise, test_size)
        check("features_2d", list(features))
        return _read_as(_toy(name, int(n_samples), float(noise), float(test_size), int(seed)), tuple(features))
    if name == "digits":
        return _digits(float(test_size), int(seed))
    return _keras_images(name, os.environ.get(_PATH_VARIABLES[name]) or None, check("dtype", dtype))


def _check_toy_settings(n_samples: int, noise: float, test_size: float) -> None:
    """ConfigError (a ValueError) naming the first setting out of its range."""
    for name, value in (("n_samples", n_samples), ("noise", noise), ("test_size", test_size)):
        check(name, value)


def _frozen(*arrays: np.ndarray) -> list[np.ndarray]:
    for a in arrays:
        a.setflags(write=False)
    return list(arrays)


@functools.lru_cache(maxsize=16)
def _toy(name: str, n_samples: int, noise: float, test_size: float, seed: int) -> Dataset:
    """The set read as its points (x1, x2); cached, so only the points (never the features made
    from them, up to 3.5 times their size) are kept here."""
    from sklearn.model_selection import train_test_split
    if name in REGRESSION_DATASETS:
        X, values = _regression_points(name, n_samples, noise, seed)
        X_tr, X_te, y_tr, y_te = train_test_split(X.astype(np.float32), values.astype(np.float32),
                                                  test_size=test_size, random_state=seed)
        X_tr, y_tr, X_te, y_te = _frozen(X_tr, y_tr, X_te, y_te)
        return Dataset(name, X_tr, y_tr, X_te, y_te, n_classes=1, task="regression",
                       points_train=X_tr, points_test=X_te, features=PLAIN)
    X, y = _toy_points(name, n_samples, noise, seed)
    X_tr, X_te, y_tr, y_te = train_test_split(X.astype(np.float32), y.astype(np.int64),
                                              test_size=test_size, random_state=seed)
    X_tr, y_tr, X_te, y_te = _frozen(X_tr, y_tr, X_te, y_te)
    return Dataset(name, X_tr, y_tr, X_te, y_te, n_classes=2, points_train=X_tr, points_test=X_te,
                   features=PLAIN)


def _read_as(data: Dataset, features: tuple[str, ...]) -> Dataset:
    """``data`` (a 2-D set) with its points read as ``features``: the same points and split."""
    if features == PLAIN:
        return data
    X_tr, X_te = _frozen(expand(data.points_train, features), expand(data.points_test, features))
    return replace(data, X_train=X_tr, X_test=X_te, features=features)


def _toy_points(name: str, n: int, noise: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` points of a 2-D set and their classes (0/1); ``noise`` is a standard deviation."""
    from sklearn.datasets import make_blobs, make_circles, make_moons
    if name == "moons":
        return make_moons(n_samples=n, noise=noise, random_state=seed)
    if name == "circles":
        return make_circles(n_samples=n, noise=noise, factor=0.5, random_state=seed)
    if name == "gaussian":                    # two blobs; noise widens them into each other
        return make_blobs(n_samples=n, centers=[(-1.0, -1.0), (1.0, 1.0)], cluster_std=0.4 + noise,
                          random_state=seed)
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    if name == "xor":                         # class 1 in the quadrants where x1 x2 > 0
        X = rng.uniform(-1, 1, (n, 2))
        X += np.sign(X) * 0.05                # a small gap along the axes, as Playground leaves
        y = (X[:, 0] * X[:, 1] > 0).astype(np.int64)
    else:                                     # spiral: two arms, 1.75 turns each, r from 0 to 1
        r = rng.uniform(0, 1, n)
        angle = 1.75 * 2 * np.pi * r + np.pi * y
        X = np.column_stack([r * np.sin(angle), r * np.cos(angle)])
    return X + rng.normal(0, noise, X.shape), y


# TensorFlow Playground's regression sets (src/dataset.ts): points uniform in [-6, 6]^2 and a
# label read at the point moved by noise x U(-6, 6) in each coordinate. Drawn here in [-1, 1]^2
# (divided by 6, as the other 2-D sets live near the unit square); the labels are Playground's.
PLAYGROUND_RADIUS = 6.0
# reg-gauss: six bumps (centre x, centre y, sign); a bump's label falls linearly from 1 at its
# centre to 0 at distance 2, and a point takes the bump with the largest |label|.
GAUSS_BUMPS = np.array([[-4, 2.5, 1], [0, 2.5, -1], [4, 2.5, 1],
                        [-4, -2.5, -1], [0, -2.5, 1], [4, -2.5, -1]], dtype=np.float64)


def _regression_points(name: str, n: int, noise: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` points in [-1, 1]^2 and their labels (reg-plane: (x + y) / 10 in Playground's units,
    in [-1.2, 1.2]; reg-gauss: in [-1, 1])."""
    rng = np.random.default_rng(seed)
    r = PLAYGROUND_RADIUS
    P = rng.uniform(-r, r, (n, 2))
    moved = P + rng.uniform(-r, r, (n, 2)) * noise
    if name == "reg-plane":                      # d3 scale [-10, 10] -> [-1, 1] of x + y
        values = moved.sum(axis=1) / 10
    else:
        dist = np.hypot(moved[:, None, 0] - GAUSS_BUMPS[:, 0], moved[:, None, 1] - GAUSS_BUMPS[:, 1])
        labels = GAUSS_BUMPS[:, 2] * np.clip(1 - dist / 2, 0, 1)      # d3 scale [0, 2] -> [1, 0], clamped
        values = labels[np.arange(n), np.abs(labels).argmax(axis=1)]
    return P / r, values


@functools.lru_cache(maxsize=4)
def _digits(test_size: float, seed: int) -> Dataset:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    d = load_digits()
    X = (d.data / 16.0).astype(np.float32)            # pixels 0..16 -> [0, 1]
    X_tr, X_te, y_tr, y_te = train_test_split(X, d.target.astype(np.int64), test_size=test_size,
                                              random_state=seed, stratify=d.target)
    return Dataset("digits", *_frozen(X_tr, y_tr, X_te, y_te), n_classes=10, image_shape=(8, 8),
                   preprocessing="digits-8x8/16")


@functools.lru_cache(maxsize=2)
def _keras_images(name: str, path: str | None, dtype: str = "float32") -> Dataset:
    """Cached per (name, local path, dtype): pointing MNIST_PATH elsewhere loads afresh."""
    (x_tr, y_tr), (x_te, y_te) = _read_keras_npz(name, path)
    arrays = [_scale_images(x_tr, dtype), y_tr.astype(np.int64), _scale_images(x_te, dtype), y_te.astype(np.int64)]
    arrays = [share(a) for a in arrays]          # worker processes map these, not copy them
    return Dataset(name, *_frozen(*arrays), n_classes=10, image_shape=(28, 28),
                   preprocessing="mnist-28x28/255",
                   class_names=FASHION_CLASSES if name == "fashion_mnist" else ())


def _scale_images(x: np.ndarray, dtype: str = "float32") -> np.ndarray:
    """uint8 (n, 28, 28) -> float32 (n, 784) in [0, 1]; float64: x / 255.0, the tutorial's."""
    return pixels_to_float(x.reshape(len(x), -1), dtype)     # the Trainer's pieces read the same


def _read_keras_npz(name: str, path: str | None):
    variable = _PATH_VARIABLES[name]
    if path:
        return _read_npz(Path(path), variable)
    try:
        os.environ.setdefault("KERAS_BACKEND", "jax")
        import keras  # heavy: imported only when MNIST is asked for
        loader = keras.datasets.mnist if name == "mnist" else keras.datasets.fashion_mnist
        return loader.load_data()
    except Exception as exc:  # no network, no keras, a broken cache: all end the same way
        raise DatasetUnavailable(
            f"could not load {name} through keras.datasets ({type(exc).__name__}: {exc}). "
            f"Offline? Set {variable} to a keras-format {name}.npz (x_train, y_train, x_test, "
            f"y_test), e.g. {variable}=/path/to/{name}.npz") from exc


def _read_npz(path: Path, variable: str):
    try:
        with np.load(path, allow_pickle=False) as f:
            parts = [f[k] for k in ("x_train", "y_train", "x_test", "y_test")]
    except (OSError, KeyError, ValueError) as exc:
        raise DatasetUnavailable(f"{variable}={path} is not a readable keras-format .npz with "
                                 f"x_train, y_train, x_test, y_test ({exc})") from exc
    x_tr, y_tr, x_te, y_te = parts
    if x_tr.ndim != 3 or x_tr.shape[1:] != (28, 28) or len(x_tr) != len(y_tr) or len(x_te) != len(y_te):
        raise DatasetUnavailable(f"{variable}={path}: expected 28x28 images with one label each")
    return (x_tr, y_tr), (x_te, y_te)


def mnist_available(name: str = "mnist") -> bool:
    """True if the dataset can be had without asking the network (local file or keras cache)."""
    path = os.environ.get(_PATH_VARIABLES[name])
    if path:
        return Path(path).is_file()
    cache = Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")) / "datasets"
    return (cache / f"{name}.npz").is_file() or (cache / name).exists()
