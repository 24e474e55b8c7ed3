"""Plot builders for the dashboard: plain data in, a plotly ``Figure`` out (no Streamlit here).

Kept small: curves are a few hundred points, the decision boundary a 100x100 grid, image grids
a single PNG mosaic with one label per tile. While training runs, the Train page shows the still
pictures of ``nn.views.pictures`` instead (drawn from the same data, far cheaper for the browser).
"""
from __future__ import annotations

import base64
import html
import io
import math
from typing import Any, Callable, Sequence

import numpy as np
import plotly.graph_objects as go

Record = dict[str, Any]
TRAIN_COLOR, VAL_COLOR = "#1f77b4", "#ff7f0e"
HOLDOUT_COLOR = "#2ca02c"                   # early stopping's held-out training rows
MUTED_LINE = "#888888"                      # marks on a chart (a rate changed mid-run)
RIGHT, WRONG = "#1a9850", "#d73027"                 # correct / wrong predictions
CLASS_COLORS = ("#2166ac", "#b2182b")               # class 0 / class 1 on the boundary plot
BOUNDARY_SCALE = [[0.0, "#4393c3"], [0.5, "#f7f7f7"], [1.0, "#d6604d"]]
# Plotly's toolbar, shown on hover, takes the top TOOLBAR_PX of a chart at its right, and on a
# 390 px phone most of its width: titles start below that strip, and legends go under the plot.
TOOLBAR_PX = 34
MARGIN = dict(l=10, r=10, t=TOOLBAR_PX + 34, b=10)
LEGEND_UNDER = dict(orientation="h", x=0, xanchor="left", y=0, yref="container", yanchor="bottom")


def chart_title(text: str) -> dict:
    """A chart's title at its left, below the toolbar's strip (``layout.title``)."""
    return dict(text=text, x=0, xref="container", xanchor="left", y=1, yref="container",
                yanchor="top", pad=dict(t=TOOLBAR_PX, l=10))


def curve_points(history: Sequence[Record], key: str, max_points: int = 400) -> tuple[list, list]:
    """(epochs, values) for one metric, thinned to about ``max_points`` (keeping the last)."""
    rows = [r for r in history if r.get(key) is not None]
    if len(rows) > max_points:
        idx = np.unique(np.linspace(0, len(rows) - 1, max_points).round().astype(int))
        rows = [rows[i] for i in idx]
    return [r["epoch"] for r in rows], [r[key] for r in rows]


SMOOTHING_EPOCHS = 0.25       # the smoothed training line's time constant, in epochs
TRAIN_NAME = "training (smoothed)"


def _interval_means(history: Sequence[Record], key: str) -> tuple[list[float], list[float]]:
    """(epochs, the mean of ``key`` over each stretch between two records). A record's training
    figure is its epoch's running mean so far (it restarts every epoch); with f the fraction of
    the epoch done, a stretch's own mean is (m_k f_k - m_(k-1) f_(k-1)) / (f_k - f_(k-1))."""
    xs, ys, last_epoch, last_f, last_m = [], [], None, 0.0, 0.0
    for r in history:
        m = r.get(key)
        if m is None:
            continue
        e = float(r["epoch"])
        f = 1.0 if r.get("end_of_epoch") else e - math.floor(e)
        whole = math.ceil(e) if r.get("end_of_epoch") else math.floor(e) + 1    # which epoch
        if whole != last_epoch or f <= last_f:           # a new epoch (or one begun afresh)
            last_f, last_m = 0.0, 0.0
        xs.append(e)
        ys.append((m * f - last_m * last_f) / (f - last_f) if f > last_f else m)
        last_epoch, last_f, last_m = whole, f, m
    return xs, ys


