"""Cost of the inside view (nn.views.inspect) per record, for the moons and mnist presets' networks.

For each preset: the network is trained a little (so its weights are not the initial ones), then
each computation the live view would run per record is timed (median and 95th percentile of
``--repeats`` runs, in ms), next to the time one record of training takes on the command line
(moons: one epoch; mnist: the 0.5 s report interval or one epoch, whichever is shorter):

  health       HealthMonitor.update (gradients on 256 rows, norms, dead/saturated units, readings)
  health_pic   pictures.health_image over the history so far (200 records)
  hist_pic     the weight histograms now vs start + pictures.histograms_image
  maps+net     neuron_maps (40x40 plane) + pictures.network_image (moons only)
  weights_pic  most_active_units on 1000 test rows + 64 weight images + pictures.weights_image (mnist)
  step         BackpropStepper.step + equations (moons) or summaries (mnist), apply=False
  net_figure   figures.network_figure (once, when training stops; moons only)

Run: MNIST_PATH=... PYTHONPATH=. .venv/bin/python benchmarks/bench_inspect.py [--repeats 30] [--json]
Without MNIST_PATH (or ~/.keras) the mnist rows use random 784-pixel data of the same shape.
"""
from __future__ import annotations

import argparse
import json
import time
from typing import Callable

import numpy as np

from nn.data import Dataset, mnist_available
from nn.runs.experiment import build_trainer, config_from_preset, load_data
from nn.views.inspect import (BackpropStepper, HealthMonitor, first_layer_weight_images,
                              most_active_units, neuron_maps)
from nn.views.inspect import figures
from nn.views.inspect import pictures as ip

REDRAW_MS = 1000.0              # the Train page redraws its live pictures about once a second


def timed(fn: Callable[[], object], repeats: int) -> tuple[float, float]:
    fn()                                                      # warm-up (fonts, caches)
    out = np.empty(repeats)
    for i in range(repeats):
        t0 = time.perf_counter()
        fn()
        out[i] = (time.perf_counter() - t0) * 1e3
    return float(np.median(out)), float(np.percentile(out, 95))


def _data(preset: str):
    cfg = config_from_preset(preset, epochs=1)
    if cfg.dataset == "mnist" and not mnist_available():
        rng = np.random.default_rng(0)
        X, y = rng.random((60000, 784), dtype=np.float32), rng.integers(0, 10, 60000)
        return cfg, Dataset("mnist (random stand-in)", X, y, X[:10000], y[:10000], n_classes=10,
                            image_shape=(28, 28))
    return cfg, load_data(cfg)


def bench(preset: str, repeats: int) -> dict[str, object]:
    cfg, data = _data(preset)
    trainer = build_trainer(cfg, data)
    model = trainer.model
    monitor = HealthMonitor(model, data.X_train, data.y_train)
    t0 = time.perf_counter()
    for record in trainer.run(1):
        monitor.update(record)
    epoch_ms = (time.perf_counter() - t0) * 1e3
    record_ms = min(epoch_ms, 500.0)
    history = (monitor.history * 200)[:200]
    rows: dict[str, tuple[float, float]] = {
        "health": timed(lambda: monitor.update({"epoch": 1, "step": trainer.steps_done}), repeats),
        "health_pic": timed(lambda: ip.health_image(history), repeats),
        "hist_pic": timed(lambda: ip.histograms_image(monitor.histograms()), repeats),
    }
    stepper = BackpropStepper(model, data.X_train, data.y_train, cfg.train_config())
    if data.image_shape is None:
        rows["maps+net"] = timed(lambda: ip.network_image(model, neuron_maps(model, data.X_train, 40), height=600,
                                                          max_units=12), repeats)     # as the Train page draws it
        rows["step"] = timed(lambda: stepper.step(apply=False).equations(), repeats)
        maps = neuron_maps(model, data.X_train, 40)
        rows["net_figure"] = timed(lambda: figures.network_figure(model, maps), max(3, repeats // 5))
    else:
        def weights() -> np.ndarray:
            units = most_active_units(model, data.X_test[:1000], k=64)
            return ip.weights_image(first_layer_weight_images(model, data.image_shape, units), units)
        rows["weights_pic"] = timed(weights, repeats)
        rows["step"] = timed(lambda: stepper.step(apply=False).summaries(), repeats)
    return {"preset": preset, "dataset": data.name, "layers": model.layer_sizes,
            "epoch_ms": round(epoch_ms, 1), "record_ms": round(record_ms, 1),
            "ms": {k: [round(a, 2), round(b, 2)] for k, (a, b) in rows.items()}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=30)
    ap.add_argument("--presets", nargs="+", default=["moons", "mnist"])
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    results = [bench(p, args.repeats) for p in args.presets]
    for r in results:
        print(f"{r['preset']} ({r['dataset']}, {r['layers']}): one epoch {r['epoch_ms']:.0f} ms, "
              f"a record every {r['record_ms']:.0f} ms of training")
        for name, (med, p95) in r["ms"].items():
            share = "" if name in ("net_figure", "step") else \
                f"  ({med / r['record_ms']:.1%} of a record, {med / REDRAW_MS:.1%} of a 1 s redraw interval)"
            print(f"  {name:<12} median {med:7.2f} ms   p95 {p95:7.2f} ms{share}")
    if args.json:
        print(json.dumps(results))


if __name__ == "__main__":
    main()
