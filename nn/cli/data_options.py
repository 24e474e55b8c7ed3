"""``python -m nn train --data FILE --label COLUMN [--features A B ...]``: train on a user's table.

The table is read and checked by ``nn.data.tables`` (the same limits and messages as the app) and
split by ``nn.runs.experiment.table_dataset`` (the split seed the Train page uses too), so the same
file and settings give the same model and test accuracy on the page and here.
"""
from __future__ import annotations

import argparse

from typing import Any

from nn.data import Dataset
from nn.core.config import RunConfig
from nn.core.settings import ConfigError
from nn.cli.options import add_setting
from nn.runs.table_defaults import USER_TRAINING, choose, scaling_of


def add_data_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("your own table (instead of --dataset)")
    g.add_argument("--data", metavar="FILE",
                   help="a CSV, TSV or Parquet table to train on (limits: NN_MAX_TABLE_MB, "
                        "NN_MAX_TABLE_ROWS, NN_MAX_TABLE_COLUMNS)")
    g.add_argument("--label", metavar="COLUMN", help="with --data: the class column (2 to 50 classes), "
                                                     "or with --task regression the quantity to predict")
    add_setting(g, "task")
    g.add_argument("--features", nargs="+", metavar="COLUMN",
                   help="with --data: the numeric input columns (default: every numeric column "
                        "but the label)")
    g.add_argument("--no-standardize", dest="standardize", action="store_false", default=None,
                   help="with --data: keep the features as they are (default: centre and scale "
                        "them by the training split's mean and standard deviation; with the "
                        "training settings chosen for the table, kept as they are when the "
                        "columns share a scale of order one)")
    g.add_argument("--standardize", dest="standardize", action="store_true", default=None,
                   help="with --data: centre and scale the features even when the table's "
                        "settings are chosen and its columns share a scale")
    g.add_argument("--drop-bad-rows", action="store_true",
                   help="with --data: drop rows with missing values or infinities (default: refuse "
                        "them, naming the rows and columns)")


def check_data_options(args: argparse.Namespace) -> None:
    """The table options make sense together (ConfigError naming the option otherwise)."""
    if getattr(args, "data", None) is None:
        for name, flag in (("label", "--label"), ("features", "--features")):
            if getattr(args, name, None) is not None:
                raise ConfigError(name, f"{flag} goes with --data FILE (a table of your own)")
        if getattr(args, "drop_bad_rows", False) or getattr(args, "standardize", None) is not None:
            raise ConfigError("data", "--drop-bad-rows, --standardize and --no-standardize go with "
                                      "--data FILE")
        return
    if args.dataset is not None:
        raise ConfigError("dataset", "--dataset and --data exclude each other: --data FILE trains "
                                     "on your table")
    if not args.label:
        raise ConfigError("label", "--label COLUMN is required with --data: name the column that "
                                   "holds the classes")


def table_from_args(args: argparse.Namespace, cfg: RunConfig) -> tuple[RunConfig, Dataset]:
    """The run's settings (dataset 'table') and the table as a ``Dataset``. Raises ``TableError``
    (a ValueError) with the row and column at fault."""
    from nn.data.tables import read_table
    from nn.runs.experiment import table_dataset
    cfg = RunConfig.from_dict({**cfg.to_dict(), "dataset": "table"}).validate()
    frame = read_table(args.data)
    name = str(args.data).replace("\\", "/").rsplit("/", 1)[-1]
    standardize = args.standardize
    if standardize is None and not _choosing(args):
        standardize = True                          # the user's own settings: as before
    data = table_dataset(frame, args.label, args.features, cfg, standardize=standardize,
                         drop_bad_rows=args.drop_bad_rows, name=name)
    return cfg, data


def _choosing(args: argparse.Namespace) -> bool:
    """Whether the training settings are chosen for the table: no preset, no training option."""
    return not args.preset and all(getattr(args, name, None) is None for name in USER_TRAINING)


def chosen_settings(args: argparse.Namespace, cfg: RunConfig, data: Dataset) -> tuple[RunConfig, dict[str, Any] | None]:
    """With no training option and no preset, the table's settings chosen from its size
    (``nn.runs.table_defaults``) and what was chosen and why (for --json); else ``cfg`` as is."""
    if not _choosing(args):
        return cfg, None
    scaling = scaling_of(data) if args.standardize is None else None       # chosen with them
    chosen = choose(len(data.y_train), data.n_features, data.n_classes, cfg.task, scaling)
    return chosen.apply(cfg), {"settings": chosen.settings, "summary": chosen.summary(),
                               "reasons": chosen.reasons,
                               "standardize": None if scaling is None else scaling.standardize}
