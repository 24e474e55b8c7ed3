"""From a ``RunConfig`` to data, a model and a trainer: the glue the CLI and the app share."""
from __future__ import annotations

from typing import Any

from .config import RunConfig
from .data import TOY_DATASETS, Dataset, load_dataset
from .model import MLP
from .presets import get_preset
from .training import Trainer


def config_from_preset(name: str, **overrides: Any) -> RunConfig:
    """The preset's settings, with any given overrides (``None`` values are ignored)."""
    values = get_preset(name)
    values.update({k: v for k, v in overrides.items() if v is not None})
    return RunConfig.from_dict(values).validate()


def load_data(cfg: RunConfig) -> Dataset:
    if cfg.dataset in TOY_DATASETS:
        return load_dataset(cfg.dataset, n_samples=cfg.n_samples, noise=cfg.noise,
                            test_size=cfg.test_size, seed=0)
    return load_dataset(cfg.dataset, test_size=cfg.test_size)


def build_model(cfg: RunConfig, data: Dataset) -> MLP:
    """A fresh network shaped for ``data``, remembering what it is trained on."""
    model = MLP([data.n_features, *cfg.hidden, data.n_classes], activation=cfg.activation,
                init=cfg.init, seed=cfg.seed)
    model.meta.update(dataset=data.name, preprocessing=data.preprocessing, config=cfg.to_dict())
    return model


def build_trainer(cfg: RunConfig, data: Dataset, model: MLP | None = None,
                  report_every: float = 0.5) -> Trainer:
    model = model if model is not None else build_model(cfg, data)
    return Trainer(model, data.X_train, data.y_train, data.X_test, data.y_test,
                   cfg.train_config(report_every))


def check_model_fits(model: MLP, data: Dataset) -> None:
    """Raise ValueError with a reason if ``model`` cannot be used on ``data``."""
    sizes = model.layer_sizes
    if sizes[0] != data.n_features or sizes[-1] != data.n_classes:
        raise ValueError(f"this model takes {sizes[0]} inputs and gives {sizes[-1]} classes, but "
                         f"{data.name} has {data.n_features} inputs and {data.n_classes} classes")
    trained_on = model.meta.get("preprocessing")
    if trained_on not in (None, data.preprocessing):
        raise ValueError(f"this model expects '{trained_on}' inputs; {data.name} gives "
                         f"'{data.preprocessing}'")
