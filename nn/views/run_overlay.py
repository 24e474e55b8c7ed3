"""Several runs' curves on one chart (the Train page's history of runs): plain data in, a plotly
``Figure`` out.

A run's curves are thinned once, when the run is kept (``run_curves``: at most ``plots``'s 400
points a line, the training line smoothed as on the live charts), so an overlay costs the same
whatever the runs' lengths.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import plotly.graph_objects as go

from nn.views.plots import LEGEND_UNDER, MARGIN, Record, chart_title, series

METRICS = ("loss", "accuracy", "r2")
SPLITS = ("train", "val")
# one colour per run (Plotly's qualitative 'D3' palette); the 20 runs a history keeps cycle it
RUN_COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
              "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")
AXES = {"loss": dict(type="log", dtick=1, title=dict(text="loss (log)")),
        "accuracy": dict(tickformat=".0%", title=dict(text="accuracy"), range=[0, 1.02]),
        "r2": dict(title=dict(text="R²"))}
NAMES = {"loss": "Loss", "accuracy": "Accuracy", "r2": "R²"}

Curves = dict[str, np.ndarray]           # "val_loss" -> (2, n) array: epochs, values


def run_curves(history: Sequence[Record]) -> Curves:
    """The lines of a run's charts (R² for a regression, accuracy for a classifier) (training smoothed, test as recorded), thinned, as
    float64 arrays of shape (2, n) (a line the run has no values for is (2, 0))."""
    return {f"{split}_{metric}": np.array(series(history, split, metric), dtype=np.float64).reshape(2, -1)
            for metric in METRICS for split in SPLITS}


def overlay_figure(runs: Sequence[tuple[str, Curves]], metric: str, height: int = 360) -> go.Figure:
    """``metric``'s curves of each named run in its own colour: the test set's line solid, the
    (smoothed) training line dotted."""
    traces = []
    for i, (name, curves) in enumerate(runs):
        color = RUN_COLORS[i % len(RUN_COLORS)]
        for split, dash, what in (("val", "solid", "test"), ("train", "dot", "training")):
            x, y = curves[f"{split}_{metric}"]
            traces.append(go.Scatter(x=x, y=y, name=f"{name} · {what}", mode="lines", legendgroup=name,
                                     line=dict(color=color, width=2 if split == "val" else 1, dash=dash)))
    layout = dict(title=chart_title(f"{NAMES[metric]} of the ticked runs"), height=height,
                  margin=MARGIN, legend=LEGEND_UNDER, uirevision=f"overlay.{metric}",
                  xaxis=dict(title=dict(text="epoch")), yaxis=AXES[metric])
    return go.Figure(traces, layout)
