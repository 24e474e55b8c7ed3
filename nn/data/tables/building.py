"""From a table and the user's choices to a ``Dataset``, and the schema a model carries so that
a table with other columns is later refused.

The schema is plain JSON (``model.meta["schema"] = data.schema`` survives ``model.save``)::

    {"kind": "table", "version": 1, "features": ["sepal length", ...], "label": "species",
     "label_kind": "text", "classes": ["setosa", ...], "standardize": true,
     "mean": [...], "scale": [...]}

A regression table (``task="regression"``: the label is a quantity) adds ``"task": "regression"``,
``"target_mean"`` and ``"target_scale"`` (``nn.data.tables.quantity``), and has no classes.
"""
from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import pandas as pd

from nn.core.settings import SETTINGS
from nn.data import Dataset
from nn.data.tables.describe import (BOOLEAN, MAX_CLASSES, NUMERIC, TEXT, bad_value_masks, column_kind,
                                     describe_column, row_numbers, rows_text)
from nn.data.tables.limits import TableError, names_text, q
from nn.data.tables.quantity import (TARGET_KEYS, random_split, standardised, target_damage,
                                      target_scaling, target_values)

SCHEMA_KIND, SCHEMA_VERSION = "table", 1
MIN_CLASSES = 2
MIN_ROWS_PER_CLASS = 2          # one to train on, one to test on
FLOAT32_MAX = float(np.finfo(np.float32).max)
MAX_NAME_CHARS = 200            # column and class names kept in a model's schema


class BadRowsError(TableError):
    """Rows with missing values or infinities, and the user has not agreed to drop them.

    ``n_rows`` rows are affected; ``counts`` maps each column at fault to (missing, infinite).
    """

    def __init__(self, message: str, n_rows: int, counts: dict[str, tuple[int, int]],
                 rows: list[int]) -> None:
        super().__init__(message, row=rows[0] if rows else None,
                         column=next(iter(counts), None))
        self.n_rows, self.counts, self.rows = n_rows, counts, rows


@dataclass(frozen=True)
class TableDataset(Dataset):
    """A ``Dataset`` built from a table: also its JSON schema and how many bad rows were dropped."""
    schema: dict[str, Any] = field(default_factory=dict)
    n_dropped: int = 0

    @property
    def feature_names(self) -> list[str]:
        return list(self.schema.get("features", []))


# --- choices ------------------------------------------------------------------------------------
def _check_columns(frame: pd.DataFrame, label: str, features: Sequence[str] | None) -> list[str]:
    columns = [str(c) for c in frame.columns]
    if label not in columns:
        raise TableError(f"label: there is no column named {q(label)}; the columns are "
                         f"{names_text(columns, 20)}", column=label)
    if features is None:
        features = [c for c in columns if c != label and column_kind(frame[c]) != TEXT]
        if not features:
            raise TableError(f"features: the table has no numeric column besides the label "
                             f"{q(label)}")
        return features
    features = [str(f) for f in features]
    if not features:
        raise TableError("features: pick at least one feature column")
    unknown = [f for f in features if f not in columns]
    if unknown:
        raise TableError(f"features: there is no column named {q(unknown[0])}; the columns are "
                         f"{names_text(columns, 20)}", column=unknown[0])
    twice = sorted({f for f in features if features.count(f) > 1})
    if twice:
        raise TableError(f"features: column {q(twice[0])} is listed twice", column=twice[0])
    if label in features:
        raise TableError(f"features: {q(label)} is the label column; it cannot also be a feature",
                         column=label)
    for f in features:
        _check_feature_kind(frame, f)
    return features


def _check_feature_kind(frame: pd.DataFrame, name: str) -> None:
    if column_kind(frame[name]) == TEXT:
        note = describe_column(name, frame[name]).note
        why = f" ({note})" if note and note != "empty" else ""
        raise TableError(f"features: column {q(name)} is text{why}; features must be numeric "
                         f"(or true/false)", column=name)


def _check_name_lengths(label: str, features: list[str], classes: list[str]) -> None:
    for what, names in (("column", [label, *features]), ("class", classes)):
        for name in names:
            if not 0 < len(name) <= MAX_NAME_CHARS:
                raise TableError(f"{what} names must be 1 to {MAX_NAME_CHARS} characters long; "
                                 f"{q(name)} has {len(name)}")


