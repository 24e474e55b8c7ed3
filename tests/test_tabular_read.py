"""Reading user tables: formats, malformed input (a message naming the line/row and column, no
traceback), and the byte / row / column limits (refused before the parser runs, memory bounded)."""
from __future__ import annotations

import io
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from nn.data.tables import TableError, TableLimits, read_table, table_limits
from nn.data.tables import reading
from nn.hosting import HostingConfigError

ROOT = Path(__file__).resolve().parents[1]
CSV = b"a,b,label\n1,2.5,x\n3,4,y\n5,6,x\n"


def refused(source, name=None, limits=None) -> TableError:
    with pytest.raises(TableError) as info:
        read_table(source, name=name, limits=limits)
    return info.value


# --- formats ----------------------------------------------------------------------------------
def test_csv_from_bytes_path_and_file_object(tmp_path):
    path = tmp_path / "t.csv"
    path.write_bytes(CSV)
    upload = io.BytesIO(CSV)
    upload.name = "t.csv"
    for source in (CSV, path, str(path), upload):
        frame = read_table(source)
        assert list(frame.columns) == ["a", "b", "label"]
        assert frame["b"].tolist() == [2.5, 4.0, 6.0] and frame["label"].tolist() == ["x", "y", "x"]


@pytest.mark.parametrize("delim", [",", "\t", ";", "|"])
def test_delimiter_is_sniffed(delim):
    frame = read_table(CSV.replace(b",", delim.encode()))
    assert frame.shape == (3, 3) and frame["a"].tolist() == [1, 3, 5]


def test_tsv_by_extension_even_with_commas_inside_fields():
    data = b"name\tvalue\n1,5\t2\n2,5\t3\n"
    frame = read_table(data, name="t.tsv")
    assert list(frame.columns) == ["name", "value"] and frame["value"].tolist() == [2, 3]


def test_quoted_fields_bom_crlf_and_utf16():
    data = b'\xef\xbb\xbfa,b,label\r\n1,2,"x, with comma"\r\n3,4,"y ""q"""\r\n'
    frame = read_table(data)
    assert list(frame.columns) == ["a", "b", "label"]
    assert frame["label"].tolist() == ["x, with comma", 'y "q"']
    frame = read_table("a\tb\n1\t2\n3\t4\n".encode("utf-16"))     # Excel's "Unicode text"
    assert frame.shape == (2, 2) and frame["b"].tolist() == [2, 4]


def test_parquet_by_magic_and_by_name():
    frame = pd.DataFrame({"a": [1.0, 2.0], "b": ["x", "y"]})
    buf = io.BytesIO()
    frame.to_parquet(buf)
    for name in (None, "t.parquet"):
        back = read_table(buf.getvalue(), name=name)
        assert back["a"].tolist() == [1.0, 2.0] and back["b"].tolist() == ["x", "y"]
    from nn.data.tables import dataset_from_table
    d = dataset_from_table(read_table(buf.getvalue()).loc[[0, 1, 0, 1]], "b", test_size=0.5)
    assert d.class_names == ("x", "y") and d.feature_names == ["a"]


# --- malformed input --------------------------------------------------------------------------
def test_empty_and_header_only():
    assert "empty" in str(refused(b""))
    assert "empty" in str(refused(b"\n \n"))
    err = refused(b"a,b,c\n")
    assert "no data rows" in str(err) and "a, b, c" in str(err)


def test_row_with_too_many_fields_names_line_and_row():
    err = refused(b"a,b,c\n1,2,3\n4,5,6\n7,8,9,10\n")
    assert "line 4 (row 3) has 4 fields" in str(err) and "3 columns" in str(err)
    assert err.row == 3


def test_row_with_too_few_fields_names_the_missing_column():
    err = refused(b"a,b,c\n1,2,3\n4,5\n")
    assert "line 3 (row 2) has 2 fields" in str(err) and "'c' is missing" in str(err)
    assert (err.row, err.column) == (2, "c")


def test_ragged_row_in_a_quoted_file():
    err = refused(b'a,b,c\n"1",2,3\n"multi\nline",5,6\n7,"8"\n')
    assert "line 5 (row 3) has 2 fields" in str(err) and err.column == "c"


