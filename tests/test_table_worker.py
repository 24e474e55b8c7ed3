"""Issue 17: an uploaded table is read in a worker process (``nn.data.tables.parse_job``) with
a memory limit estimated from the file before parsing, under a job slot counted against the
visitor; a table that needs more than estimated ends that read with a message, never the
server; a stop ends a read within a second. Memory is measured in a child process (VmHWM)."""
from __future__ import annotations

import io
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from app_pages import open_app

from nn.data.tables import TableError, TableLimits, parse_job, read_table
from nn.hosting.isolated import JobStopped

ROOT = Path(__file__).resolve().parents[1]
TABLE = {"preset": "moons", "dataset": "table", "hidden": "16", "epochs": "20"}


def text_table(rows: int = 200_000, width: int = 150) -> bytes:
    """~32 MB of CSV: a number, a long text and a label per row (~35 MB once read)."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.random(rows).round(4), "t": ["x" * width] * rows,
                          "label": rng.integers(0, 3, rows)})
    return frame.to_csv(index=False).encode()


def ones_table(columns: int = 100) -> bytes:
    """200,000 rows of ``columns`` ones: 40 MB of CSV, 160 MB once read (200: 80 MB, 320 MB)."""
    header = ",".join(f"c{i}" for i in range(columns)) + "\n"
    return (header + ("1," * (columns - 1) + "1\n") * 200_000).encode()


BIG = TableLimits(max_mb=100)           # room for ones_table(200) in the reader's own limits


def too_small_estimate(monkeypatch) -> None:
    """The estimate deliberately too small: nothing beyond the worker's own margin (256 MB),
    which the 320 MB of ones_table(200) outgrow."""
    for name in ("COPIES_OF_FILE", "COPIES_OF_TABLE", "PIECE_BYTES", "SLACK"):
        monkeypatch.setattr(parse_job, name, 0)


@pytest.mark.parametrize("name, data", [
    ("mixed.csv", b"x;y;label;note\n1,5;2;a;\n-3,25;;b;hello\n4;5;a;\xc3\xa9t\xc3\xa9\n"),
    ("plain.csv", text_table(3_000, 5)),
])
def test_a_table_read_in_a_worker_is_the_table_read_here(name, data):
    here = read_table(data, name=name)
    there = parse_job.read_table_isolated(data, name)
    pd.testing.assert_frame_equal(there, here)
    assert there.attrs == here.attrs


def test_parquet_with_nulls_and_text_read_in_a_worker_is_the_same():
    frame = pd.DataFrame({"b": [True, None, False] * 5, "i": [1, None, 3] * 5,
                          "s": ["a", None, "ccc"] * 5, "f": np.arange(15.0)})
    buf = io.BytesIO()
    frame.to_parquet(buf)
    pd.testing.assert_frame_equal(parse_job.read_table_isolated(buf.getvalue(), "t.parquet"),
                                  read_table(buf.getvalue(), "t.parquet"))


def test_long_text_comes_back_in_pieces(monkeypatch):
    monkeypatch.setattr(parse_job, "PIECE_BYTES", 1000)      # in this process: the estimate only
    data = text_table(2_000, 120)
    pd.testing.assert_frame_equal(parse_job.read_table_isolated(data, "t.csv"), read_table(data))
    pieces = list(parse_job._column_pieces(pd.Series(["y" * 300] * 10, dtype="str")))
    assert len(pieces) == 4 and all(len(p[1]) <= 1000 for p in pieces)     # 3 rows each


def test_the_estimate_comes_from_the_file_before_parsing(monkeypatch):
    """Rows x columns x 8 from a CSV's line ends and header; a Parquet file's from its own footer
    and page headers, read by our Thrift reader (pyarrow does not parse it in this process)."""
    plan = parse_job.estimate(b"a,b,c\n" + b"1,2,3\n" * 1000)
    assert plan.cells_bytes == 1000 * 3 * 8 and plan.bytes >= plan.table_bytes >= plan.cells_bytes
    buf = io.BytesIO()
    pq.write_table(pa.table({f"c{i}": np.zeros(5000) for i in range(4)}), buf)
    monkeypatch.setattr(pq, "ParquetFile", lambda *a, **k: pytest.fail("pyarrow parsed it"))
    plan = parse_job.estimate(buf.getvalue(), "t.parquet")
    assert plan.cells_bytes == 5000 * 4 * 8 and plan.table_bytes >= 5000 * 4 * 8


def test_a_table_beyond_its_estimate_ends_with_a_message():
    started = time.monotonic()
    with pytest.raises(TableError, match="this table needed more memory than the 1 MB estimated"):
        parse_job.read_table_isolated(ones_table(200), "t.csv", BIG,
                                      plan=parse_job.ParseEstimate(2**20, 2**20, 60, 2**20, 0))
    assert time.monotonic() - started < 30


SERVER = """
import sys, time
sys.path.insert(0, {root!r})
from nn.data.tables import parse_job, TableError, TableLimits
from nn.hosting import isolated
for name in ("COPIES_OF_FILE", "COPIES_OF_TABLE", "PIECE_BYTES", "SLACK"):
    setattr(parse_job, name, 0)                 # the estimate deliberately too small
