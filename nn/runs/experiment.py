"""From a ``RunConfig`` to data, a model and a trainer: the glue the CLI and the app share."""
from __future__ import annotations

import math
import time
from typing import Any, Sequence

import numpy as np

from nn.core import ArchError, Sequential, arch_cost, build_network, parse_arch
from nn.core.mlp import MLP
from nn.core.training import PIECE_FLOPS, Trainer, even_piece, piece_rows_for
from nn.data import TOY_DATASETS, Dataset, load_dataset
from nn.data.features import model_features
from nn.hosting import limits
from nn.core.config import RunConfig
from nn.core.settings import IMAGE_SHAPES, OWN_DATASETS, REGRESSION_DATASETS, ConfigError
from nn.runs.presets import get_preset
from nn.runs.table_defaults import scaling_of


def config_from_preset(name: str, **overrides: Any) -> RunConfig:
    """The preset's settings, with any given overrides (``None`` values are ignored)."""
    values = get_preset(name)
    values.update({k: v for k, v in overrides.items() if v is not None})
    return RunConfig.from_dict(values).validate()


# The train/test split of a user's table (or clicked points) always uses this seed, on the page
# and on the command line alike, so the same file and settings give the same split (and result).
TABLE_SPLIT_SEED = 0


def load_data(cfg: RunConfig) -> Dataset:
    if cfg.dataset in OWN_DATASETS:
        raise ValueError(f"dataset {cfg.dataset!r} is the user's own data, not a built-in set: read "
                         f"it with nn.data.tables (command line: --data FILE --label COLUMN)")
    if cfg.dataset in TOY_DATASETS:
        return load_dataset(cfg.dataset, n_samples=cfg.n_samples, noise=cfg.noise,
                            test_size=cfg.test_size, seed=0, features=tuple(cfg.features_2d))
    return load_dataset(cfg.dataset, test_size=cfg.test_size, dtype=cfg.dtype)


# (input features, classes, training rows, test rows) of each dataset, known without loading it;
# the 2-D sets' rows depend on n_samples and test_size (see ``data_shape``).
DATASET_SHAPES = {**{name: (2, 2, 0, 0) for name in TOY_DATASETS},
                  **{name: (2, 1, 0, 0) for name in REGRESSION_DATASETS}, "digits": (64, 10, 1797, 0),
                  "mnist": (784, 10, 60_000, 10_000), "fashion_mnist": (784, 10, 60_000, 10_000)}


def table_dataset(frame: Any, label: str, features: Sequence[str] | None, cfg: RunConfig,
                  standardize: bool | None = True, drop_bad_rows: bool = False, name: str = "table") -> Dataset:
    """A user's table as a ``Dataset`` for ``cfg`` (its test share; the split seed is
    ``TABLE_SPLIT_SEED``): the one way the page and the command line build it. ``standardize``
    None: chosen from the training rows (``table_defaults.scaling_of``; a table kept as it is is
    built twice, the common standardised one once)."""
    from nn.data.tables import dataset_from_table        # here: nn.data.tables imports pandas (slow to load)

    def build(standardize: bool) -> Dataset:
        return dataset_from_table(frame, label, features, test_size=cfg.test_size,
                                  standardize=standardize, drop_bad_rows=drop_bad_rows,
                                  seed=TABLE_SPLIT_SEED, name=name, task=cfg.task)
    data = build(True if standardize is None else standardize)
    if standardize is None and not scaling_of(data).standardize:
        del data                                    # the standardised copy goes before the raw one
        return build(False)
    return data


def data_shape(cfg: RunConfig, data: Dataset | None = None) -> tuple[int, int, int, int]:
    """(features, classes, training rows, test rows) ``cfg`` will train on, without loading data
    (own data has no shape of its own: pass ``data``; without it a table counts as 1 input, and
    points as 2, for 2 classes)."""
    if data is not None:
        return data.n_features, data.n_classes, len(data.y_train), len(data.y_test)
    if cfg.dataset in OWN_DATASETS:
        return ((len(cfg.features_2d) if cfg.dataset == "points" else 1),
                (1 if cfg.task == "regression" else 2), 0, 0)
    features, classes, n_train, n_test = DATASET_SHAPES[cfg.dataset]
    if cfg.dataset in TOY_DATASETS:
        features = len(cfg.features_2d)
    if cfg.dataset in TOY_DATASETS or cfg.dataset == "digits":
        total = cfg.n_samples if cfg.dataset in TOY_DATASETS else n_train
        n_test = math.ceil(total * cfg.test_size)          # as sklearn's train_test_split rounds
        n_train = total - n_test
    return features, classes, n_train, n_test


