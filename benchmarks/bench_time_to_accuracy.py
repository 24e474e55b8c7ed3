"""Time to accuracy (issue 21): each time-to-accuracy preset trained by nn (exactly as
``python -m nn train --preset X`` trains it: ``nn.runs.experiment``) and by PyTorch on the CPU
(the same layers, initialisation, optimizer, schedule, batch, epochs, label smoothing,
augmentation and test-time augmentation: benchmarks/torch_twin.py), over several seeds, in one run.

    MNIST_PATH=../shared/data/mnist.npz .venv/bin/python benchmarks/bench_time_to_accuracy.py
    ... --preset mnist-fast --seeds 5 --json out.json
    ... --preset mnist-fast --seeds 1 --limit-train 2000 --limit-test 500    # a smoke test

For each: training seconds per seed (data already in memory, test passes not counted), test
accuracy per seed, their mean and worst, and "GFLOP-equivalents" = train seconds x the
machine's float32 matmul GFLOP/s (benchmarks/machine.py, measured at the start and the end of the
run; the higher is used, so a probe at a busy moment does not flatter the figure), held against
the issue's bounds. PyTorch is skipped with a message when it is not installed.

Known differences: nn runs a batch as one chunk per core on its worker threads, and batch norm
normalises each chunk by its own statistics ("ghost batch norm": 128 rows of a 256-row batch on
2 cores), PyTorch by the whole batch's (the running averages take the whole batch's in both). PyTorch
gets one untimed warm-up pass (its first passes build kernels), as nn's trainer makes one before
training. Both shuffle with their own generators, so a seed draws different batches in each.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import sys
from contextlib import nullcontext
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from nn.core import CNN_PRESETS  # noqa: E402
from nn.core.blas_threads import cores  # noqa: E402
from nn.core.tta import tta_evaluate  # noqa: E402
from nn.data import Dataset  # noqa: E402
from nn.runs.experiment import build_model, build_trainer, config_from_preset, load_data  # noqa: E402
from machine import load, matmul_gflops  # noqa: E402  (benchmarks/machine.py)

# Issue 21's targets: mean and worst test accuracy over the seeds, and train seconds x matmul
# GFLOP/s (5 s and 120 s at 333 GFLOP/s).
BOUNDS: dict[str, dict[str, float]] = {
    "mnist-fast": {"mean_accuracy": 0.99, "worst_accuracy": 0.9885, "gflop_equivalents": 1665},
    "mnist-best": {"mean_accuracy": 0.995, "gflop_equivalents": 39960},
}
DEFAULT_SEEDS = {"mnist-fast": 5, "mnist-best": 3}
# Settings a preset may leave to their defaults that the PyTorch twin must know too
RECIPE_DEFAULTS = ("init", "momentum", "weight_decay", "l1", "val_share", "augment", "label_smoothing",
                   "tta", "lr_schedule")


# --- nn --------------------------------------------------------------------------------------
def run_nn(name: str, data: Dataset, seed: int, threads: int | None) -> tuple[float, float]:
    """(train seconds, test accuracy) of preset ``name`` with ``seed``, as the CLI trains it."""
    cfg = config_from_preset(name, seed=seed)
    # The CLI's trainer, without its test pass after each epoch (it does not count in the train
    # seconds and changes nothing of the training; the test set is read once, at the end)
    untested = dataclasses.replace(data, X_test=None, y_test=None)
    trainer = build_trainer(cfg, untested, build_model(cfg, data), report_every=3600.0)   # a record per epoch
    if threads:
        trainer.model.workers = threads                       # nn's threads per pass
    with _blas_threads(threads):
        for _ in trainer.run():
            pass
    _, accuracy = tta_evaluate(trainer.model, data.X_test, data.y_test, cfg.tta)   # the CLI's test figure
    return trainer.seconds, accuracy


def _blas_threads(threads: int | None) -> Any:
    if not threads:
        return nullcontext()
    from threadpoolctl import threadpool_limits
    return threadpool_limits(threads)


# --- PyTorch ---------------------------------------------------------------------------------
def torch_recipe_gap(recipe: dict[str, Any]) -> str | None:
    """Why the PyTorch twin would not train the same recipe (None if it would)."""
    if recipe.get("val_share"):
        return "the preset holds out rows for early stopping, which the PyTorch twin does not"
    if recipe.get("weight_decay") or recipe.get("l1"):
        return "the preset has weight decay or l1, which the PyTorch twin does not mirror"
    return None


def run_torch(recipe: dict[str, Any], data: Dataset, seed: int, threads: int) -> tuple[float, float]:
    """(train seconds, test accuracy) of the PyTorch twin of ``recipe`` with ``seed``."""
    import torch
    from torch_twin import torch_network, train_torch, tta_accuracy
    from nn.data.augment import Augment
    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    model = torch_network(recipe, (1, *data.image_shape), data.n_classes)
    augment = None
    if recipe.get("augment"):
        settings = Augment(**{k: float(v) for k, v in recipe["augment"].items()}).validate()
        augment = lambda X, rng: settings(X, rng, data.image_shape)   # noqa: E731
    times = train_torch(model, recipe, data.X_train, data.y_train, recipe["epochs"], seed, augment)
    return sum(times), tta_accuracy(model, data.X_test, data.y_test, recipe.get("tta", 1),
                                    (1, *data.image_shape))


def torch_missing() -> str | None:
    try:
        import torch  # noqa: F401
    except ImportError:
        return "PyTorch is not installed (pip install torch --index-url https://download.pytorch.org/whl/cpu)"
    return None


# --- figures ---------------------------------------------------------------------------------
def summary(name: str, seconds: list[float], accuracies: list[float], gflops: float) -> dict[str, Any]:
    """Per-seed figures, their mean and worst, GFLOP-equivalents (seconds x GFLOP/s) and
    which of the issue's bounds they hold."""
    mean_s = statistics.fmean(seconds)
    figures = {"train_seconds": [round(s, 3) for s in seconds], "test_accuracy": accuracies,
            "mean_train_seconds": round(mean_s, 3), "max_train_seconds": round(max(seconds), 3),
            "mean_accuracy": statistics.fmean(accuracies), "worst_accuracy": min(accuracies),
            "gflop_equivalents": round(mean_s * gflops),
            "gflop_equivalents_max": round(max(seconds) * gflops)}
    figures["bounds_held"] = check_bounds(name, figures)
    return figures


