"""Interactive Plotly figures of the inside of the network, for when training stops: the
diagram of neuron maps with each neuron's weights, bias and formula on hover, the health charts
and the weight histograms. Drawn from the same data and pictures as ``nn.views.inspect.pictures``.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from nn.core.mlp import MLP
from nn.data.features import LABELS, expand
from nn.views.plots import LEGEND_UNDER, MARGIN, chart_title, png_data_uri

from nn.views.inspect.backprop import fmt, neuron_formula
from nn.views.inspect.health import WeightHistogram
from nn.views.inspect.neurons import NeuronMaps
from nn.views.inspect.pictures import (LAYER_COLORS, health_panels, health_series, network_image,
                                       network_layout, shown_units)


def neuron_hover(model: MLP, layer: int, unit: int, point: np.ndarray, max_weights: int = 8,
                 input_names: Sequence[str] | None = None) -> str:
    """Hover text of one neuron: its incoming weights, bias and formula at input ``point`` (the
    network's inputs, named ``input_names`` in the first layer's formula)."""
    f = neuron_formula(model, layer, unit, point, max_terms=4, input_names=input_names)
    w = f.weights
    shown = ", ".join(fmt(v) for v in w[:max_weights]) + (", …" if len(w) > max_weights else "")
    return (f"<b>layer {layer}, unit {unit + 1}</b><br>incoming weights: [{shown}]<br>bias: {fmt(f.bias)}"
            f"<br>{f.text}<br>{f.text_values}")


def network_figure(model: MLP, maps: NeuronMaps, point: np.ndarray | None = None, width: int = 720,
                   height: int = 560, max_units: int = 16) -> go.Figure:
    """``pictures.network_image`` with hover on every neuron: its incoming weights, its bias and
    its formula written out at the plane's ``point`` (default: its centre), whose input features
    (``maps.input_names``) the first column shows."""
    if point is None:
        point = np.array([maps.xs.mean(), maps.ys.mean()])
    point = np.asarray(point, float).ravel()
    names = [LABELS[n] for n in maps.input_names]
    inputs = expand(point[None, :2], maps.input_names)[0].astype(float)
    units = shown_units(model, maps, max_units)
    layout = network_layout([len(names), *(len(u) for u in units), 1], width, height)
    xs, ys, texts = [], [], []
    for j, name in enumerate(names):
        x, y = layout.centre(0, j)
        xs.append(x), ys.append(y), texts.append(f"<b>input {name}</b> = {fmt(inputs[j])} here")
    for k, idx in enumerate(units):
        for c, unit in enumerate(idx):
            x, y = layout.centre(k + 1, c)
            xs.append(x), ys.append(y), texts.append(neuron_hover(model, k + 1, int(unit), inputs,
                                                                  input_names=names))
    x, y = layout.centre(len(units) + 1, 0)
    out = 0 if model.layer_sizes[-1] == 1 else 1        # the output drawn: the value, or class 1
    xs.append(x), ys.append(y), texts.append(neuron_hover(model, len(units) + 1, out, inputs,
                                                          input_names=names))
    fig = go.Figure([
        go.Image(source=png_data_uri(network_image(model, maps, width, height, max_units)), hoverinfo="skip"),
        go.Scatter(x=xs, y=ys, mode="markers", hovertext=texts, hoverinfo="text", showlegend=False,
                   marker=dict(size=max(layout.tile, 8), symbol="square", opacity=0.01, color="black"))])
    fig.update_layout(title=chart_title(f"Inside the network (formulas at x1 = {fmt(point[0])}, "
                                        f"x2 = {fmt(point[1])})"),
                      height=height + MARGIN["t"] + 20, margin=MARGIN, hoverlabel=dict(align="left"))
    fig.update_xaxes(visible=False, range=[0, width])
    fig.update_yaxes(visible=False, range=[height, 0], scaleanchor="x")
    return fig


def health_figure(history: Sequence[dict[str, Any]], height_per_panel: int = 180) -> go.Figure:
    """The health figures per layer over the records (``HealthMonitor.history``), one panel each."""
    panels = health_panels(history)
    fig = make_subplots(rows=len(panels), cols=1, shared_xaxes=True, vertical_spacing=0.08,
                        subplot_titles=[title for _, title, _ in panels])
    for row, (key, title, log) in enumerate(panels, start=1):
        xs, series = health_series(history, key)
        for k, ys in enumerate(series):
            fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines+markers", name=f"layer {k + 1}",
                                     legendgroup=f"layer {k + 1}", showlegend=row == 1,
                                     line=dict(color=LAYER_COLORS[k % len(LAYER_COLORS)], width=2),
                                     marker=dict(size=4),
                                     hovertemplate=f"layer {k + 1}, epoch %{{x:.3g}}: %{{y:.3g}}<extra></extra>"),
                          row=row, col=1)
        fig.update_yaxes(type="log" if log else "linear", tickformat=None if log else ".0%",
                         range=None if log else [0, 1.02], row=row, col=1)
    fig.update_xaxes(title_text="epoch", row=len(panels), col=1)
    fig.update_layout(height=height_per_panel * len(panels) + MARGIN["t"] + 80, margin=MARGIN,
                      legend=LEGEND_UNDER, title=chart_title("Health of training, per layer"))
    return fig


def histogram_figure(hists: Sequence[WeightHistogram], height_per_panel: int = 160) -> go.Figure:
    """Each layer's weight histogram now against the start."""
    fig = make_subplots(rows=max(1, len(hists)), cols=1, vertical_spacing=0.1,
                        subplot_titles=[f"layer {h.layer} weights" for h in hists])
    for row, h in enumerate(hists, start=1):
        centres = (h.edges[:-1] + h.edges[1:]) / 2
        fig.add_trace(go.Bar(x=centres, y=h.start, name="at the start", marker_color="#c8c8cc",
                             showlegend=row == 1, legendgroup="start"), row=row, col=1)
        fig.add_trace(go.Bar(x=centres, y=h.now, name="now", showlegend=row == 1, legendgroup="now",
                             marker_color=LAYER_COLORS[(row - 1) % len(LAYER_COLORS)], opacity=0.75),
                      row=row, col=1)
    fig.update_layout(barmode="overlay", bargap=0, height=height_per_panel * max(1, len(hists)) + MARGIN["t"] + 60,
                      margin=MARGIN, title=chart_title("Weights now against the start"), legend=LEGEND_UNDER)
    return fig
