"""The inside view under AppTest: the Train page's section (still pictures, readings, the
interactive views, Step through backprop on a fresh and a trained model, weights as images) and
the Draw page's activations for a drawing."""
from __future__ import annotations

import json

import numpy as np
import pytest
from app_pages import open_app
from streamlit.testing.v1 import AppTest
from test_app_draw import canvas, draw_page, one  # noqa: F401  (canvas: a fixture)

from nn.views.inspect import HealthMonitor

TINY = {"preset": "moons", "n_samples": "400", "epochs": "3", "hidden": "4"}


def _session(at: AppTest):
    return at.session_state["train_session"]


def _inside(at: AppTest):
    return at.session_state["inside_state"]


def _view(at: AppTest, name: str) -> AppTest:
    at.segmented_control(key="inside.view").set_value(name).run()
    assert not at.exception, at.exception
    return at


def _image_captions(at: AppTest) -> list[str]:
    return [img.caption for e in at.get("image") for img in e.proto.imgs]


def _specs(at: AppTest) -> list[dict]:
    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


def test_after_training_the_section_shows_pictures_readings_and_a_monitor_per_record():
    at = open_app(**TINY)
    at.button(key="train.go").click().run()
    assert not at.exception
    s, inside = _session(at), _inside(at)
    assert inside.model is s.model and isinstance(inside.monitor, HealthMonitor)
    assert inside.monitor.history and inside.monitor.history[-1]["step"] == s.history[-1]["step"]
    assert len(at.get("plotly_chart")) == 3                   # the inside figures only on request
    captions = " ".join([c.value for c in at.caption] + _image_captions(at))
    assert "bias" in captions and "W ← W − lr·dW" in captions and "red is positive" in captions
    assert len(at.get("image")) == 2                          # neurons + health, as still pictures
    text = " ".join(m.value for m in at.markdown)
    assert "No warning signs" in text or "layer 1:" in text   # the latest reading, in words


def test_neurons_view_hovers_every_neurons_weights_bias_and_formula():
    at = _view(open_app(**TINY), "Neurons")
    at.button(key="train.go").click().run()
    assert not at.exception
    fig = next(f for f in _specs(at) if "Inside the network" in f["layout"]["title"]["text"])
    hover = fig["data"][1]["hovertext"]
    assert len(hover) == 2 + 4 + 1                            # inputs, 4 hidden, output
    assert "bias" in hover[2] and "relu(" in hover[2] and "incoming weights" in hover[2]


def test_health_and_histogram_views():
    at = open_app(**TINY)
    at.button(key="train.go").click().run()
    titles = " ".join(f["layout"]["title"]["text"] for f in _specs(_view(at, "Health")))
    assert "Health of training" in titles
    titles = " ".join(f["layout"]["title"]["text"] for f in _specs(_view(at, "Weights vs start")))
    assert "Weights now against the start" in titles


def _equations(at: AppTest) -> str:
    return "\n".join(c.value for c in at.code)


def test_step_on_a_fresh_model_twice_shows_changing_numbers_and_shares_the_optimizer():
    at = _view(open_app(**{**TINY, "optimizer": "momentum", "lr": "0.1"}), "Step through backprop")
    assert _session(at).model is None
    at.button(key="inside.step").click().run()
    assert not at.exception
    s = _session(at)
    assert s.model is not None and not s.running and s.epoch == 0       # built, not trained
    first = _equations(at)
    assert "dZ2 = A2 − Y" in first and "dW1 = A0ᵀ dZ1 / m" in first and "W1 after" in first
    before = [p.copy() for p in s.model.params]
    at.button(key="inside.step").click().run()
    second = _equations(at)
    assert second != first and any((a != b).any() for a, b in zip(before, s.model.params))
    inside = _inside(at)
    assert inside.steps_taken == 2 and inside.stepper.optimizer is s.trainer.optimizer
    assert any(np.abs(v).sum() > 0 for v in s.trainer.optimizer.v)   # momentum carried on
    at.number_input(key="inside.sample").set_value(5).run()          # another sample, same step
    assert "sample 5" in " ".join(m.value for m in at.markdown) and inside.steps_taken == 2
    at.button(key="train.continue").click().run()                    # Continue trains this model
    assert not at.exception and _session(at).model is s.model and _session(at).epoch == 3


def test_step_on_a_big_network_shows_per_layer_summaries_and_weights_as_images():
    at = open_app(preset="moons", dataset="digits", hidden="80", epochs="1", lr="0.01")
    at.button(key="train.go").click().run()
    assert not at.exception
    _view(at, "Step through backprop").button(key="inside.step").click().run()
    assert not at.exception
    table = at.table[0].value
    assert list(table["layer"]) == [1, 2] and "|ΔW| / |W|" in table.columns
    at = _view(at, "First-layer weights")
    at.radio(key="inside.units").set_value("first units").run()
    at.slider(key="inside.n_units").set_value(16).run()
    assert not at.exception and any("first units (16 units)" in c or "incoming weights" in c
                                    for c in _image_captions(at))


def test_reset_forgets_the_inside_state():
    at = open_app(**TINY)
    at.button(key="train.go").click().run()
    assert "inside_state" in at.session_state
    at.button(key="train.reset").click().run()
    assert not at.exception and "inside_state" not in at.session_state


@pytest.mark.parametrize("budget", [1.0, 0.0])
def test_health_follows_the_records_within_its_time_budget(monkeypatch, budget):
    import app.train.inside as iv
    monkeypatch.setattr(iv, "HEALTH_BUDGET", budget)    # all the time there is / none at all
    at = open_app(preset="moons", n_samples="1000", epochs="8", hidden="8-8")
    at.button(key="train.go").click().run(timeout=120)
    assert not at.exception
    steps = [e["step"] for e in _inside(at).monitor.history]
    records = [r["step"] for r in _session(at).history]
    if budget:
        assert steps == records                           # every record followed
    else:
        assert steps == [records[0], records[-1]]         # the first record and the final state


def test_draw_page_shows_activations_and_pushing_units_on_request(canvas):  # noqa: F811
    canvas.image = one()
    at = draw_page()
    at.radio(key="draw_model_choice").set_value("Shipped MLP").run()  # the default is a CNN
    assert len(at.get("image")) == 1                              # off by default: the preview only
    at.toggle(key="draw_inside").set_value(True).run()
    assert not at.exception and len(at.get("image")) == 3
    assert "pushed '1' most" in " ".join(_image_captions(at))
