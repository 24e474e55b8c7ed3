"""Figures for the user's own data (plain data in, a plotly ``Figure`` out; no Streamlit):

- ``projection_figure``: the test points of a table with more than two features, projected on
  their first two principal components (scikit-learn's PCA), coloured right or wrong;
- ``regions_figure``: the predicted class over the plane, for 2-D data with any number of classes;
- ``plane_figure``: the points clicked onto the plane, over a grid of invisible points that
  catch clicks on empty space (Plotly reports clicks on points only).
"""
from __future__ import annotations

import html
from typing import Callable, Sequence

import numpy as np
import plotly.graph_objects as go

from nn.views.plots import LEGEND_UNDER, MARGIN, RIGHT, WRONG, chart_title, plane_grid, subsample

PALETTE = ("#2166ac", "#b2182b", "#1b7837", "#762a83", "#e08214", "#35978f", "#8c510a",
           "#c51b7d", "#4d4d4d", "#bf812d")
PLANE_RANGE = (-2.5, 2.5)         # the drawing plane, both axes
PLANE_STEP = 0.1                  # spacing of the click-catching grid
MAX_PROJECTED = 2000              # test points drawn in the projection


def class_color(k: int) -> str:
    return PALETTE[k % len(PALETTE)]


def _escape(names: Sequence[str]) -> list[str]:
    """Class names are user text: Plotly renders a subset of HTML in labels."""
    return [html.escape(str(n)) for n in names]


