"""Server memory with MNIST loaded and several browser sessions each holding a trained model.

Starts a real ``streamlit run dashboard.py`` (MNIST_PATH must name mnist.npz), opens N headless
Chromium sessions (separate browser contexts = separate Streamlit sessions) on the Train page with
the ``mnist`` preset, clicks Train in all of them at once, waits until every one reports
"Done", and reads the server's resident memory from /proc (VmRSS now, VmHWM = peak).
Target: under 1 GB with 5 sessions.

    MNIST_PATH=/work/shared/data/mnist.npz PYTHONPATH=. .venv/bin/python benchmarks/bench_app_memory.py \
        [--sessions 5] [--epochs 1] [--hidden 256]
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT / "tests"))


def memory_mb(pid: int) -> dict[str, float]:
    """VmRSS (resident now) and VmHWM (peak resident) of a process, in MB."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(value.split()[0]) / 1024
    return out


def _report(label: str, pid: int) -> None:
    m = memory_mb(pid)
    print(f"{label:42s} RSS {m['VmRSS']:7.1f} MB   peak {m['VmHWM']:7.1f} MB", flush=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sessions", type=int, default=5)
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--hidden", default="256")
    args = p.parse_args()
    if not os.environ.get("MNIST_PATH"):
        sys.exit("set MNIST_PATH to a keras-format mnist.npz")
    from bench_app_overhead import start_server
    from conftest import CHROMIUM, CHROMIUM_ARGS
    from playwright.sync_api import sync_playwright

    proc, url = start_server()
    query = urlencode({"preset": "mnist", "epochs": args.epochs, "hidden": args.hidden})
    try:
        _report("server started", proc.pid)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            pages = []
            for i in range(args.sessions):
                page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
                page.goto(f"{url}/?{query}")
                page.get_by_test_id("stMain").get_by_role("button", name="Train", exact=True).wait_for(timeout=300_000)
                pages.append(page)
                if i == 0:
                    _report("1 session open (MNIST loaded)", proc.pid)
            t0 = time.time()
            for page in pages:
                page.get_by_test_id("stMain").get_by_role("button", name="Train", exact=True).click()
            for page in pages:
                page.get_by_text("Wall-clock training time").wait_for(timeout=1_800_000)
            print(f"{args.sessions} sessions trained {args.epochs} epoch(s) of 784-{args.hidden}-10 "
                  f"in {time.time() - t0:.0f} s", flush=True)
            accuracies = [page.get_by_test_id("stMetricValue").first.inner_text() for page in pages]
            print("test accuracies:", ", ".join(accuracies))
            _report(f"{args.sessions} sessions, each with a trained model", proc.pid)
            m = memory_mb(proc.pid)
            verdict = "OK" if m["VmHWM"] < 1024 else "OVER"
            print(f"peak resident {m['VmHWM']:.0f} MB vs 1024 MB target: {verdict}")
            browser.close()
    finally:
        proc.terminate()
        proc.wait(10)


if __name__ == "__main__":
    main()
