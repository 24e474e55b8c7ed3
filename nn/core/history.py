"""The schema of a training record (what ``Trainer`` appends to ``model.meta["history"]`` and the
charts draw), checked whenever a history comes from outside: a model file, a worker process.

    {"epoch": 1.5, "step": 240, "seconds": 0.8, "train_loss": 0.31, "train_accuracy": 0.9,
     "val_loss": 0.35, "val_accuracy": 0.88, "end_of_epoch": False, "lr": 0.01}

A regression network's records have no accuracies (null) but ``"train_r2"`` and ``"val_r2"``
(R^2 = 1 - MSE / Var(y), at most 1, possibly below 0). A record also carries
``"change": "lr 0.01 -> 0.002"`` if it is the first after the learning rate or the
regularization was changed while training ran (``Trainer.set_rates``). Files written before
``lr`` and ``change`` existed have neither. With early stopping (``val_share``), each end-of-epoch
record has ``"holdout_loss"`` and ``"holdout_accuracy"`` (regression: ``"holdout_r2"``) on the
held-out training rows, and the record where the best weights were put back has ``"restored"``:
the epoch they come from.
"""
from __future__ import annotations

import math
from typing import Any, Callable

from nn.core.settings import SETTINGS

Record = dict[str, Any]
MAX_HISTORY = 100_000                              # records kept in a file
MAX_RECORD_EPOCH = 10 * SETTINGS["epochs"].high    # a model can be continued past one run's epochs
MAX_STEP = 2**53                                   # exact in JSON's numbers
MAX_SECONDS = 1e9
MAX_CHANGE_TEXT = 200


class HistoryError(ValueError):
    """A history that is not a list of training records (the message says what is wrong)."""


def _finite(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _loss(v: Any) -> bool:
    return v is None or (_finite(v) and v >= 0)


def _accuracy(v: Any) -> bool:
    return v is None or (_finite(v) and 0 <= v <= 1)


def _r2(v: Any) -> bool:
    return v is None or (_finite(v) and v <= 1)


# the fields of a record: (required, check, what it must be)
RECORD_FIELDS: dict[str, tuple[bool, Callable[[Any], bool], str]] = {
    "epoch": (True, lambda v: _finite(v) and 0 <= v <= MAX_RECORD_EPOCH, f"a number from 0 to {MAX_RECORD_EPOCH}"),
    "step": (True, lambda v: isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= MAX_STEP,
             "a whole number >= 0"),
    "seconds": (True, lambda v: _finite(v) and 0 <= v <= MAX_SECONDS, "a number of seconds >= 0"),
    "train_loss": (False, _loss, "a loss >= 0 or null"),
    "val_loss": (False, _loss, "a loss >= 0 or null"),
    "train_accuracy": (False, _accuracy, "an accuracy in [0, 1] or null"),
    "val_accuracy": (False, _accuracy, "an accuracy in [0, 1] or null"),
    "train_r2": (False, _r2, "an R^2 of at most 1 or null"),
    "val_r2": (False, _r2, "an R^2 of at most 1 or null"),
    "end_of_epoch": (False, lambda v: isinstance(v, bool), "true or false"),
    "lr": (False, lambda v: v is None or (_finite(v) and 0 <= v <= SETTINGS["lr"].high),
           f"a learning rate from 0 to {SETTINGS['lr'].high:g} or null"),
    "change": (False, lambda v: isinstance(v, str) and len(v) <= MAX_CHANGE_TEXT,
               f"a text of at most {MAX_CHANGE_TEXT} characters"),
    "holdout_loss": (False, _loss, "a loss >= 0 or null"),
    "holdout_accuracy": (False, _accuracy, "an accuracy in [0, 1] or null"),
    "holdout_r2": (False, _r2, "an R^2 of at most 1 or null"),
    "restored": (False, lambda v: isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= MAX_RECORD_EPOCH,
                 f"a whole number of epochs from 0 to {MAX_RECORD_EPOCH}"),
}


def short(value: object, limit: int = 60) -> str:
    """``repr(value)`` cut to ``limit`` characters: a message never echoes a whole hostile file."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def check_history(value: Any) -> None:
    """Raise ``HistoryError`` unless ``value`` is a list of records as ``Trainer`` writes them: a
    history from a file must not break the trainer or the charts."""
    if not isinstance(value, list):
        raise HistoryError(f"history must be a list of records; got {short(value)}")
    if len(value) > MAX_HISTORY:
        raise HistoryError(f"history holds {len(value)} records; at most {MAX_HISTORY}")
    for i, record in enumerate(value):
        _check_record(i, record)


def _check_record(i: int, record: Any) -> None:
    if not isinstance(record, dict):
        raise HistoryError(f"history record {i} is not a record; got {short(record)}")
    unknown = sorted(set(record) - set(RECORD_FIELDS))
    if unknown:
        raise HistoryError(f"history record {i} has unknown fields: "
                           f"{', '.join(short(k, 30) for k in unknown[:5])}")
    for key, (required, ok, what) in RECORD_FIELDS.items():
        if key not in record:
            if required:
                raise HistoryError(f"history record {i} lacks {key}")
        elif not ok(record[key]):
            raise HistoryError(f"history record {i}: {key} must be {what}; got {short(record[key])}")
