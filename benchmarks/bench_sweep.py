"""The moons tutorial's unfinished experiment: hidden sizes 3..40, 3 trials each, 100 epochs of
minibatch 10 (preset seed-moons: 5000 samples, noise 0.1, SGD lr 1e-3 on the mean gradient).

    PYTHONPATH=. .venv/bin/python benchmarks/bench_sweep.py [--workers 2] [--verify 6]

Times the whole command ``python -m nn sweep ... --json`` as a user runs it (start-up, data,
worker processes included), prints the accuracy curve, writes docs/sweep_hidden.png (the plotly
figure, screenshotted by headless Chromium) and benchmarks/results/sweep_hidden.json. With
``--verify K`` it also trains K (value, trial) pairs alone, ``MLP`` + ``Trainer``, and compares.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
COMMAND = ["-m", "nn", "sweep", "--preset", "seed-moons", "--epochs", "100", "--param", "hidden",
           "--values", "3:40", "--trials", "3", "--json"]
CHROMIUM = "/usr/bin/chromium"


def run_cli(workers: int) -> tuple[dict, float]:
    started = time.perf_counter()
    out = subprocess.run([sys.executable, *COMMAND, "--workers", str(workers)], cwd=ROOT, check=True,
                         capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    wall = time.perf_counter() - started
    return json.loads(out.stdout.strip().splitlines()[-1]), wall


def write_png(summary: list[dict], path: Path, title: str) -> bool:
    """The figure as a PNG through headless Chromium (no kaleido needed)."""
    from nn.sweep.plots import sweep_figure
    if not Path(CHROMIUM).exists():
        print(f"{CHROMIUM} missing: no PNG written", file=sys.stderr)
        return False
    from playwright.sync_api import sync_playwright
    fig = sweep_figure(summary, "hidden", title=title, height=600)
    with tempfile.TemporaryDirectory() as tmp:
        html = Path(tmp) / "fig.html"
        fig.write_html(html, include_plotlyjs=True, full_html=True, config={"displayModeBar": False})
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
            page = browser.new_page(viewport={"width": 900, "height": 620})
            page.goto(html.as_uri())
            page.wait_for_selector(".main-svg")
            page.locator(".plotly-graph-div").screenshot(path=str(path))
            browser.close()
    return True


def cpu_per_task(workers: int) -> list[tuple[int, float]]:
    """CPU seconds of each task's training, run here one after the other: a figure that other
    programs on the machine disturb less than wall time (the sweep's wall time on an idle machine
    is about the start-up plus the largest of these)."""
    from nn.runs.experiment import config_from_preset, load_data
    from nn.sweep import SweepConfig, plan, run_task
    sweep = SweepConfig(config_from_preset("seed-moons", epochs=100), "hidden", list(range(3, 41)), 3)
    data = load_data(sweep.validate().run)
    out = []
    for task in plan(sweep, workers):
        started = time.process_time()
        run_task(sweep, task, data)
        out.append((len(task.values) * len(task.trials), time.process_time() - started))
    return out


def verify(doc: dict, k: int) -> list[tuple]:
    """Train k (value, trial) pairs alone and compare their test accuracy with the sweep's."""
    import numpy as np
    from nn import MLP, Trainer
    from nn.runs.experiment import config_from_preset, load_data
    rng = np.random.default_rng(0)
    pairs = [(r, t) for r in doc["results"] for t in r["runs"]]
    out = []
    for i in rng.choice(len(pairs), size=min(k, len(pairs)), replace=False):
        r, t = pairs[i]
        cfg = config_from_preset("seed-moons", epochs=100, hidden=[r["value"]], seed=t["seed"])
        data = load_data(cfg)
        model = MLP([2, r["value"], 2], cfg.activation, cfg.init, seed=cfg.seed)
        for _ in Trainer(model, data.X_train, data.y_train, config=cfg.train_config()).run():
            pass
        out.append((r["value"], t["trial"], t["accuracy"], model.score(data.X_test, data.y_test)))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workers", type=int, default=-1, help="--workers for the sweep (default: every core)")
    ap.add_argument("--repeat", type=int, default=1, help="runs of the whole command; the best is kept")
    ap.add_argument("--verify", type=int, default=0, metavar="K", help="train K runs alone and compare")
    ap.add_argument("--cpu", action="store_true", help="also time each task's CPU seconds, in this process")
    args = ap.parse_args()
    walls = []
    for _ in range(args.repeat):
        doc, wall = run_cli(args.workers)
        walls.append(wall)
        print(f"whole command {wall:.2f} s (sweep itself {doc['seconds']:.2f} s)")
    res = doc["results"]
    print(f"{len(res)} sizes x 3 trials = {doc['n_runs']} runs on {os.cpu_count()} cores; "
          f"best whole command {min(walls):.2f} s")
    for r in res:
        print(f"  hidden {r['value']:>2}: {r['mean_accuracy']:.2%} +- {r['std_accuracy']:.2%}")
    means = [r["mean_accuracy"] for r in res]
    print(f"mean accuracy from {min(means):.2%} to {max(means):.2%}")
    out_dir = ROOT / "benchmarks" / "results"
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "sweep_hidden.json").write_text(json.dumps({**doc, "wall_seconds": walls}, indent=1))
    best = f"best of {len(walls)}: " if len(walls) > 1 else ""
    title = (f"moons, hidden 3..40, 3 trials, 100 epochs: {doc['n_runs']} runs in {best}{min(walls):.1f} s "
             f"on {os.cpu_count()} cores")
    if write_png(res, ROOT / "docs" / "sweep_hidden.png", title):
        print("wrote docs/sweep_hidden.png")
    if args.cpu:
        for runs, cpu in cpu_per_task(2 if args.workers == -1 else args.workers):
            print(f"task of {runs} runs: {cpu:.2f} CPU s")
    if args.verify:
        rows = verify(doc, args.verify)
        same = sum(a == b for *_, a, b in rows)
        for v, t, a, b in rows:
            print(f"  hidden {v} trial {t}: sweep {a:.4f}  alone {b:.4f}")
        print(f"verify: {same}/{len(rows)} trials with the same test accuracy as training alone")


if __name__ == "__main__":
    main()
