"""The Train page's results for the user's own data: the predicted regions over the plane for 2
features, else the confusion matrix and the test points on two principal components."""
from __future__ import annotations

import html
from typing import Any, Callable

import streamlit as st

from app.train.session import TrainSession
from nn.data import Dataset
from nn.data.features import plane_proba
from nn.views import plots
from nn.views.table_figures import projection_figure, regions_figure


def handles(data: Dataset) -> bool:
    """Own-data views take over for feature vectors that are not 2-D with 2 classes."""
    return data.image_shape is None and (not data.two_d or data.n_classes != 2)


def results_view(slot: Any, s: TrainSession, data: Dataset, final: bool,
                 chart: Callable[[Any, Any, str], None]) -> None:
    """2 features: the predicted class over the plane; more: (when training stops) the
    confusion matrix and the test points on two principal components, coloured right/wrong."""
    names = [data.label(k) for k in range(data.n_classes)]
    if data.two_d:
        features = getattr(data, "feature_names", None) or ["x1", "x2"]
        chart(slot, regions_figure(plane_proba(s.model), data.plane_train, data.y_train, data.plane_test,
                                   data.y_test, names, features), "data")
        return
    if not final:
        slot.caption("The confusion matrix and the test points on two principal components "
                     "appear when training stops.")
        return
    pred = s.test_log_proba(data).argmax(axis=1)
    with slot.container():
        left, right = st.columns(2)
        chart(left, plots.confusion_matrix_figure(data.y_test, pred, data.n_classes,
                                                  [html.escape(n) for n in names]), "cm")
        chart(right, projection_figure(data.X_train, data.X_test, data.y_test, pred, names), "pca")
