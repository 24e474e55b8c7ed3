"""Reading a user's table (CSV, TSV or Parquet) from bytes, a file object or a path, bounded.

Everything happens in memory: the bytes are never written to disk. The byte limit is checked
before anything is parsed; the column limit on the header (CSV) or the file's metadata (Parquet)
before the body is read; the row limit by parsing at most ``max_rows + 1`` rows. What the table
takes once read (``decoded_bytes``) is bounded too, by ``MEMORY_FACTOR`` x the byte limit: a CSV
by rows x columns x 8 before parsing and its frame after, Parquet batch by batch as it is decoded
(``nn.data.tables.parquet``). Every problem becomes a ``TableError`` whose message names the line
(or row) and the column at fault.

Rows are numbered as a spreadsheet user counts them under the header: row 1 is the first data
row. File syntax problems (ragged lines, bad bytes) name the line of the file, header = line 1.
"""
from __future__ import annotations

import csv
import io
import os
import re
from pathlib import Path
from typing import IO, Union

import pandas as pd

from nn.data.tables.limits import TableError, TableLimits, names_text, q, table_limits, too_big

DELIMITERS = (",", "\t", ";", "|")
TEXT_SUFFIXES = {".csv": None, ".txt": None, ".tsv": "\t", ".tab": "\t"}
PARQUET_SUFFIXES = (".parquet", ".pq")
SNIFF_LINES = 20

Source = Union[bytes, bytearray, memoryview, str, os.PathLike, IO[bytes]]


# --- getting the bytes, bounded -----------------------------------------------------------------
def _read_bytes(source: Source, limits: TableLimits) -> tuple[bytes, str]:
    """The source's bytes and its file name ('' if unknown); too big -> refused before reading."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        _check_size(len(source), limits)
        return bytes(source), ""
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        try:
            _check_size(path.stat().st_size, limits)
            return path.read_bytes(), path.name
        except OSError as exc:
            raise TableError(f"cannot read {path} ({exc.strerror or exc})") from None
    if hasattr(source, "read"):
        size = getattr(source, "size", None)       # Streamlit's UploadedFile knows its size
        if isinstance(size, int):
            _check_size(size, limits)
        data = source.read(limits.max_bytes + 1)
        _check_size(len(data), limits)
        return bytes(data), os.path.basename(str(getattr(source, "name", "") or ""))
    raise TypeError(f"read_table takes bytes, a path or a binary file; got {type(source).__name__}")


def _check_size(n_bytes: int, limits: TableLimits) -> None:
    if n_bytes > limits.max_bytes:
        raise TableError(f"the file is {n_bytes / 2**20:.1f} MB; tables may be at most "
                         f"{limits.max_mb} MB (NN_MAX_TABLE_MB)")


# --- recognising the format ---------------------------------------------------------------------
_SIGNATURES = {          # magic bytes: (what the file is, what to do)
    b"PK\x03\x04": ("a zip archive or an Excel workbook (.xlsx)", "save the sheet as CSV"),
    b"\x1f\x8b": ("a gzip-compressed file", "upload it uncompressed"),
    b"\xd0\xcf\x11\xe0": ("an old Excel workbook (.xls)", "save the sheet as CSV"),
    b"%PDF": ("a PDF document", ""),
    b"\x89PNG": ("a PNG image", ""),
    b"\xff\xd8\xff": ("a JPEG image", ""),
}
CONTROL_BYTES = bytes(set(range(32)) - {9, 10, 13})


def _is_parquet(data: bytes, name: str) -> bool:
    if name.lower().endswith(PARQUET_SUFFIXES):
        return True
    return len(data) >= 8 and data[:4] == b"PAR1" and data[-4:] == b"PAR1"


def _refuse_binary(data: bytes) -> None:
    for magic, (what, todo) in _SIGNATURES.items():
        if data.startswith(magic):
            raise TableError(f"this is {what}, not a CSV, TSV or Parquet table"
                             + (f"; {todo}" if todo else ""))
    nul = data.find(b"\x00", 0, 1 << 16)
    head = data[:4096]
    control = len(head) - len(head.translate(None, CONTROL_BYTES))
    if nul >= 0 or control > 0.05 * len(head):
        line = data.count(b"\n", 0, nul) + 1
        where = f": a NUL byte on line {line}" if nul >= 0 else ""
        raise TableError(f"this looks like a binary file, not text{where}; expected CSV, TSV "
                         f"or Parquet")


def _as_utf8(data: bytes) -> bytes:
    """UTF-8 bytes without a BOM (UTF-16 with a BOM, as Excel's 'Unicode text' writes, is
    converted); anything else that is not UTF-8 is refused with its line and byte."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            data = data.decode("utf-16").encode("utf-8")
        except UnicodeDecodeError:
            raise TableError("the file starts like UTF-16 text but is not valid UTF-16") from None
    _refuse_binary(data)
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    if not data.isascii():
        try:
            str(data, "utf-8")
        except UnicodeDecodeError as exc:
            _refuse_encoding(data, exc.start)
    return data