def project_2d(X_fit: np.ndarray, X: np.ndarray, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``X`` on the first two principal components of ``X_fit`` and the variance ratio of each."""
    from sklearn.decomposition import PCA
    pca = PCA(n_components=2, random_state=seed).fit(X_fit)
    return pca.transform(X).astype(np.float32), pca.explained_variance_ratio_


SYMBOLS = ("circle", "diamond", "square", "triangle-up", "cross", "x", "star", "hexagon")
SHAPE_KEY = "#8c8c8c"             # the legend's class shapes: grey, the colours mean right/wrong


def projection_figure(X_train: np.ndarray, X_test: np.ndarray, y_test: np.ndarray,
                      pred: np.ndarray, class_names: Sequence[str] = (),
                      height: int = 460) -> go.Figure:
    """Test points on the training set's first two principal components: green when predicted
    right, red when wrong, the marker shape per true class (at most ``MAX_PROJECTED`` points).
    The legend has right and wrong (a click hides either) and one grey shape per class."""
    fit = X_train[subsample(len(X_train), 20_000)]
    idx = subsample(len(X_test), MAX_PROJECTED)
    P, ratio = project_2d(fit, X_test[idx])
    y, p = np.asarray(y_test)[idx], np.asarray(pred)[idx]
    names = _escape(class_names or [str(k) for k in range(int(max(y.max(), p.max())) + 1)])
    traces = []
    for ok, color, what in ((True, RIGHT, "right"), (False, WRONG, "wrong")):
        mask = (y == p) == ok
        if mask.any():
            traces += _projected(P[mask], y[mask], p[mask], names, color, f"{what} ({int(mask.sum())})")
    traces += _shape_key(names, np.unique(y))
    wrong = int((y != p).sum())
    heading = f"Test points on 2 principal components: {wrong} of {len(y)} wrong"
    layout = dict(title=chart_title(heading), height=height, margin=MARGIN,
                  legend=dict(LEGEND_UNDER, title=dict(text=f"{ratio.sum():.0%} of the variance shown; "
                                                             "shape: true class")),
                  xaxis=dict(title=dict(text="PC 1"), zeroline=False),
                  yaxis=dict(title=dict(text="PC 2"), zeroline=False))
    return go.Figure(traces, layout)


def _projected(P: np.ndarray, y: np.ndarray, p: np.ndarray, names: list[str], color: str,
               name: str) -> list[go.Scatter]:
    """The points of one colour (right or wrong): a legend entry (a plain circle) and the points,
    shaped by true class, in the entry's group."""
    label = np.array(names, dtype=object)
    entry = go.Scatter(x=[None], y=[None], mode="markers", name=name, legendgroup=name,
                       marker=dict(color=color, size=9, symbol="circle"))
    points = go.Scatter(
        x=P[:, 0], y=P[:, 1], mode="markers", name=name, legendgroup=name, showlegend=False,
        marker=dict(color=color, size=7, opacity=0.8, line=dict(width=0.5, color="white"),
                    symbol=[SYMBOLS[int(k) % len(SYMBOLS)] for k in y]),
        customdata=np.column_stack([label[y], label[p]]),
        hovertemplate="true %{customdata[0]}, predicted %{customdata[1]}<extra></extra>")
    return [entry, points]


def _shape_key(names: list[str], shown: np.ndarray, most: int = 3) -> list[go.Scatter]:
    """One grey legend entry per marker shape, named by its classes (shapes repeat after
    ``len(SYMBOLS)`` classes: 'a / i / q')."""
    key = []
    for s, symbol in enumerate(SYMBOLS):
        classes = [names[k] for k in shown if int(k) % len(SYMBOLS) == s]
        if classes:
            text = " / ".join(classes[:most]) + (" / …" if len(classes) > most else "")
            key.append(go.Scatter(x=[None], y=[None], mode="markers", name=text,
                                  marker=dict(color=SHAPE_KEY, size=9, symbol=symbol)))
    return key


def _class_scale(n_classes: int) -> list[list]:
    """A discrete colour scale: class k gets its colour on [k, k+1) of z in [0, n_classes]."""
    scale = []
    for k in range(n_classes):
        light = _lighten(class_color(k))
        scale += [[k / n_classes, light], [(k + 1) / n_classes, light]]
    return scale


def _lighten(color: str, amount: float = 0.65) -> str:
    rgb = np.array([int(color[i:i + 2], 16) for i in (1, 3, 5)], dtype=float)
    rgb = rgb + (255 - rgb) * amount
    return "#" + "".join(f"{int(v):02x}" for v in rgb)


def _regions(predict_proba: Callable[[np.ndarray], np.ndarray], xs: np.ndarray, ys: np.ndarray,
             n_classes: int) -> go.Heatmap:
    gx, gy = np.meshgrid(xs, ys)
    pts = np.column_stack([gx.ravel(), gy.ravel()]).astype(np.float32)
    # the class as int8 (an eighth of float64's bytes to send), on [k - 0.5, k + 0.5) of the scale
    pred = predict_proba(pts).argmax(axis=1).reshape(len(ys), len(xs)).astype(np.int8)
    return go.Heatmap(x=xs, y=ys, z=pred, zmin=-0.5, zmax=n_classes - 0.5, colorscale=_class_scale(n_classes),
                      showscale=False, hoverinfo="skip", zsmooth=False)


def _points(X: np.ndarray, y: np.ndarray, names: list[str], symbol: str, split: str,
            max_points: int) -> list[go.Scatter]:
    idx = subsample(len(X), max_points)
    X, y = X[idx], np.asarray(y)[idx]
    return [go.Scatter(x=X[y == k, 0], y=X[y == k, 1], mode="markers",
                       name=f"{names[k]} ({split})", legendgroup=str(k),
                       marker=dict(color=class_color(k), symbol=symbol, size=7,
                                   line=dict(width=1, color="white" if split == "train" else "black")),
                       hoverinfo="skip")
            for k in range(len(names)) if (y == k).any()]


def regions_figure(predict_proba: Callable[[np.ndarray], np.ndarray], X_train: np.ndarray,
                   y_train: np.ndarray, X_test: np.ndarray, y_test: np.ndarray,
                   class_names: Sequence[str], feature_names: Sequence[str] = ("x1", "x2"),
                   grid: int = 100, max_points: int = 500, height: int = 460) -> go.Figure:
    """The predicted class over the plane (light colours) and the points (training: circles,
    test: diamonds) in their true class's colour: 2-D data with any number of classes."""
    xs, ys, _ = plane_grid(np.vstack([X_train, X_test]), grid)
    names = _escape(class_names)
    traces = [_regions(predict_proba, xs, ys, len(names))]
    traces += _points(X_train, y_train, names, "circle", "train", max_points)
    traces += _points(X_test, y_test, names, "diamond", "test", max_points)
    fx, fy = _escape(feature_names)
    layout = dict(title=chart_title("Decision regions: the predicted class over the plane"),
                  height=height, margin=MARGIN, uirevision="regions", legend=LEGEND_UNDER,
                  xaxis=dict(range=[xs[0], xs[-1]], title=dict(text=fx), showgrid=False, zeroline=False),
                  yaxis=dict(range=[ys[0], ys[-1]], title=dict(text=fy), showgrid=False, zeroline=False))
    return go.Figure(traces, layout)


def plane_ticks(low: float = PLANE_RANGE[0], high: float = PLANE_RANGE[1],
                step: float = PLANE_STEP) -> np.ndarray:
    n = int(round((high - low) / step)) + 1
    return np.round(np.linspace(low, high, n), 6).astype(np.float32)


CLICK_TRACE = 0                   # the click-catching grid is the figure's first trace
# as the page's radio says ("A click": "adds class k" or "removes a point"); fits a phone
PLANE_TITLE = "Click the plane to add or remove a point"


def plane_figure(X: np.ndarray, y: np.ndarray, n_classes: int,
                 predict_proba: Callable[[np.ndarray], np.ndarray] | None = None,
                 height: int = 520) -> go.Figure:
    """The drawing plane: invisible grid points (trace ``CLICK_TRACE``, for clicks on empty
    space), the predicted regions of ``predict_proba`` if given, and the points by class."""
    ticks = plane_ticks()
    gx, gy = np.meshgrid(ticks, ticks)
    traces: list = [go.Scatter(x=gx.ravel(), y=gy.ravel(), mode="markers", name="plane",
                               # maxdisplayed: one SVG marker drawn instead of 2601 (a tenth of the
                               # browser's time per redraw); hover and click still see every point
                               marker=dict(size=9, color="rgba(0,0,0,0.004)", maxdisplayed=1),
                               showlegend=False,
                               hovertemplate="x %{x:.1f}, y %{y:.1f}<extra>click to add</extra>")]
    if predict_proba is not None:
        traces.append(_regions(predict_proba, plane_ticks(step=0.05), plane_ticks(step=0.05), n_classes))
    y = np.asarray(y)
    for k in range(n_classes):
        mask = y == k
        traces.append(go.Scatter(x=X[mask, 0], y=X[mask, 1], mode="markers",
                                 name=f"class {k} ({int(mask.sum())})",
                                 marker=dict(color=class_color(k), size=9, line=dict(width=1, color="white")),
                                 hovertemplate="x %{x:.2f}, y %{y:.2f}<extra>class " + str(k) + "</extra>"))
    low, high = PLANE_RANGE
    axis = dict(range=[low - 0.1, high + 0.1], showgrid=True, gridcolor="#eeeeee", zeroline=False,
                fixedrange=True, constrain="domain")     # a square plane, all of it clickable
    layout = dict(title=chart_title(PLANE_TITLE), height=height, margin=MARGIN,
                  clickmode="event+select",
                  dragmode=False, hovermode="closest", uirevision="plane", legend=LEGEND_UNDER,
                  xaxis=dict(**axis), yaxis=dict(**axis, scaleanchor="x"))
    return go.Figure(traces, layout)
