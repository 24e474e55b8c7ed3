"""Any ``Dataset`` as CSV: feature columns, the label and a ``split`` column (train / test)."""
from __future__ import annotations

import numpy as np
import pandas as pd

from nn.data import Dataset

FLOAT_FORMAT = "%.7g"


def feature_names(data: Dataset) -> list[str]:
    """A table's own column names, ``pixel0..`` for images, ``x1, x2, ...`` otherwise."""
    schema = getattr(data, "schema", None) or {}
    if schema.get("features"):
        return list(schema["features"])
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


def dataset_to_csv(data: Dataset) -> bytes:
    """The dataset as UTF-8 CSV bytes (for ``st.download_button``). Reading it back with
    ``read_table`` and ``dataset_from_table(frame, label, test_size=...)`` gives the same rows;
    the ``split`` column is text, so it is left out of the features."""
    return dataset_frame(data).to_csv(index=False, float_format=FLOAT_FORMAT).encode()