def check_bounds(name: str, figures: dict[str, Any]) -> dict[str, bool]:
    """Each of the issue's bounds for ``name``: held or not (accuracies at least, GFLOP-eq at most)."""
    held = {}
    for key, bound in BOUNDS.get(name, {}).items():
        held[key] = figures[key] <= bound if key == "gflop_equivalents" else figures[key] >= bound
    return held


def limited(data: Dataset, train: int | None, test: int | None) -> Dataset:
    """The first ``train`` training and ``test`` test rows (all when None), for smoke tests."""
    return dataclasses.replace(data, X_train=data.X_train[:train], y_train=data.y_train[:train],
                               X_test=data.X_test[:test], y_test=data.y_test[:test])


def bench_preset(name: str, seeds: int, data: Dataset, threads: int | None,
                 with_torch: bool) -> dict[str, Any]:
    """The preset's recipe, seeds and each framework's raw figures per seed."""
    cfg = config_from_preset(name)
    recipe = {k: v for k, v in cfg.to_dict().items() if k in (*CNN_PRESETS[name], *RECIPE_DEFAULTS)}
    seed_list = [cfg.seed + i for i in range(seeds)]
    out: dict[str, Any] = {"recipe": recipe, "seeds": seed_list, "bounds": BOUNDS.get(name, {})}
    frameworks = {"nn": lambda s: run_nn(name, data, s, threads)}
    gap = torch_missing() if with_torch else "left out (--no-torch)"
    gap = gap or torch_recipe_gap(recipe)
    if gap:
        out["torch_skipped"] = gap
        print(f"{name}: PyTorch skipped: {gap}", flush=True)
    else:
        frameworks["torch"] = lambda s: run_torch(dict(recipe, seed=s), data, s, threads or cores())
    for framework, run in frameworks.items():
        seconds, accuracies = [], []
        for seed in seed_list:
            s, acc = run(seed)
            seconds.append(s)
            accuracies.append(acc)
            print(f"{name} {framework:5s} seed {seed}: {s:6.2f} s  test accuracy {acc:.2%}  ({load()})",
                  flush=True)
        out[framework] = {"train_seconds": seconds, "test_accuracy": accuracies}
    return out


