"""The Train page's live view for regression (a quantity, not a class): R² and RMSE instead of the
accuracy, the mean squared error's curve, the predicted surface over the plane (2 features) or
the predicted against the actual values (a table), in the label's own units."""
from __future__ import annotations

import math
from typing import Any, Callable

import streamlit as st

from app.train.session import TrainSession
from nn.data import Dataset
from nn.data.tables.quantity import in_label_units
from nn.runs.scores import label_scale
from nn.views import pictures, plots
from nn.data.features import plane_predict
from nn.views.regression_figures import predicted_actual_figure, r2_figure, surface_figure, surface_image

LOSS_NAME = "mean squared error"
Chart = Callable[[Any, Any, str], None]


def test_metrics(columns: list[Any], s: TrainSession, data: Dataset) -> None:
    """R², RMSE (in the label's units) and the loss on the test set, in the first three columns."""
    mse, r2 = s.test_figures(data)
    columns[0].metric("Test R²", f"{r2:.4f}", help="1 - MSE / variance of the test labels: 1 is perfect, "
                                                  "0 is no better than predicting their mean")
    columns[1].metric("Test RMSE", f"{math.sqrt(mse) * label_scale(data):.4g}",
                      help="the root of the mean squared error, in the label's units")
    columns[2].metric("Test loss", f"{mse:.4f}", help="the mean squared error the network learns"
                      + (" (of the standardised label)" if label_scale(data) != 1 else ""))


def progress_text(last: dict[str, Any]) -> str:
    """' · test R² 0.981, loss 0.0040' for the progress bar, or '' before a test figure."""
    if last.get("val_r2") is None:
        return ""
    return f" · test R² {last['val_r2']:.3f}, loss {last['val_loss']:.4f}"


def curves(loss: Any, score: Any, history: list[dict[str, Any]], final: bool, chart: Chart) -> None:
    """The loss (mean squared error) and R² curves: interactive when final, pictures while live."""
    if final:
        chart(loss, plots.loss_figure(history, loss_name=LOSS_NAME), "loss")
        chart(score, r2_figure(history), "accuracy")
    else:
        loss.image(pictures.curves_image(history, "loss", loss_name=LOSS_NAME))
        score.image(pictures.curves_image(history, "r2"))


def data_view(slot: Any, s: TrainSession, data: Dataset, final: bool, chart: Chart) -> None:
    """A 2-D set: the predicted surface over the plane with the points; a table: the test rows'
    predicted against actual values (when training stops)."""
    schema = getattr(data, "schema", None)
    if not schema and data.two_d:
        args = (plane_predict(s.model), data.plane_train, data.y_train, data.plane_test, data.y_test)
        if final:
            chart(slot, surface_figure(*args), "data")
        else:
            slot.image(surface_image(*args), caption="The predicted value over the plane (colour) and "
                                                     "each point's own value · train: dots · test: diamonds")
        return
    if not final:
        slot.caption("The test rows' predicted against actual values appear when training stops.")
        return
    actual = in_label_units(data.y_test, schema)
    predicted = in_label_units(s.test_log_proba(data)[:, 0], schema)
    label = (schema or {}).get("label") or "value"
    chart(slot, predicted_actual_figure(actual, predicted, label), "data")
