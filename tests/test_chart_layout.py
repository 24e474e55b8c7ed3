"""Charts in headless Chromium, desktop and phone widths: Plotly's toolbar (shown on hover, at the
top right) never covers a chart's title or legend (issue 19). The figures are drawn one after
another on one page holding the plotly.js that the plotly package ships (no network), hovered,
and the boxes of the toolbar, the title and the legend compared."""
from __future__ import annotations

import json

import numpy as np
import pytest

from nn.views.table_figures import plane_figure, projection_figure, regions_figure
from nn.sweep.plots import sweep_figure
from nn.views import plots

pytestmark = pytest.mark.browser
WIDTHS = (1400 // 2, 390)                  # a half-width chart on a desktop, and a phone


def history(n: int = 20) -> list[dict]:
    return [dict(epoch=e, train_loss=1 / e, val_loss=1.2 / e, train_accuracy=1 - 1 / (e + 1),
                 val_accuracy=1 - 1.1 / (e + 1)) for e in range(1, n + 1)]


def figures() -> dict:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 2))
    y = (X[:, 0] > 0).astype(int)
    proba = lambda g: np.column_stack([g[:, 0] <= 0, g[:, 0] > 0]).astype(float)  # noqa: E731
    runs = [{"accuracy": 0.9, "seconds": 0.1}]
    summary = [dict(value=v, mean_accuracy=0.9, std_accuracy=0.01, trials=1, seconds=0.1, runs=runs)
               for v in (1e-4, 1e-3, 1e-2, 0.1, 1, 10)]
    return {
        "loss": plots.loss_figure(history()),
        "accuracy": plots.accuracy_figure(history()),
        "boundary": plots.decision_boundary_figure(proba, X, y, X, y),
        "confusion": plots.confusion_matrix_figure(y, y[::-1], 2),
        "regions": regions_figure(proba, X, y, X, y, ["a", "b"]),
        "projection": projection_figure(np.c_[X, X], np.c_[X, X], y, y[::-1], ["a", "b"]),
        "plane": plane_figure(X[:20], y[:20], 2),
        "sweep": sweep_figure(summary, "lr", title="Test accuracy against the learning rate"),
    }


def overlap(a: dict, b: dict) -> bool:
    return not (a["x"] + a["width"] <= b["x"] or b["x"] + b["width"] <= a["x"]
                or a["y"] + a["height"] <= b["y"] or b["y"] + b["height"] <= a["y"])


@pytest.mark.parametrize("width", WIDTHS)
def test_the_toolbar_covers_no_title_or_legend(browser, width, artifacts):
    page = browser.new_page(viewport={"width": width, "height": 900})
    page.set_content(plots.go.Figure().to_html(include_plotlyjs=True, div_id="chart"))   # plotly.js once
    try:
        for name, fig in figures().items():
            page.evaluate("f => Plotly.newPlot('chart', f.data, f.layout, {displayModeBar: 'hover'})",
                          json.loads(fig.to_json()))
            page.mouse.move(5, 5)
            page.mouse.move(width / 2, 150)                       # hovering shows the toolbar
            bar = page.locator(".modebar")
            bar.wait_for(state="visible")
            toolbar = bar.bounding_box()
            covered = [sel for sel in (".gtitle", ".legend")
                       for i in range(page.locator(sel).count())
                       if overlap(toolbar, page.locator(sel).nth(i).bounding_box())]
            if covered:
                page.screenshot(path=str(artifacts / f"chart-{name}-{width}.png"))
            assert not covered, f"{name} at {width} px: the toolbar covers {covered}"
    finally:
        page.close()
