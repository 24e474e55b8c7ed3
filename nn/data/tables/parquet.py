"""Reading a Parquet table, bounded by what its values take once read (issue 17).

Row groups are read in batches; each batch's decoded size is counted from its values (text kept
dictionary-encoded until counted) before it is decoded, and the page headers are checked before
any page is decompressed, so a small file that inflates to gigabytes is refused having spent at
most the limit. Odd column types and pandas metadata become ``TableError``s, never tracebacks.
"""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from nn.data.tables.limits import (MEMORY_FACTOR, TableError, TableLimits, first_line, names_text,
                                   q, too_big)
from nn.data.tables.parquet_pages import check_pages

BATCH_ROWS = 8192            # rows decoded at a time


def read_parquet(data: bytes, limits: TableLimits) -> pd.DataFrame:
    try:
        return _parquet_frame(data, limits)
    except TableError:
        raise
    except MemoryError:
        raise TableError("the Parquet file does not fit in memory") from None
    except Exception as exc:     # pyarrow (C++) raises many types on hostile files: all refusals
        if "Not yet implemented" in str(exc):     # e.g. DELTA_BYTE_ARRAY text, read as dictionaries
            raise TableError(f"the Parquet file uses a feature this reader does not support "
                             f"({first_line(exc)}); save it again with pandas' to_parquet") \
                from None
        what = "not a readable Parquet file" if not isinstance(exc, pa.ArrowException) else \
            "could not read the Parquet file"
        raise TableError(f"{what} ({first_line(exc)})") from None


def _parquet_frame(data: bytes, limits: TableLimits) -> pd.DataFrame:
    pf, columns = _open(data, limits)
    return _read_batches(pf, columns, limits)


def _open(data: bytes, limits: TableLimits) -> tuple[pq.ParquetFile, list[str]]:
    """The file, text to be read as dictionaries, and the columns to read: everything the footer
    and the page headers tell is checked here, before any value is read."""
    check_pages(data, limits)           # first: pyarrow's footer objects take ~10 x its bytes
    try:
        schema = pq.ParquetFile(pa.BufferReader(data)).schema_arrow
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise TableError(f"not a readable Parquet file ({first_line(exc)})") from None
    text = [f.name for f in schema if _is_text(f.type)]
    pf = pq.ParquetFile(pa.BufferReader(data), read_dictionary=text or None)
    names = [f.name for f in schema]
    _check_parquet_meta(pf.metadata, names, limits)
    columns = [n for n in names if n not in _pandas_index_columns(schema)] or names
    for name in columns:
        _check_type(name, schema.field(name).type)
    numbers = sum(not _is_text(_value_type(schema.field(n).type)) for n in columns)
    n_rows = pf.metadata.num_rows
    if 8 * numbers * n_rows > limits.max_decoded_bytes:          # before allocating them
        raise too_big(8 * numbers * n_rows, n_rows, n_rows, len(columns), limits)
    return pf, columns


def _read_batches(pf: pq.ParquetFile, columns: list[str], limits: TableLimits) -> pd.DataFrame:
    """The columns, batch by batch, each batch counted before it is decoded."""
    n_rows = pf.metadata.num_rows
    out = {name: _Column(name, n_rows) for name in columns}
    total, rows, overhead = 0, 0, text_overhead()
    for batch in pf.iter_batches(batch_size=BATCH_ROWS, columns=columns, use_threads=False):
        if rows + batch.num_rows > n_rows:
            raise TableError("the file holds more rows than its footer says")
        cost = [arrow_decoded_bytes(col, overhead) for col in batch.columns]
        total += sum(cost)
        if total > limits.max_decoded_bytes:
            raise too_big(total, rows + batch.num_rows, n_rows, len(columns), limits,
                          column=columns[cost.index(max(cost))])
        for name, col in zip(columns, batch.columns):
            out[name].add(_plain(col), rows)
        rows += batch.num_rows
    if not rows:
        raise TableError(f"the file has columns ({names_text(columns)}) but no data rows")
    return pd.DataFrame({name: column.series(rows) for name, column in out.items()}, copy=False)


class _Column:
    """One column being read: numbers into an array allocated once (no concatenation, so no
    second copy and no fragments), text as arrow chunks (pandas keeps text in arrow anyway)."""

    def __init__(self, name: str, n_rows: int) -> None:
        self.name, self.n_rows, self.values, self.chunks = name, n_rows, None, []

    def add(self, col, start: int) -> None:
        if _is_text(col.type):
            _check_utf8(self.name, col)
            self.chunks.append(col)
            return
        piece = col.to_pandas().to_numpy()          # pandas' own dtype: NaN / None for nulls
        if self.values is None:
            self.values = np.empty(self.n_rows, dtype=piece.dtype)
        elif piece.dtype != self.values.dtype:      # e.g. integers, then a batch with nulls
            self.values = self.values.astype(np.result_type(self.values.dtype, piece.dtype))
        self.values[start:start + len(piece)] = piece

    def series(self, rows: int) -> pd.Series:
        if self.values is None:
            return pa.chunked_array(self.chunks, type=pa.large_string()).to_pandas()
        return pd.Series(self.values[:rows], copy=False)


