"""Any ``Dataset`` as CSV: feature columns, the label and a ``split`` column (train / test)."""
from __future__ import annotations

import re

import numpy as np
import pandas as pd

from nn.data import Dataset

FLOAT_FORMAT = "%.7g"
# A spreadsheet runs a cell starting with one of these as a formula (OWASP, "CSV Injection")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def defuse(text: str) -> str:
    """``text`` with a leading ``'`` if a spreadsheet would read it as a formula (OWASP); a
    plain number such as ``-1.5`` is left as it is: it is not a formula."""
    if text.startswith(FORMULA_STARTS) and not NUMBER.fullmatch(text):
        return "'" + text
    return text


def feature_names(data: Dataset) -> list[str]:
    """A table's own column names, ``pixel0..`` for images, a 2-D set's features, ``x1, x2, ...`` otherwise."""
    schema = getattr(data, "schema", None) or {}
    if schema.get("features"):
        return list(schema["features"])
    if data.features:                               # a 2-D set read as its features: x1sq, sinx1
        return list(data.features)
    prefix = "pixel" if data.image_shape else "x"
    start = 0 if data.image_shape else 1
    return [f"{prefix}{i + start}" for i in range(data.n_features)]


def _original_units(data: Dataset, X: np.ndarray) -> np.ndarray:
    """Undo a table's standardisation, so the CSV holds the user's own values."""
    schema = getattr(data, "schema", None) or {}
    X = X.astype(np.float64)
    if schema.get("standardize"):
        X = X * np.asarray(schema["scale"]) + np.asarray(schema["mean"])
    return X


def dataset_frame(data: Dataset) -> pd.DataFrame:
    """Train rows then test rows, with the label (class names when the set has them)."""
    schema = getattr(data, "schema", None) or {}
    label = schema.get("label", "label")
    names = feature_names(data)
    if label in names or label == "split":
        label = "label" if "label" not in names else "class"
    X = np.concatenate([_original_units(data, data.X_train), _original_units(data, data.X_test)])
    y = np.concatenate([data.y_train, data.y_test])
    frame = pd.DataFrame(X, columns=names)
    labels = np.asarray(data.class_names, dtype=object)[y] if data.class_names else y
    frame[label] = labels
    frame["split"] = np.repeat(["train", "test"], [len(data.y_train), len(data.y_test)])
    return frame


def defused_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with its column names and text cells passed through ``defuse``; numbers kept."""
    out = frame.rename(columns=lambda name: defuse(str(name)))
    for i in range(out.shape[1]):
        column = out.iloc[:, i]
        if not pd.api.types.is_numeric_dtype(column.dtype):          # text (numbers stay numbers)
            out.isetitem(i, column.map(lambda v: defuse(v) if isinstance(v, str) else v))
    return out


def dataset_to_csv(data: Dataset) -> bytes:
    """The dataset as UTF-8 CSV bytes (for ``st.download_button``). Reading it back with
    ``read_table`` and ``dataset_from_table(frame, label, test_size=...)`` gives the same rows;
    the ``split`` column is text, so it is left out of the features. Names and text cells that a
    spreadsheet would run as formulas (``=``, ``+``, ``-``, ``@``, tab, CR) start with ``'``."""
    frame = defused_frame(dataset_frame(data))
    # CRLF line ends (RFC 4180): the csv writer then quotes a cell holding a CR, not only a LF
    return frame.to_csv(index=False, float_format=FLOAT_FORMAT, lineterminator="\r\n").encode()
