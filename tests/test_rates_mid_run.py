"""Changing the learning rate and the regularization while training runs (issue 20, item 4): the
step after the change uses the new rate, the optimizer keeps its state, the record says what
changed, the chart marks it, and a saved model keeps it."""
from __future__ import annotations

import numpy as np
import pytest

import nn
from app.train.session import TrainSession
from nn.core.settings import ConfigError
from nn.core.training import Trainer
from nn.data import load_dataset
from nn.runs.experiment import config_from_preset, load_data
from nn.views import plots
from nn.views.pictures import curves_image


def _trainer(lr: float = 0.01, **config) -> Trainer:
    d = load_dataset("moons", n_samples=400)
    model = nn.MLP([2, 8, 2], seed=0)
    return Trainer(model, d.X_train, d.y_train, d.X_test, d.y_test,
                   nn.TrainConfig(optimizer="sgd", lr=lr, batch_size=300, epochs=4, seed=0, **config))


def test_the_step_after_a_change_uses_the_new_rate_and_the_record_says_so():
    trainer = _trainer()
    list(trainer.run(2))
    before = [p.copy() for p in trainer.model.params]
    assert trainer.set_rates(lr=0.5) == "lr 0.01 -> 0.5"
    # one full-batch SGD step by hand at the new rate: w -= 0.5 g
    _, grads = trainer.model.loss_and_grads(trainer.X, trainer.y)
    list(trainer.run(1))
    for p, b, g in zip(trainer.model.params, before, grads):
        np.testing.assert_allclose(p, b - 0.5 * g, rtol=1e-5, atol=1e-7)
    last = trainer.history[-1]
    assert last["change"] == "lr 0.01 -> 0.5" and last["lr"] == 0.5
    assert "change" not in trainer.history[-2] and trainer.history[-2]["lr"] == 0.01
    list(trainer.run(1))
    assert "change" not in trainer.history[-1]                 # said once, at the change


def test_adam_keeps_its_running_averages_across_a_change():
    d = load_dataset("moons", n_samples=400)
    trainer = Trainer(nn.MLP([2, 8, 2], seed=0), d.X_train, d.y_train, None, None,
                      nn.TrainConfig(optimizer="adam", lr=0.01, batch_size=32, epochs=2, seed=0))
    list(trainer.run(1))
    m = [a.copy() for a in trainer.optimizer.m]
    trainer.set_rates(lr=0.001, l1=0.001, weight_decay=0.01)
    assert all(np.array_equal(a, b) for a, b in zip(trainer.optimizer.m, m)) and trainer.optimizer.t > 0
    assert (trainer.optimizer.lr, trainer.optimizer.l1, trainer.optimizer.weight_decay) == (0.001, 0.001, 0.01)


def test_a_bad_rate_is_refused_and_nothing_changes():
    trainer = _trainer()
    with pytest.raises(ConfigError, match=r"lr \(--lr\) must be a number in \(0, 100\]"):
        trainer.set_rates(lr=0.0)
    assert trainer.config.lr == 0.01 and trainer.optimizer.lr == 0.01 and trainer.set_rates(lr=0.01) is None


def test_the_page_applies_a_change_to_the_running_session_and_the_chart_marks_it(tmp_path):
    cfg = config_from_preset("moons", n_samples=400, epochs=6)
    data = load_data(cfg)
    s = TrainSession()
    s.new_model(cfg, data)
    s.start(6)
    steps = s.steps()
    for record in steps:
        if record["epoch"] >= 2:
            break
    steps.close()                                  # the page run ends (a widget moved)
    s.apply_rates(config_from_preset("moons", n_samples=400, epochs=6, lr=0.002, l1=0.0005))
    assert s.cfg.lr == 0.002 and s.cfg.l1 == 0.0005 and "lr 0.01 -> 0.002, l1 0 -> 0.0005" in s.notice
    for _ in s.steps():
        pass
    marked = [r for r in s.history if "change" in r]
    assert len(marked) == 1 and s.epoch == 6 and s.history[-1]["lr"] == 0.002
    fig = plots.loss_figure(s.history)
    assert len(fig.layout.shapes) == 1 and "lr 0.01 -&gt; 0.002" in fig.layout.annotations[0].text
    assert curves_image(s.history, "loss").shape[2] == 3
    nn.save(s.model, tmp_path / "m.npz")
    again = nn.load(tmp_path / "m.npz").meta["history"]
    assert [r.get("change") for r in again] == [r.get("change") for r in s.history]


def test_nothing_changes_when_no_run_is_training():
    cfg = config_from_preset("moons", n_samples=400, epochs=2)
    s = TrainSession()
    s.new_model(cfg, load_data(cfg))
    s.apply_rates(config_from_preset("moons", n_samples=400, epochs=2, lr=0.5))
    assert s.cfg.lr == cfg.lr and s.trainer.config.lr == cfg.lr      # Continue applies it instead
