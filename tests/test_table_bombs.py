"""Tables that are small files but huge once read (issue 17, row 1): the reader counts what the
values take decoded, never a size the file declares, and refuses past the limit (4 x
NN_MAX_TABLE_MB) with memory bounded. Memory is measured in a child process (VmHWM, as in
tests/test_io_safety.py): at most +300 MB for any one file."""
from __future__ import annotations

import io
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from nn.data.tables import TableError, TableLimits, decoded_bytes, read_table

ROOT = Path(__file__).resolve().parents[1]
GROWTH_LIMIT_MB = 300


def dictionary_bomb(rows: int = 200_000, size: int = 5_000) -> bytes:
    """One text column repeating a ``size``-byte string: a few hundred bytes on disk, ``rows x
    size`` bytes once read. No Arrow schema stored, so it reads back as plain text."""
    zeros = pa.array(np.zeros(rows, np.int32))
    column = pa.DictionaryArray.from_arrays(zeros, pa.array(["x" * size]))
    buf = io.BytesIO()
    pq.write_table(pa.table({"t": column}), buf, compression="zstd", store_schema=False)
    return buf.getvalue()


def numbers_parquet(path: Path, rows: int, columns: int = 200) -> None:
    """``rows x columns`` zeros (small compressed), written batch by batch (little memory here)."""
    names = [f"c{i}" for i in range(columns)]
    schema = pa.schema([(n, pa.float64()) for n in names])
    with pq.ParquetWriter(path, schema, compression="zstd") as w:
        for start in range(0, rows, 8192):
            zeros = pa.array(np.zeros(min(8192, rows - start)))
            w.write_batch(pa.RecordBatch.from_arrays([zeros] * columns, names=names))


CHILD = """
import resource, sys
sys.path.insert(0, {root!r})
from nn.data.tables import read_table, TableError
data = open({path!r}, "rb").read()
base = int(open("/proc/self/statm").read().split()[1]) * resource.getpagesize() // 1024
try:
    frame = read_table(data, name={name!r})
    print("ACCEPTED", frame.shape)
except TableError as exc:
    print("REFUSED", exc)
peak = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print("GROWTH_MB", (peak - base) / 1024)
"""


def read_in_child(path: Path) -> tuple[str, float]:
    """What reading ``path`` printed, and how much the child's peak memory grew meanwhile."""
    code = textwrap.dedent(CHILD.format(root=str(ROOT), path=str(path), name=path.name))
    env = {k: v for k, v in os.environ.items() if not k.startswith("NN_MAX_TABLE")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                         env=env, check=True).stdout
    return out, float(out.rsplit("GROWTH_MB", 1)[1])


def test_parquet_dictionary_bomb_is_refused_with_bounded_memory(tmp_path):
    path = tmp_path / "bomb.parquet"
    path.write_bytes(dictionary_bomb())
    assert path.stat().st_size < 5_000                      # ~1 GB of text once decoded
    out, growth = read_in_child(path)
    assert "REFUSED" in out and "200 MB of memory" in out and "NN_MAX_TABLE_MB" in out, out
    assert "'t'" in out and "NN_MAX_TABLE_ROWS" in out, out
    assert growth < GROWTH_LIMIT_MB, f"peak memory grew by {growth:.0f} MB"


def test_parquet_plain_text_bomb_is_refused_with_bounded_memory(tmp_path):
    """The same text not dictionary-encoded in the file (one long page, compressed)."""
    path = tmp_path / "plain.parquet"
    batch = pa.RecordBatch.from_arrays([pa.array(["y" * 2_000] * 10_000)], names=["t"])
    with pq.ParquetWriter(path, batch.schema, compression="zstd", use_dictionary=False,
                          store_schema=False) as writer:
        for _ in range(15):                                 # 300 MB of text once decoded
            writer.write_batch(batch)
    assert path.stat().st_size < 1_000_000
    out, growth = read_in_child(path)
    assert "REFUSED" in out and "NN_MAX_TABLE_MB" in out, out
    assert growth < GROWTH_LIMIT_MB, f"peak memory grew by {growth:.0f} MB"


def lying_footer(rows: int = 1_000, size: int = 2_000) -> bytes:
    """One page of ``rows x size`` bytes of text (compressed to little), in a file whose footer
    says its row group and column hold 1,000 bytes: the footer's sizes are rewritten in place as
    padded varints (Thrift's compact protocol accepts the extra continuation bytes)."""
    def varint(n: int, length: int = 0) -> bytes:
        out = bytearray()
        while True:
            out.append(n & 0x7F | (0x80 if n >> 7 else 0))
            n >>= 7
            if not n:
                break
        while len(out) < length:
            out[-1] |= 0x80
            out.append(0)
        return bytes(out)

    buf = io.BytesIO()
    zeros = pa.array(np.zeros(rows, np.int32))
    column = pa.DictionaryArray.from_arrays(zeros, pa.array(["y" * size]))
    pq.write_table(pa.table({"t": column}), buf, compression="zstd", use_dictionary=False,
                   store_schema=False, data_page_size=1 << 30, row_group_size=rows)
    data = bytearray(buf.getvalue())
    meta = pq.ParquetFile(pa.BufferReader(bytes(data))).metadata
    footer = len(data) - 8 - int.from_bytes(data[-8:-4], "little")
    group = meta.row_group(0)
    for declared in {group.total_byte_size, group.column(0).total_uncompressed_size}:
        old = varint(2 * declared)                            # zigzag of a positive number
        while (i := data.find(old, footer)) >= 0:
            data[i:i + len(old)] = varint(2 * 1_000, len(old))
    return bytes(data)


