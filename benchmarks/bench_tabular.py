"""Upload-to-Dataset time and peak memory for a user's table (issue 12).

Generates a CSV in memory (default 100,000 rows: 19 numeric columns and a text label of 3
classes, about 20 MB), then in a fresh child process times each stage the Train page runs on an
upload and measures the child's peak resident memory above its baseline (the upload's bytes
already in memory, libraries imported):
  read      nn.tables.read_table (delimiter sniffing, shape check, pandas parse)
  describe  nn.tables.describe_table (kinds, missing / infinite counts, first rows)
  dataset   nn.tables.dataset_from_table (labels, stratified split, standardisation)
  total     the three together: upload to a Dataset ready to train on
The same table as Parquet is measured too (--formats csv,parquet).

Run: PYTHONPATH=. .venv/bin/python benchmarks/bench_tabular.py [--rows 100000] [--cols 20]
     [--repeats 5] [--formats csv,parquet] [--json]
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
    from nn.tables import dataset_from_table, describe_table, read_table
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
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(args.rows, args.cols, args.child, args.repeats)))
        return
    results = [run_child(args.rows, args.cols, fmt, args.repeats) for fmt in args.formats.split(",")]
    if args.json:
        print(json.dumps(results))
        return
    print(f"{args.rows:,} rows x {args.cols} columns, median of {args.repeats} runs in a fresh process")
    print(f"{'format':8} {'file':>8} {'read':>8} {'describe':>9} {'dataset':>8} {'total':>8} {'peak RSS':>10}")
    for r in results:
        print(f"{r['format']:8} {r['file_mb']:6.1f}MB {r['read_s']:7.3f}s {r['describe_s']:8.3f}s "
              f"{r['dataset_s']:7.3f}s {r['total_s']:7.3f}s {r['peak_above_baseline_mb']:7.0f} MB")


if __name__ == "__main__":
    main()
