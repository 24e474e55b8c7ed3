"""How much longer does training take in the app than on the command line? (target: <= 15%)

Same configuration (a preset plus overrides), timed three ways, interleaved so that drifting
load on a shared machine hits each the same:

- cli:     ``python -m nn train --json`` in a subprocess; its reported ``train_seconds`` (pure
           step time) and, in this process, the wall time of the very loop the CLI runs
           (``nn.cli._train_with_progress``: steps + the trainer's evaluation records).
- apptest: the real Train page under Streamlit's ``AppTest`` (no browser): wall time of the
           page's training loop with all live redraws (``TrainSession.wall_seconds``).
- browser: a real ``streamlit run`` server and headless Chromium on the same machine; the wall
           time the page reports when done ("Wall-clock training time": its training chunks and
           redraws) and, end to end, from the click on Train until the final figures show
           (``browser_click_to_done``: adds the page runs, the websocket and the final redraw).
           Chromium's software rendering competes for the same CPUs: the pessimistic figure.

The overhead is app wall time / CLI loop wall time - 1, of the medians and of the fastest runs
(the least disturbed by a noisy shared machine). Also printed: app wall / CLI ``train_seconds``
(stricter: the CLI figure leaves out evaluation).

    PYTHONPATH=. .venv/bin/python benchmarks/bench_app_overhead.py [--preset moons] [--repeat 3]
        [--modes cli,apptest,browser] [--set epochs=40]
"""
from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))


def _overrides(pairs: list[str]) -> dict[str, str]:
    return dict(p.split("=", 1) for p in pairs)


def cli_reported(preset: str, over: dict[str, str]) -> dict[str, float]:
    flags = [x for k, v in over.items() for x in (f"--{k.replace('_', '-')}", *v.split("-" if k == "hidden" else None))]
    out = subprocess.run([sys.executable, "-m", "nn", "train", "--preset", preset, "--json", *flags],
                         cwd=ROOT, capture_output=True, text=True, check=True)
    return {"cli_reported": json.loads(out.stdout.strip().splitlines()[-1])["train_seconds"]}


def cli_loop(preset: str, over: dict[str, str]) -> dict[str, float]:
    """Wall time of the CLI's own training loop (run in a child process, like the others)."""
    from nn.cli.commands import _train_with_progress
    from app.train.state import config_from_query
    from nn.runs.experiment import build_trainer, load_data
    cfg, _ = config_from_query({"preset": preset, **over})
    trainer = build_trainer(cfg, load_data(cfg))
    t0 = time.perf_counter()
    _train_with_progress(trainer, cfg.epochs, 10**9, quiet=True)
    return {"cli_loop": time.perf_counter() - t0}


def apptest(preset: str, over: dict[str, str]) -> dict[str, float]:
    from streamlit.testing.v1 import AppTest
    at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=600)
    at.query_params.update({"preset": preset, **over})
    at.run()
    at.button(key="train.go").click().run()
    s = at.session_state["train_session"]
    assert not at.exception and s.epoch == s.target, "the app run did not finish"
    return {"apptest": s.wall_seconds}


def in_child(mode: str, preset: str, over: dict[str, str]) -> dict[str, float]:
    """Run ``cli_loop`` or ``apptest`` in a fresh process, so each starts from the same state."""
    cmd = [sys.executable, __file__, "--child", mode, "--preset", preset, "--set", *[f"{k}={v}" for k, v in over.items()]]
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def start_server() -> tuple[subprocess.Popen, str]:
    """``streamlit run dashboard.py`` on a free loopback port (as tests/conftest.py does)."""
    import os
    from conftest import _free_port, _wait_healthy
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "dashboard.py"), "--server.headless", "true",
         "--server.port", str(port), "--server.address", "127.0.0.1", "--browser.gatherUsageStats",
         "false", "--server.fileWatcherType", "none"],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": str(ROOT)})
    url = f"http://127.0.0.1:{port}"
    _wait_healthy(url, proc)
    return proc, url


class Browser:
    """One server and one Chromium for all browser repetitions."""

    def __init__(self) -> None:
        import conftest
        self.proc, self.url = start_server()
        from playwright.sync_api import sync_playwright
        self._pw = sync_playwright().start()
        self._browser = self._pw.chromium.launch(executable_path=conftest.CHROMIUM, args=conftest.CHROMIUM_ARGS)

    def time(self, preset: str, over: dict[str, str]) -> dict[str, float]:
        context = self._browser.new_context(viewport={"width": 1400, "height": 1000})
        page = context.new_page()
        try:
            page.goto(f"{self.url}/?{urlencode({'preset': preset, **over})}")
            page.get_by_role("button", name="Train", exact=True).wait_for(timeout=60_000)
            page.wait_for_timeout(500)
            t0 = time.perf_counter()
            page.get_by_role("button", name="Train", exact=True).click()
            page.get_by_text("Wall-clock training time").wait_for(timeout=600_000)
            click_to_done = time.perf_counter() - t0
            text = page.get_by_text("Wall-clock training time").inner_text()
            return {"browser": float(re.search(r"time: ([\d.]+) s", text).group(1)),
                    "browser_click_to_done": click_to_done}
        finally:
            context.close()

    def close(self) -> None:
        self._browser.close()
        self._pw.stop()
        self.proc.terminate()
        self.proc.wait(10)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--preset", default="moons")
    p.add_argument("--set", nargs="*", default=[], metavar="NAME=VALUE", help="overrides, e.g. epochs=40")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--modes", default="cli,apptest,browser")
    p.add_argument("--child", choices=["cli_loop", "apptest"], help=argparse.SUPPRESS)
    args = p.parse_args()
    over, modes = _overrides(args.set), args.modes.split(",")
    if args.child:
        result = {"cli_loop": cli_loop, "apptest": apptest}[args.child](args.preset, over)
        print(json.dumps(result))
        return
    browser = Browser() if "browser" in modes else None
    runs: dict[str, list[float]] = {}
    try:
        for i in range(args.repeat):
            row = {**cli_reported(args.preset, over), **in_child("cli_loop", args.preset, over)}
            if "apptest" in modes:
                row.update(in_child("apptest", args.preset, over))
            if browser:
                row.update(browser.time(args.preset, over))
            print(f"run {i + 1}: " + "  ".join(f"{k} {v:.3f}s" for k, v in row.items()), flush=True)
            for k, v in row.items():
                runs.setdefault(k, []).append(v)
    finally:
        if browser:
            browser.close()
    med = {k: statistics.median(v) for k, v in runs.items()}
    best = {k: min(v) for k, v in runs.items()}
    print(f"\n{args.preset} {over or ''}: medians " + "  ".join(f"{k} {v:.3f}s" for k, v in med.items()))
    print("fastest " + "  ".join(f"{k} {v:.3f}s" for k, v in best.items()))
    for mode in ("apptest", "browser", "browser_click_to_done"):
        if mode in med:
            print(f"{mode:21s} vs CLI loop: {med[mode] / med['cli_loop'] - 1:+.1%} (medians), "
                  f"{best[mode] / best['cli_loop'] - 1:+.1%} (fastest runs)   "
                  f"vs CLI train_seconds: {med[mode] / med['cli_reported'] - 1:+.1%}")


if __name__ == "__main__":
    main()
