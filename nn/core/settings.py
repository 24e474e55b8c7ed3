"""Every setting of a run, declared once: its name, kind, default, allowed values and help.

The models are scikit-learn's ``_parameter_constraints`` and TensorFlow Playground's ``state.ts``:
one table (``SETTINGS``) that the validators (``TrainConfig``, ``nn.core.config.RunConfig``), the
command line's options and help, the app's URL reader and widgets, the sweep's value checks and
the model-file checks all read. A range changed here changes everywhere.

    >>> SETTINGS["lr"].check(0.5)
    0.5
    >>> SETTINGS["lr"].allowed()
    'a number in (0, 100]'
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from nn.core.activations import ACTIVATIONS
from nn.core.dtypes import DTYPES
from nn.core.init import INITS, LAYER_INITS
from nn.core.losses import REPORTED_LOSSES
from nn.core.optimizers import OPTIMIZERS

# The 2-D sets, generated from n_samples, noise and seed (TensorFlow Playground's four and moons).
# TensorFlow Playground's two regression sets: a quantity over the plane, not a class.
REGRESSION_DATASETS = ("reg-plane", "reg-gauss")
TOY_DATASETS = ("moons", "circles", "xor", "gaussian", "spiral", *REGRESSION_DATASETS)
# What a label is: a class (softmax, cross-entropy) or a quantity (linear output, mean squared error).
TASKS = ("classification", "regression")
BUILT_IN_DATASETS = (*TOY_DATASETS, "digits", "mnist", "fashion_mnist")
# The user's own data (nn.data.tables): its rows live in the app session or come from --data, never
# from the settings, so these names only say which kind of own data a run or a model used.
OWN_DATASETS = ("table", "points")
# Convolutional networks (``arch``) read images: the built-in image sets and their (height, width).
IMAGE_SHAPES = {"digits": (8, 8), "mnist": (28, 28), "fashion_mnist": (28, 28)}
# What a network given by ``arch`` (nn.core.layers) offers of ``activation`` and ``init``.
CNN_ACTIVATIONS = ("relu", "tanh", "sigmoid")
CNN_INITS = LAYER_INITS
# Each augmentation's largest value: shift (pixels), rotate (degrees), scale (fraction); 0 is none.
AUGMENT_RANGES = {"shift": 8.0, "rotate": 45.0, "scale": 0.5}
AUGMENT_KEYS = tuple(AUGMENT_RANGES)
# The inputs a 2-D set's network may read, made from the point (x1, x2) (nn.data.features).
FEATURES_2D = ("x1", "x2", "x1sq", "x2sq", "x1x2", "sinx1", "sinx2")


class ConfigError(ValueError):
    """An invalid setting; ``param`` names it."""

    def __init__(self, param: str, message: str) -> None:
        super().__init__(message)
        self.param = param


@dataclass(frozen=True)
class Setting:
    """One setting. ``kind`` is one of:

    - ``"choice"``: one of ``choices``;
    - ``"int"`` / ``"float"``: a number from ``low`` to ``high`` (``open_low``/``open_high``
      exclude the bound), or one of ``words`` (batch_size's ``"full"``);
    - ``"ints"``: a list of ``count`` whole numbers, each from ``low`` to ``high``;
    - ``"choices"``: a list of ``count`` different names out of ``choices``;
    - ``"text"`` / ``"mapping"``: checked by their own validators (``arch``, ``augment``).

    ``widget`` is the range a number widget offers when it cannot express an open bound (a
    slider ends somewhere below 1 for ``momentum`` in [0, 1)).
    """
    name: str
    kind: str
    default: Any
    help: str
    low: float | None = None
    high: float | None = None
    open_low: bool = False
    open_high: bool = False
    choices: tuple[str, ...] = ()
    words: tuple[str, ...] = ()
    count: tuple[int, int] = (1, 1)
    widget: tuple[float, float] | None = None

    @property
    def flag(self) -> str:
        """The command line's option: ``--batch-size``."""
        return "--" + self.name.replace("_", "-")

    @property
    def widget_range(self) -> tuple[float, float]:
        return self.widget or (self.low, self.high)

    def allowed(self) -> str:
        """What the setting takes, in words (for errors and help)."""
        if self.kind == "choice":
            return "one of: " + ", ".join(self.choices)
        if self.kind in ("text", "mapping"):
            return self.help
        if self.kind == "choices":
            return f"{self.count[0]} to {self.count[1]} different names out of: {', '.join(self.choices)}"
        words = "".join(f" or {w!r}" for w in self.words)
        low, high = _number(self.low), _number(self.high)
        if self.kind == "float":
            lo, hi = ("(" if self.open_low else "["), (")" if self.open_high else "]")
            return f"a number in {lo}{low}, {high}{hi}{words}"
        if self.kind == "ints":
            return f"{self.count[0]} to {self.count[1]} whole numbers, each from {low} to {high}"
        return f"a whole number from {low} to {high}{words}"

    def error(self, value: Any, allowed: str | None = None) -> ConfigError:
        return ConfigError(self.name, f"{self.name} ({self.flag}) must be {allowed or self.allowed()}; "
                                      f"got {value!r}")

    def check(self, value: Any) -> Any:
        """``value`` if allowed, else ``ConfigError`` naming the setting, its flag and the range."""
        if self.kind in ("ints", "choices"):
            ok = isinstance(value, (list, tuple)) and self.count[0] <= len(value) <= self.count[1]
            if not (ok and all(self.item_ok(v) for v in value)):
                raise self.error(value)
            if self.kind == "choices" and len(set(value)) != len(value):
                raise self.error(value)
        elif not self.item_ok(value):
            raise self.error(value)
        return value

    def item_ok(self, value: Any) -> bool:
        """Whether ``value`` is allowed (for ``"ints"`` and ``"choices"``: as one of the list's items)."""
        if self.kind in ("choice", "choices"):
            return isinstance(value, str) and value in self.choices
        if isinstance(value, str):
            return value in self.words
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
            return False
        if self.kind in ("int", "ints") and not isinstance(value, (int, np.integer)):
            return False
        if value != value:                                   # NaN
            return False
        above = value > self.low if self.open_low else value >= self.low
        below = value < self.high if self.open_high else value <= self.high
        return bool(above and below)


def _number(x: float | None) -> str:
    """10000000 as ``10000000``, not ``1e+07``; 0.5 as ``0.5``."""
    return str(int(x)) if x is not None and float(x).is_integer() else f"{x:g}"


def _table(*settings: Setting) -> dict[str, Setting]:
    return {s.name: s for s in settings}


SETTINGS: dict[str, Setting] = _table(
    # the data
    Setting("dataset", "choice", "moons", "the data to learn", choices=(*BUILT_IN_DATASETS, *OWN_DATASETS)),
    Setting("n_samples", "int", 5000, "points of a 2-D set", low=20, high=1_000_000),
    Setting("noise", "float", 0.1, "the 2-D sets' noise (standard deviation)", low=0.0, high=2.0),
    Setting("task", "choice", "classification", "what the label is: a class (classification), or a "
            "quantity (regression: a linear output and mean squared error); reg-plane and reg-gauss "
            "are regression", choices=TASKS),
    Setting("features_2d", "choices", ["x1", "x2"], "the inputs a 2-D set's network reads: x1, x2, "
            "their squares, product and sines", choices=FEATURES_2D, count=(1, len(FEATURES_2D))),
    Setting("test_size", "float", 0.25, "the share held out for testing (all but MNIST and "
            "Fashion-MNIST, which have their official split)", low=0.05, high=0.9),
    # the network
    Setting("hidden", "ints", [64], "hidden layer sizes", low=1, high=4096, count=(1, 10)),
    Setting("activation", "choice", "relu", "the hidden layers' activation", choices=tuple(ACTIVATIONS)),
    Setting("init", "choice", "he", "weight initialisation: small 0.01 N(0, 1); normal N(0, 1) with "
            "N(0, 1) biases; he N(0, 2/fan_in); xavier Glorot uniform U(-a, a), "
            "a = sqrt(6/(fan_in + fan_out)); legacy 0.01 N(0, 1) drawn as np.random.seed(seed) "
            "then randn, layer by layer (the MNIST tutorial's exact weights)", choices=INITS),
    Setting("arch", "text", None, "a convolutional network as text, e.g. 'conv 5x5x16, pool 2, "
            "dense 128' (nn.core.arch), instead of the hidden layers; image datasets only"),
    # the training
    Setting("optimizer", "choice", "adam", "the optimizer", choices=OPTIMIZERS),
    Setting("lr", "float", 1e-3, "the learning rate (50 is allowed, and diverges)", low=0.0, high=100.0,
            open_low=True),
    Setting("lr_schedule", "choice", "constant", "constant, or cosine: epoch e of E trains at "
            "lr (1 + cos(pi e / E)) / 2, or onecycle: step by step from lr/10 up to lr over the "
            "first quarter of the run's steps, then down towards 0",
            choices=("constant", "cosine", "onecycle")),
    Setting("label_smoothing", "float", 0.0, "label smoothing eps: the cross-entropy's target is "
            "(1 - eps) onehot(y) + eps / K over K classes", low=0.0, high=1.0, open_high=True,
            widget=(0.0, 0.5)),
    Setting("tta", "int", 1, "test-time augmentation: a CNN's test images read as the mean "
            "prediction of this many copies shifted by a pixel (1 = off)", low=1, high=9),
    Setting("batch_size", "int", 32, "rows per step, or 'full' for full-batch gradient descent",
            low=1, high=10**7, words=("full",)),
    Setting("epochs", "int", 10, "passes over the training set", low=1, high=100_000),
    Setting("momentum", "float", 0.9, "momentum (the momentum optimizer)", low=0.0, high=1.0,
            open_high=True, widget=(0.0, 0.999)),
    Setting("weight_decay", "float", 0.0, "L2 weight decay", low=0.0, high=1.0, open_high=True,
            widget=(0.0, 0.9999)),
    Setting("l1", "float", 0.0, "L1 regularization (adds l1 sign(W) to each weight's gradient)",
            low=0.0, high=1.0, open_high=True, widget=(0.0, 0.9999)),
    Setting("seed", "int", 0, "the random seed (weights, batches, data)", low=0, high=2**32 - 1),
    Setting("val_share", "float", 0.0, "early stopping: the share of the training rows held out "
            "(never the test rows) to stop on when their loss stops falling, keeping the best "
            "weights; 0 is off", low=0.0, high=0.5),
    Setting("patience", "int", 10, "early stopping: epochs without a better held-out loss before "
            "training stops", low=1, high=10_000),
    Setting("augment", "mapping", None, "training-time augmentation of a CNN's images: "
            "shift (pixels), rotate (degrees), scale (fraction)"),
    Setting("report_every", "float", 0.5, "seconds between progress records inside an epoch",
            low=0.0, high=3600.0),
    Setting("reported_loss", "choice", "cross_entropy", "the loss the records report (training "
            "minimises softmax cross-entropy either way): cross_entropy; or binary_cross_entropy, each "
            "class's softmax probability against its one-hot label, summed over the classes (what the "
            "MNIST tutorial prints)", choices=REPORTED_LOSSES),
    Setting("dtype", "choice", "float32", "float precision", choices=DTYPES),
)


def check(name: str, value: Any) -> Any:
    """``SETTINGS[name].check(value)``."""
    return SETTINGS[name].check(value)


def default(name: str) -> Any:
    """The setting's default (a fresh copy of a list)."""
    value = SETTINGS[name].default
    return list(value) if isinstance(value, list) else value