def layer_sizes_for(cfg: RunConfig, data: Dataset | None = None) -> list[int]:
    features, classes, _, _ = data_shape(cfg, data)
    return [features, *cfg.hidden, classes]


def count_params(layer_sizes: Sequence[int]) -> int:
    """Weights and biases of an MLP with these layer sizes."""
    return sum(a * b + b for a, b in zip(layer_sizes[:-1], layer_sizes[1:]))


def check_param_limit(layer_sizes: Sequence[int]) -> None:
    """Raise ConfigError (naming --hidden) if the network exceeds the server's parameter limit
    (``nn.hosting.limits().max_params``, NN_MAX_PARAMS); checked before anything is built."""
    n, limit = count_params(layer_sizes), limits().max_params
    if n > limit:
        sizes = "-".join(map(str, layer_sizes))
        raise ConfigError("hidden", f"hidden (--hidden): a {sizes} network has {n:,} parameters, "
                                    f"above the limit of {limit:,} (NN_MAX_PARAMS); "
                                    f"use fewer or smaller hidden layers")


def input_shape_for(cfg: RunConfig, data: Dataset | None = None) -> tuple[int, ...]:
    """What a network given by ``cfg.arch`` reads: (1, height, width) for an image dataset,
    (features,) otherwise."""
    image = getattr(data, "image_shape", None) if data is not None else IMAGE_SHAPES.get(cfg.dataset)
    return (1, *image) if image else (data_shape(cfg, data)[0],)


def count_config_params(cfg: RunConfig, data: Dataset | None = None) -> int:
    """Parameters of the network ``cfg`` describes (MLP or ``arch``), without building it;
    ConfigError (naming --arch) if the architecture does not fit the data."""
    if cfg.arch is None:
        return count_params(layer_sizes_for(cfg, data))
    try:
        return arch_cost(cfg.arch, input_shape_for(cfg, data), data_shape(cfg, data)[1], cfg.activation)[0]
    except ArchError as exc:
        raise ConfigError("arch", f"arch (--arch): {exc}") from None


def check_config_limit(cfg: RunConfig, data: Dataset | None = None) -> None:
    """``check_param_limit`` for either kind of network: ConfigError naming --hidden or --arch."""
    if cfg.arch is None:
        check_param_limit(layer_sizes_for(cfg, data))
        return
    n, limit = count_config_params(cfg, data), limits().max_params
    if n > limit:
        raise ConfigError("arch", f"arch (--arch): this network has {n:,} parameters, above the "
                                  f"limit of {limit:,} (NN_MAX_PARAMS); use fewer filters or units")


def build_model(cfg: RunConfig, data: Dataset) -> MLP | Sequential:
    """A fresh network shaped for ``data`` (an MLP, or ``cfg.arch``'s network), remembering what
    it is trained on (refused before anything is allocated if it exceeds the parameter limit)."""
    check_config_limit(cfg, data)
    if cfg.arch is not None:
        try:
            model = build_network(cfg.arch, input_shape_for(cfg, data), data.n_classes,
                                  activation=cfg.activation, seed=cfg.seed, init=cfg.init,
                                  dtype=cfg.dtype, max_params=limits().max_params)
        except ArchError as exc:
            raise ConfigError("arch", f"arch (--arch): {exc}") from None
    else:
        model = MLP([data.n_features, *cfg.hidden, data.n_classes], activation=cfg.activation,
                    init=cfg.init, seed=cfg.seed, dtype=cfg.dtype, task=data.task)
    model.meta.update(dataset=data.name, preprocessing=data.preprocessing, config=cfg.to_dict())
    if getattr(data, "schema", None):            # a table: its columns, classes, standardisation
        model.meta["schema"] = data.schema
    return model


def build_trainer(cfg: RunConfig, data: Dataset, model: MLP | Sequential | None = None,
                  report_every: float = 0.5) -> Trainer:
    """A trainer of ``model`` (default: a fresh one) on ``data`` with ``cfg``'s training settings;
    a ``Sequential`` gets ``cfg.augment``'s augmentation (or none)."""
    model = model if model is not None else build_model(cfg, data)
    if isinstance(model, Sequential):
        model.augment = _augmentation(cfg, model)
    return Trainer(model, data.X_train, data.y_train, data.X_test, data.y_test,
                   cfg.train_config(report_every))


def _augmentation(cfg: RunConfig, model: Sequential) -> Any:
    if not cfg.augment:
        return None
    from nn.data.augment import Augment
    if len(model.input_shape) != 3 or model.input_shape[0] != 1:
        raise ConfigError("augment", "augment (--augment) applies to networks reading one-channel images")
    return Augment(**{k: float(v) for k, v in cfg.augment.items()}).validate()