def _check_test_size(test_size: float) -> float:
    setting = SETTINGS["test_size"]
    if not setting.item_ok(test_size):
        raise TableError(f"test_size must be {setting.allowed()} (the share of rows kept for "
                         f"testing); got {q(test_size)}")
    return float(test_size)


# --- bad rows -----------------------------------------------------------------------------------
def _bad_rows(frame: pd.DataFrame, label: str, features: list[str]) -> tuple[np.ndarray, dict]:
    """A mask of rows with a missing label, a missing feature or an infinite feature, and the
    counts (missing, infinite) per column at fault."""
    bad = np.zeros(len(frame), dtype=bool)
    counts: dict[str, tuple[int, int]] = {}
    for name in [label, *features]:
        missing, infinite = bad_value_masks(frame[name])
        if name == label:
            infinite = np.zeros_like(missing)
        if missing.any() or infinite.any():
            counts[name] = (int(missing.sum()), int(infinite.sum()))
            bad |= missing | infinite
    return bad, counts


def _bad_rows_error(bad: np.ndarray, counts: dict[str, tuple[int, int]]) -> BadRowsError:
    n = int(bad.sum())
    rows = row_numbers(bad)
    parts = []
    for name, (missing, infinite) in counts.items():
        what = " and ".join(f"{k} {w}" for k, w in ((missing, "missing"), (infinite, "infinite")) if k)
        parts.append(f"column {q(name)}: {what}")
    return BadRowsError(f"{n} row{'s' * (n != 1)} ({rows_text(rows, n)}) have missing values or "
                        f"infinities: {'; '.join(parts)}. Drop them (drop_bad_rows) or fix the file",
                        n_rows=n, counts=counts, rows=rows)


# --- labels -------------------------------------------------------------------------------------
def _label_values(series: pd.Series, label: str) -> tuple[np.ndarray, str]:
    """The label column as comparable values (bool, int64 or str) and its kind; measurements
    (numbers with fractions) are refused. Missing values must have been removed."""
    kind = column_kind(series)
    if kind == BOOLEAN:
        return series.to_numpy(dtype=bool), kind
    if kind == NUMERIC:
        values = series.to_numpy(dtype=np.float64)
        fractional = ~np.isfinite(values) | (values != np.round(values))
        if fractional.any():
            i = int(np.flatnonzero(fractional)[0])
            raise TableError(f"label: column {q(label)} holds measurements, not classes (row {i + 1} "
                             f"has {values[i]:g}); a class label must be text or whole numbers (a quantity to "
                             f"predict: task regression, --task regression)",
                             row=i + 1, column=label)
        return values.astype(np.int64), kind
    return series.astype(str).to_numpy(dtype=object), kind


