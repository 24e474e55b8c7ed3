"""L1 regularization beside L2 (issue 20, item 4): g += l1 sign(W) on weights, never on biases, in
the Trainer, the Step view's optimizer and the sweep's lockstep alike; a setting of the table, so
the CLI, the URL and the page take it with its range."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

import nn
from app.train.state import config_from_query, config_to_query
from nn.core.optimizers import make_optimizer
from nn.runs.experiment import build_trainer, config_from_preset, load_data


@pytest.mark.parametrize("name", ["sgd", "momentum", "adam"])
def test_the_l1_term_is_added_to_weight_gradients_only(name):
    rng = np.random.default_rng(0)
    params = [rng.normal(size=(3, 4)), rng.normal(size=4)]
    grads = [rng.normal(size=(3, 4)), rng.normal(size=4)]
    with_l1, plain = [p.copy() for p in params], [p.copy() for p in params]
    make_optimizer(name, with_l1, 0.1, l1=0.5).step(with_l1, [g.copy() for g in grads])
    shifted = [grads[0] + 0.5 * np.sign(params[0]), grads[1]]
    make_optimizer(name, plain, 0.1).step(plain, shifted)
    np.testing.assert_allclose(with_l1[0], plain[0], rtol=1e-12)
    np.testing.assert_allclose(with_l1[1], plain[1], rtol=1e-12)


def _weights(l1: float) -> np.ndarray:
    cfg = config_from_preset("moons", n_samples=1000, epochs=20, l1=l1)
    data = load_data(cfg)
    trainer = build_trainer(cfg, data)
    for _ in trainer.run():
        pass
    assert trainer.history[-1]["train_loss"] < 0.7 and trainer.model.meta.get("config", {}).get("l1", l1) == l1
    return np.concatenate([w.ravel() for w in trainer.model.params[0::2]])


def test_l1_drives_weights_to_zero_where_l2_alone_does_not():
    sparse, dense = _weights(0.003), _weights(0.0)
    assert (np.abs(sparse) < 1e-2).mean() > 2 * (np.abs(dense) < 1e-2).mean()


def test_the_url_and_the_cli_take_l1_with_its_range():
    cfg, warnings = config_from_query({"preset": ["moons"], "l1": ["0.002"]})
    assert cfg.l1 == 0.002 and warnings == [] and config_to_query(cfg)["l1"] == "0.002"
    _, warnings = config_from_query({"preset": ["moons"], "l1": ["5"]})
    assert any("l1" in w for w in warnings)
    bad = subprocess.run([sys.executable, "-m", "nn", "train", "--l1", "-1"], capture_output=True, text=True,
                         timeout=120)
    assert bad.returncode != 0 and "l1 (--l1) must be a number in [0, 1)" in bad.stderr
    out = subprocess.run([sys.executable, "-m", "nn", "train", "--preset", "moons", "--epochs", "2", "--l1",
                          "0.001", "--json"], capture_output=True, text=True, timeout=120, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1])["config"]["l1"] == 0.001


def test_a_saved_model_keeps_its_l1_and_an_older_file_without_it_still_loads(tmp_path):
    cfg = config_from_preset("moons", n_samples=300, epochs=1, l1=0.01)
    data = load_data(cfg)
    trainer = build_trainer(cfg, data)
    for _ in trainer.run():
        pass
    nn.save(trainer.model, tmp_path / "m.npz")
    assert nn.load(tmp_path / "m.npz").meta["config"]["l1"] == 0.01
    old = trainer.model
    old.meta["config"] = {k: v for k, v in old.meta["config"].items() if k != "l1"}
    nn.save(old, tmp_path / "old.npz")
    again = build_trainer(config_from_preset("moons", n_samples=300, epochs=1), data, nn.load(tmp_path / "old.npz"))
    assert again.config.l1 == 0.0
