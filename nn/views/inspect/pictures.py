"""Still pictures (Pillow) of the inside of the network, for the live view: plain data in, an RGB
``uint8`` array out, a few milliseconds each (like ``nn.views.pictures``, whose helpers they share).

Colours: one diverging scale everywhere (the decision boundary's): red for positive (a high
activation, a positive weight), blue for negative, near-white for zero.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
from PIL import Image, ImageDraw

from nn.core.mlp import MLP
from nn.data.features import LABELS, PLAIN
from nn.views.pictures import GRID, INK, MUTED, font, nice_ticks
from nn.views.plots import BOUNDARY_SCALE, hex_rgb

from nn.views.inspect.health import HealthMonitor, WeightHistogram
from nn.views.inspect.neurons import (InputExplanation, NeuronMaps, first_layer_weight_images,
                                      most_active_units, neuron_maps)

NEG, MID, POS = (hex_rgb(c).astype(np.float32) for _, c in BOUNDARY_SCALE)
LAYER_COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
                "#7f7f7f", "#bcbd22", "#17becf", "#393b79")


def diverging(t: np.ndarray) -> np.ndarray:
    """Colours for values ``t`` in [-1, 1] (clipped): blue, white at 0, red; uint8 (..., 3)."""
    t = np.clip(np.asarray(t, np.float32), -1, 1)[..., None]
    rgb = np.where(t < 0, MID + (MID - NEG) * t, MID + (POS - MID) * t)
    return rgb.astype(np.uint8)


# --- the network diagram of neuron maps (2-D datasets) ------------------------------------------
@dataclass
class NetworkLayout:
    """Where the diagram puts each neuron: ``columns[c]`` lists the top-left corners of column c's
    tiles (input, hidden layers, output), each ``tile`` pixels square."""
    width: int
    height: int
    tile: int
    columns: list[list[tuple[int, int]]]

    def centre(self, column: int, unit: int) -> tuple[float, float]:
        x, y = self.columns[column][unit]
        return x + self.tile / 2, y + self.tile / 2


HEAD, FOOT = 40, 22            # pixels for the column titles (two lines) and the legend line


def network_layout(counts: Sequence[int], width: int = 720, height: int = 560,
                   max_tile: int = 56) -> NetworkLayout:
    """Columns of ``counts`` tiles (the input, the shown units of each hidden layer, the output),
    evenly spread, each column centred vertically."""
    room = height - HEAD - FOOT
    tile = int(max(4, min(max_tile, room / max(counts) * 0.85, width / len(counts) * 0.45)))
    gap = 0 if max(counts) == 1 else min(tile * 0.5, (room - tile * max(counts)) / (max(counts) - 1))
    xs = np.linspace(8, width - 8 - tile, len(counts)).round().astype(int)
    columns = []
    for x, n in zip(xs, counts):
        span = n * tile + (n - 1) * gap
        top = HEAD + (room - span) / 2
        columns.append([(int(x), int(round(top + i * (tile + gap)))) for i in range(n)])
    return NetworkLayout(width, height, tile, columns)


def shown_units(model: MLP, maps: NeuronMaps, max_units: int = 16) -> list[np.ndarray]:
    """For each hidden layer, the units the diagram shows: all if at most ``max_units``, else the
    ``max_units`` that matter most (mean |output| over the plane x total |outgoing weight|), in
    their order in the layer."""
    if max_units < 1:
        raise ValueError(f"max_units must be at least 1; got {max_units}")
    out = []
    for k, A in enumerate(maps.hidden):
        n = A.shape[-1]
        if n <= max_units:
            out.append(np.arange(n))
            continue
        weight = np.abs(model.params[2 * k + 2].astype(np.float64)).sum(axis=1)
        score = np.abs(A).mean(axis=(0, 1), dtype=np.float64) * weight
        out.append(np.sort(np.argsort(-score, kind="stable")[:max_units]))
    return out


def column_weights(model: MLP, units: Sequence[np.ndarray]) -> list[np.ndarray]:
    """The weights drawn between columns, restricted to the shown ``units``: ``W_k`` between
    layers, and to the output tile the last layer's weight towards class 1 against class 0
    (``W_L[:, 1] - W_L[:, 0]``; a regression network's own output weights ``W_L[:, 0]``)."""
    rows = [np.arange(model.layer_sizes[0]), *units]
    out = [model.params[2 * k][np.ix_(rows[k], rows[k + 1])] for k in range(len(units))]
    W = model.params[-2][rows[-1]]
    out.append((W[:, :1] if W.shape[1] == 1 else (W[:, 1] - W[:, 0])[:, None]))
    return out


def _scaled(maps: NeuronMaps, units: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Each column's maps as values in [-1, 1], (grid, grid, shown units)."""
    ins = maps.inputs / np.maximum(np.abs(maps.inputs).max(axis=(0, 1)), 1e-12)
    cols = [ins]
    for A, idx in zip(maps.hidden, units):
        if maps.activation == "sigmoid":
            v = 2 * A - 1
        elif maps.activation == "tanh":
            v = A
        else:                                   # relu, leaky relu: by the layer's largest output
            v = A / max(float(np.abs(A).max()), 1e-12)
        cols.append(v[..., idx])
    if maps.regression:                         # the predicted value, by its largest size
        cols.append(maps.output[..., None] / max(float(np.abs(maps.output).max()), 1e-12))
    else:
        cols.append(2 * maps.output[..., None] - 1)
    return cols


def network_image(model: MLP, maps: NeuronMaps, width: int = 720, height: int = 560,
                  max_units: int = 16, min_weight: float = 0.05) -> np.ndarray:
    """The network as a diagram: every neuron's activation over the plane as a small heatmap
    (at most ``max_units`` per layer, see ``shown_units``), arranged by layer, with connections
    coloured by the weight's sign and drawn thicker and darker the larger |w| (weights under
    ``min_weight`` of the layer's largest are left out)."""
    units = shown_units(model, maps, max_units)
    layout = network_layout([len(maps.input_names), *(len(u) for u in units), 1], width, height)
    img = Image.new("RGB", (width, height), "white")
    pen = ImageDraw.Draw(img)
    _connections(pen, layout, column_weights(model, units), min_weight)
    t = layout.tile
    grid = maps.output.shape[0]
    pick = (np.arange(t) * grid // t)
    for c, values in enumerate(_scaled(maps, units)):
        tiles = diverging(values[::-1][pick][:, pick])       # (t, t, units, 3), top row = largest y
        for u, (x, y) in enumerate(layout.columns[c]):
            img.paste(Image.fromarray(np.ascontiguousarray(tiles[:, :, u])), (x, y))
            pen.rectangle((x - 1, y - 1, x + t, y + t), outline=GRID)
    _titles(pen, layout, model, units, maps.input_names)
    if len(maps.input_names) > 2:              # each input tile named: Playground's feature column
        _input_labels(pen, layout, maps.input_names)
    return np.asarray(img)


def _input_labels(pen: ImageDraw.ImageDraw, layout: NetworkLayout, names: Sequence[str]) -> None:
    """Each input feature's name over the top left of its tile."""
    size = max(8, min(12, layout.tile // 3))
    for (x, y), name in zip(layout.columns[0], names):
        text = LABELS[name].replace("²", "^2")          # Pillow's bundled font has no ²
        pen.text((x + 2, y + 1), text, fill=INK, font=font(size), anchor="la",
                 stroke_width=2, stroke_fill="white")


def _connections(pen: ImageDraw.ImageDraw, layout: NetworkLayout, weights: list[np.ndarray],
                 min_weight: float) -> None:
    t = layout.tile
    for c, W in enumerate(weights):
        W = np.asarray(W, np.float64)
        big = float(np.abs(W).max()) if W.size else 0.0
        if not big > 0 or not math.isfinite(big):
            continue
        share = np.abs(W) / big
        rows, cols = np.nonzero(share >= min_weight)
        order = np.argsort(share[rows, cols], kind="stable")        # strongest drawn last, on top
        colors = diverging(np.sign(W[rows, cols]) * (0.25 + 0.75 * share[rows, cols])).tolist()
        widths = (1 + 2.5 * share[rows, cols]).astype(int).tolist()
        for i in order.tolist():
            (x0, y0), (x1, y1) = layout.columns[c][rows[i]], layout.columns[c + 1][cols[i]]
            pen.line([(x0 + t, y0 + t / 2), (x1, y1 + t / 2)], fill=tuple(colors[i]), width=widths[i])


def column_titles(model: MLP, units: Sequence[np.ndarray], compact: bool = False,
                  inputs: Sequence[str] = PLAIN) -> list[tuple[str, str]]:
    """Each column's title in two lines: what it is, then its activation and, for a layer with
    more units than are drawn, how many of them are ("relu, 12 of 64"); ``compact`` for columns
    too close for that ("L1", "12/64"). The inputs are named when plain x1, x2, else counted."""
    plain = tuple(inputs) == PLAIN
    if compact:
        titles = [("in", "x1,x2" if plain else f"{len(inputs)}")]
    else:
        titles = [("input", "x1, x2" if plain else f"{len(inputs)} features")]
    for k, idx in enumerate(units):
        n, shown = model.layer_sizes[k + 1], len(idx)
        if compact:
            titles.append((f"L{k + 1}", f"{shown}/{n}" if shown < n else f"{n}"))
        else:
            titles.append((f"layer {k + 1}", model.activation + ("" if shown == n else f", {shown} of {n}")))
    if model.layer_sizes[-1] == 1:
        return titles + [("out", "y") if compact else ("output", "the value")]
    return titles + [("out", "P(1)") if compact else ("output", "P(class 1)")]


def title_boxes(pen: ImageDraw.ImageDraw, layout: NetworkLayout, model: MLP, units: Sequence[np.ndarray],
                inputs: Sequence[str] = PLAIN
                ) -> tuple[list[tuple[str, str]], int, list[tuple[float, float, float, float]]]:
    """The titles, their font size and each one's box (left, top, right, bottom), centred on its
    column and kept inside the picture: 12 px, smaller when the columns are close, and compact
    titles when even 7 px does not fit between two columns."""
    gap = layout.width if len(layout.columns) < 2 else layout.columns[1][0][0] - layout.columns[0][0][0]
    titles, size = column_titles(model, units, inputs=inputs), 12
    widest = lambda: max(pen.textlength(line, font=font(size)) for t in titles for line in t)  # noqa: E731
    while size > 7 and widest() > gap - 6:
        size -= 1
    if widest() > gap - 6:
        titles = column_titles(model, units, compact=True, inputs=inputs)
    boxes = []
    for col, lines in zip(layout.columns, titles):
        half = max(pen.textlength(line, font=font(size)) for line in lines) / 2
        x = min(max(col[0][0] + layout.tile / 2, half + 2), layout.width - half - 2)
        boxes.append((x - half, 4, x + half, 4 + 2 * (size + 3)))
    return titles, size, boxes


def _titles(pen: ImageDraw.ImageDraw, layout: NetworkLayout, model: MLP, units: Sequence[np.ndarray],
            inputs: Sequence[str] = PLAIN) -> None:
    titles, size, boxes = title_boxes(pen, layout, model, units, inputs)
    for (first, second), (left, top, right, _) in zip(titles, boxes):
        x = (left + right) / 2
        pen.text((x, top), first, fill=INK, font=font(size), anchor="mt")
        pen.text((x, top + size + 3), second, fill=MUTED, font=font(size), anchor="mt")
    legend = "red: positive weight / high output   blue: negative   thicker: larger |w|"
    if any(len(idx) < n for idx, n in zip(units, model.layer_sizes[1:-1])):
        legend += "   \"12 of 64\": the 12 units that matter most"
    pen.text((layout.width / 2, layout.height - 4), legend, fill=MUTED, font=font(12), anchor="mb")


# --- weights as images (image datasets) ---------------------------------------------------------
def weights_image(images: np.ndarray, units: Sequence[int] | None = None, cols: int = 8, tile: int = 56,
                  title: str = "First-layer weights", captions: Sequence[str] | None = None) -> np.ndarray:
    """First-layer weights (k, h, w) as a grid of images, each on its own symmetric scale (red
    positive, blue negative), captioned with its unit number (or ``captions``)."""
    images = np.asarray(images, np.float32)
    n, h, w = images.shape
    units = list(range(n)) if units is None else list(units)
    k = max(1, round(tile / max(h, w)))
    scale = np.maximum(np.abs(images).max(axis=(1, 2), keepdims=True), 1e-12)
    big = np.repeat(np.repeat(diverging(images / scale), k, axis=1), k, axis=2)
    cols = max(1, min(cols, n))
    rows = max(1, -(-n // cols))
    head, cap, gap = 28, 16, 6
    th, tw = h * k + cap + gap, w * k + gap
    out = np.full((head + rows * th, cols * tw + gap, 3), 255, np.uint8)
    for i in range(n):
        r, c = divmod(i, cols)
        y, x = head + r * th + cap, gap + c * tw
        out[y:y + h * k, x:x + w * k] = big[i]
    img = Image.fromarray(out)
    pen = ImageDraw.Draw(img)
    pen.text((4, 4), title, fill=INK, font=font(15))
    small = font(11)
    labels = list(captions) if captions is not None else [f"unit {u}" for u in units]
    for i, text in enumerate(labels[:n]):
        r, c = divmod(i, cols)
        pen.text((gap + c * tw + w * k / 2, head + r * th + cap - 2), text, fill=MUTED, font=small,
                 anchor="mb")
    return np.asarray(img)


def pushes_image(model: MLP, explanation: InputExplanation, image_shape: tuple[int, int],
                 cols: int = 8, tile: int = 56) -> np.ndarray:
    """For a drawn digit (``neurons.explain_input``): the weights of the first-layer units that
    pushed the prediction most, captioned with their push."""
    units = explanation.top_units
    captions = [f"{u}: {'+' if explanation.pushes[u] >= 0 else ''}{explanation.pushes[u]:.2f}" for u in units]
    return weights_image(first_layer_weight_images(model, image_shape, units), units, cols, tile,
                         title=f"Units that pushed '{explanation.predicted}' most (unit: push)",
                         captions=captions)


def activations_image(explanation: InputExplanation, activation: str, width: int = 560, cell: int = 14,
                      max_units: int = 256) -> np.ndarray:
    """Each hidden layer's activations for one input (``neurons.explain_input``) as rows of
    coloured cells, one per unit (red: high, white: zero, blue: negative; each layer on its own
    scale), the first layer's ``top_units`` outlined in black. At most ``max_units`` per layer."""
    per_row = max(1, (width - 16) // cell)
    layers = [np.asarray(a, np.float64)[:max_units] for a in explanation.activations]
    rows = [-(-len(a) // per_row) for a in layers]
    head = 18
    height = sum(head + r * cell + 8 for r in rows) + 4
    img = Image.new("RGB", (width, height), "white")
    pen = ImageDraw.Draw(img)
    small = font(11)
    top = set(int(u) for u in explanation.top_units)
    y = 2
    for k, (a, n_rows) in enumerate(zip(layers, rows)):
        total = len(explanation.activations[k])
        big = float(np.abs(a).max()) if a.size else 0.0
        active = int((a > 0).sum())
        title = (f"layer {k + 1} ({activation}, {total} units): {active} active, largest {big:.2f}"
                 + ("" if total <= max_units else f", first {max_units} shown"))
        pen.text((8, y), title, fill=INK, font=small)
        colors = diverging(a / big if big > 0 else a)
        for u in range(len(a)):
            r, c = divmod(u, per_row)
            x0, y0 = 8 + c * cell, y + head + r * cell
            outline = INK if k == 0 and u in top else GRID
            pen.rectangle((x0, y0, x0 + cell - 2, y0 + cell - 2), fill=tuple(colors[u].tolist()),
                          outline=outline, width=2 if outline == INK else 1)
        y += head + n_rows * cell + 8
    return np.asarray(img)


def inside_pictures(model: MLP, monitor: HealthMonitor | None, X_train: np.ndarray,
                    image_shape: tuple[int, int] | None = None, X_sample: np.ndarray | None = None,
                    units: Sequence[int] | None = None, grid: int = 40) -> dict[str, np.ndarray]:
    """The live view's pictures in one call: ``network`` (2-D data) or ``weights`` (images: the
    given ``units``, else the 32 most active on ``X_sample``), and ``health`` when a monitor
    has history. For the page, once per redraw."""
    out: dict[str, np.ndarray] = {}
    if image_shape is None:
        out["network"] = network_image(model, neuron_maps(model, X_train, grid))
    else:
        if units is None:
            sample = X_train[:1000] if X_sample is None else X_sample
            units = most_active_units(model, sample, k=min(32, model.layer_sizes[1]))
        out["weights"] = weights_image(first_layer_weight_images(model, image_shape, units), units)
    if monitor is not None and monitor.history:
        out["health"] = health_image(monitor.history)
    return out


# --- health charts ------------------------------------------------------------------------------
HEALTH_PANELS = (("grad_norm", "gradient norm |dW| (log)", True),
                 ("update_ratio", "update / weight since the last record (log)", True),
                 ("dead_share", "dead ReLUs (share of units)", False),
                 ("saturated_share", "saturated outputs (share)", False))


def health_panels(history: Sequence[dict[str, Any]]) -> list[tuple[str, str, bool]]:
    """The panels that have data: dead ReLUs only for ReLU networks, saturation only for
    sigmoid/tanh ones."""
    def has(key: str) -> bool:
        return any(h.get(key) is not None for e in history for h in e["layers"])
    return [p for p in HEALTH_PANELS if has(p[0])] or list(HEALTH_PANELS[:2])


def health_series(history: Sequence[dict[str, Any]], key: str) -> tuple[list[float], list[list[float]]]:
    """(x, per-layer values) of one figure over the monitor's entries; x is the epoch where known
    (else the entry number); missing values are NaN."""
    xs = [float(e["epoch"]) if e.get("epoch") is not None else float(i) for i, e in enumerate(history)]
    n = max((len(e["layers"]) for e in history), default=0)
    series = [[(e["layers"][k].get(key) if k < len(e["layers"]) else None) for e in history] for k in range(n)]
    return xs, [[math.nan if v is None else float(v) for v in s] for s in series]


def health_image(history: Sequence[dict[str, Any]], width: int = 560, panel_height: int = 110) -> np.ndarray:
    """Small line charts of the health figures per layer over the records (``HealthMonitor.history``):
    one panel per figure, one colour per layer."""
    panels = health_panels(history)
    legend = 22
    height = legend + panel_height * len(panels)
    img = Image.new("RGB", (width, height), "white")
    pen = ImageDraw.Draw(img)
    small = font(11)
    n_layers = max((len(e["layers"]) for e in history), default=0)
    x = 8
    for k in range(n_layers):
        color = LAYER_COLORS[k % len(LAYER_COLORS)]
        pen.line([(x, 11), (x + 16, 11)], fill=color, width=3)
        pen.text((x + 20, 11), f"layer {k + 1}", fill=INK, font=small, anchor="lm")
        x += 20 + pen.textlength(f"layer {k + 1}", font=small) + 12
    for p, (key, title, log) in enumerate(panels):
        _panel(pen, history, key, title, log, (8, legend + p * panel_height, width - 8,
                                                legend + (p + 1) * panel_height))
    return np.asarray(img)


def _panel(pen: ImageDraw.ImageDraw, history: Sequence[dict[str, Any]], key: str, title: str, log: bool,
           box: tuple[int, int, int, int]) -> None:
    x0, y0, x1, y1 = box
    small = font(11)
    pen.text((x0, y0 + 2), title, fill=INK, font=small)
    left, right, top, bottom = x0 + 44, x1 - 4, y0 + 18, y1 - 16
    xs, series = health_series(history, key)
    vals = np.array([v for s in series for v in s], float)
    vals = vals[np.isfinite(vals)]
    if log:
        vals = np.log10(np.clip(vals[vals > 0], 1e-30, 1e30))
        lo, hi = (math.floor(vals.min()), math.ceil(vals.max())) if len(vals) else (-3, 0)
        hi = max(hi, lo + 1)
        ticks = [(float(v), f"1e{v}") for v in range(lo, hi + 1)]
        to_y = lambda v: np.log10(np.clip(v, 1e-30, 1e30))                        # noqa: E731
    else:
        lo, hi = 0.0, 1.0
        ticks = [(0.0, "0%"), (0.5, "50%"), (1.0, "100%")]
        to_y = lambda v: np.asarray(v, float)                                      # noqa: E731
    x_lo, x_hi = (min(xs), max(xs)) if xs else (0.0, 1.0)
    x_hi = x_hi if x_hi > x_lo else x_lo + 1
    for pos, label in ticks[:: max(1, len(ticks) // 4)]:
        v = bottom - (bottom - top) * (pos - lo) / (hi - lo)
        pen.line([(left, v), (right, v)], fill=GRID)
        pen.text((left - 4, v), label, fill=MUTED, font=small, anchor="rm")
    for t in nice_ticks(x_hi, 4):
        if t >= x_lo:
            u = left + (right - left) * (t - x_lo) / (x_hi - x_lo)
            pen.text((u, bottom + 2), f"{t:g}", fill=MUTED, font=small, anchor="mt")
    for k, s in enumerate(series):
        ys = to_y(np.array(s, float)) if len(s) else np.zeros(0)
        pts = [(left + (right - left) * (x - x_lo) / (x_hi - x_lo), bottom - (bottom - top) * (v - lo) / (hi - lo))
               for x, v, raw in zip(xs, ys, s) if math.isfinite(raw) and (not log or raw > 0)]
        color = LAYER_COLORS[k % len(LAYER_COLORS)]
        if len(pts) > 1:
            pen.line(pts, fill=color, width=2)
        elif pts:
            u, v = pts[0]
            pen.ellipse((u - 2, v - 2, u + 2, v + 2), fill=color)


def histograms_image(hists: Sequence[WeightHistogram], width: int = 560, panel_height: int = 90) -> np.ndarray:
    """Each layer's weight histogram now (coloured) over the start (grey)."""
    img = Image.new("RGB", (width, max(1, len(hists)) * panel_height), "white")
    pen = ImageDraw.Draw(img)
    small = font(11)
    for p, h in enumerate(hists):
        top, bottom = p * panel_height + 16, (p + 1) * panel_height - 14
        left, right = 8, width - 8
        pen.text((left, p * panel_height + 2), f"layer {h.layer} weights: now (colour) vs start (grey)",
                 fill=INK, font=small)
        peak = max(int(h.now.max(initial=0)), int(h.start.max(initial=0)), 1)
        n = len(h.now)
        bw = (right - left) / n
        bars = ((h.start, "#c8c8cc", 0.0, 1.0), (h.now, LAYER_COLORS[p % len(LAYER_COLORS)], 0.25, 0.75))
        for counts, color, a, b in bars:                 # start: full-width bars; now: narrower, on top
            for i, c in enumerate(counts):
                if c:
                    x = left + i * bw
                    pen.rectangle((x + a * bw, bottom - (bottom - top) * c / peak, x + max(b * bw - 1, a * bw + 1),
                                   bottom), fill=color)
        pen.text((left, bottom + 1), f"{h.edges[0]:.2g}", fill=MUTED, font=small)
        pen.text((right, bottom + 1), f"{h.edges[-1]:.2g}", fill=MUTED, font=small, anchor="ra")
    return np.asarray(img)