def _factorize(values: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Codes and sorted class names (a hash table, not a sort of every row)."""
    codes, uniques = pd.factorize(values, sort=True)
    return codes.astype(np.intp), [str(u) for u in uniques]


def label_strings(series: pd.Series, label: str) -> np.ndarray:
    """The label column as class names: text as is, whole numbers without '.0', booleans as
    'False'/'True'. Missing values must have been removed."""
    codes, names = _factorize(_label_values(series, label)[0])
    return np.array(names, dtype=object)[codes]


def _encode_labels(series: pd.Series, label: str) -> tuple[np.ndarray, list[str], str]:
    """Class indices and names, in the natural order (numbers by value, text alphabetically)."""
    values, kind = _label_values(series, label)
    codes, classes = _factorize(values)
    if not MIN_CLASSES <= len(classes) <= MAX_CLASSES:
        shown = ", ".join(q(c) for c in classes[:3]) + (", ..." if len(classes) > 3 else "")
        hint = (" (is it a measurement or an id rather than a class? A quantity to predict: "
                "task regression, --task regression)") if len(classes) > MAX_CLASSES else ""
        raise TableError(f"label: column {q(label)} has {len(classes)} distinct value"
                         f"{'s' * (len(classes) != 1)} ({shown}); a label needs {MIN_CLASSES} to "
                         f"{MAX_CLASSES} classes{hint}", column=label)
    return codes, classes, kind


# --- splitting and scaling ----------------------------------------------------------------------
def split_indices(y: np.ndarray, n_classes: int, test_size: float, seed: int,
                  class_names: Sequence[str] = ()) -> tuple[np.ndarray, np.ndarray]:
    """A stratified split of rows 0..n-1: (train rows, test rows). Every class needs two rows;
    the test part gets at least one row per class, and so does the training part."""
    from sklearn.model_selection import train_test_split
    counts = np.bincount(y, minlength=n_classes)
    if counts.min() < MIN_ROWS_PER_CLASS:
        k = int(counts.argmin())
        name = class_names[k] if class_names else str(k)
        raise TableError(f"class {q(name)} has {counts[k]} row{'s' * int(counts[k] != 1)}; every class "
                         f"needs at least {MIN_ROWS_PER_CLASS} (one to train on, one to test on)")
    n = len(y)
    n_test = min(max(math.ceil(test_size * n), n_classes), n - n_classes)
    return train_test_split(np.arange(n), test_size=n_test, stratify=y, random_state=seed)


def _standardise(X: np.ndarray, train: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and scale of the training rows (a constant column gets scale 1, as in scikit-learn)."""
    with np.errstate(over="ignore", invalid="ignore"):
        mean = X[train].mean(axis=0)
        scale = X[train].std(axis=0)
    scale[~np.isfinite(scale) | (scale == 0)] = 1.0
    mean[~np.isfinite(mean)] = 0.0
    return mean, scale


def _to_float32(X: np.ndarray, features: list[str], mean: np.ndarray | None,
                scale: np.ndarray | None) -> np.ndarray:
    if mean is not None:
        X = (X - mean) / scale
    too_big = np.abs(X) > FLOAT32_MAX
    if too_big.any():
        i, j = (int(v[0]) for v in np.nonzero(too_big))
        raise TableError(f"column {q(features[j])} has a value too large for the network's float32 "
                         f"arithmetic (row {i + 1}; the limit is about 3.4e38)",
                         row=i + 1, column=features[j])
    return X.astype(np.float32)


def freeze(*arrays: np.ndarray) -> list[np.ndarray]:
    for a in arrays:
        a.setflags(write=False)
    return list(arrays)


def preprocessing_text(features: Sequence[str], classes: Sequence[str], standardize: bool) -> str:
    """What a model trained on the table expects, compared by ``nn.runs.experiment.check_model_fits``:
    'table/standardised/' or 'table/raw/' and a digest of the feature and class names, so a
    model meets only tables with its own columns (``schema_problem`` says what differs)."""
    how = "standardised" if standardize else "raw"
    digest = hashlib.sha256(json.dumps([list(features), list(classes)]).encode()).hexdigest()[:12]
    return f"table/{how}/{digest}"


def safe_name(name: str) -> str:
    """A file name made fit for a model's metadata: letters, digits and '_ .,:/+=-', at most 100."""
    cleaned = re.sub(r"[^\w .,:/+=-]", "_", str(name), flags=re.ASCII).strip() or "table"
    return cleaned[:100]


# --- the entry point ----------------------------------------------------------------------------
def dataset_from_table(frame: pd.DataFrame, label: str, features: Sequence[str] | None = None,
                       test_size: float = 0.25, standardize: bool = True,
                       drop_bad_rows: bool = False, seed: int = 0,
                       name: str = "table", task: str = "classification") -> TableDataset:
    """A ``Dataset`` from ``frame``: ``label`` names the class column (text, booleans or whole
    numbers, 2 to 50 classes, in sorted order), ``features`` the numeric input columns (default:
    every numeric or true/false column but the label), ``test_size`` the share of rows in the
    stratified, seeded test split. With ``standardize`` each feature is centred and scaled by
    the training split's mean and standard deviation. Rows with missing values or infinities
    raise ``BadRowsError`` (with counts) unless ``drop_bad_rows``. With ``task="regression"`` the
    label is a number to predict (``_quantity_dataset``). Raises ``TableError``."""
    label = str(label)
    test_size = _check_test_size(test_size)
    if not SETTINGS["seed"].item_ok(seed):
        raise TableError(f"seed must be {SETTINGS['seed'].allowed()}; got {q(seed)}")
    frame = frame.reset_index(drop=True)
    features = _check_columns(frame, label, features)
    bad, counts = _bad_rows(frame, label, features)
    n_dropped = int(bad.sum())
    if n_dropped and not drop_bad_rows:
        raise _bad_rows_error(bad, counts)
    if n_dropped:
        frame = frame.loc[~bad].reset_index(drop=True)
        if len(frame) == 0:
            raise TableError("every row has a missing value or an infinity: nothing is left")
    if task == "regression":
        return _quantity_dataset(frame, label, features, test_size, standardize, seed, name, n_dropped)
    y, classes, label_kind = _encode_labels(frame[label], label)
    _check_name_lengths(label, features, classes)
    X = frame[features].to_numpy(dtype=np.float64)
    train, test = split_indices(y, len(classes), test_size, seed, classes)
    Xs, schema = _features(X, features, train, standardize)
    schema.update(label=label, label_kind=label_kind, classes=classes)
    arrays = freeze(Xs[train], y[train], Xs[test], y[test])
    return TableDataset(safe_name(name), *arrays, n_classes=len(classes),
                        preprocessing=preprocessing_text(features, classes, standardize),
                        class_names=tuple(classes), schema=schema, n_dropped=n_dropped)


def _features(X: np.ndarray, features: list[str], train: np.ndarray,
              standardize: bool) -> tuple[np.ndarray, dict[str, Any]]:
    """The features as float32 (standardised by the training rows if asked) and the schema's
    feature part."""
    mean = scale = None
    if standardize:
        mean, scale = _standardise(X, train)
    schema = {"kind": SCHEMA_KIND, "version": SCHEMA_VERSION, "features": features,
              "standardize": bool(standardize),
              "mean": None if mean is None else [float(v) for v in mean],
              "scale": None if scale is None else [float(v) for v in scale]}
    return _to_float32(X, features, mean, scale), schema


def _quantity_dataset(frame: pd.DataFrame, label: str, features: list[str], test_size: float,
                      standardize: bool, seed: int, name: str, n_dropped: int) -> TableDataset:
    """A regression ``Dataset``: the label standardised by the training rows (one output)."""
    y = target_values(frame[label], label)
    _check_name_lengths(label, features, [])
    train, test = random_split(len(y), test_size, seed)
    Xs, schema = _features(frame[features].to_numpy(dtype=np.float64), features, train, standardize)
    target_mean, target_scale = target_scaling(y, train)
    schema.update(label=label, label_kind=column_kind(frame[label]), classes=[], task="regression",
                  target_mean=target_mean, target_scale=target_scale)
    ys = standardised(y, schema)
    arrays = freeze(Xs[train], ys[train], Xs[test], ys[test])
    return TableDataset(safe_name(name), *arrays, n_classes=1, task="regression",
                        preprocessing=preprocessing_text(features, [], standardize),
                        schema=schema, n_dropped=n_dropped)


# --- a saved model against a new table ----------------------------------------------------------
SCHEMA_KEYS = {"kind", "version", "features", "label", "label_kind", "classes", "standardize",
               "mean", "scale", "task", *TARGET_KEYS}
MAX_SCHEMA_FEATURES = 10_000


def _names_ok(values: Any, low: int, high: int) -> bool:
    return (isinstance(values, list) and low <= len(values) <= high
            and all(isinstance(v, str) and 0 < len(v) <= MAX_NAME_CHARS for v in values)
            and len(set(values)) == len(values))


def _numbers_ok(values: Any, n: int, positive: bool = False) -> bool:
    return (isinstance(values, list) and len(values) == n
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
                    and (v > 0 or not positive) for v in values))