def check_model_fits(model: MLP | Sequential, data: Dataset) -> None:
    """Raise ValueError with a reason if ``model`` cannot be used on ``data``."""
    sizes = model.layer_sizes
    schema = getattr(data, "schema", None)
    if schema:
        _check_model_fits_table(model, schema, data.name)
    task = getattr(model, "task", "classification")
    if task != data.task:
        raise ValueError(f"this model does {task}; {data.name} is a {data.task} dataset")
    if sizes[0] != data.n_features or sizes[-1] != data.n_classes:
        raise ValueError(f"this model takes {sizes[0]} inputs and gives {sizes[-1]} classes, but "
                         f"{data.name} has {data.n_features} inputs and {data.n_classes} classes")
    if data.features and model_features(model) != data.features:
        raise ValueError(f"this model reads the features {', '.join(model_features(model))} of each "
                         f"point; these data give {', '.join(data.features)}")
    trained_on = model.meta.get("preprocessing")
    if trained_on not in (None, data.preprocessing):
        raise ValueError(f"this model expects '{trained_on}' inputs; {data.name} gives "
                         f"'{data.preprocessing}'")


def _check_model_fits_table(model: MLP | Sequential, schema: dict[str, Any], name: str) -> None:
    """The model was trained on a table with these columns, classes and standardisation."""
    theirs = model.meta.get("schema")
    if not theirs:
        raise ValueError(f"this model was trained on {model.meta.get('dataset') or 'another dataset'}, "
                         f"not on a table; it cannot read {name}")

    def names(values: Sequence[str]) -> str:
        shown = ", ".join(repr(v) for v in list(values)[:8])
        return shown + (f", ... ({len(values)} in all)" if len(values) > 8 else "")

    if list(theirs["features"]) != list(schema["features"]):
        raise ValueError(f"this model reads the columns {names(theirs['features'])}; the table's "
                         f"chosen features are {names(schema['features'])}")
    if theirs["label"] != schema["label"] or list(theirs["classes"]) != list(schema["classes"]):
        raise ValueError(f"this model predicts {theirs['label']!r} with the classes "
                         f"{names(theirs['classes'])}; the table's label {schema['label']!r} has "
                         f"{names(schema['classes'])}")
    if theirs["standardize"] != schema["standardize"]:
        how = "standardised" if theirs["standardize"] else "raw (not standardised)"
        raise ValueError(f"this model was trained on {how} features; set 'Standardise features' to "
                         f"match (on the page with 'Choose them for my table' off, which otherwise "
                         f"chooses it; on the command line --standardize or --no-standardize)")
    if theirs["standardize"] and not (
            np.allclose(theirs["mean"], schema["mean"], rtol=1e-5, atol=1e-8)
            and np.allclose(theirs["scale"], schema["scale"], rtol=1e-5, atol=1e-8)):
        share = (model.meta.get("config") or {}).get("test_size")
        hint = f" (it was trained with test share {share:g})" if isinstance(share, (int, float)) else ""
        raise ValueError(f"this model standardised its features with another training split's "
                         f"mean and scale{hint}; choose the test share and rows it was trained with")


# --- how long an epoch will take, before training --------------------------------------------
# Cost model: a dense layer of a x b costs 2ab FLOPs per row forward; a training step adds
# dW = A^T dZ (2ab) and, except for the first layer, dA = dZ W^T (2ab); evaluating the test set
# once per epoch costs the forward pass. nn trains at about half the speed of a large float32
# matrix product (README: 52% for MNIST 784-256-10), hence TRAINING_EFFICIENCY. Each step also
# costs a fixed STEP_OVERHEAD_S of Python and small NumPy calls, which dominates for small
# networks (moons, batch 32: 20 epochs in 0.4 s, about 100 us a step with the per-epoch records).
TRAINING_EFFICIENCY = 0.5
STEP_OVERHEAD_S = 100e-6
# A convolutional network (``arch``) reaches a smaller share of the matmul peak: its im2col
# copies, pooling and activations are memory-bound. mnist-cnn on 2 shared cores (load 3.5):
# 397 GFLOP an epoch in 15.2 s, 26 GFLOP/s, 0.1 of this probe's 270 GFLOP/s; a quiet machine does
# about twice as well (benchmarks/bench_cnn.py: about a quarter of a 2048x2048 product's peak).
CNN_EFFICIENCY = 0.15


REMEASURE_S = 60.0             # the probe runs again at most this often; the best result is kept
_probe = {"best": 0.0, "at": -math.inf}


