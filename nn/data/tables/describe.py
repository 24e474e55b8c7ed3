"""What the page shows about a table before the user picks columns: the first rows, each
column's kind, and where the missing values and infinities are."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from nn.data.tables.limits import q

NUMERIC, BOOLEAN, TEXT = "numeric", "boolean", "text"
MAX_CLASSES = 50
ROW_EXAMPLES = 5            # row numbers quoted in messages


def column_kind(series: pd.Series) -> str:
    """'boolean' (True/False), 'numeric' (integers or floats) or 'text' (anything else)."""
    if pd.api.types.is_bool_dtype(series.dtype):
        return BOOLEAN
    if pd.api.types.is_numeric_dtype(series.dtype) and not pd.api.types.is_complex_dtype(series.dtype):
        return NUMERIC
    return TEXT


def row_numbers(mask: np.ndarray, most: int = ROW_EXAMPLES) -> list[int]:
    """The first ``most`` rows (1-based: row 1 is the first row under the header) where mask holds."""
    return [int(i) + 1 for i in np.flatnonzero(mask)[:most]]


def rows_text(rows: list[int], total: int) -> str:
    shown = ", ".join(str(r) for r in rows)
    return f"row {shown}" if total == 1 else f"rows {shown}" + (", ..." if total > len(rows) else "")


@dataclass(frozen=True)
class ColumnInfo:
    name: str
    kind: str                   # numeric / boolean / text
    n_missing: int
    n_infinite: int
    n_distinct: int             # distinct values, missing ones not counted
    bad_rows: tuple[int, ...]   # the first rows (1-based) holding a missing value or an infinity
    whole_numbers: bool         # booleans, or numbers that are all whole (possible classes)
    note: str = ""              # why a column is text, e.g. "not numeric: row 17 has 'abc'"

    @property
    def usable_as_feature(self) -> bool:
        return self.kind in (NUMERIC, BOOLEAN)

    @property
    def usable_as_label(self) -> bool:
        """2 to 50 classes of text, booleans or whole numbers."""
        return 2 <= self.n_distinct <= MAX_CLASSES and (self.kind == TEXT or self.whole_numbers)


@dataclass(frozen=True)
class TableSummary:
    n_rows: int
    n_columns: int
    head: pd.DataFrame                 # the first rows, as read
    columns: tuple[ColumnInfo, ...]
    n_bad_rows: int                    # rows with a missing value or an infinity anywhere

    @property
    def numeric_columns(self) -> list[str]:
        return [c.name for c in self.columns if c.usable_as_feature]

    @property
    def non_numeric_columns(self) -> list[str]:
        """Text columns: named on the page and left out of the features."""
        return [c.name for c in self.columns if not c.usable_as_feature]

    @property
    def decimal_comma_columns(self) -> list[str]:
        """Text columns holding numbers written with a decimal comma (5,1)."""
        return [c.name for c in self.columns if "decimal comma" in c.note]

    @property
    def label_candidates(self) -> list[str]:
        """Columns that could be the label, the likeliest (text, fewest classes, last) first."""
        found = [c for c in self.columns if c.usable_as_label]
        order = {TEXT: 0, BOOLEAN: 1, NUMERIC: 2}
        return [c.name for c in sorted(found, key=lambda c: (order[c.kind], c.n_distinct))]

    def column(self, name: str) -> ColumnInfo:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)

    def columns_frame(self) -> pd.DataFrame:
        """One row per column, ready for ``st.dataframe``."""
        return pd.DataFrame({
            "column": [c.name for c in self.columns],
            "kind": [c.kind for c in self.columns],
            "distinct": [c.n_distinct for c in self.columns],
            "missing": [c.n_missing for c in self.columns],
            "infinite": [c.n_infinite for c in self.columns],
            "first bad rows": [", ".join(map(str, c.bad_rows)) for c in self.columns],
            "note": [c.note for c in self.columns],
        })

    def problems(self) -> list[str]:
        """Sentences about missing values and infinities, one per column that has any."""
        out = []
        for c in self.columns:
            parts = [f"{n} {what}" for n, what in ((c.n_missing, "missing"), (c.n_infinite, "infinite"))
                     if n]
            if parts:
                out.append(f"column {q(c.name)}: {' and '.join(parts)} "
                           f"({rows_text(list(c.bad_rows), c.n_missing + c.n_infinite)})")
        return out


def bad_value_masks(series: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(missing, infinite) boolean masks of a column."""
    missing = series.isna().to_numpy()
    if column_kind(series) == NUMERIC:
        values = series.to_numpy(dtype=np.float64, na_value=np.nan)
        infinite = np.isinf(values)
    else:
        infinite = np.zeros(len(series), dtype=bool)
    return missing, infinite


NUMBER = r"\s*[-+]?(?:\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?|[iI]nf(?:inity)?|nan|NaN)\s*"
DECIMAL_COMMA = r"\s*[-+]?\d+,\d+(?:[eE][-+]?\d+)?\s*"
NOTE_SAMPLE = 200


def _text_note(series: pd.Series) -> str:
    """For a text column that is mostly numbers: the first value that is not one. A sample
    decides whether to look; the look is one vectorised regular-expression pass."""
    present = series.dropna()
    if present.empty:
        return "empty"
    as_text = present.astype(str)
    if as_text.iloc[:NOTE_SAMPLE].str.fullmatch(DECIMAL_COMMA).mean() >= 0.5:
        return f"not numeric: numbers written with a decimal comma, e.g. {q(present.iloc[0])}"
    if as_text.iloc[:NOTE_SAMPLE].str.fullmatch(NUMBER).mean() < 0.5:
        return ""
    numeric = as_text.str.fullmatch(NUMBER).to_numpy(dtype=bool)
    if numeric.all():
        return ""
    first = as_text.index[int(np.argmin(numeric))]
    return f"not numeric: row {int(first) + 1} has {q(present[first])}"


def _whole_numbers(series: pd.Series, kind: str) -> bool:
    if kind != NUMERIC:
        return kind == BOOLEAN
    values = series.to_numpy(dtype=np.float64, na_value=np.nan)
    values = values[np.isfinite(values)]
    return bool(np.all(values == np.round(values)))


def describe_column(name: str, series: pd.Series,
                    masks: tuple[np.ndarray, np.ndarray] | None = None) -> ColumnInfo:
    missing, infinite = masks if masks is not None else bad_value_masks(series)
    kind = column_kind(series)
    return ColumnInfo(name=str(name), kind=kind, n_missing=int(missing.sum()),
                      n_infinite=int(infinite.sum()), n_distinct=int(series.nunique(dropna=True)),
                      bad_rows=tuple(row_numbers(missing | infinite)),
                      whole_numbers=_whole_numbers(series, kind),
                      note=_text_note(series) if kind == TEXT else "")


def describe_table(frame: pd.DataFrame, n_head: int = 10) -> TableSummary:
    """The first ``n_head`` rows, each column's kind and bad values, and how many rows have any."""
    frame = frame.reset_index(drop=True)
    columns, any_bad = [], np.zeros(len(frame), dtype=bool)
    for name in frame.columns:
        missing, infinite = bad_value_masks(frame[name])
        any_bad |= missing | infinite
        columns.append(describe_column(name, frame[name], (missing, infinite)))
    return TableSummary(n_rows=len(frame), n_columns=frame.shape[1], head=frame.head(n_head),
                        columns=tuple(columns), n_bad_rows=int(any_bad.sum()))