def _check_utf8(name: str, col) -> None:
    """Parquet's reader does not check that text is UTF-8; pandas would fail on it later."""
    try:
        col.validate(full=True)
    except pa.ArrowInvalid:
        raise TableError(f"column {q(name)} holds text that is not valid UTF-8",
                         column=name) from None


def _check_parquet_meta(meta, names: list[str], limits: TableLimits) -> None:
    """Columns, rows and names from the footer: refused before any value is read."""
    if len(names) > limits.max_columns:
        raise TableError(f"the table has {len(names)} columns; the limit is {limits.max_columns} "
                         f"(NN_MAX_TABLE_COLUMNS)")
    if meta.num_rows > limits.max_rows:
        raise TableError(f"the table has {meta.num_rows:,} rows; the limit is {limits.max_rows:,} "
                         f"(NN_MAX_TABLE_ROWS)")
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise TableError(f"the file names column {q(dupes[0])} twice; column names must differ",
                         column=dupes[0])
    # the sizes the file declares: a cheap early refusal for honest files, never the only check
    declared = sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
    if declared > limits.max_decoded_bytes:
        raise TableError(f"the Parquet file holds {declared / 2**20:.0f} MB of data once "
                         f"uncompressed; the limit is {limits.max_decoded_bytes // 2**20} MB "
                         f"({MEMORY_FACTOR} x NN_MAX_TABLE_MB)")


def _pandas_index_columns(schema) -> set[str]:
    """The columns pandas stored its index in (dropped, as pandas does); odd metadata: none."""
    try:
        spec = json.loads((schema.metadata or {}).get(b"pandas", b"{}"))
        found = spec.get("index_columns", []) if isinstance(spec, dict) else []
        return {c for c in found if isinstance(c, str)} if isinstance(found, list) else set()
    except (ValueError, TypeError, RecursionError):
        return set()


def _value_type(t):
    return t.value_type if pa.types.is_dictionary(t) else t


def _is_text(t) -> bool:
    is_view = getattr(pa.types, "is_string_view", lambda t: False)      # pyarrow >= 16
    return pa.types.is_string(t) or pa.types.is_large_string(t) or is_view(t)


def _is_plain(t) -> bool:
    """Types read as numbers (or booleans) or text, as the same table in a CSV would be."""
    return (pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_boolean(t)
            or pa.types.is_null(t) or pa.types.is_decimal(t) or pa.types.is_temporal(t)
            or _is_text(t))


def _check_type(name: str, t) -> None:
    if _is_plain(t) or (pa.types.is_dictionary(t) and _is_plain(t.value_type)):
        return
    kind = ("binary (bytes)" if pa.types.is_binary(t) or pa.types.is_large_binary(t)
            or pa.types.is_fixed_size_binary(t) or str(t) == "binary_view"
            else "nested (a list, struct or map)" if pa.types.is_nested(t) else str(t))
    raise TableError(f"column {q(name)} holds {kind} values ({q(str(t), 40)}); a table's columns "
                     f"must hold numbers or text", column=name)


def text_overhead() -> int:
    """Bytes a text value takes in pandas besides its characters: its offset where pandas keeps
    text in arrow (pandas 3), else a Python str object (49 bytes) and its pointer."""
    return 57 if pd.Series(["a"]).dtype == object else 8


def arrow_decoded_bytes(col, overhead: int = 8) -> int:
    """What a pyarrow array will take once decoded into a pandas column: 8 bytes a number; a
    text value's length plus ``overhead``. Dictionary-encoded text is counted undecoded."""
    t = col.type
    if pa.types.is_dictionary(t) and _is_text(t.value_type):
        lengths = pc.take(pc.binary_length(col.dictionary), col.indices)
        return int(pc.sum(lengths).as_py() or 0) + overhead * len(col)
    if _is_text(t):
        return int(pc.sum(pc.binary_length(col)).as_py() or 0) + overhead * len(col)
    if pa.types.is_temporal(t):
        return (32 + overhead) * len(col)   # read as text: "2024-01-31 12:00:00.000000000+00:00"
    return 8 * len(col)


def _plain(col):
    """The array as pandas should receive it: text as large_string (pandas' own storage),
    dates and times as text and decimals as floats (as read from a CSV), dictionaries decoded."""
    if pa.types.is_dictionary(col.type):
        col = col.dictionary_decode()
    t = col.type
    if _is_text(t) or pa.types.is_temporal(t):
        return col.cast(pa.large_string())
    if pa.types.is_decimal(t) or pa.types.is_float16(t):
        return col.cast(pa.float64())
    return col