def _refuse_encoding(data: bytes, offset: int) -> None:
    line_start = data.rfind(b"\n", 0, offset) + 1
    line = data.count(b"\n", 0, offset) + 1
    where = f"line {line}, character {offset - line_start + 1}"
    header, column = _header_guess(data), None
    if header and line > 1:
        prefix = data[line_start:offset].decode("utf-8", "replace")
        delim = _sniff_delimiter([data[:data.find(b"\n")].decode("utf-8", "replace")])
        index = (_fields([prefix], delim) or [0])[0] - 1
        if 0 <= index < len(header):
            column = header[index]
            where += f" (row {line - 1}, column {q(column)})"
    raise TableError(f"the file is not UTF-8 text: byte 0x{data[offset]:02x} at {where}. "
                     f"Save it as UTF-8 (in Excel: 'CSV UTF-8')",
                     row=line - 1 if line > 1 else None, column=column)


def _header_guess(data: bytes) -> list[str]:
    end = data.find(b"\n")
    first = data[: end if end >= 0 else len(data)].decode("utf-8", "replace")
    try:
        return next(csv.reader([first], delimiter=_sniff_delimiter([first])), [])
    except csv.Error:
        return []


# --- CSV / TSV ----------------------------------------------------------------------------------
def _fields(lines: list[str], delim: str) -> list[int] | None:
    """Field counts of ``lines`` split by ``delim`` (None if the csv module refuses them)."""
    try:
        return [len(row) for row in csv.reader(lines, delimiter=delim)]
    except csv.Error:              # e.g. a field over the csv module's 128 KB limit
        return None


def _sniff_delimiter(lines: list[str]) -> str:
    """The candidate that splits the first lines into the same number (> 1) of fields, the most
    fields winning; else the one splitting the header most; ',' when nothing splits."""
    best, best_n = ",", 1
    for delim in DELIMITERS:
        counts = set(_fields(lines, delim) or [0, -1])
        n = counts.pop() if len(counts) == 1 else 0
        if n > best_n:
            best, best_n = delim, n
    if best_n == 1 and lines:
        n, delim = max(((_fields(lines[:1], d) or [0])[0], d) for d in DELIMITERS)
        best = delim if n > 1 else ","
    return best


def _text_lines(data: bytes):
    """Lines of the file, lazily, with their 1-based line numbers (blank lines skipped)."""
    stream = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8", newline="")
    for number, line in enumerate(stream, start=1):
        text = line.rstrip("\r\n")
        if text.strip():
            yield number, text


def _records(data: bytes, delim: str, limit: int):
    """(line number, field count) of the header and at most ``limit`` data records."""
    if b'"' not in data:               # no quoting: a line is a record
        for k, (number, text) in enumerate(_text_lines(data)):
            if k > limit:
                return
            yield number, text.count(delim) + 1
        return
    stream = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8", newline="")
    reader = csv.reader(stream, delimiter=delim, strict=True)
    k, ended = 0, 0            # records so far; the line the last record ended on
    try:
        for row in reader:
            if not row or (len(row) == 1 and not row[0].strip()):
                ended = reader.line_num
                continue
            if k > limit:
                return
            yield ended + 1, len(row)
            k, ended = k + 1, reader.line_num
    except csv.Error as exc:
        raise TableError(f"line {ended + 1}{f' (row {k})' if k else ''}: {exc}; is a quote "
                         f"opened there and never closed?", row=k or None) from None


