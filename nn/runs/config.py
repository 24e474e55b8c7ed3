"""Training settings and their validation, in one place (like scikit-learn's ``_validate_params``).
Every error names the parameter, its command-line flag and the allowed values."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from nn.core.activations import ACTIVATIONS
from nn.core.init import INITS
from nn.core.optimizers import OPTIMIZERS

LR_RANGE = (0.0, 100.0)          # exclusive low, inclusive high: lr 50 is allowed (and diverges)
MAX_EPOCHS = 100_000
MAX_HIDDEN_LAYERS = 10
MAX_HIDDEN_SIZE = 4096
# The user's own data (nn.data.tables): its rows live in the app session or come from --data, never
# from the settings, so these names only say which kind of own data a run or a model used.
OWN_DATASETS = ("table", "points")
LR_SCHEDULES = ("constant", "cosine")
# Convolutional networks (``arch``) read images: the built-in image sets and their (height, width).
IMAGE_SHAPES = {"digits": (8, 8), "mnist": (28, 28), "fashion_mnist": (28, 28)}
CNN_INITS = ("he", "xavier")
CNN_ACTIVATIONS = ("relu", "tanh", "sigmoid")
AUGMENT_KEYS = ("shift", "rotate", "scale")


class ConfigError(ValueError):
    """An invalid setting; ``param`` names it."""

    def __init__(self, param: str, message: str) -> None:
        super().__init__(message)
        self.param = param


@dataclass
class TrainConfig:
    """How to train: the optimizer and its settings, batches, epochs, seed."""
    optimizer: str = "adam"
    lr: float = 1e-3
    batch_size: int | str = 32            # a whole number, or "full" for full-batch gradient descent
    epochs: int = 10
    momentum: float = 0.9
    weight_decay: float = 0.0
    seed: int = 0
    report_every: float = 0.5             # seconds between progress records inside an epoch
    # "cosine": epoch e of a run of E epochs trains at lr (1 + cos(pi e / E)) / 2 (nn.core.training)
    lr_schedule: str = "constant"

    def validate(self) -> "TrainConfig":
        _choice("optimizer", self.optimizer, OPTIMIZERS)
        _choice("lr_schedule", self.lr_schedule, LR_SCHEDULES)
        _number("lr", self.lr, *LR_RANGE, low_inclusive=False)
        if self.batch_size != "full":
            _whole("batch_size", self.batch_size, 1, 10**7, "or 'full'")
        _whole("epochs", self.epochs, 1, MAX_EPOCHS)
        _number("momentum", self.momentum, 0.0, 1.0, high_inclusive=False)
        _number("weight_decay", self.weight_decay, 0.0, 1.0, high_inclusive=False)
        _whole("seed", self.seed, 0, 2**32 - 1)
        _number("report_every", self.report_every, 0.0, 3600.0)
        return self

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class RunConfig:
    """A whole experiment as one flat, serialisable object (the CLI flags, the app's widgets and
    its URL all read and write this): dataset, network and training settings."""
    dataset: str = "moons"
    n_samples: int = 5000                 # 2-D sets only
    noise: float = 0.1                    # 2-D sets only
    test_size: float = 0.25               # all but MNIST / Fashion-MNIST (official split)
    hidden: list[int] = field(default_factory=lambda: [64])
    activation: str = "relu"
    init: str = "he"
    optimizer: str = "adam"
    lr: float = 1e-3
    batch_size: int | str = 32
    epochs: int = 10
    momentum: float = 0.9
    weight_decay: float = 0.0
    seed: int = 0
    # A convolutional network instead of the MLP (``hidden`` is then unused): an architecture
    # text such as "conv 5x5x16, pool 2, dense 128" (nn.core.arch), for image datasets.
    arch: str | None = None
    lr_schedule: str = "constant"
    # Training-time augmentation of a CNN's images (nn.data.augment.Augment): {"shift": px,
    # "rotate": degrees, "scale": fraction}, or None.
    augment: dict[str, float] | None = None

    def validate(self) -> "RunConfig":
        from nn.data import DATASETS
        _choice("dataset", self.dataset, (*DATASETS, *OWN_DATASETS))
        _whole("n_samples", self.n_samples, 20, 1_000_000)
        _number("noise", self.noise, 0.0, 2.0)
        _number("test_size", self.test_size, 0.05, 0.9)
        if not isinstance(self.hidden, (list, tuple)) or not 1 <= len(self.hidden) <= MAX_HIDDEN_LAYERS:
            raise ConfigError("hidden", f"hidden (--hidden) takes 1 to {MAX_HIDDEN_LAYERS} layer sizes; "
                                        f"got {self.hidden!r}")
        for size in self.hidden:
            _whole("hidden", size, 1, MAX_HIDDEN_SIZE, "per layer")
        _choice("activation", self.activation, tuple(ACTIVATIONS))
        _choice("init", self.init, INITS)
        self._validate_cnn()
        self.train_config()                # validates the training part
        return self

    def _validate_cnn(self) -> None:
        """``arch`` (parsed and bounded by nn.core.parse_arch) and ``augment``."""
        if self.arch is not None:
            from nn.core import ArchError, parse_arch
            if not isinstance(self.arch, str):
                raise ConfigError("arch", f"arch (--arch) must be a text; got {self.arch!r}")
            try:
                blocks = parse_arch(self.arch)
            except ArchError as exc:
                raise ConfigError("arch", str(exc) if "--arch" in str(exc) else f"arch (--arch): {exc}") from None
            images = any(b["type"] in ("conv", "pool") for b in blocks)
            if images and self.dataset not in IMAGE_SHAPES:
                raise ConfigError("arch", f"arch (--arch): conv and pool layers need an image dataset "
                                          f"({', '.join(IMAGE_SHAPES)}); {self.dataset!r} is not one")
            if self.init not in CNN_INITS:
                raise ConfigError("init", f"init (--init) must be one of: {', '.join(CNN_INITS)} for a "
                                          f"network given by --arch; got {self.init!r}")
            if self.activation not in CNN_ACTIVATIONS:
                raise ConfigError("activation", f"activation (--activation) must be one of: "
                                                f"{', '.join(CNN_ACTIVATIONS)} for a network given by "
                                                f"--arch; got {self.activation!r}")
        if self.augment is not None:
            self._validate_augment()

    def _validate_augment(self) -> None:
        from nn.data.augment import Augment
        value = self.augment
        if (not isinstance(value, dict) or set(value) != set(AUGMENT_KEYS)
                or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value.values())):
            raise ConfigError("augment", f"augment (--augment) must be numbers for "
                                         f"{', '.join(AUGMENT_KEYS)}; got {value!r}")
        if self.arch is None or self.dataset not in IMAGE_SHAPES:
            raise ConfigError("augment", "augment (--augment) applies to a network given by --arch "
                                         f"on an image dataset ({', '.join(IMAGE_SHAPES)})")
        try:
            Augment(**{k: float(v) for k, v in value.items()}).validate()
        except ValueError as exc:
            raise ConfigError("augment", f"augment (--augment): {exc}") from None

    def train_config(self, report_every: float = 0.5) -> TrainConfig:
        return TrainConfig(optimizer=self.optimizer, lr=self.lr, batch_size=self.batch_size,
                           epochs=self.epochs, momentum=self.momentum, weight_decay=self.weight_decay,
                           seed=self.seed, report_every=report_every,
                           lr_schedule=self.lr_schedule).validate()

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "RunConfig":
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in values.items() if k in known})


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _choice(name: str, value: Any, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ConfigError(name, f"{name} ({_flag(name)}) must be one of: {', '.join(allowed)}; got {value!r}")


def _whole(name: str, value: Any, low: int, high: int, extra: str = "") -> None:
    ok = isinstance(value, (int, np.integer)) and not isinstance(value, bool) and low <= value <= high
    if not ok:
        tail = f" {extra}" if extra else ""
        raise ConfigError(name, f"{name} ({_flag(name)}) must be a whole number from {low} to {high}{tail}; "
                                f"got {value!r}")


def _number(name: str, value: Any, low: float, high: float, *, low_inclusive: bool = True,
            high_inclusive: bool = True) -> None:
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool) and value == value
    if ok:
        ok = (value >= low if low_inclusive else value > low) and (value <= high if high_inclusive else value < high)
    if not ok:
        lo, hi = ("[" if low_inclusive else "("), ("]" if high_inclusive else ")")
        raise ConfigError(name, f"{name} ({_flag(name)}) must be in {lo}{low:g}, {high:g}{hi}; got {value!r}")