def smoothed_training(history: Sequence[Record], metric: str, max_points: int = 400,
                      span: float = SMOOTHING_EPOCHS) -> tuple[list, list]:
    """The training ``metric`` as a line that does not restart each epoch: the stretch means
    (``_interval_means``) through an exponential moving average with a time constant of ``span``
    epochs (a stretch of d epochs weighs the past by w = exp(-d / span)), debiased as TensorBoard
    does (divided by the weights' sum, so the line starts at the first value); thinned like
    ``curve_points``. A record per whole epoch passes almost unchanged (w = 0.02)."""
    xs, ys = _interval_means(history, f"train_{metric}")
    smooth, s, norm, last = [], 0.0, 0.0, 0.0
    for x, y in zip(xs, ys):
        w = math.exp(-max(x - last, 0.0) / span)
        s, norm, last = w * s + (1 - w) * y, w * norm + (1 - w), x
        smooth.append(s / norm if norm > 0 else y)
    if len(xs) > max_points:
        idx = np.unique(np.linspace(0, len(xs) - 1, max_points).round().astype(int))
        xs, smooth = [xs[i] for i in idx], [smooth[i] for i in idx]
    return xs, smooth


def series(history: Sequence[Record], split: str, metric: str) -> tuple[list, list]:
    """The points of one line of a curves chart: training smoothed, validation as recorded."""
    return smoothed_training(history, metric) if split == "train" else curve_points(history, f"val_{metric}")


def _curves(history: Sequence[Record], metric: str, heading: str, height: int, yaxis: dict) -> go.Figure:
    traces = []
    for split, color in (("train", TRAIN_COLOR), ("val", VAL_COLOR)):
        x, y = series(history, split, metric)
        name = TRAIN_NAME if split == "train" else "validation (test set)"
        traces.append(go.Scatter(x=x, y=y, name=name, mode="lines", line=dict(color=color, width=2)))
    x, y = curve_points(history, f"holdout_{metric}")
    if x:                                  # early stopping: the rows it watches
        traces.append(go.Scatter(x=x, y=y, name="held-out training rows", mode="lines",
                                 line=dict(color=HOLDOUT_COLOR, width=1.5, dash="dot")))
    layout = dict(title=chart_title(heading), height=height, margin=MARGIN, uirevision=metric,
                  legend=LEGEND_UNDER, xaxis=dict(title=dict(text="epoch")), yaxis=yaxis)
    fig = go.Figure(traces, layout)
    for record in history:                 # a rate changed while training ran: where, and what
        if record.get("change"):
            fig.add_vline(x=record["epoch"], line=dict(color=MUTED_LINE, dash="dash", width=1),
                          annotation=dict(text=html.escape(record["change"]), font=dict(size=10),
                                          textangle=-90, xanchor="left", yanchor="top"))
        if record.get("restored") is not None:   # early stopping put these weights back
            fig.add_vline(x=record["restored"], line=dict(color=HOLDOUT_COLOR, dash="dash", width=1),
                          annotation=dict(text=f"weights kept (epoch {record['restored']})",
                                          font=dict(size=10), textangle=-90, xanchor="left", yanchor="top"))
    return fig


def loss_figure(history: Sequence[Record], height: int = 320, loss_name: str = "cross-entropy") -> go.Figure:
    """Training and validation loss per epoch (log scale: losses span decades); ``loss_name``
    "mean squared error" for regression."""
    return _curves(history, "loss", "Loss", height, dict(type="log", dtick=1, title=dict(text=f"{loss_name} (log)")))


def accuracy_figure(history: Sequence[Record], height: int = 320) -> go.Figure:
    """Training and validation accuracy per epoch."""
    return _curves(history, "accuracy", "Accuracy", height,
                   dict(tickformat=".0%", title=dict(text="accuracy"), range=[0, 1.02]))


