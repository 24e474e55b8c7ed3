"""Server-side latency of reading a drawing on the Draw page (issue 4: under 50 ms).

Times, on a 280x280 RGBA board holding a drawn digit:
  decode   the PNG the canvas sends -> RGBA array (what CanvasResult.image_data does)
  predict  nn.views.draw.predict_drawing: to_mnist + the shipped model's predict_proba (the CNN
           models/mnist-cnn.npz, the Draw page's default, and the MLP models/mnist.npz)
  read     decode + predict: the drawing-to-prediction latency held to the 50 ms budget
  chart    the plotly probability figure (drawing it, not predicting)
  total    read + chart

Run: PYTHONPATH=. .venv/bin/python benchmarks/bench_draw_latency.py [--repeats 200] [--models cnn,mlp] [--json]
The machine's cores may be shared: read the median and the 95th percentile, not the best (the
load average is printed with the figures).
"""
from __future__ import annotations

import argparse
import io
import json
import os
import time
from typing import Callable

import numpy as np
from PIL import Image, ImageDraw

import nn
from nn.views.draw import BOARD, CNN_MODEL_PATH, DEFAULT_MODEL_PATH, predict_drawing, probability_figure

BUDGET_MS = 50.0
MODELS = {"cnn": CNN_MODEL_PATH, "mlp": DEFAULT_MODEL_PATH}


def drawn_board() -> bytes:
    """A '4' drawn with 20-px white strokes on black, as the canvas PNG-encodes it."""
    img = Image.new("RGBA", (BOARD, BOARD), (0, 0, 0, 255))
    pen = ImageDraw.Draw(img)
    for line in ([(90, 40), (60, 160), (200, 160)], [(170, 60), (160, 250)]):
        pen.line(line, fill=(255, 255, 255, 255), width=20, joint="curve")
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def timed(fn: Callable[[], object], repeats: int) -> np.ndarray:
    fn()                                                      # warm-up
    out = np.empty(repeats)
    for i in range(repeats):
        t0 = time.perf_counter()
        fn()
        out[i] = (time.perf_counter() - t0) * 1e3
    return out


def bench_model(path, png: bytes, repeats: int) -> dict:
    """The stages' median, p95 and max (ms) with the model saved at ``path``."""
    model = nn.load(path)
    rgba = np.asarray(Image.open(io.BytesIO(png)))
    proba = predict_drawing(model, rgba).proba

    def read():
        return predict_drawing(model, np.asarray(Image.open(io.BytesIO(png))))

    stages = {"decode": lambda: np.asarray(Image.open(io.BytesIO(png))),
              "predict": lambda: predict_drawing(model, rgba),
              "read": read,
              "chart": lambda: probability_figure(proba),
              "total": lambda: probability_figure(read().proba)}
    results = {name: timed(fn, repeats) for name, fn in stages.items()}
    summary = {name: {"median_ms": round(float(np.median(t)), 3),
                      "p95_ms": round(float(np.percentile(t, 95)), 3),
                      "max_ms": round(float(t.max()), 3)} for name, t in results.items()}
    summary["digit"] = int(proba.argmax())
    summary["within_budget"] = summary["read"]["p95_ms"] < BUDGET_MS
    summary["load"] = "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())
    return summary


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=200)
    ap.add_argument("--models", default="cnn,mlp", help="comma-separated, of cnn and mlp")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    png = drawn_board()
    out = {name: bench_model(MODELS[name], png, args.repeats) for name in args.models.split(",")}
    if args.json:
        print(json.dumps(out))
        return
    for name, summary in out.items():
        print(f"{name} ({MODELS[name].name}): drawing read as {summary['digit']}; {args.repeats} repeats "
              f"each ({summary['load']})")
        for stage in ("decode", "predict", "read", "chart", "total"):
            s = summary[stage]
            print(f"  {stage:8s} median {s['median_ms']:7.2f} ms   p95 {s['p95_ms']:7.2f} ms   "
                  f"max {s['max_ms']:7.2f} ms")
        verdict = "met" if summary["within_budget"] else "MISSED"
        print(f"  budget {BUDGET_MS:.0f} ms for a prediction: {verdict} (p95 of read)")


if __name__ == "__main__":
    main()
