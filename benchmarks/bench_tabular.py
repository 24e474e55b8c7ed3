"""Upload-to-Dataset time and peak memory for a user's table (issue 12).

Generates a CSV in memory (default 100,000 rows: 19 numeric columns and a text label of 3
classes, about 20 MB), then in a fresh child process times each stage the Train page runs on an
upload and measures the child's peak resident memory above its baseline (the upload's bytes
already in memory, libraries imported):
  read      nn.data.tables.read_table (delimiter sniffing, shape check, pandas parse)
  describe  nn.data.tables.describe_table (kinds, missing / infinite counts, first rows)
  dataset   nn.data.tables.dataset_from_table (labels, stratified split, standardisation)
  total     the three together: upload to a Dataset ready to train on
The same table as Parquet is measured too (--formats csv,parquet).

--page also runs the Train page (dashboard.py under Streamlit's AppTest, in a fresh child: the
page's script runs in that process, as on a server) on the CSV:
  upload    the file handed to the page's uploader -> the run that shows the first rows and
            the built dataset (label and features picked by default)
  to chart  Train pressed (1 epoch, 2-32-32-3) -> the run that shows the first charts (curves,
            confusion matrix, 2-D projection)
  first     upload + to chart: upload-to-first-chart time
and the child's peak resident memory above its baseline (the page opened, the CSV's bytes in
memory): the server's extra memory for one such upload.

Run: PYTHONPATH=. .venv/bin/python benchmarks/bench_tabular.py [--rows 100000] [--cols 20]
     [--repeats 5] [--formats csv,parquet] [--page] [--json]
Times are medians over the repeats; the machine's cores may be shared.
"""
from __future__ import annotations

import argparse
import io
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
STAGES = ("read", "describe", "dataset", "total")


def make_table(rows: int, cols: int, seed: int = 0) -> pd.DataFrame:
    """``cols - 1`` numeric features that depend on a 3-class label, and the label as text."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, rows)
    features = rng.normal(size=(rows, cols - 1)) + y[:, None] * rng.normal(size=cols - 1)
    frame = pd.DataFrame(features.round(5), columns=[f"f{i}" for i in range(cols - 1)])
    frame["label"] = np.array(["alpha", "beta", "gamma"])[y]
    return frame


def encode(frame: pd.DataFrame, fmt: str) -> bytes:
    if fmt == "csv":
        return frame.to_csv(index=False).encode()
    buf = io.BytesIO()
    frame.to_parquet(buf)
    return buf.getvalue()


def current_rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(rows: int, cols: int, fmt: str, repeats: int) -> dict:
    """Runs in the child: baseline after the upload exists, then the stages ``repeats`` times."""
    from nn.data.tables import dataset_from_table, describe_table, read_table
    data = encode(make_table(rows, cols), fmt)
    name = f"upload.{fmt}"
    read_table(encode(make_table(50, cols), fmt), name=name)      # import pandas' lazy parts
    base = current_rss_mb()
    times = {s: [] for s in STAGES}
    for _ in range(repeats):
        t0 = time.perf_counter()
        frame = read_table(data, name=name)
        t1 = time.perf_counter()
        summary = describe_table(frame)
        t2 = time.perf_counter()
        dataset = dataset_from_table(frame, "label", test_size=0.25, standardize=True, seed=0)
        t3 = time.perf_counter()
        for stage, seconds in zip(STAGES, (t1 - t0, t2 - t1, t3 - t2, t3 - t0)):
            times[stage].append(seconds)
        del frame, summary, dataset
    return {"format": fmt, "rows": rows, "columns": cols, "file_mb": len(data) / 2**20,
            "peak_above_baseline_mb": peak_rss_mb() - base,
            **{f"{s}_s": float(np.median(v)) for s, v in times.items()}}


def page_child(rows: int, cols: int, repeats: int) -> dict:
    """Runs in the child: the Train page under AppTest, upload to first chart, ``repeats`` times
    (a fresh page each time; peak memory is the highest of them)."""
    from streamlit.testing.v1 import AppTest
    data = encode(make_table(rows, cols), "csv")
    times: dict[str, list[float]] = {"upload": [], "to_chart": [], "first": []}
    base = None
    for _ in range(repeats):
        at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=600)
        at.query_params.update(preset="moons", dataset="table", epochs="1")
        at.run()
        if base is None:
            base = current_rss_mb()
        t0 = time.perf_counter()
        at.file_uploader(key="own.upload").set_value(("upload.csv", data, "text/csv")).run()
        t1 = time.perf_counter()
        assert not at.exception and any("training rows" in str(e.value) for e in at.success), at.exception
        at.button(key="train.go").click().run()
        t2 = time.perf_counter()
        assert len(at.get("plotly_chart")) >= 3, "no charts after training"
        for k, v in zip(times, (t1 - t0, t2 - t1, t2 - t0)):
            times[k].append(v)
        del at
    return {"format": "csv (page)", "rows": rows, "columns": cols, "file_mb": len(data) / 2**20,
            "peak_above_baseline_mb": peak_rss_mb() - base,
            **{f"{k}_s": float(np.median(v)) for k, v in times.items()}}


def run_child(rows: int, cols: int, fmt: str, repeats: int) -> dict:
    cmd = [sys.executable, __file__, "--child", fmt, "--rows", str(rows), "--cols", str(cols),
           "--repeats", str(repeats)]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--cols", type=int, default=20)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--formats", default="csv,parquet")
    ap.add_argument("--page", action="store_true", help="also time the Train page (AppTest)")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child == "page":
        print(json.dumps(page_child(args.rows, args.cols, args.repeats)))
        return
    if args.child:
        print(json.dumps(child(args.rows, args.cols, args.child, args.repeats)))
        return
    formats = [f for f in args.formats.split(",") if f]
    results = [run_child(args.rows, args.cols, fmt, args.repeats) for fmt in formats]
    page = run_child(args.rows, args.cols, "page", min(args.repeats, 3)) if args.page else None
    if args.json:
        print(json.dumps(results + ([page] if page else [])))
        return
    print(f"{args.rows:,} rows x {args.cols} columns, median of {args.repeats} runs in a fresh process")
    print(f"{'format':8} {'file':>8} {'read':>8} {'describe':>9} {'dataset':>8} {'total':>8} {'peak RSS':>10}")
    for r in results:
        print(f"{r['format']:8} {r['file_mb']:6.1f}MB {r['read_s']:7.3f}s {r['describe_s']:8.3f}s "
              f"{r['dataset_s']:7.3f}s {r['total_s']:7.3f}s {r['peak_above_baseline_mb']:7.0f} MB")
    if page:
        print(f"\nTrain page (AppTest, median of {min(args.repeats, 3)}): upload to first rows "
              f"{page['upload_s']:.2f} s, Train (1 epoch) to first charts {page['to_chart_s']:.2f} s, "
              f"upload to first chart {page['first_s']:.2f} s; peak RSS +{page['peak_above_baseline_mb']:.0f} MB")


if __name__ == "__main__":
    main()
