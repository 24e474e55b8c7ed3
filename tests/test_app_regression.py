"""Regression on the Train page under AppTest: reg-plane trains and shows R², RMSE and the predicted
surface; a table whose numeric label could be classes or a quantity asks, and "a quantity"
trains a regression with predicted against actual values; the URL carries the task."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from app_pages import open_app
from streamlit.testing.v1 import AppTest

from app.train.state import config_from_query

PLANE = {"preset": "moons", "dataset": "reg-plane", "n_samples": "600", "hidden": "16", "epochs": "15"}
TABLE = {"preset": "moons", "dataset": "table", "hidden": "16", "epochs": "40"}


def _titles(at: AppTest) -> str:
    return " ".join(c.proto.spec for c in at.get("plotly_chart"))


def _metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def test_reg_plane_trains_and_shows_r2_rmse_and_the_surface():
    at = open_app(**PLANE)
    assert not at.exception
    assert "predicted value" in _titles(at)              # the first screen: the untrained surface
    at.button(key="train.go").click().run()
    assert not at.exception
    s = at.session_state["train_session"]
    assert s.model.task == "regression" and s.model.layer_sizes == [2, 16, 1] and s.epoch == 15
    metrics = _metrics(at)
    assert float(metrics["Test R²"]) > 0.9 and float(metrics["Test RMSE"]) < 0.2
    assert "Test accuracy" not in metrics
    titles = _titles(at)
    assert "1 is perfect" in titles and "mean squared error" in titles and "predicted value over the plane" in titles
    assert at.query_params["task"] == "regression" and at.query_params["dataset"] == "reg-plane"


def _ratings(n: int = 240, seed: int = 0) -> bytes:
    """A rating from 1 to 5 that grows with x: whole numbers, so a class or a quantity."""
    rng = np.random.default_rng(seed)
    x, z = rng.uniform(-2, 2, n), rng.normal(size=n)
    rating = np.clip(np.round(3 + x + 0.3 * rng.normal(size=n)), 1, 5).astype(int)
    return pd.DataFrame({"x": x, "z": z, "rating": rating}).to_csv(index=False).encode()


def test_a_numeric_label_asks_class_or_quantity_and_quantity_trains_a_regression():
    at = open_app(**TABLE)
    at.file_uploader(key="own.upload").set_value(("ratings.csv", _ratings(), "text/csv")).run()
    assert not at.exception
    at.selectbox(key="own.w.label").set_value("rating").run()
    question = at.radio(key="own.w.task")
    assert question.value == "classification" and "class or a quantity" in question.label
    question.set_value("regression").run()
    assert not at.exception
    assert any("a quantity to predict" in str(e.value) for e in at.success)
    at.button(key="train.go").click().run()
    assert not at.exception
    s = at.session_state["train_session"]
    assert s.model.task == "regression" and s.model.layer_sizes == [2, 16, 1]
    assert s.model.meta["schema"]["task"] == "regression"
    assert float(_metrics(at)["Test R²"]) > 0.6
    assert "Predicted against actual rating" in _titles(at)
    at.radio(key="own.w.task").set_value("classification").run()      # the same label, as classes
    assert not at.exception
    at.button(key="train.go").click().run()
    assert at.session_state["train_session"].model.layer_sizes == [2, 16, 5]
    assert "Test accuracy" in _metrics(at)


def test_a_text_label_is_never_asked_and_a_link_keeps_the_task():
    at = open_app(**TABLE)
    frame = pd.DataFrame({"x": np.arange(40.0), "kind": ["a", "b"] * 20})
    at.file_uploader(key="own.upload").set_value(("kinds.csv", frame.to_csv(index=False).encode(),
                                                  "text/csv")).run()
    assert not at.exception and not at.radio          # text: classes, nothing to ask
    cfg, warnings = config_from_query({"dataset": ["table"], "task": ["regression"]})
    assert cfg.task == "regression" and warnings == []
    cfg, warnings = config_from_query({"dataset": ["moons"], "task": ["regression"]})
    assert cfg.task == "classification" and "task" in warnings[0]


def test_the_sweep_page_runs_reg_plane_and_reports_r2():
    at = open_app()
    at.switch_page("app/pages/sweep.py").run()
    at.selectbox(key="sw_dataset").set_value("reg-plane")
    at.number_input(key="sw_n_samples").set_value(300)
    at.number_input(key="sw_trials").set_value(2)
    at.number_input(key="sw_epochs").set_value(5)
    at.number_input(key="sw_workers").set_value(1)
    at.text_input(key="sw_values").set_value("4:5")
    at.button(key="sw_run").click().run()
    assert not at.exception, at.exception
    summary = at.session_state["sweep_result"]["summary"]
    assert all(s["mean_r2"] is not None and s["mean_accuracy"] is None for s in summary)
    assert any("Best mean test R²" in c.value for c in at.caption)
    assert "test R" in at.get("plotly_chart")[0].proto.spec


def test_an_uploaded_regression_model_brings_its_task_and_continues():
    from nn.files.io import model_to_bytes
    from nn.runs.experiment import build_trainer, config_from_preset, load_data
    cfg = config_from_preset("moons", dataset="reg-gauss", n_samples=400, hidden=[8], epochs=5)
    trainer = build_trainer(cfg, load_data(cfg))
    list(trainer.run())
    at = open_app()
    at.file_uploader(key="tw.upload").set_value(("g.npz", model_to_bytes(trainer.model),
                                                 "application/octet-stream")).run()
    assert not at.exception
    s = at.session_state["train_session"]
    assert s.model.task == "regression" and s.cfg.dataset == "reg-gauss" and s.cfg.task == "regression"
    assert float(_metrics(at)["Test R²"]) == pytest.approx(trainer.history[-1]["val_r2"], abs=1e-4)
    at.button(key="train.continue").click().run()
    assert not at.exception and at.session_state["train_session"].epoch == 10


@pytest.mark.parametrize("view", ["Neurons", "Health", "Weights vs start", "Step through backprop"])
def test_every_inside_view_works_for_regression(view):
    at = open_app(**{**PLANE, "epochs": "3"})
    at.segmented_control(key="inside.view").set_value(view).run()
    at.button(key="train.go").click().run()
    assert not at.exception, at.exception
    if view == "Step through backprop":
        at.button(key="inside.step").click().run()
        assert not at.exception, at.exception
        code = " ".join(c.value for c in at.code)
        assert "linear output" in code and "dZ2 = 2 (A2 − Y)" in code
    else:
        assert len(at.get("plotly_chart")) >= 4          # loss, R², the surface and the view's own