def schema_damage(schema: Any) -> str | None:
    """What is wrong with a schema read back from a model file (None if nothing): every field
    is checked, unknown keys refused. ``nn.files.model_meta`` can call this for the 'schema' key."""
    if not isinstance(schema, dict) or schema.get("kind") != SCHEMA_KIND:
        return "the model was not trained on a table (it has no table schema)"
    unknown = sorted(set(schema) - SCHEMA_KEYS, key=str)
    if unknown:
        return f"the model's table schema has unknown entries: {names_text(unknown, 5)}"
    if schema.get("version") != SCHEMA_VERSION:
        return f"the model's table schema has version {q(schema.get('version'))}; expected {SCHEMA_VERSION}"
    features = schema.get("features")
    if not _names_ok(features, 1, MAX_SCHEMA_FEATURES):
        return "the model's table schema is damaged (bad 'features')"
    label = schema.get("label")
    if not (isinstance(label, str) and 0 < len(label) <= MAX_NAME_CHARS) or label in features:
        return "the model's table schema is damaged (bad 'label')"
    if schema.get("label_kind") not in (TEXT, NUMERIC, BOOLEAN):
        return "the model's table schema is damaged (bad 'label_kind')"
    target = target_damage(schema)
    if target:
        return target
    if schema.get("task") != "regression" and not _names_ok(schema.get("classes"), MIN_CLASSES, MAX_CLASSES):
        return "the model's table schema is damaged (bad 'classes')"
    if not isinstance(schema.get("standardize"), bool):
        return "the model's table schema is damaged (bad 'standardize')"
    for key in ("mean", "scale"):
        value = schema.get(key)
        ok = (_numbers_ok(value, len(features), positive=key == "scale") if schema["standardize"]
              else value is None)
        if not ok:
            return f"the model's table schema is damaged (bad {q(key)})"
    return None