def _check_shape(data: bytes, delim: str, header: list[str], limits: TableLimits) -> None:
    """Every line has as many fields as the header, and there are not too many lines; the
    message names the first ragged line and the column it gains or lacks."""
    n_cols = len(header)
    for k, (line, n) in enumerate(_records(data, delim, limits.max_rows + 1)):
        if k > limits.max_rows:
            raise TableError(f"the table has more than {limits.max_rows:,} rows; the limit is "
                             f"{limits.max_rows:,} (NN_MAX_TABLE_ROWS)")
        if n == n_cols:
            continue
        if n > n_cols:
            raise TableError(f"line {line} (row {k}) has {n} fields but the header names {n_cols} "
                             f"columns: field {n_cols + 1} has no column (a stray {_show(delim)} or an "
                             f"unquoted value containing one?)", row=k, column=None)
        raise TableError(f"line {line} (row {k}) has {n} fields but the header names {n_cols} "
                         f"columns: column {q(header[n])} is missing from it", row=k, column=header[n])


def _show(delim: str) -> str:
    return {"\t": "tab", ",": "comma", ";": "semicolon", "|": "bar"}[delim]


def _read_text(data: bytes, name: str, limits: TableLimits) -> pd.DataFrame:
    data = _as_utf8(data)
    first = [text for _, text in _take(_text_lines(data), SNIFF_LINES)]
    if not first:
        raise TableError("the file is empty (no header, no rows)")
    forced = TEXT_SUFFIXES.get(Path(name).suffix.lower()) if name else None
    delim = forced or _sniff_delimiter(first)
    header = _header(first[0], delim, limits)
    _check_csv_memory(data, delim, header, limits)
    decimal = decimal_mark(first[1:], delim)
    try:
        frame = pd.read_csv(io.BytesIO(data), sep=delim, nrows=limits.max_rows + 1, engine="c",
                            encoding="utf-8", skip_blank_lines=True, decimal=decimal)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError, UnicodeDecodeError) as exc:
        _check_shape(data, delim, header, limits)          # names the line and column, if it can
        raise TableError(f"could not read the table: {_parser_message(exc)}") from None
    if len(frame) > limits.max_rows:
        raise TableError(f"the table has more than {limits.max_rows:,} rows; the limit is "
                         f"{limits.max_rows:,} (NN_MAX_TABLE_ROWS)")
    if len(frame) == 0:
        raise TableError(f"the file has a header ({names_text(header)}) but no data rows")
    if _maybe_short_rows(data, delim, len(header), len(frame)):
        _check_shape(data, delim, header, limits)
    size = decoded_bytes(frame)
    if size > limits.max_decoded_bytes:                           # e.g. long text cells
        raise too_big(size, len(frame), len(frame), len(header), limits)
    if decimal == ",":
        frame.attrs["decimal_comma"] = True                       # the page says so
    return frame


DECIMAL_COMMA = re.compile(r"\s*[-+]?\d+,\d+(?:[eE][-+]?\d+)?\s*")
DECIMAL_POINT = re.compile(r"\s*[-+]?\d*\.\d+(?:[eE][-+]?\d+)?\s*")


def decimal_mark(lines: list[str], delim: str) -> str:
    """',' when the fields are not separated by commas and the numbers of the first data
    ``lines`` are written with a decimal comma (5,1), as spreadsheets in much of Europe save
    them; else '.'. Either mark seen alone decides; both seen (or neither): '.'."""
    if delim == ",":
        return "."
    try:
        cells = [cell for row in csv.reader(lines, delimiter=delim) for cell in row]
    except csv.Error:
        return "."
    commas = any(DECIMAL_COMMA.fullmatch(c) for c in cells)
    points = any(DECIMAL_POINT.fullmatch(c) for c in cells)
    return "," if commas and not points else "."


