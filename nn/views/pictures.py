"""Still pictures (Pillow) for the live view: plain data in, an RGB ``uint8`` array out.

While training runs, the Train page redraws about once a second. An interactive plotly figure
costs the browser a lot of CPU to lay out and paint each time: on a laptop, the same cores that
train. A picture costs almost nothing to show. So the live view shows these pictures, drawn like
the ``nn.views.plots`` figures (same colours, same content), and the interactive figures replace them
when training stops. Each picture takes a few milliseconds to draw.
"""
from __future__ import annotations

import math
from functools import lru_cache
from typing import Any, Callable, Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from nn.views.plots import (BOUNDARY_SCALE, CLASS_COLORS, RIGHT, TRAIN_COLOR, TRAIN_NAME, VAL_COLOR, WRONG,
                            grid_title, hex_rgb, mosaic, plane_grid, subsample)
from nn.views.plots import series as curve_series

Record = dict[str, Any]
INK, GRID, MUTED = "#262730", "#e6e6ea", "#6b6d7a"          # text, grid lines, tick labels


@lru_cache(maxsize=8)
def font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    """Pillow's bundled font (scalable when Pillow has FreeType, else its small bitmap font)."""
    return ImageFont.load_default(size=size)


# --- curves --------------------------------------------------------------------------------------
def nice_ticks(hi: float, count: int = 6) -> np.ndarray:
    """Ticks 0, s, 2s, ... up to ``hi`` with a round step s (1, 2 or 5 times a power of ten)."""
    raw = max(hi, 1e-9) / count
    mag = 10.0 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 5, 10) if m * mag >= raw)
    return np.arange(0.0, hi + step * 1e-6, step)


def _y_axis(metric: str, values: np.ndarray) -> tuple[Callable[[np.ndarray], np.ndarray], float, float,
                                                      list[tuple[float, str]]]:
    """(transform, low, high, ticks as (position, label)) for the y axis of ``metric``.

    Loss: log scale over whole decades (losses span several); accuracy: 0 to 100%; R^2: from 0
    (or its lowest value, down to -1) to 1."""
    if metric == "loss":
        shown = values[np.isfinite(values)]
        logs = np.log10(np.clip(shown, 1e-12, 1e12)) if len(shown) else np.zeros(1)
        lo, hi = math.floor(logs.min()), math.ceil(logs.max())
        hi = max(hi, lo + 1)
        ticks = [(float(k), f"{10.0 ** k:g}") for k in range(lo, hi + 1)]
        return (lambda v: np.log10(np.clip(v, 1e-12, 1e12))), lo, hi, ticks
    if metric == "r2":
        shown = values[np.isfinite(values)]
        lo = max(-1.0, math.floor(min(0.0, *shown.tolist()) * 5) / 5) if len(shown) else 0.0
        ticks = [(float(t), f"{t:.1f}") for t in np.arange(lo, 1.0001, 0.2 if lo >= -0.4 else 0.4)]
        return (lambda v: np.clip(np.asarray(v, float), lo, None)), lo, 1.02, ticks
    ticks = [(t, f"{t:.0%}") for t in np.linspace(0, 1, 6)]
    return (lambda v: np.asarray(v, float)), 0.0, 1.02, ticks


def curves_image(history: Sequence[Record], metric: str, width: int = 560, height: int = 320,
                 loss_name: str = "cross-entropy") -> np.ndarray:
    """Training and validation ``metric`` ('loss', 'accuracy' or 'r2') against the epoch, as a
    picture: the live stand-in for ``plots.loss_figure`` / ``plots.accuracy_figure`` /
    ``regression_figures.r2_figure``."""
    series = [(curve_series(history, split, metric), color, name)
              for split, color, name in (("train", TRAIN_COLOR, TRAIN_NAME),
                                         ("val", VAL_COLOR, "validation (test set)"))]
    values = np.array([v for (_, ys), _, _ in series for v in ys], float)
    to_y, y_lo, y_hi, y_ticks = _y_axis(metric, values)
    x_hi = max([xs[-1] for (xs, _), _, _ in series if xs] + [1.0])
    img = Image.new("RGB", (width, height), "white")
    pen = ImageDraw.Draw(img)
    left, right, top, bottom = 58, width - 14, 44, height - 40         # the plotting area
    px = lambda x: left + (right - left) * np.asarray(x, float) / x_hi          # noqa: E731
    py = lambda y: bottom - (bottom - top) * (to_y(y) - y_lo) / (y_hi - y_lo)  # noqa: E731

    small = font(13)
    for pos, label in y_ticks:
        v = bottom - (bottom - top) * (pos - y_lo) / (y_hi - y_lo)
        pen.line([(left, v), (right, v)], fill=GRID)
        pen.text((left - 6, v), label, fill=MUTED, font=small, anchor="rm")
    for x in nice_ticks(x_hi):
        u = float(px(x))
        pen.line([(u, top), (u, bottom)], fill=GRID)
        pen.text((u, bottom + 5), f"{x:g}", fill=MUTED, font=small, anchor="mt")
    pen.text(((left + right) / 2, height - 4), "epoch", fill=MUTED, font=small, anchor="mb")
    title = {"loss": f"Loss ({loss_name}, log scale)", "r2": "R² (1 is perfect)"}.get(metric, "Accuracy")
    pen.text((8, 6), title, fill=INK, font=font(17))

    for record in history:                  # a rate changed while training ran (plots._curves)
        if record.get("change"):
            u = float(px(record["epoch"]))
            pen.line([(u, top), (u, bottom)], fill=MUTED, width=1)
    legend_x = right
    for (xs, ys), color, name in reversed(series):                   # legend, right-aligned
        pen.text((legend_x, 30), name, fill=INK, font=small, anchor="rs")
        legend_x -= pen.textlength(name, font=small) + 6
        pen.line([(legend_x - 20, 25), (legend_x, 25)], fill=color, width=3)
        legend_x -= 34
        if len(xs) > 1:
            pen.line(list(zip(px(xs).tolist(), py(np.array(ys)).tolist())), fill=color, width=2,
                     joint="curve")
        elif xs:
            u, v = float(px(xs)[0]), float(py(np.array(ys))[0])
            pen.ellipse((u - 3, v - 3, u + 3, v + 3), fill=color)
    return np.asarray(img)