def test_unclosed_quote():
    err = refused(b'a,b,c\n1,2,3\n"4,5,6\n7,8,9\n')
    assert "line 3 (row 2)" in str(err) and "quote" in str(err)


def test_bad_encoding_names_line_row_and_column():
    data = "a,b,city\n1,2,Paris\n3,4,Montr\u00e9al\n".encode("latin-1")
    err = refused(data)
    assert "not UTF-8" in str(err) and "line 3" in str(err) and "'city'" in str(err)
    assert (err.row, err.column) == (2, "city")


def test_binary_garbage_and_known_binary_formats():
    rng = np.random.default_rng(0)
    assert "binary" in str(refused(rng.integers(0, 256, 5000, dtype=np.uint8).tobytes()))
    assert "binary" in str(refused(b"a,b\n1,\x00\x00\n"))
    assert "Excel" in str(refused(b"PK\x03\x04" + bytes(100), name="t.csv"))
    assert "gzip" in str(refused(b"\x1f\x8b\x08" + bytes(100)))
    assert "Parquet" in str(refused(b"PAR1 not really PAR1", name="t.parquet"))


# --- odd Parquet files (issue 17, row 7): a TableError naming the column, never a traceback ---
def parquet(table) -> bytes:
    import pyarrow.parquet as pq
    buf = io.BytesIO()
    pq.write_table(table, buf)
    return buf.getvalue()


def odd_columns():
    import pyarrow as pa
    return {
        "list": pa.array([[1], [2, 3], [], None]),
        "struct": pa.array([{"p": 1}, {"p": 2}, None, {"p": 3}]),
        "map": pa.array([[("k", 1)], [], None, [("z", 2)]], pa.map_(pa.string(), pa.int64())),
        "binary": pa.array([b"\x00", b"1", None, b"z"], pa.binary()),
        "fixed binary": pa.array([b"ab", b"cd", b"ef", b"gh"], pa.binary(2)),
    }


@pytest.mark.parametrize("kind", ["list", "struct", "map", "binary", "fixed binary"])
def test_parquet_nested_and_binary_columns_are_refused_by_name(kind):
    import pyarrow as pa
    data = parquet(pa.table({"odd": odd_columns()[kind], "label": list("xyxy")}))
    err = refused(data)
    assert "column 'odd' holds" in str(err) and "numbers or text" in str(err)
    assert err.column == "odd"


def test_parquet_duplicate_names_and_no_rows():
    import pyarrow as pa
    twice = pa.Table.from_arrays([pa.array([1, 2]), pa.array([3, 4])], names=["a", "a"])
    err = refused(parquet(twice))
    assert "'a' twice" in str(err) and err.column == "a"
    assert "no data rows" in str(refused(parquet(pa.table({"a": pa.array([], pa.float64())}))))


def test_parquet_types_read_as_a_csv_would():
    """Decimals and half floats as floats, dates and times as text, integers with nulls as
    floats."""
    import pyarrow as pa
    frame = read_table(parquet(pa.table({
        "dec": pa.array([1.5, 2, 3, 4]).cast(pa.decimal128(10, 2)),
        "half": pa.array(np.array([1, 2, 3, 4], np.float16)),
        "when": pa.array([1, 2, 3, None], pa.timestamp("ms", tz="UTC")),
        "day": pa.array([1, 2, 3, None], pa.date32()),
        "ints": pa.array([1, None, 3, 4]),
        "codes": pa.array([10, 20, 10, 20]).dictionary_encode(),
        "label": pa.array(list("xyxy")).dictionary_encode()})))
    assert frame["dec"].tolist() == [1.5, 2, 3, 4] and frame["half"].dtype == np.float64
    assert frame["when"][0].startswith("1970-01-01 00:00:00.001")
    assert frame["day"][1] == "1970-01-03"
    assert frame["ints"].dtype == np.float64 and frame["codes"].tolist() == [10, 20, 10, 20]
    assert frame["label"].tolist() == list("xyxy")


