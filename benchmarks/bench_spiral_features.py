"""The spiral with and without input features (issue 20, item 3): how many hidden neurons one
hidden layer needs to separate the two arms when the network reads plain (x1, x2), against the
same network reading Playground's features (x1², x2², x1·x2, sin x1, sin x2 as well).

For each feature set and each hidden size, a 2-D-set network (one ReLU layer, Adam, lr 0.01,
batch 32) trains on the spiral (default 1000 points, noise 0.02, a quarter held out) for a fixed
number of epochs, once per seed; the table gives the mean test accuracy per size and the fewest
neurons whose mean reaches the target (90%). ``--figure PATH`` also draws the two decision
boundaries of the same small network (plain against all features) side by side as a PNG.

Run: PYTHONPATH=. .venv/bin/python benchmarks/bench_spiral_features.py [--sizes 2 4 8 16 32]
     [--seeds 3] [--epochs 200] [--noise 0.02] [--figure docs/spiral_features.png] [--json]
"""
from __future__ import annotations

import argparse
import json
import time
from typing import Any, Sequence

import numpy as np

from nn.core.config import RunConfig
from nn.data.features import LABELS, plane_proba
from nn.runs.experiment import build_trainer, load_data

FEATURE_SETS = {
    "x1, x2": ["x1", "x2"],
    "x1, x2, x1², x2², x1·x2": ["x1", "x2", "x1sq", "x2sq", "x1x2"],
    "all seven": ["x1", "x2", "x1sq", "x2sq", "x1x2", "sinx1", "sinx2"],
}


def config(features: Sequence[str], hidden: int, seed: int, args: argparse.Namespace) -> RunConfig:
    return RunConfig(dataset="spiral", n_samples=args.n_samples, noise=args.noise, features_2d=list(features),
                     hidden=[hidden], activation="relu", optimizer="adam", lr=0.01, batch_size=32,
                     epochs=args.epochs, seed=seed).validate()


def train(cfg: RunConfig) -> tuple[Any, Any, float]:
    """(model, data, test accuracy) after ``cfg.epochs`` epochs."""
    data = load_data(cfg)
    trainer = build_trainer(cfg, data)
    for _ in trainer.run():
        pass
    return trainer.model, data, float(trainer.model.score(data.X_test, data.y_test))


def measure(args: argparse.Namespace) -> dict[str, dict[int, float]]:
    """Mean test accuracy per feature set and hidden size, over the seeds."""
    out: dict[str, dict[int, float]] = {}
    for name, features in FEATURE_SETS.items():
        out[name] = {}
        for size in args.sizes:
            scores = [train(config(features, size, seed, args))[2] for seed in range(args.seeds)]
            out[name][size] = float(np.mean(scores))
            print(f"{name:28s} {size:3d} neurons: {out[name][size]:.3f}", flush=True)
    return out


def fewest(accuracies: dict[int, float], target: float) -> int | None:
    """The smallest hidden size whose mean accuracy reaches ``target`` (None: none does)."""
    return next((size for size in sorted(accuracies) if accuracies[size] >= target), None)


def table(results: dict[str, dict[int, float]], target: float) -> str:
    sizes = sorted(next(iter(results.values())))
    head = ["inputs", *(f"{s} neurons" for s in sizes), f"neurons for {target:.0%}"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, acc in results.items():
        need = fewest(acc, target)
        cells = [name, *(f"{acc[s]:.1%}" for s in sizes), str(need) if need else f"> {sizes[-1]}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def figure(path: str, size: int, args: argparse.Namespace) -> None:
    """The decision boundaries of one ``size``-neuron network on plain (x1, x2) and on all seven
    features (seed 0), side by side with their test accuracy."""
    from PIL import Image, ImageDraw

    from nn.views.pictures import INK, decision_boundary_image, font
    panels = []
    for name in ("x1, x2", "all seven"):
        features = FEATURE_SETS[name]
        model, data, acc = train(config(features, size, 0, args))
        img = decision_boundary_image(plane_proba(model), data.plane_train, data.y_train, data.plane_test,
                                      data.y_test, size=360)
        words = ", ".join(LABELS[f] for f in features).replace("²", "^2")   # Pillow's font has no ²
        panels.append((img, f"{size} hidden neurons reading {words}", f"test accuracy {acc:.1%}"))
    out = Image.new("RGB", (2 * 360 + 30, 360 + 50), "white")
    pen = ImageDraw.Draw(out)
    for i, (img, first, second) in enumerate(panels):
        x = 10 + i * 370
        out.paste(Image.fromarray(img), (x, 48))
        pen.text((x, 4), first, fill=INK, font=font(12))
        pen.text((x, 24), second, fill=INK, font=font(14))
    out.save(path, optimize=True)
    print(f"wrote {path}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[2, 4, 6, 8, 12, 16, 24, 32])
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--epochs", type=int, default=200)
    p.add_argument("--n-samples", type=int, default=1000)
    p.add_argument("--noise", type=float, default=0.02)
    p.add_argument("--target", type=float, default=0.9)
    p.add_argument("--figure", metavar="PATH", help="also draw the two boundaries of an 8-neuron net")
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    started = time.perf_counter()
    results = measure(args)
    print(f"\nspiral, {args.n_samples} points, noise {args.noise:g}; one ReLU layer, Adam lr 0.01, "
          f"batch 32, {args.epochs} epochs; mean test accuracy over {args.seeds} seeds "
          f"({time.perf_counter() - started:.0f} s)\n")
    print(table(results, args.target))
    if args.figure:
        figure(args.figure, 8, args)
    if args.json:
        print(json.dumps({"args": vars(args), "results": results}))


if __name__ == "__main__":
    main()
