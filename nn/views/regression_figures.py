"""Figures for regression (a quantity, not a class): plain data in, a plotly ``Figure`` out.

- ``r2_figure``: training and validation R^2 per epoch (beside ``plots.loss_figure``, which
  draws the mean squared error), in place of the accuracy chart;
- ``surface_figure``: the predicted quantity over the plane with the points coloured by their
  own value on the same scale (2-D sets; beside ``plots.decision_boundary_figure``);
- ``predicted_actual_figure``: each test row's prediction against its actual value (tables).
"""
from __future__ import annotations

import html
from typing import Any, Callable, Sequence

import numpy as np
import plotly.graph_objects as go

from nn.views.pictures import plane_picture, scale_rgb
from nn.views.plots import (BOUNDARY_SCALE, LEGEND_UNDER, MARGIN, TRAIN_COLOR, _curves, chart_title,
                            plane_grid, subsample)

Record = dict[str, Any]
R2_FLOOR = -1.0               # the R^2 axis starts no lower: below 0 is worse than the mean


def r2_axis_low(history: Sequence[Record]) -> float:
    """The R^2 axis's lower end: 0, or the lowest R^2 drawn if below (at most down to R2_FLOOR)."""
    values = [r[k] for r in history for k in ("train_r2", "val_r2") if r.get(k) is not None]
    return max(R2_FLOOR, min([0.0, *values]))


def r2_figure(history: Sequence[Record], height: int = 320) -> go.Figure:
    """Training and validation R^2 = 1 - MSE / Var(y) per epoch (1: perfect; 0: no better than
    predicting the mean)."""
    return _curves(history, "r2", "R² (1 is perfect, 0 predicts the mean)", height,
                   dict(title=dict(text="R²"), range=[r2_axis_low(history) - 0.02, 1.02]))


def value_range(*arrays: np.ndarray) -> float:
    """Half the width of a colour scale centred on 0 that holds every value (at least 1e-6)."""
    return max(float(max(np.abs(a).max() for a in arrays if len(a))), 1e-6)


def surface_figure(predict: Callable[[np.ndarray], np.ndarray], X_train: np.ndarray, y_train: np.ndarray,
                   X_test: np.ndarray, y_test: np.ndarray, grid: int = 100, max_points: int = 500,
                   height: int = 460) -> go.Figure:
    """The predicted value over the plane (heatmap) with training points (circles) and test points
    (diamonds) coloured by their actual value on the same scale, centred on 0: a point that
    disappears into its background is predicted well."""
    xs, ys, pts = plane_grid(np.vstack([X_train, X_test]), grid)
    surface = np.asarray(predict(pts), dtype=np.float32).reshape(grid, grid)
    m = value_range(y_train, y_test)
    scale = dict(cmin=-m, cmax=m, colorscale=BOUNDARY_SCALE)
    traces: list[Any] = [go.Heatmap(x=xs, y=ys, z=surface, zmin=-m, zmax=m, colorscale=BOUNDARY_SCALE,
                                    zsmooth="fast", colorbar=dict(title="value", thickness=12),
                                    hovertemplate="x %{x:.2f}, y %{y:.2f}<br>predicted %{z:.3f}<extra></extra>")]
    for split, X, y, symbol in (("train", X_train, y_train, "circle"), ("test", X_test, y_test, "diamond")):
        idx = subsample(len(X), max_points)
        traces.append(go.Scatter(
            x=X[idx, 0], y=X[idx, 1], mode="markers", name=f"{split} points ({symbol}s)",
            marker=dict(symbol=symbol, size=6 if split == "train" else 7, color=y[idx], **scale,
                        line=dict(width=1, color="white" if split == "train" else "black")),
            hoverinfo="skip"))
    axis = dict(showgrid=False, zeroline=False)
    layout = dict(title=chart_title("The predicted value over the plane, and the points' values"),
                  height=height, margin=MARGIN, uirevision="surface", legend=LEGEND_UNDER,
                  xaxis=dict(range=[xs[0], xs[-1]], constrain="domain", **axis),
                  yaxis=dict(range=[ys[0], ys[-1]], scaleanchor="x", constrain="domain", **axis))
    return go.Figure(traces, layout)


MAX_SHOWN = 2000              # test rows drawn on the predicted-against-actual chart


def predicted_actual_figure(actual: np.ndarray, predicted: np.ndarray, label: str = "value",
                            height: int = 460) -> go.Figure:
    """Each test row's predicted value against its actual value (at most ``MAX_SHOWN`` rows), with
    the diagonal where a perfect model's points would lie; both in the label's units."""
    idx = subsample(len(actual), MAX_SHOWN)
    a, p = np.asarray(actual, np.float64)[idx], np.asarray(predicted, np.float64)[idx]
    lo, hi = (float(min(a.min(), p.min())), float(max(a.max(), p.max()))) if len(a) else (0.0, 1.0)
    name = html.escape(label)
    traces = [go.Scatter(x=[lo, hi], y=[lo, hi], mode="lines", name="perfect (predicted = actual)",
                         line=dict(color="#888888", dash="dash", width=1), hoverinfo="skip"),
              go.Scatter(x=a, y=p, mode="markers", name=f"test rows ({len(a)})",
                         marker=dict(color=TRAIN_COLOR, size=6, opacity=0.7),
                         hovertemplate="actual %{x:.4g}, predicted %{y:.4g}<extra></extra>")]
    layout = dict(title=chart_title(f"Predicted against actual {name} (test set)"), height=height,
                  margin=MARGIN, legend=LEGEND_UNDER, uirevision="predicted",
                  xaxis=dict(title=dict(text=f"actual {name}")),
                  yaxis=dict(title=dict(text=f"predicted {name}")))
    return go.Figure(traces, layout)


def surface_image(predict: Callable[[np.ndarray], np.ndarray], X_train: np.ndarray, y_train: np.ndarray,
                  X_test: np.ndarray, y_test: np.ndarray, grid: int = 100, size: int = 420) -> np.ndarray:
    """The live stand-in for ``surface_figure``: the same colours as a still picture
    (``pictures.plane_picture``), the scale running from -m to m (m the largest |value|)."""
    xs, ys, pts = plane_grid(np.vstack([X_train, X_test]), grid)
    m = value_range(y_train, y_test)
    heat = (np.asarray(predict(pts), np.float32).reshape(grid, grid) + m) / (2 * m)
    color = lambda v: tuple(int(c) for c in scale_rgb((v + m) / (2 * m)))     # noqa: E731
    return plane_picture(heat, xs, ys, [(X_train, y_train), (X_test, y_test)], color, size)