PANDAS_METADATA = [
    b"{not json", b"[1, 2]", b"null", b'"text"', b"[" * 100_000 + b"]" * 100_000,
    b'{"index_columns": 1e999999}', b'{"index_columns": [{"kind": "weird"}]}',
    b'{"index_columns": [], "columns": [{"name": 5, "field_name": "a", "pandas_type": "int64", '
    b'"numpy_type": "int64", "metadata": null}], "column_indexes": [{"name": null, '
    b'"pandas_type": "int64", "numpy_type": "int64", "metadata": null}]}',
    b'{"index_columns": [], "columns": [{"name": "a", "field_name": "a", "pandas_type": '
    b'"datetimetz", "numpy_type": "datetime64[ns]", "metadata": {"timezone": "Mars/Olympus"}}]}',
    b'{"index_columns": [], "columns": [{"name": "a", "field_name": "a", "pandas_type": '
    b'"categorical", "numpy_type": "int8", "metadata": {"num_categories": 3}}]}',
]


@pytest.mark.parametrize("metadata", PANDAS_METADATA, ids=range(len(PANDAS_METADATA)))
def test_parquet_odd_pandas_metadata_is_ignored(metadata):
    import pyarrow as pa
    table = pa.table({"a": [1.0, 2.0, 3.0, 4.0], "b": list("xyxy")})
    frame = read_table(parquet(table.replace_schema_metadata({b"pandas": metadata})))
    assert list(frame.columns) == ["a", "b"] and frame["a"].tolist() == [1.0, 2.0, 3.0, 4.0]


def test_parquet_index_written_by_pandas_is_dropped():
    buf = io.BytesIO()
    pd.DataFrame({"a": [1.0, 2.0], "b": ["x", "y"]}, index=[7, 9]).to_parquet(buf)
    frame = read_table(buf.getvalue())
    assert list(frame.columns) == ["a", "b"] and list(frame.index) == [0, 1]


def test_parquet_text_that_is_not_utf8_is_refused():
    import pyarrow as pa
    text = pa.array([b"ok", b"\xff\xfe", b"x", b"y"], pa.binary()).view(pa.string())
    err = refused(parquet(pa.table({"a": [1.0, 2.0, 3.0, 4.0], "t": text})))
    assert "column 't' holds text that is not valid UTF-8" in str(err) and err.column == "t"


MANGLE_CHILD = """
import io, sys
import numpy as np, pandas as pd, pyarrow as pa, pyarrow.parquet as pq
sys.path.insert(0, {root!r})
from nn.data.tables import TableError, dataset_from_table, describe_table, read_table
buf = io.BytesIO()
pq.write_table(pa.table({{"a": np.arange(40.0), "n": pa.array([1, None] * 20),
                         "t": pa.array(["hello", "world"] * 20),
                         "label": pa.array(list("xy") * 20).dictionary_encode()}}), buf,
               row_group_size=20, write_page_index=True)
good, rng, outcomes = buf.getvalue(), np.random.default_rng(2), [0, 0]
for _ in range(600):
    data = bytearray(good)
    for _ in range(rng.integers(1, 4)):
        data[int(rng.integers(0, len(data)))] = int(rng.integers(0, 256))
    try:
        frame = read_table(bytes(data), name="t.parquet")
        for label in describe_table(frame).label_candidates[:1]:
            try:
                dataset_from_table(frame, label, drop_bad_rows=True)
            except TableError:
                pass
        outcomes[0] += 1
    except TableError:
        outcomes[1] += 1
print("OUTCOMES", *outcomes)
"""


def test_mangled_parquet_files_give_a_table_error_or_a_table():
    """Seeded byte changes in a small Parquet file, through reading, describing and building, in a
    child process: pyarrow aborts the process on some damaged files if asked the wrong way."""
    code = textwrap.dedent(MANGLE_CHILD.format(root=str(ROOT)))
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    read, refused_ = map(int, run.stdout.rsplit("OUTCOMES", 1)[1].split())
    assert read > 20 and refused_ > 20, (read, refused_)


def test_duplicate_column_names():
    err = refused(b"a,b,a\n1,2,3\n")
    assert "'a' twice" in str(err) and err.column == "a"


