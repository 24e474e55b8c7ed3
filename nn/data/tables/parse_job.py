"""Reading an uploaded table in a worker process with hard limits (issue 17), for the app.

``read_table`` stays the reader (the command line calls it in its own process). The app calls
``read_table_isolated``: the bytes go to a single-use worker (``nn.hosting.isolated``) whose memory
limit comes from ``estimate``, made before anything is parsed from the file's actual size and
what the existing checks count (rows x columns x 8 for text tables; for Parquet the rows,
columns and inflated page sizes read from the file's own Thrift, never by pyarrow in this
process). The reader's own limits still refuse what they refuse; the worker is the safety net:
a table that takes more than estimated ends that read with a message, never the server.

The table comes back column by column, each as NumPy arrays (numbers as they are; text as
UTF-8 bytes, offsets and a validity mask, in pieces of at most ``PIECE_BYTES``), so that this
process holds the table once and at most one piece besides.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import pandas as pd

from nn.data.tables.limits import TableError, TableLimits, table_limits
from nn.data.tables.reading import _is_parquet, read_table

MB = 2**20
WHAT = "this table"
SLACK = 32 * MB              # address space for pyarrow's pools and thread stacks (beyond the
                             # worker's own margin); pandas is imported before the limit is set
COPIES_OF_FILE = 2           # the bytes as sent, and as ``bytes`` for the reader
COPIES_OF_TABLE = 1.25       # the frame, and the parser's pieces of it (measured: 1 to 1.2)
PIECE_BYTES = 16 * MB        # text is sent back in pieces of at most this many characters
CPU_SECONDS = 20.0           # a read's CPU time: this, plus ...
CPU_SECONDS_PER_MB = 1.0     # ... this per MB of file (CSV parses at ~50 MB/s; Parquet faster)


@dataclass(frozen=True)
class ParseEstimate:
    """What reading a table may take: ``bytes`` of memory (counted in the server's budget),
    ``limit_bytes`` (the worker's address space beyond its start) and ``cpu_seconds``."""
    bytes: int
    limit_bytes: int
    cpu_seconds: float
    table_bytes: int         # what the table takes once read, at most (about)
    cells_bytes: int         # what it takes at least: 8 bytes a cell


def estimate(data: bytes, name: str = "", limits: TableLimits | None = None) -> ParseEstimate:
    """The memory and time reading ``data`` may take, from its size and shape, before parsing.
    A file the reader would refuse for its size alone is estimated at the reader's limit."""
    limits = limits or table_limits()
    cells, decoded = _parquet_decoded(data, limits) if _is_parquet(data, name) else _text_decoded(data)
    table = min(decoded, limits.max_decoded_bytes)
    nbytes = COPIES_OF_FILE * len(data) + COPIES_OF_TABLE * table + min(table, PIECE_BYTES)
    cpu = CPU_SECONDS + CPU_SECONDS_PER_MB * len(data) / MB
    limit = max(int(nbytes + SLACK), MB)            # never 0: ``isolated`` reads 0 as no limit
    return ParseEstimate(int(nbytes), limit, cpu, int(table), int(cells))


def _text_decoded(data: bytes) -> tuple[int, int]:
    """(at least, about) what a text table takes once read: 8 bytes a cell (data rows by line
    ends, columns by the first line's most frequent delimiter), or its bytes if more (text)."""
    end = data.find(b"\n", 0, 1 << 20)
    head = bytes(data[:end if end >= 0 else 1 << 20])
    columns = 1 + max(head.count(d) for d in (b",", b"\t", b";", b"|"))
    ends = data.count(b"\n") or data.count(b"\r")
    rows = max(ends + (not data.endswith((b"\n", b"\r"))) - 1, 0)       # lines, less the header
    cells = rows * columns * 8
    return cells, max(cells, len(data))


def _parquet_decoded(data: bytes, limits: TableLimits) -> tuple[int, int]:
    """(at least, about) what a Parquet table takes once read, as its footer and page headers
    tell (read by our own bounded Thrift reader, ``parquet_pages``; never pyarrow here): 8 bytes
    a value, or its pages' inflated size if more. A dictionary may decode to far more than its
    pages (a text repeated): then the reader's own limit, up to which it reads before refusing."""
    from nn.data.tables.parquet_pages import sizes
    try:
        rows, columns, inflated, dictionary = sizes(data, limits)
    except (TableError, ValueError, IndexError):
        return 0, len(data)                    # the reader will refuse it, in the worker
    cells = rows * columns * 8
    return cells, limits.max_decoded_bytes if dictionary else max(cells, inflated, len(data))


# --- the worker's side ---------------------------------------------------------------------------
def parse_task(channel: Any, payload: dict[str, Any], arrays: dict[str, np.ndarray]) -> dict[str, Any]:
    """In the worker: read the table, send it column by column, return its names and notes (or
    the reader's refusal, as a message with its row and column)."""
    import pyarrow as pa
    pa.set_memory_pool(pa.system_memory_pool())      # mimalloc reserves far more address space
    data = arrays.pop("data").tobytes()              # than it uses: the limit would end it early
    try:
        frame = read_table(data, name=payload["name"], limits=payload["limits"])
    except TableError as exc:
        return {"error": (str(exc), exc.row, exc.column)}
    del data
    names = list(frame.columns)
    for i in range(len(names)):
        for piece in _column_pieces(frame.iloc[:, i]):
            channel.send("column", (i, piece))
            if channel.stop_requested():
                return {"error": ("stopped", None, None)}
    return {"error": None, "names": names, "names_dtype": str(frame.columns.dtype), "rows": len(frame),
            "attrs": dict(frame.attrs)}


def _column_pieces(series: pd.Series):
    """A column as plain arrays: ("numbers", values) or ("objects", values) once, or text as
    ("text", utf-8 bytes, offsets, valid) pieces of at most PIECE_BYTES characters."""
    dtype = series.dtype
    if isinstance(dtype, np.dtype) and dtype.kind in "biuf":
        yield ("numbers", series.to_numpy())
        return
    if not isinstance(dtype, pd.StringDtype):
        yield ("objects", series.to_numpy(dtype=object))
        return
    import pyarrow as pa
    column = pa.chunked_array(pa.array(series.array)).cast(pa.large_string())
    for chunk in column.chunks:
        start = 0
        while start < len(chunk):
            stop = _piece_end(chunk, start)
            yield ("text", *_text_arrays(chunk.slice(start, stop - start)))
            start = stop


def _piece_end(chunk: Any, start: int) -> int:
    """The end of the piece from ``start``: at most PIECE_BYTES characters (one row at least)."""
    offsets = np.frombuffer(chunk.buffers()[1], dtype=np.int64)[chunk.offset:chunk.offset + len(chunk) + 1]
    end = int(np.searchsorted(offsets, offsets[start] + PIECE_BYTES, side="right")) - 1
    return min(len(chunk), max(end, start + 1))


def _text_arrays(piece: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    offsets = np.frombuffer(piece.buffers()[1], dtype=np.int64)[piece.offset:piece.offset + len(piece) + 1]
    first, last = int(offsets[0]), int(offsets[-1])
    chars = np.frombuffer(piece.buffers()[2], dtype=np.uint8)[first:last] if last > first else np.zeros(0, np.uint8)
    valid = piece.is_valid().to_numpy(zero_copy_only=False)
    return chars.copy(), offsets - first, valid


# --- this process's side -------------------------------------------------------------------------
def read_table_isolated(data: bytes, name: str = "", limits: TableLimits | None = None, *,
                        should_stop: Callable[[], bool] = lambda: False,
                        plan: ParseEstimate | None = None) -> pd.DataFrame:
    """``read_table(data, name, limits)`` in a worker process limited to ``plan`` (default:
    ``estimate``). Raises ``TableError`` (the reader's refusal, or the worker's: out of memory
    or time, as a message), or ``nn.hosting.isolated.JobStopped`` once ``should_stop()``."""
    from nn.hosting.isolated import JobFailed, run
    limits = limits or table_limits()
    plan = plan or estimate(data, name, limits)
    columns: dict[int, list] = {}

    def take(kind: str, value: Any) -> None:
        if kind == "column":
            i, piece = value
            columns.setdefault(int(i), []).append(piece)
    try:
        out = run(parse_task, {"name": name, "limits": limits},
                  {"data": np.frombuffer(data, dtype=np.uint8)}, memory_bytes=plan.limit_bytes,
                  cpu_seconds=plan.cpu_seconds, should_stop=should_stop, on_message=take, what=WHAT)
    except JobFailed as exc:
        raise TableError(str(exc)) from None
    if out["error"] is not None:
        message, row, column = out["error"]
        raise TableError(message, row=row, column=column)
    return _frame(out, columns)


def _frame(out: dict[str, Any], columns: dict[int, list]) -> pd.DataFrame:
    names, rows = out["names"], int(out["rows"])
    series = [_series(columns.pop(i, []), rows) for i in range(len(names))]
    frame = pd.DataFrame(dict(enumerate(series)), copy=False)
    frame.columns = pd.Index(names, dtype=out.get("names_dtype")) if names else frame.columns
    frame.attrs.update(out.get("attrs") or {})
    return frame


def _series(pieces: list, rows: int) -> pd.Series:
    """A column from its pieces; anything malformed is refused (the worker is not trusted more
    than it must be: text offsets and UTF-8 are checked before use)."""
    if pieces and pieces[0][0] in ("numbers", "objects") and len(pieces) == 1:
        values = pieces[0][1]
        if isinstance(values, np.ndarray) and values.ndim == 1 and len(values) == rows:
            return pd.Series(values, copy=False)
    elif all(p[0] == "text" for p in pieces):
        import pyarrow as pa
        chunks = [_text_chunk(pa, *p[1:]) for p in pieces]
        if sum(len(c) for c in chunks) == rows:
            return pa.chunked_array(chunks, type=pa.large_string()).to_pandas()
    raise TableError("the worker reading the table sent back a malformed column")


def _text_chunk(pa: Any, chars: np.ndarray, offsets: np.ndarray, valid: np.ndarray) -> Any:
    n = len(offsets) - 1
    if offsets.dtype != np.int64 or chars.dtype != np.uint8 or valid.dtype != bool or len(valid) != n:
        raise TableError("the worker reading the table sent back a malformed column")
    bitmap = None if valid.all() else pa.array(valid).buffers()[1]
    chunk = pa.Array.from_buffers(pa.large_string(), n, [bitmap, pa.py_buffer(offsets), pa.py_buffer(chars)],
                                  null_count=int(n - valid.sum()))
    try:
        chunk.validate(full=True)
    except pa.ArrowInvalid:
        raise TableError("the worker reading the table sent back a malformed column") from None
    return chunk