def schema_problem(schema: dict[str, Any], table: pd.DataFrame) -> str | None:
    """Why a model with ``schema`` cannot be used on ``table`` (None if it can): missing or
    non-numeric feature columns, or label classes the model does not know. Extra columns are
    ignored; the label column may be absent (prediction only)."""
    damage = schema_damage(schema)
    if damage:
        return damage
    columns = {str(c) for c in table.columns}
    features = schema["features"]
    missing = [f for f in features if f not in columns]
    if missing:
        return (f"the model was trained on columns {names_text(features, 12)}; this table lacks "
                f"{names_text(missing, 12)}")
    for f in features:
        if column_kind(table[f]) == TEXT:
            note = describe_column(f, table[f]).note
            return (f"column {q(f)} is text in this table{f' ({note})' if note else ''}; the model "
                    f"needs numbers there")
    label = schema.get("label")
    if label in columns:
        return _label_problem(schema, table[label], label)
    return None


def _label_problem(schema: dict[str, Any], series: pd.Series, label: str) -> str | None:
    if schema.get("task") == "regression":
        try:
            target_values(series.dropna(), label)
        except TableError as exc:
            return str(exc)
        return None
    try:
        names = label_strings(series.dropna(), label)
    except TableError as exc:
        return str(exc)
    unknown = sorted(set(names.tolist()) - set(schema["classes"]))
    if unknown:
        shown = ", ".join(repr(u) for u in unknown[:5]) + (", ..." if len(unknown) > 5 else "")
        return (f"label column {q(label)} has classes the model does not know: {shown} (it knows "
                f"{names_text(schema['classes'], 10)})")
    return None


def table_arrays(schema: dict[str, Any], table: pd.DataFrame,
                 drop_bad_rows: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
    """The model's inputs (float32, standardised as in training) and, when the table has the
    label column, the class indices (regression: the standardised label). Raises ``TableError`` (``BadRowsError`` for missing values
    or infinities unless ``drop_bad_rows``)."""
    problem = schema_problem(schema, table)
    if problem:
        raise TableError(problem)
    table = table.reset_index(drop=True)
    features, label = schema["features"], schema.get("label")
    has_label = label in {str(c) for c in table.columns}
    bad, counts = _bad_rows(table, label if has_label else features[0], features)
    if bad.any():
        if not drop_bad_rows:
            raise _bad_rows_error(bad, counts)
        table = table.loc[~bad].reset_index(drop=True)
    X = table[features].to_numpy(dtype=np.float64)
    mean = np.asarray(schema["mean"]) if schema.get("standardize") else None
    scale = np.asarray(schema["scale"]) if schema.get("standardize") else None
    Xs = _to_float32(X, features, mean, scale)
    if not has_label:
        return Xs, None
    if schema.get("task") == "regression":        # in the network's units (standardised)
        return Xs, standardised(target_values(table[label], label), schema)
    y = pd.Index(schema["classes"]).get_indexer(label_strings(table[label], label))
    return Xs, y.astype(np.intp)
