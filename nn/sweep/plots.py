"""The sweep figure: mean test accuracy with a band of one standard deviation, each trial as a
dot, and training time, against the swept value (data in, plotly Figure out)."""
from __future__ import annotations

from typing import Any, Sequence

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from nn.sweep.summary import score_key
from nn.views.plots import LEGEND_UNDER, MARGIN, TOOLBAR_PX, chart_title

LABELS = {"hidden": "hidden units per layer", "lr": "learning rate", "batch_size": "batch size",
          "depth": "hidden layers"}
BLUE, BAND = "#1f77b4", "rgba(31, 119, 180, 0.2)"


def _x(values: Sequence[Any], n: int) -> list[Any]:
    """'full' batches are plotted after the largest whole batch size."""
    whole = [v for v in values if v != "full"]
    top = max(whole, default=0)
    return [top * 2 if v == "full" else v for v in values][:n]


def sweep_figure(summary: list[dict[str, Any]], param: str, title: str | None = None,
                 height: int = 560) -> go.Figure:
    """``summary`` as from ``nn.sweep.summarize``; values that diverged in every trial are left out.
    Regression sweeps are drawn by their test R² instead of the accuracy."""
    key = score_key(summary)
    rows = [s for s in summary if s[f"mean_{key}"] is not None]
    xs = _x([s["value"] for s in rows], len(rows))
    mean = [s[f"mean_{key}"] for s in rows]
    std = [s[f"std_{key}"] or 0.0 for s in rows]
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.72, 0.28], vertical_spacing=0.06)
    fig.add_trace(go.Scatter(x=xs + xs[::-1], y=[m + d for m, d in zip(mean, std)]
                             + [m - d for m, d in zip(mean[::-1], std[::-1])],
                             fill="toself", fillcolor=BAND, line=dict(width=0), hoverinfo="skip",
                             name="± 1 std"), row=1, col=1)
    fig.add_trace(go.Scatter(x=xs, y=mean, mode="lines+markers", line=dict(color=BLUE),
                             name=f"mean {'R²' if key == 'r2' else 'accuracy'}"), row=1, col=1)
    dots = [(x, t[key]) for x, s in zip(xs, rows) for t in s["runs"] if t.get(key) is not None]
    fig.add_trace(go.Scatter(x=[d[0] for d in dots], y=[d[1] for d in dots], mode="markers",
                             marker=dict(size=4, color="rgba(0,0,0,0.35)"), name="trials"), row=1, col=1)
    secs = [s["seconds"] / max(s["trials"], 1) for s in rows]
    fig.add_trace(go.Scatter(x=xs, y=secs, mode="lines+markers", line=dict(color="#ff7f0e"),   # (bars
                             name="training s per run"), row=2, col=1)       # are wrong on a log axis)
    label = LABELS.get(param, param)
    if key == "r2":
        fig.update_yaxes(title_text="test R²", row=1, col=1)
    else:
        fig.update_yaxes(title_text="test accuracy", tickformat=".0%", range=[0, 1.02], row=1, col=1)
    fig.update_yaxes(title_text="s per run", rangemode="nonnegative", row=2, col=1)   # one point: no -50%
    fig.update_xaxes(title_text=label, row=2, col=1)
    if param == "lr":
        fig.update_xaxes(type="log")
    if "full" in [s["value"] for s in rows]:
        fig.update_xaxes(tickvals=xs, ticktext=[str(s["value"]) for s in rows])
    fig.update_layout(title=chart_title(title) if title else None, height=height,
                      margin=dict(MARGIN, l=60, r=20, t=MARGIN["t"] + 20 if title else TOOLBAR_PX),
                      template="plotly_white", legend=LEGEND_UNDER)
    return fig
