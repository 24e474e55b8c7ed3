"""A run's settings as objects: ``TrainConfig`` (how to train) and ``RunConfig`` (a whole
experiment: dataset, network and training, as the command line, the app's widgets and its URL
read and write it). Every field's default and range come from the table in ``nn.core.settings``;
``validate`` raises ``ConfigError`` naming the setting, its command-line flag and what it allows."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

from nn.core.arch import ArchError, parse_arch
from nn.core.settings import (AUGMENT_KEYS, AUGMENT_RANGES, CNN_ACTIVATIONS, CNN_INITS, IMAGE_SHAPES,
                              REGRESSION_DATASETS, SETTINGS, ConfigError, check, default)


@dataclass
class TrainConfig:
    """How to train: the optimizer and its settings, batches, epochs, seed."""
    optimizer: str = default("optimizer")
    lr: float = default("lr")
    batch_size: int | str = default("batch_size")    # a whole number, or "full": full-batch descent
    epochs: int = default("epochs")
    momentum: float = default("momentum")
    weight_decay: float = default("weight_decay")
    l1: float = default("l1")
    seed: int = default("seed")
    report_every: float = default("report_every")    # seconds between records inside an epoch
    # "cosine": epoch e of a run of E epochs trains at lr (1 + cos(pi e / E)) / 2 (nn.core.training)
    lr_schedule: str = default("lr_schedule")
    # early stopping (nn.core.early_stopping): this share of the training rows held out, and
    # the epochs without a better held-out loss before stopping; val_share 0 is off
    val_share: float = default("val_share")
    patience: int = default("patience")
    label_smoothing: float = default("label_smoothing")    # eps of the cross-entropy's target
    tta: int = default("tta")                        # shifted copies per test image (nn.core.tta)
    reported_loss: str = default("reported_loss")    # the loss the records report (nn.core.losses)

    def validate(self) -> "TrainConfig":
        for f in fields(self):
            check(f.name, getattr(self, f.name))
        return self

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class RunConfig:
    """A whole experiment as one flat, serialisable object: dataset, network and training."""
    dataset: str = default("dataset")
    n_samples: int = default("n_samples")            # 2-D sets only
    noise: float = default("noise")                  # 2-D sets only
    # 2-D sets only: the inputs made from each point (x1, x2), in this order (nn.data.features)
    features_2d: list[str] = field(default_factory=lambda: default("features_2d"))
    test_size: float = default("test_size")          # all but MNIST / Fashion-MNIST (official split)
    hidden: list[int] = field(default_factory=lambda: default("hidden"))
    activation: str = default("activation")
    init: str = default("init")
    optimizer: str = default("optimizer")
    lr: float = default("lr")
    batch_size: int | str = default("batch_size")
    epochs: int = default("epochs")
    momentum: float = default("momentum")
    weight_decay: float = default("weight_decay")
    l1: float = default("l1")
    seed: int = default("seed")
    # A convolutional network instead of the MLP (``hidden`` is then unused): an architecture
    # text such as "conv 5x5x16, pool 2, dense 128" (nn.core.arch), for image datasets.
    arch: str | None = default("arch")
    lr_schedule: str = default("lr_schedule")
    # Training-time augmentation of a CNN's images (nn.data.augment.Augment): {"shift": px,
    # "rotate": degrees, "scale": fraction}, or None.
    augment: dict[str, float] | None = default("augment")
    # "regression" for a table's numeric label; the reg-* sets are regression whatever it says
    task: str = default("task")
    val_share: float = default("val_share")          # early stopping (TrainConfig)
    patience: int = default("patience")
    label_smoothing: float = default("label_smoothing")
    # Test-time augmentation (nn.core.tta): a CNN's test images read by this many shifted copies.
    tta: int = default("tta")
    reported_loss: str = default("reported_loss")    # the loss the records report (nn.core.losses)
    dtype: str = default("dtype")                    # the network's floats (float64: the tutorial's)

    def validate(self) -> "RunConfig":
        for name in ("dataset", "n_samples", "noise", "features_2d", "test_size", "hidden", "activation", "init",
                     "dtype"):
            check(name, getattr(self, name))
        self._validate_task()
        self._validate_cnn()
        self.train_config()                # validates the training part
        if self.tta != 1 and (self.arch is None or self.dataset not in IMAGE_SHAPES):
            raise ConfigError("tta", "tta (--tta) applies to a network given by --arch on an image "
                                     f"dataset ({', '.join(IMAGE_SHAPES)}); use 1 (off) otherwise")
        if self.label_smoothing and self.task == "regression":
            raise ConfigError("label_smoothing", "label_smoothing (--label-smoothing) smooths class "
                                                 "labels; a regression takes 0")
        return self

    def _validate_task(self) -> None:
        """The reg-* sets are regression; the other built-in sets are classes; a table may be
        either. Convolutional networks (``arch``) classify only."""
        check("task", self.task)
        if self.dataset in REGRESSION_DATASETS:
            self.task = "regression"
        elif self.task == "regression" and self.dataset != "table":
            raise ConfigError("task", f"task (--task) regression needs a quantity to predict: "
                                      f"{', '.join(REGRESSION_DATASETS)} or your own table (--data); "
                                      f"{self.dataset!r} has classes")
        if self.task == "regression" and self.arch is not None:
            raise ConfigError("task", "task (--task) regression is for networks given by --hidden; "
                                      "a network given by --arch classifies only")
        if self.task == "regression" and self.reported_loss != "cross_entropy":
            raise ConfigError("reported_loss", f"reported_loss (--reported-loss) {self.reported_loss} "
                                               "is a classifier's; regression reports its mean squared error")

    def _validate_cnn(self) -> None:
        """``arch`` (parsed and bounded by nn.core.parse_arch) and ``augment``."""
        if self.arch is not None:
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
            for name, allowed in (("init", CNN_INITS), ("activation", CNN_ACTIVATIONS)):
                value = getattr(self, name)
                if value not in allowed:
                    raise SETTINGS[name].error(value, f"one of: {', '.join(allowed)} for a network "
                                                      "given by --arch")
        if self.augment is not None:
            self._validate_augment()

    def _validate_augment(self) -> None:
        value = self.augment
        if (not isinstance(value, dict) or set(value) != set(AUGMENT_KEYS)
                or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value.values())):
            raise ConfigError("augment", f"augment (--augment) must be numbers for "
                                         f"{', '.join(AUGMENT_KEYS)}; got {value!r}")
        if self.arch is None or self.dataset not in IMAGE_SHAPES:
            raise ConfigError("augment", "augment (--augment) applies to a network given by --arch "
                                         f"on an image dataset ({', '.join(IMAGE_SHAPES)})")
        for name, high in AUGMENT_RANGES.items():
            if not 0 <= value[name] <= high:
                raise ConfigError("augment", f"augment (--augment): augment {name} must be in "
                                             f"[0, {high:g}]; got {value[name]!r}")

    def train_config(self, report_every: float = default("report_every")) -> TrainConfig:
        return TrainConfig(**{f.name: getattr(self, f.name) for f in fields(TrainConfig)
                              if f.name != "report_every"}, report_every=report_every).validate()

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "RunConfig":
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})