def test_missing_path_is_a_table_error(tmp_path):
    assert "cannot read" in str(refused(tmp_path / "nope.csv"))


# --- limits -----------------------------------------------------------------------------------
def test_limits_from_the_environment(monkeypatch):
    assert table_limits() == TableLimits(50, 200_000, 200)
    monkeypatch.setenv("NN_MAX_TABLE_MB", "2")
    monkeypatch.setenv("NN_MAX_TABLE_ROWS", "10")
    monkeypatch.setenv("NN_MAX_TABLE_COLUMNS", "3")
    assert table_limits() == TableLimits(2, 10, 3)
    assert table_limits().max_bytes == 2 * 1024 * 1024
    monkeypatch.setenv("NN_MAX_TABLE_ROWS", "lots")
    with pytest.raises(HostingConfigError, match="NN_MAX_TABLE_ROWS"):
        table_limits()


@pytest.fixture
def no_parsing(monkeypatch):
    """Any attempt to parse fails the test."""
    def boom(*args, **kwargs):
        raise AssertionError("the parser was called")
    for name in ("_read_text", "_read_parquet"):
        monkeypatch.setattr(reading, name, boom)
    monkeypatch.setattr(reading.pd, "read_csv", boom)


def test_too_many_bytes_refused_before_parsing(no_parsing, monkeypatch):
    monkeypatch.setenv("NN_MAX_TABLE_MB", "1")
    big = b"a,b\n" + b"1,2\n" * (1024 * 1024 // 4)          # just over 1 MB
    err = refused(big, name="big.csv")
    assert "at most 1 MB" in str(err) and "NN_MAX_TABLE_MB" in str(err)
    assert "at most 1 MB" in str(refused(big, name="big.parquet"))


def test_file_object_is_never_read_past_the_limit(no_parsing):
    limits = TableLimits(max_mb=1)

    class Upload(io.BytesIO):
        asked: list = []

        def read(self, n=-1):
            self.asked.append(n)
            return super().read(n)

    upload = Upload(bytes(3 * 1024 * 1024))
    refused(upload, limits=limits)
    assert upload.asked == [limits.max_bytes + 1]
    sized = Upload(b"")
    sized.size = 10 * 1024 * 1024                            # Streamlit's UploadedFile.size
    sized.asked = []
    refused(sized, limits=limits)
    assert sized.asked == []                                 # refused on its size alone


def test_path_over_the_limit_is_not_read(tmp_path, no_parsing, monkeypatch):
    path = tmp_path / "huge.csv"
    with open(path, "wb") as f:
        f.truncate(60 * 1024 * 1024)                         # sparse: no disk used
    monkeypatch.setattr(Path, "read_bytes", lambda self: pytest.fail("the file was read"))
    assert "at most 50 MB" in str(refused(path))


def test_row_and_column_limits_csv():
    limits = TableLimits(max_rows=5, max_columns=3)
    ok = b"a,b,c\n" + b"1,2,3\n" * 5
    assert read_table(ok, limits=limits).shape == (5, 3)
    assert "more than 5 rows" in str(refused(ok + b"1,2,3\n", limits=limits))
    assert "more than 5 rows" in str(refused(b'a,"b",c\n' + b'1,"2",3\n' * 6, limits=limits))
    err = refused(b"a,b,c,d\n1,2,3,4\n", limits=limits)
    assert "4 columns; the limit is 3" in str(err) and "NN_MAX_TABLE_COLUMNS" in str(err)


def test_row_and_column_limits_parquet_from_metadata(monkeypatch):
    buf = io.BytesIO()
    pd.DataFrame({"a": range(6), "b": range(6), "c": range(6)}).to_parquet(buf)
    data = buf.getvalue()
    import pyarrow.parquet as pq
    for method in ("read", "iter_batches"):
        monkeypatch.setattr(pq.ParquetFile, method, lambda *a, **k: pytest.fail("rows read"))
    assert "6 rows; the limit is 5" in str(refused(data, limits=TableLimits(max_rows=5)))
    assert "3 columns; the limit is 2" in str(refused(data, limits=TableLimits(max_columns=2)))


CHILD = """
import resource, sys
sys.path.insert(0, {root!r})
from nn.data.tables import read_table, TableError
data = {make}
# baseline: the resident size now (the upload itself included), not the peak so far, which the
# building of ``data`` inflated; peak minus it is an upper bound on what refusing cost
base = int(open("/proc/self/statm").read().split()[1]) * resource.getpagesize() // 1024
try:
    read_table(data, name="x.csv")
    print("ACCEPTED")
except TableError as exc:
    print("REFUSED", exc)
# VmHWM, the peak of this process's own memory: ru_maxrss would also count the parent's peak,
# which exec hands down (a child of a big pytest process then seems to have grown by 600 MB)
peak = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print("GROWTH_MB", (peak - base) / 1024)
"""


def run_child(make: str) -> tuple[str, float]:
    code = textwrap.dedent(CHILD.format(root=str(ROOT), make=make))
    env = {k: v for k, v in os.environ.items() if not k.startswith("NN_MAX_TABLE")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         env=env, check=True).stdout
    growth = float(out.rsplit("GROWTH_MB", 1)[1])
    return out, growth


@pytest.mark.parametrize("make, expected", [
    # 45 MB of one-field lines: 23 million rows, far over 200,000
    ('b"a,b\\n" + b"1,2\\n" * (45 * 1024 * 1024 // 4)', "more than 200,000 rows"),
    # the same with quotes (the csv-module path)
    ('b"a,b\\n" + b"\\"1\\",2\\n" * (45 * 1024 * 1024 // 6)', "more than 200,000 rows"),
    # a 100,000-column header
    ('(",".join(f"c{i}" for i in range(100_000)) + "\\n" + ",".join(["1"] * 100_000) + "\\n").encode()',
     "100000 columns; the limit is 200"),
])
def test_oversized_tables_refused_with_bounded_memory(make, expected):
    out, growth = run_child(make)
    assert "REFUSED" in out and expected in out, out
    assert growth < 200, f"peak RSS grew by {growth:.0f} MB while refusing"


def test_mangled_files_give_a_table_error_or_a_table_never_another_exception():
    """Seeded mutations of a small CSV (deleted, inserted, repeated bytes) through reading,
    describing and building: the only exception allowed is TableError."""
    from nn.data.tables import dataset_from_table, describe_table
    base = b'a,b,label\n1,2.5,x\n3,"4",y\n5,6,x\n7,8,y\n9,10,x\n11,12,y\n'
    alphabet = b',;\t|"\n\r 0123456789.-eEinfNAxy\xff\xc3\x00'
    rng = np.random.default_rng(1)
    outcomes = {"read": 0, "refused": 0}
    for _ in range(600):
        data = bytearray(base)
        for _ in range(rng.integers(1, 6)):
            op, pos = rng.integers(0, 3), int(rng.integers(0, len(data) + 1))
            if op == 0 and data:
                del data[min(pos, len(data) - 1)]
            elif op == 1:
                data.insert(pos, alphabet[rng.integers(0, len(alphabet))])
            else:
                data[pos:pos] = data[int(rng.integers(0, len(data))):][:5]
        try:
            frame = read_table(bytes(data))
            for label in describe_table(frame).label_candidates[:2]:
                try:
                    dataset_from_table(frame, label, drop_bad_rows=True)
                except TableError:
                    pass
            outcomes["read"] += 1
        except TableError:
            outcomes["refused"] += 1
    assert outcomes["read"] > 50 and outcomes["refused"] > 50        # both paths exercised


def test_pyarrow_floor_is_past_cve_2023_47248():
    """14.0.1 fixed arbitrary code execution on reading a hostile Parquet/IPC file (issue 17)."""
    from packaging.requirements import Requirement
    from packaging.version import Version
    lines = (ROOT / "requirements.txt").read_text().splitlines()
    req = next(Requirement(line) for line in lines if line.startswith("pyarrow"))
    assert not req.specifier.contains(Version("14.0.0"))
    assert req.specifier.contains(Version("14.0.1"))