# --- 2-D datasets --------------------------------------------------------------------------------
def plane_grid(X: np.ndarray, n: int = 100, pad: float = 0.5) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Axis ticks (xs, ys) covering ``X`` with a margin, and the (n*n, 2) grid of points."""
    lo, hi = X.min(axis=0) - pad, X.max(axis=0) + pad
    xs = np.linspace(lo[0], hi[0], n, dtype=np.float32)
    ys = np.linspace(lo[1], hi[1], n, dtype=np.float32)
    gx, gy = np.meshgrid(xs, ys)
    return xs, ys, np.column_stack([gx.ravel(), gy.ravel()])


def subsample(n: int, k: int) -> np.ndarray:
    """A fixed spread of at most ``k`` indices out of ``n`` (the same every redraw)."""
    return np.arange(n) if n <= k else np.linspace(0, n - 1, k).round().astype(int)


def decision_boundary_figure(predict_proba: Callable[[np.ndarray], np.ndarray],
                             X_train: np.ndarray, y_train: np.ndarray,
                             X_test: np.ndarray | None = None, y_test: np.ndarray | None = None,
                             grid: int = 100, max_points: int = 500, height: int = 460) -> go.Figure:
    """Heatmap of P(class 1) over the plane with training points (circles) and test points
    (diamonds) on top, coloured by their true class. At most ``max_points`` points per split."""
    both = X_train if X_test is None else np.vstack([X_train, X_test])
    xs, ys, pts = plane_grid(both, grid)
    p1 = predict_proba(pts)[:, 1].reshape(grid, grid)
    traces: list[Any] = [go.Heatmap(x=xs, y=ys, z=p1, zmin=0, zmax=1, colorscale=BOUNDARY_SCALE, zsmooth="fast",
                                    colorbar=dict(title="P(class 1)", thickness=12),
                                    hovertemplate="x %{x:.2f}, y %{y:.2f}<br>P(class 1) %{z:.2f}<extra></extra>")]
    splits = [("train", X_train, y_train, "circle")]
    if X_test is not None:
        splits.append(("test", X_test, y_test, "diamond"))
    for split, X, y, symbol in splits:
        idx = subsample(len(X), max_points)
        traces.append(go.Scatter(
            x=X[idx, 0], y=X[idx, 1], mode="markers", name=f"{split} points ({symbol}s)",
            marker=dict(symbol=symbol, size=6 if split == "train" else 7, color=y[idx], cmin=0, cmax=1,
                        colorscale=[[0, CLASS_COLORS[0]], [1, CLASS_COLORS[1]]],
                        line=dict(width=1, color="white" if split == "train" else "black")),
            hoverinfo="skip"))
    axis = dict(showgrid=False, zeroline=False)
    layout = dict(title=chart_title("Decision boundary: P(class 1) over the plane"), height=height,
                  margin=MARGIN, uirevision="boundary", legend=LEGEND_UNDER,
                  xaxis=dict(range=[xs[0], xs[-1]], constrain="domain", **axis),
                  yaxis=dict(range=[ys[0], ys[-1]], scaleanchor="x", constrain="domain", **axis))
    return go.Figure(traces, layout)


# --- image datasets ------------------------------------------------------------------------------
def png_data_uri(rgb: np.ndarray) -> str:
    from PIL import Image
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="PNG", compress_level=1)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def hex_rgb(color: str) -> np.ndarray:
    """'#1a9850' -> array([26, 152, 80], dtype=uint8)."""
    return np.array([int(color[i:i + 2], 16) for i in (1, 3, 5)], dtype=np.uint8)


CAPTION = 36                                        # pixels above each tile: two text lines


def mosaic(images: np.ndarray, ok: np.ndarray, cols: int = 8, tile: int = 56
           ) -> tuple[np.ndarray, list[tuple[float, float]]]:
    """Images in a grid on white, each framed green (``ok``) or red with room for a caption
    above; returns the (H, W, 3) uint8 mosaic and each caption's anchor (x centre, y bottom).

    ``images`` is (n, h, w) with values in [0, 1], enlarged to about ``tile`` pixels (nearest
    neighbour: crisp pixels) and drawn as dark ink on white."""
    n, h, w = images.shape
    k = max(1, round(tile / max(h, w)))
    big = np.repeat(np.repeat(np.clip(images, 0, 1), k, axis=1), k, axis=2)
    h, w = h * k, w * k
    rows = max(1, -(-n // cols))
    border, gap = 3, 14
    tile_h, tile_w = h + 2 * border + CAPTION, w + 2 * border + gap
    out = np.full((rows * tile_h, cols * tile_w, 3), 255, np.uint8)
    anchors = []
    for i in range(n):
        r, c = divmod(i, cols)
        top, left = r * tile_h + CAPTION, c * tile_w + gap // 2
        out[top:top + h + 2 * border, left:left + w + 2 * border] = hex_rgb(RIGHT if ok[i] else WRONG)
        out[top + border:top + border + h, left + border:left + border + w] = \
            (255 * (1 - big[i])).astype(np.uint8)[..., None]
        anchors.append((left + border + w / 2, top - 1))
    return out, anchors


def grid_title(title: str, ok: np.ndarray, count_right: bool) -> str:
    if not count_right:
        return title
    return f"{title}: {int(ok.sum())} of {len(ok)} right (green frame: right, red: wrong)"


def image_grid_figure(images: np.ndarray, y_true: np.ndarray, y_pred: np.ndarray,
                      confidence: np.ndarray, label: Callable[[int], str] = str, cols: int = 8,
                      title: str = "Test images", count_right: bool = True, tile: int = 56) -> go.Figure:
    """Images in a grid (``mosaic``), each framed green (right) or red (wrong) and captioned with
    the predicted label and its probability and, when wrong, the true label. Drawn as one PNG
    mosaic: cheap to send and to redraw."""
    ok = np.asarray(y_true) == np.asarray(y_pred)
    tiles, anchors = mosaic(images, ok, cols, tile)
    annotations = []
    for i, (x, y) in enumerate(anchors):
        text = f"<b>{label(int(y_pred[i]))}</b> {confidence[i]:.0%}"
        if not ok[i]:
            text += f"<br>true {label(int(y_true[i]))}"
        annotations.append(dict(x=x, y=y, text=text, showarrow=False, yanchor="bottom",
                                font=dict(size=11, color=RIGHT if ok[i] else WRONG)))
    fig = go.Figure(go.Image(source=png_data_uri(tiles), hoverinfo="skip"))
    fig.update_layout(title=chart_title(grid_title(title, ok, count_right)), annotations=annotations,
                      margin=MARGIN, height=tiles.shape[0] + MARGIN["t"] + 20)
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return fig


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> np.ndarray:
    """Counts: row = true class, column = predicted class."""
    cm = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(cm, (np.asarray(y_true), np.asarray(y_pred)), 1)
    return cm


def confusion_matrix_figure(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int,
                            labels: Sequence[str] | None = None, height: int = 460) -> go.Figure:
    """Heatmap of the confusion matrix with the count in each cell."""
    cm = confusion_matrix(y_true, y_pred, n_classes)
    names = list(labels) if labels else [str(k) for k in range(n_classes)]
    fig = go.Figure(go.Heatmap(z=cm, x=names, y=names, colorscale="Blues", texttemplate="%{z}",
                               showscale=False,
                               hovertemplate="true %{y}, predicted %{x}: %{z}<extra></extra>"))
    acc = np.trace(cm) / max(cm.sum(), 1)
    fig.update_layout(title=chart_title(f"Confusion matrix (test set, accuracy {acc:.2%})"),
                      height=height, margin=MARGIN)
    fig.update_xaxes(title="predicted", type="category", side="bottom")
    fig.update_yaxes(title="true", type="category", autorange="reversed")
    return fig


def most_confident_wrong(proba: np.ndarray, y_true: np.ndarray, k: int = 16) -> np.ndarray:
    """Indices of the (at most ``k``) wrong predictions with the highest confidence, worst first."""
    pred = proba.argmax(axis=1)
    wrong = np.flatnonzero(pred != np.asarray(y_true))
    conf = proba[wrong, pred[wrong]]
    return wrong[np.argsort(-conf, kind="stable")[:k]]