def markdown(results: dict[str, Any], gflops: float) -> str:
    lines = [f"Matmul: {gflops:.0f} GFLOP/s (float32 2048x2048, the higher of the start and end probes)", "",
             "| preset | framework | seeds | train s (mean / max) | GFLOP-eq (bound) | test acc mean "
             "| worst |",
             "|---|---|---|---|---|---|---|"]
    for name, r in results.items():
        bound = r["bounds"].get("gflop_equivalents", "-")
        for framework in ("nn", "torch"):
            if framework in r:
                f = r[framework]
                lines.append(f"| {name} | {framework} | {len(r['seeds'])} | {f['mean_train_seconds']:.2f} / "
                             f"{f['max_train_seconds']:.2f} | {f['gflop_equivalents']:,} ({bound:,}) | "
                             f"{f['mean_accuracy']:.2%} | {f['worst_accuracy']:.2%} |")
        if "nn" in r and "torch" in r:
            ratio = r["nn"]["mean_train_seconds"] / r["torch"]["mean_train_seconds"]
            lines.append(f"| {name} | nn / torch time | | {ratio:.2f} | | | |")
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--preset", action="append", choices=list(CNN_PRESETS),
                    help="a preset to time (repeatable); default: mnist-fast and mnist-best, those present")
    ap.add_argument("--seeds", type=int, help="seeds per preset (the preset's seed, +1, ...); "
                    "default: 5 for mnist-fast, 3 for mnist-best")
    ap.add_argument("--threads", type=int, help="threads for nn and PyTorch; default: all the cores")
    ap.add_argument("--limit-train", type=int, help="train on the first N rows only (smoke tests)")
    ap.add_argument("--limit-test", type=int, help="test on the first N rows only (smoke tests)")
    ap.add_argument("--no-torch", action="store_true", help="time nn only")
    ap.add_argument("--json", metavar="FILE", help="also write the results as JSON to FILE ('-': stdout)")
    args = ap.parse_args(argv)
    for opt in ("seeds", "threads", "limit_train", "limit_test"):
        if getattr(args, opt) is not None and getattr(args, opt) < 1:
            ap.error(f"--{opt.replace('_', '-')} must be at least 1")
    return args


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    names = args.preset or [n for n in ("mnist-fast", "mnist-best") if n in CNN_PRESETS]
    first = {CNN_PRESETS[n]["dataset"]: n for n in reversed(names)}    # a preset of each dataset
    data = {d: limited(load_data(config_from_preset(n)), args.limit_train, args.limit_test)
            for d, n in first.items()}
    print(f"presets {', '.join(names)}; threads {args.threads or cores()}; before: {load()}", flush=True)
    gflops_start = matmul_gflops()
    results = {n: bench_preset(n, args.seeds or DEFAULT_SEEDS.get(n, 3), data[CNN_PRESETS[n]["dataset"]],
                               args.threads, not args.no_torch) for n in names}
    gflops_end = matmul_gflops()
    gflops = max(gflops_start, gflops_end)
    for name, r in results.items():                 # GFLOP-equivalents at the higher probe
        for framework in ("nn", "torch"):
            if framework in r:
                raw = r[framework]
                r[framework] = summary(name, raw["train_seconds"], raw["test_accuracy"], gflops)
    report = {"matmul_gflops": {"start": round(gflops_start, 1), "end": round(gflops_end, 1),
                                "used": round(gflops, 1)},
              "threads": args.threads or cores(), "load_after": load(),
              "limit_train": args.limit_train, "limit_test": args.limit_test, "presets": results}
    print(markdown(results, gflops))
    if args.json:
        text = json.dumps(report, indent=1)
        if args.json == "-":
            print(text)
        else:
            Path(args.json).write_text(text)
    return report


if __name__ == "__main__":
    main()