data = open({path!r}, "rb").read()
isolated.run(isolated.probe, {{}}, {{}})        # a warm worker, as on a running server
def kb(key):
    return next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith(key))
base = kb("VmRSS:")
try:
    frame = parse_job.read_table_isolated(data, "t.csv", TableLimits(max_mb=100))
    print("ACCEPTED", frame.shape)
except TableError as exc:
    print("REFUSED", exc)
print("GROWTH_MB", (kb("VmHWM:") - base) / 1024)
"""


def test_the_server_stays_flat_when_a_table_needs_more_than_estimated(tmp_path):
    """In-process, reading this table takes the server +400 MB (its 320 MB frame, the parser's
    pieces); in a worker whose limit it outgrows, the server holds only the file's bytes."""
    path = tmp_path / "t.csv"
    path.write_bytes(ones_table(200))
    code = textwrap.dedent(SERVER.format(root=str(ROOT), path=str(path)))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                         check=True).stdout
    assert "REFUSED this table needed more memory than" in out, out
    growth = float(out.rsplit("GROWTH_MB", 1)[1])
    assert growth < 25, f"the server's peak memory grew by {growth:.0f} MB"


def test_a_stop_ends_a_read_within_a_second():
    data = ones_table()                 # ~1 s to read and send back
    asked = []

    def stop() -> bool:
        if not asked and time.monotonic() - started > 0.5:
            asked.append(time.monotonic())
        return bool(asked)
    started = time.monotonic()
    with pytest.raises(JobStopped):
        parse_job.read_table_isolated(data, "ones.csv", should_stop=stop)
    assert time.monotonic() - asked[0] < 1.0


# --- on the page ---------------------------------------------------------------------------------
def _upload(at, data: bytes, name: str):
    at.file_uploader(key="own.upload").set_value((name, data, "text/csv")).run()
    assert not at.exception, at.exception
    return at


def test_the_page_says_a_table_needed_more_memory_and_goes_on(monkeypatch):
    too_small_estimate(monkeypatch)
    monkeypatch.setenv("NN_MAX_TABLE_MB", "100")
    at = _upload(open_app(**TABLE), ones_table(200), "big.csv")
    errors = " ".join(str(e.value) for e in at.error)
    assert "this table needed more memory than" in errors and "Traceback" not in errors, errors
    assert at.session_state["own.table"] is None
    monkeypatch.undo()
    at = _upload(at, text_table(500, 5), "small.csv")
    assert at.session_state["own.table"]["name"] == "small.csv" and not at.error


def test_a_read_takes_a_job_slot_counted_against_the_visitor(monkeypatch):
    from nn.runs.slots import JOBS
    seen = []
    real = parse_job.read_table_isolated

    def spy(data, name, limits=None, **kw):
        seen.append((JOBS.used(), kw["plan"].bytes))
        return real(data, name, limits, **kw)
    monkeypatch.setattr(parse_job, "read_table_isolated", spy)
    at = _upload(open_app(**TABLE), text_table(3_000, 5), "t.csv")
    assert at.session_state["own.table"]["name"] == "t.csv"
    (slots, nbytes), estimate = seen[0]
    assert slots == 1 and nbytes >= estimate > 0


def test_a_read_that_cannot_fit_a_job_is_refused_before_parsing(monkeypatch):
    monkeypatch.setenv("NN_PUBLIC", "1")
    monkeypatch.setenv("NN_MAX_JOB_MB", "1")
    monkeypatch.setattr(parse_job, "read_table_isolated", lambda *a, **k: pytest.fail("parsed"))
    at = _upload(open_app(**TABLE), text_table(20_000, 5), "t.csv")
    errors = " ".join(str(e.value) for e in at.error)
    assert "Reading this table would need about" in errors and "at most 1 MB" in errors, errors