def matmul_flops_per_second() -> float:
    """FLOP/s of a 512x512x512 float32 product on this machine: the best of every probe so far
    (best of 10 after a warm-up call, at most about 0.3 s, at most once a minute). The first few
    products of a process wait for the BLAS threads to wake: best of 3 read 11 to 25 GFLOP/s
    where 20 calls read 270. A probe on a busy server reads low: keeping the best, an estimate
    made at a busy moment does not hold every later run to it (the budget's slots keep a
    visitor's job near one core)."""
    now = time.monotonic()
    if now - _probe["at"] >= REMEASURE_S:
        _probe["best"], _probe["at"] = max(_probe["best"], _probe_once()), now
    return _probe["best"]


def _probe_once() -> float:
    a = np.ones((512, 512), np.float32)
    a @ a
    best, started = math.inf, time.perf_counter()
    for _ in range(10):
        if time.perf_counter() - started > 0.3:
            break
        t = time.perf_counter()
        a @ a
        best = min(best, time.perf_counter() - t)
    return 2 * 512**3 / max(best, 1e-9)


def estimate_epoch_seconds(layer_sizes: Sequence[int], n_train: int, n_test: int,
                           batch_size: int | str, flops_per_second: float | None = None) -> float:
    """Estimated seconds for one epoch (training and the test evaluation), from the cost model above."""
    products = [a * b for a, b in zip(layer_sizes[:-1], layer_sizes[1:])]
    forward = 2 * sum(products)
    train = 2 * forward + 2 * sum(products[1:])          # forward, dW, dA (not for the input)
    flops = train * n_train + forward * n_test
    rate = (flops_per_second or matmul_flops_per_second()) * TRAINING_EFFICIENCY
    steps = 1 if batch_size == "full" else math.ceil(n_train / max(int(batch_size), 1))
    return flops / rate + steps * STEP_OVERHEAD_S


def estimate_config_epoch_seconds(cfg: RunConfig, data: Dataset | None = None) -> float:
    """``estimate_epoch_seconds`` for what ``cfg`` will train (no data loaded; own data: pass it)."""
    _, classes, n_train, n_test = data_shape(cfg, data)
    if cfg.arch is None:
        wide = 2 if cfg.dtype == "float64" else 1         # twice the bytes and half the flops
        return wide * estimate_epoch_seconds(layer_sizes_for(cfg, data), n_train, n_test, cfg.batch_size)
    try:
        _, flops = arch_cost(cfg.arch, input_shape_for(cfg, data), classes, cfg.activation)
    except ArchError:
        return math.nan
    return estimate_network_epoch_seconds(flops, n_train, n_test, cfg.batch_size)


def bn_piece_note(cfg: RunConfig, data: Dataset | None = None) -> str | None:
    """What the page and the command line say when a batch-normed network's batches are cut into
    pieces (``nn.core.training.PIECE_FLOPS``), its statistics being each piece's; None when
    its batches stay whole, or without batch norm."""
    try:
        if not cfg.arch or all(b["type"] != "bn" for b in parse_arch(cfg.arch)):
            return None
        _, flops = arch_cost(cfg.arch, input_shape_for(cfg, data), data_shape(cfg, data)[1], cfg.activation)
    except ArchError:
        return None
    n_train = data_shape(cfg, data)[2]
    batch = n_train if cfg.batch_size == "full" else min(int(cfg.batch_size), n_train or int(cfg.batch_size))
    rows = even_piece(batch, piece_rows_for(flops["train"])) if batch > 0 else batch
    if rows >= batch:
        return None
    return (f"Batch norm statistics over pieces of {rows:,} rows: each batch of {batch:,} is cut into "
            f"{math.ceil(batch / rows)} pieces of at most {PIECE_FLOPS / 1e9:g} GFLOP of work, so that "
            f"Stop answers within a second whatever the machine's speed.")


def estimate_network_epoch_seconds(flops: dict[str, int], n_train: int, n_test: int,
                                   batch_size: int | str, flops_per_second: float | None = None) -> float:
    """Estimated seconds for one epoch of a ``Sequential`` from its ``flops_per_sample``
    (training, then the test evaluation), at ``CNN_EFFICIENCY`` of the matmul peak."""
    total = flops["train"] * n_train + flops["forward"] * n_test
    rate = (flops_per_second or matmul_flops_per_second()) * CNN_EFFICIENCY
    steps = 1 if batch_size == "full" else math.ceil(n_train / max(int(batch_size), 1))
    return total / rate + steps * STEP_OVERHEAD_S
