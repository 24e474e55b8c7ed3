"""The Train page's live view: progress, metrics, curves, the data view (decision boundary or
test images) and the results after training, drawn from the session's model and history.

While training runs, the browser shares the CPU with training (on a laptop), and each element
sent costs it work: the live view is the progress bar (which also shows the latest test
accuracy) and still pictures. The metrics and the interactive figures come at the end.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import streamlit as st

from app.train import cnn_view, first_screen, inside, own_results, regression_view
from app.train.session import TrainSession
from app.train.state import format_seconds, layers_text
from nn.core.config import RunConfig
from nn.data import Dataset
from nn.data.features import plane_proba
from nn.views import pictures, plots

GRID_IMAGES = 24


@dataclass
class View:
    progress: Any
    metrics: Any
    loss: Any
    accuracy: Any
    data: Any
    after: Any
    draws: int = 0
    inside: Any = None                   # app.inside.Slots
    cnn: Any = None                      # app.train.cnn_view.Slots (a CNN's filters and feature maps)
    cfg: RunConfig | None = None         # the settings (the first screen previews them)
    missing: str | None = None           # why Train is off, if it is


def layout() -> View:
    progress, metrics = st.empty(), st.empty()
    left, right = st.columns(2)
    loss, accuracy = left.empty(), right.empty()
    data = st.empty()
    after = st.empty()
    return View(progress, metrics, loss, accuracy, data, after)


def progress(view: View, s: TrainSession) -> None:
    if s.model is None:
        view.progress.progress(0.0, text=view.missing or "Ready: choose settings and press **Train**.")
        return
    span = max(s.target - s.run_from, 1e-9)
    frac = min(max((s.epoch - s.run_from) / span, 0.0), 1.0)
    if s.running:
        eta = s.eta_seconds()
        left = f"about {format_seconds(eta)} left" if math.isfinite(eta) else "estimating the time left…"
        text = f"Epoch {_epoch(s.epoch)} of {s.target} · {format_seconds(s.wall_seconds)} elapsed · {left}"
        last = s.history[-1] if s.history else {}
        if last.get("val_accuracy") is not None:
            text += f" · test accuracy {last['val_accuracy']:.2%}, loss {last['val_loss']:.4f}"
        text += regression_view.progress_text(last)
    elif s.error:
        text = f"Stopped at epoch {_epoch(s.epoch)} of {s.target}: training diverged"
    elif not s.history and not s.uploaded:          # a network built by Step, not trained yet
        text = ("A new network, not trained yet: each Step through backprop changes its weights "
                "(see below) · press Continue to train it from here, or Train for a fresh one")
        frac = 0.0
    elif s.uploaded:
        text = (f"Loaded a model trained for {_epoch(s.epoch)} epochs · press Continue to train it "
                f"further, or Train for a new one")
        frac = 1.0
    elif s.epoch < s.target:
        text = (f"Stopped at epoch {_epoch(s.epoch)} of {s.target} · {format_seconds(s.wall_seconds)}"
                f" · press Continue to finish")
    else:
        text = f"Done: epoch {_epoch(s.epoch)} of {s.target} in {format_seconds(s.wall_seconds)}"
    view.progress.progress(frac, text=text)


def _epoch(e: float) -> str:
    """80 -> '80', 80.996 -> '80.99' (truncated: never shows an epoch not yet finished)."""
    return str(int(e)) if e == int(e) else f"{math.floor(e * 100) / 100:.2f}"


def _metrics(view: View, s: TrainSession, data: Dataset) -> None:
    """The final figures of the model as it is now (after training, or stopped)."""
    epochs = max(s.trainer.epochs_done, 1)
    with view.metrics.container():
        regression = data.task == "regression"
        c = st.columns(6 if regression else 5)
        if regression:
            regression_view.test_metrics(c, s, data)
        else:
            test_loss, test_acc = s.test_figures(data)
            c[0].metric("Test accuracy", f"{test_acc:.2%}")
            c[1].metric("Test loss", f"{test_loss:.4f}")
        c = c[int(regression):]
        c[2].metric("Parameters", f"{s.model.n_params:,}", help=f"layers {layers_text(s.model)}")
        c[3].metric("Time per epoch", f"{s.trainer.seconds / epochs:.3f} s" if s.trainer.epochs_done else "–",
                    help="compute time per epoch (as `python -m nn train` reports it)")
        c[4].metric("Epochs trained", _epoch(s.epoch))
        if s.history:
            st.caption(f"Wall-clock training time: {s.wall_seconds:.3f} s (training, evaluation "
                       f"and live charts) · compute time: {s.trainer.seconds:.3f} s")


def _chart(slot: Any, fig: Any, view: View, name: str) -> None:
    view.draws += 1                       # a fresh key per draw: no duplicate-element clash
    slot.plotly_chart(fig, width="stretch", key=f"train.{name}.{view.draws}")


def _data_view(view: View, s: TrainSession, data: Dataset, final: bool) -> None:
    """The decision boundary (2-D data) or a grid of test images with their predictions."""
    chart = lambda slot, fig, name: _chart(slot, fig, view, name)     # noqa: E731
    if data.task == "regression":                      # the predicted quantity
        regression_view.data_view(view.data, s, data, final, chart)
        return
    if own_results.handles(data):                      # own data: more features or classes
        own_results.results_view(view.data, s, data, final, chart)
        return
    if data.image_shape is None:
        args = (plane_proba(s.model), data.plane_train, data.y_train, data.plane_test, data.y_test)
        if final:
            _chart(view.data, plots.decision_boundary_figure(*args), view, "data")
        else:
            view.data.image(pictures.decision_boundary_image(*args),
                            caption="Decision boundary: P(class 1) over the plane · train points: "
                                    "dots · test points: diamonds")
        return
    idx = np.linspace(0, len(data.X_test) - 1, GRID_IMAGES).round().astype(int)
    proba = s.model.predict_proba(data.X_test[idx])
    pred = proba.argmax(axis=1)
    args = (data.X_test[idx].reshape(-1, *data.image_shape), data.y_test[idx], pred,
            proba[np.arange(len(idx)), pred], data.label)
    if final:
        _chart(view.data, plots.image_grid_figure(*args, title="Test images"), view, "data")
    else:
        view.data.image(pictures.image_grid_image(*args, title="Test images"))


def _curves(view: View, s: TrainSession, final: bool) -> None:
    h = s.history
    if s.model is not None and getattr(s.model, "task", None) == "regression":
        regression_view.curves(view.loss, view.accuracy, h, final, lambda slot, fig, name: _chart(slot, fig, view, name))
        return
    if final:
        _chart(view.loss, plots.loss_figure(h), view, "loss")
        _chart(view.accuracy, plots.accuracy_figure(h), view, "accuracy")
    else:
        view.loss.image(pictures.curves_image(h, "loss"))
        view.accuracy.image(pictures.curves_image(h, "accuracy"))


def draw(view: View, s: TrainSession, data: Dataset | None, final: bool) -> None:
    """Redraw the whole live view from the session's model and history.

    While training runs, the browser shares the CPU with training (on a laptop), and each
    element sent costs it work: the live view is the progress bar (which also shows the latest
    test accuracy) and still pictures. The metrics and the interactive figures come at the end.
    """
    progress(view, s)
    if s.model is None:
        if data is not None and view.cfg is not None:
            first_screen.show(view.data, view.cfg, data)       # the data and the untrained network
        return
    first_screen.forget()
    if data is None:
        return
    if final and not s.test_ready(data):
        view.metrics.caption("The test figures are not computed yet (interrupted): they come with "
                             "the next redraw.")
        final = False
    if final:
        _metrics(view, s, data)
    if s.history:
        _curves(view, s, final)
    _data_view(view, s, data, final)
    if final and data.image_shape is not None:
        _after_training(view, s, data)
    cnn_view.draw(view.cnn, s, data, final)
    inside.draw(view.inside, s, data, final)


def _after_training(view: View, s: TrainSession, data: Dataset) -> None:
    proba = np.exp(s.test_log_proba(data))
    pred = proba.argmax(axis=1)
    wrong = plots.most_confident_wrong(proba, data.y_test, k=16)
    with view.after.container():
        left, right = st.columns([2, 3])
        labels = [data.label(k) for k in range(data.n_classes)]
        _chart(left, plots.confusion_matrix_figure(data.y_test, pred, data.n_classes, labels), view, "cm")
        if len(wrong):
            fig = plots.image_grid_figure(data.X_test[wrong].reshape(-1, *data.image_shape),
                                          data.y_test[wrong], pred[wrong], proba[wrong, pred[wrong]],
                                          data.label, count_right=False,
                                          title=f"Most confidently wrong ({len(wrong)} shown of "
                                                f"{int((pred != data.y_test).sum())} wrong)")
            _chart(right, fig, view, "wrong")
        else:
            right.success("No test image is misclassified.")