# --- 2-D datasets --------------------------------------------------------------------------------
def decision_boundary_image(predict_proba: Callable[[np.ndarray], np.ndarray], X_train: np.ndarray,
                            y_train: np.ndarray, X_test: np.ndarray | None = None,
                            y_test: np.ndarray | None = None, grid: int = 100, size: int = 420,
                            max_points: int = 500) -> np.ndarray:
    """The decision boundary as a (size, size, 3) picture: P(class 1) coloured as in
    ``plots.decision_boundary_figure``, train points as dots and test points as diamonds on top."""
    both = X_train if X_test is None else np.vstack([X_train, X_test])
    xs, ys, pts = plane_grid(both, grid)
    p1 = predict_proba(pts)[:, 1].reshape(grid, grid)
    splits = [(X_train, y_train)] + ([] if X_test is None else [(X_test, y_test)])
    return plane_picture(p1, xs, ys, splits, lambda label: CLASS_COLORS[int(label)], size, max_points)


def plane_picture(heat: np.ndarray, xs: np.ndarray, ys: np.ndarray,
                  splits: Sequence[tuple[np.ndarray, np.ndarray]], color: Callable[[Any], Any],
                  size: int = 420, max_points: int = 500) -> np.ndarray:
    """``heat`` (values in [0, 1] on the grid ``xs`` x ``ys``, row 0 at the smallest y) in
    ``BOUNDARY_SCALE``'s colours, with the points of each split on top, filled with
    ``color(label)``: the first split as dots, the second as diamonds."""
    img = Image.fromarray(scale_rgb(heat[::-1])).resize((size, size), Image.BILINEAR)   # row 0 = top
    pen = ImageDraw.Draw(img)
    scale = (size - 1) / np.array([xs[-1] - xs[0], ys[-1] - ys[0]])
    for i, (X, y) in enumerate(splits):
        idx = subsample(len(X), max_points)
        pts_px = (X[idx] - [xs[0], ys[0]]) * scale
        for (u, v), label in zip(pts_px, y[idx]):
            v = size - 1 - v
            fill = color(label)
            if i:
                pen.polygon([(u, v - 4), (u + 4, v), (u, v + 4), (u - 4, v)], fill=fill, outline="black")
            else:
                pen.ellipse((u - 3, v - 3, u + 3, v + 3), fill=fill, outline="white")
    return np.asarray(img)


def scale_rgb(t: np.ndarray) -> np.ndarray:
    """Values in [0, 1] as ``BOUNDARY_SCALE``'s colours (piecewise linear), uint8 RGB."""
    low, mid, high = (hex_rgb(c).astype(np.float32) for _, c in BOUNDARY_SCALE)
    t = np.clip(np.asarray(t, np.float32), 0, 1)[..., None]
    rgb = np.where(t < 0.5, low + (mid - low) * (2 * t), mid + (high - mid) * (2 * t - 1))
    return rgb.astype(np.uint8)


# --- image datasets ------------------------------------------------------------------------------
def image_grid_image(images: np.ndarray, y_true: np.ndarray, y_pred: np.ndarray, confidence: np.ndarray,
                     label: Callable[[int], str] = str, cols: int = 8, title: str = "Test images",
                     count_right: bool = True) -> np.ndarray:
    """The live stand-in for ``plots.image_grid_figure``: the same mosaic with the predicted label
    and its probability (and the true label when wrong) written above each image."""
    ok = np.asarray(y_true) == np.asarray(y_pred)
    tiles, anchors = mosaic(images, ok, cols)
    head = 30
    img = Image.new("RGB", (tiles.shape[1], tiles.shape[0] + head), "white")
    img.paste(Image.fromarray(tiles), (0, head))
    pen = ImageDraw.Draw(img)
    pen.text((4, 4), grid_title(title, ok, count_right), fill=INK, font=font(15))
    label_font = font(12)
    for i, (x, y) in enumerate(anchors):
        lines = [f"{label(int(y_pred[i]))} {confidence[i]:.0%}"]
        if not ok[i]:
            lines.append(f"true {label(int(y_true[i]))}")
        pen.multiline_text((x, y + head), "\n".join(lines), fill=RIGHT if ok[i] else WRONG, font=label_font,
                           anchor="md", align="center", spacing=2)
    return np.asarray(img)