def test_parquet_pages_that_inflate_past_the_limit_are_refused_before_reading(monkeypatch):
    data = lying_footer()                                   # a 2 MB page
    meta = pq.ParquetFile(pa.BufferReader(data)).metadata
    assert meta.row_group(0).total_byte_size == 1_000       # the footer lies
    monkeypatch.setattr(pq.ParquetFile, "iter_batches", lambda *a, **k: pytest.fail("rows read"))
    err = pytest.raises(TableError, read_table, data, limits=TableLimits(max_mb=1)).value
    assert "pages inflate to 2 MB at once" in str(err) and "the limit is 1 MB" in str(err)
    monkeypatch.undo()
    assert read_table(data).shape == (1_000, 1)             # within the default limits


def test_parquet_footer_with_too_many_row_groups_is_refused_before_pyarrow_parses_it(monkeypatch):
    """pyarrow keeps ~1 KB per column chunk of the footer: 100,000 row groups of 2 rows were
    +184 MB for a 22 MB file. Checked on the raw footer first (here with a lower cap)."""
    from nn.data.tables import parquet_pages
    buf = io.BytesIO()
    pq.write_table(pa.table({"a": np.zeros(120), "b": np.zeros(120)}), buf, row_group_size=2)
    monkeypatch.setattr(parquet_pages, "MAX_CHUNKS", 100)
    monkeypatch.setattr(pq, "ParquetFile", lambda *a, **k: pytest.fail("pyarrow parsed it"))
    err = pytest.raises(TableError, read_table, buf.getvalue()).value
    assert "more than 100 column chunks" in str(err)


def test_numeric_parquet_just_under_the_limit_is_read_within_bounds(tmp_path):
    path = tmp_path / "near.parquet"
    numbers_parquet(path, rows=120_000)                     # 192 MB of float64: under 200 MB
    out, growth = read_in_child(path)
    assert "ACCEPTED (120000, 200)" in out, out
    assert growth < GROWTH_LIMIT_MB, f"peak memory grew by {growth:.0f} MB"


def test_numeric_parquet_over_the_limit_is_refused_before_reading(tmp_path, monkeypatch):
    path = tmp_path / "over.parquet"
    numbers_parquet(path, rows=140_000)                     # 224 MB
    monkeypatch.setattr(pq.ParquetFile, "iter_batches", lambda *a, **k: pytest.fail("rows read"))
    err = pytest.raises(TableError, read_table, path).value
    assert "take at least 214 MB" in str(err) and "NN_MAX_TABLE_MB" in str(err)


def test_csv_of_empty_cells_is_refused_before_parsing(tmp_path):
    """40 MB of commas: 200,000 x 200 missing values, 320 MB of floats once read."""
    path = tmp_path / "empty.csv"
    header = (",".join(f"c{i}" for i in range(200)) + "\n").encode()
    path.write_bytes(header + (b"," * 199 + b"\n") * 200_000)
    out, growth = read_in_child(path)
    assert "REFUSED" in out and "200 MB of memory" in out and "NN_MAX_TABLE_MB" in out, out
    assert growth < 100, f"peak memory grew by {growth:.0f} MB"


def test_csv_of_one_letter_text_is_counted_after_parsing():
    """1-letter cells: 2 bytes each in the file, 9 once read (the letter and its offset): more
    than the 8 a cell the estimate before parsing counts, so the count after parsing refuses."""
    limits = TableLimits(max_mb=1)                          # 4 MB once read
    rows = int(0.95 * limits.max_bytes) // 8
    data = b"a,b,c,d\n" + b"x,y,z,w\n" * rows
    assert rows * 4 * 8 < limits.max_decoded_bytes < rows * 4 * 9
    with pytest.raises(TableError, match="4 MB of memory"):
        read_table(data, limits=limits)


def test_csv_with_quoted_line_breaks_counts_records_not_lines():
    limits = TableLimits(max_mb=1)
    cell = '"' + "\n" * 60 + '"'
    data = ("a,b\n" + "".join(f"{i},{cell}\n" for i in range(8_000))).encode()
    assert data.count(b"\n") * 2 * 8 > limits.max_decoded_bytes     # the line count alone refuses
    assert read_table(data, limits=limits).shape == (8_000, 2)


def test_decoded_bytes_counts_numbers_and_text():
    frame = pd.DataFrame({"n": np.zeros(1000), "t": ["abcd" * 25] * 1000})
    assert decoded_bytes(frame) >= 1000 * 8 + 1000 * 100
    assert decoded_bytes(frame) < 1000 * 8 + 1000 * 200
    parquet = io.BytesIO()
    frame.to_parquet(parquet)
    back = read_table(parquet.getvalue())
    assert back.equals(frame) and decoded_bytes(back) < 1000 * 8 + 1000 * 200


@pytest.mark.parametrize("make, expected", [
    (dictionary_bomb, "200 MB of memory"),
    (lambda: _parquet_bytes(pa.table({"odd": pa.array([[1], [2, 3]]), "b": ["x", "y"]})),
     "holds nested"),
])
def test_the_page_shows_the_refusal_not_a_table(monkeypatch, make, expected):
    """In hosting mode the visitor sees the reason, never a traceback nor a '200,000 rows' panel."""
    from app_pages import open_app
    monkeypatch.setenv("NN_PUBLIC", "1")
    at = open_app(preset="moons", dataset="table", hidden="16", epochs="20")
    at.file_uploader(key="own.upload").set_value(("t.parquet", make(), "application/octet-stream"))
    at.run()
    assert not at.exception, at.exception
    errors = " ".join(str(e.value) for e in at.error)
    assert expected in errors and "Traceback" not in errors, errors
    assert not any("rows," in str(m.value) for m in at.markdown)


def _parquet_bytes(table) -> bytes:
    buf = io.BytesIO()
    pq.write_table(table, buf)
    return buf.getvalue()