def _check_csv_memory(data: bytes, delim: str, header: list[str], limits: TableLimits) -> None:
    """Every cell takes at least 8 bytes once read (a number, or a text's offset), however short
    in the file (an empty cell is one byte): refuse rows x columns x 8 over the limit before
    parsing. Rows are counted by line ends (exactly, record by record, if quotes may hide some)."""
    ends = max(data.count(b"\n"), data.count(b"\r"))
    rows = ends + (not data.endswith((b"\n", b"\r"))) - 1            # lines, less the header
    if rows * len(header) * 8 > limits.max_decoded_bytes and b'"' in data:
        rows = sum(1 for _ in _records(data, delim, limits.max_rows + 1)) - 1
    if rows * len(header) * 8 > limits.max_decoded_bytes:
        raise too_big(rows * len(header) * 8, rows, rows, len(header), limits)


def _maybe_short_rows(data: bytes, delim: str, n_cols: int, n_rows: int) -> bool:
    """pandas refuses a line with too many fields but fills a short one with missing values.
    Without quotes, every line having all its fields means exactly (rows + 1) x (columns - 1)
    delimiters in the file (blank lines have none): one C-speed count instead of a Python loop
    over the lines. With quotes a delimiter may be data: then the lines are checked one by one."""
    if b'"' in data:
        return True
    return data.count(delim.encode()) != (n_rows + 1) * (n_cols - 1)


def _take(iterator, n: int) -> list:
    out = []
    for item in iterator:
        out.append(item)
        if len(out) >= n:
            break
    return out


def _header(line: str, delim: str, limits: TableLimits) -> list[str]:
    try:
        header = next(csv.reader([line], delimiter=delim))
    except csv.Error as exc:
        raise TableError(f"line 1 (the header) cannot be read: {exc}") from None
    if len(header) > limits.max_columns:
        raise TableError(f"the table has {len(header)} columns; the limit is {limits.max_columns} "
                         f"(NN_MAX_TABLE_COLUMNS)")
    seen: dict[str, int] = {}
    for i, col in enumerate(header):
        key = col.strip()
        if key and key in seen:
            raise TableError(f"the header names column {q(key)} twice (columns {seen[key] + 1} and "
                             f"{i + 1}); column names must differ", column=key)
        seen[key] = i
    return header


def _parser_message(exc: Exception) -> str:
    text = str(exc).strip()
    m = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", text)
    if m:
        return f"line {m[2]} has {m[3]} fields but the header names {m[1]} columns"
    return text.splitlines()[0] if text else type(exc).__name__


def decoded_bytes(frame: pd.DataFrame) -> int:
    """The memory a table's values take once read (text counted by its characters): what a
    server-wide budget counts for a kept table. The reader refuses tables over
    ``table_limits().max_decoded_bytes`` by this measure."""
    return int(frame.memory_usage(index=True, deep=True).sum())


def _read_parquet(data: bytes, limits: TableLimits) -> pd.DataFrame:
    from nn.data.tables.parquet import read_parquet     # pyarrow is loaded only for Parquet
    return read_parquet(data, limits)


# --- the entry point ----------------------------------------------------------------------------
def read_table(source: Source, name: str | None = None,
               limits: TableLimits | None = None) -> pd.DataFrame:
    """Read a CSV, TSV or Parquet table from bytes, a binary file object (e.g. Streamlit's
    ``UploadedFile``) or a path, within ``limits`` (default: ``table_limits()``).

    The format comes from ``name`` (or the file's own name): ``.parquet``/``.pq``, ``.tsv``/
    ``.tab`` (tab), ``.csv``/``.txt`` (delimiter sniffed among , tab ; |); without a name,
    Parquet is recognised by its magic bytes and text is sniffed. Raises ``TableError``.
    """
    limits = limits or table_limits()
    data, own_name = _read_bytes(source, limits)
    name = name or own_name
    if not data.strip():
        raise TableError("the file is empty (no header, no rows)")
    if _is_parquet(data, name):
        return _read_parquet(data, limits)
    return _read_text(data, name, limits)
