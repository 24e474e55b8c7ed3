"""Regression: the mean squared error path of the MLP, Playground's two regression sets, tables with
a numeric label (--task regression), the CLI's figures and save/load keeping the task."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from nn import MLP, ConfigError, RunConfig, load, save
from nn.core.history import check_history
from nn.data import load_dataset
from nn.data.datasets import PLAYGROUND_RADIUS
from nn.data.tables import dataset_from_table, table_arrays
from nn.runs.experiment import build_trainer, load_data
from nn.runs.scores import final_scores


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "nn", "train", *args], capture_output=True, text=True,
                          timeout=300)


def test_mse_gradients_match_central_differences():
    rng = np.random.default_rng(1)
    model = MLP([3, 5, 4, 1], activation="tanh", dtype="float64", task="regression", seed=2)
    X, y = rng.normal(size=(7, 3)), rng.normal(size=7)
    _, grads = model.loss_and_grads(X, y)
    h = 1e-6
    for p, g in zip(model.params, grads):
        numeric = np.empty_like(p)
        for i in np.ndindex(p.shape):
            keep = p[i]
            p[i] = keep + h
            up = model.loss_and_grads(X, y)[0]
            p[i] = keep - h
            down = model.loss_and_grads(X, y)[0]
            p[i] = keep
            numeric[i] = (up - down) / (2 * h)
        np.testing.assert_allclose(g, numeric, rtol=1e-5, atol=1e-8)


def test_the_loss_is_the_mean_squared_error_and_r2_is_sklearns():
    from sklearn.metrics import r2_score
    rng = np.random.default_rng(0)
    model = MLP([2, 8, 1], task="regression", dtype="float64")
    X, y = rng.normal(size=(50, 2)), rng.normal(size=50)
    pred = model.predict(X)
    loss, r2 = model.evaluate(X, y)
    assert pred.shape == (50,)
    assert loss == pytest.approx(np.mean((pred - y) ** 2))
    assert r2 == pytest.approx(r2_score(y, pred))
    assert model.loss_and_grads(X, y)[0] == pytest.approx(loss)


def test_regression_sets_follow_playgrounds_formulas():
    plane = load_dataset("reg-plane", n_samples=400, noise=0.0)
    X, y = plane.X_train.astype(np.float64) * PLAYGROUND_RADIUS, plane.y_train
    assert plane.task == "regression" and plane.n_classes == 1 and y.dtype == np.float32
    np.testing.assert_allclose(y, (X[:, 0] + X[:, 1]) / 10, atol=1e-5)   # d3 [-10, 10] -> [-1, 1]
    assert np.abs(X).max() <= PLAYGROUND_RADIUS
    gauss = load_dataset("reg-gauss", n_samples=4000, noise=0.0)
    X, y = gauss.X_train.astype(np.float64) * PLAYGROUND_RADIUS, gauss.y_train
    near = np.hypot(X[:, 0] - 4, X[:, 1] + 2.5) < 0.2             # the bump at (4, -2.5), sign -1
    assert near.any() and (y[near] < -0.89).all()
    far = np.abs(X[:, 1]) < 0.3                                     # 2.2 from every centre
    assert (y[far] == 0).all()
    noisy = load_dataset("reg-gauss", n_samples=4000, noise=0.5)
    assert not np.array_equal(noisy.y_train, gauss.y_train) and np.abs(noisy.y_train).max() <= 1


def test_training_records_carry_r2_and_no_accuracy():
    cfg = RunConfig(dataset="reg-plane", n_samples=800, hidden=[16], epochs=15, lr=0.01).validate()
    data = load_data(cfg)
    trainer = build_trainer(cfg, data)
    records = list(trainer.run())
    last = records[-1]
    assert cfg.task == "regression" and trainer.model.layer_sizes == [2, 16, 1]
    assert last["train_accuracy"] is None and last["val_accuracy"] is None
    assert last["val_r2"] > 0.95 and last["train_r2"] > 0.95
    assert last["val_r2"] == pytest.approx(trainer.model.evaluate(data.X_test, data.y_test)[1], abs=1e-6)
    check_history(trainer.history)
    scores = final_scores(trainer.model, data)
    assert scores["test_rmse"] == pytest.approx(np.sqrt(scores["test_loss"]))


def test_cli_json_on_reg_plane_reports_r2_rmse_and_loss():
    out = _cli("--dataset", "reg-plane", "--n-samples", "1000", "--epochs", "30", "--hidden", "16",
               "--lr", "0.01", "--json")
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["task"] == "regression" and result["layers"] == [2, 16, 1]
    assert result["test_r2"] > 0.95
    assert result["test_rmse"] == pytest.approx(result["test_loss"] ** 0.5)
    assert "test_accuracy" not in result


def _numeric_table(n: int = 300, seed: int = 0) -> pd.DataFrame:
    """y = 50 + 20 a - 10 b + noise: a numeric label in its own units (mean 50, spread about 22)."""
    rng = np.random.default_rng(seed)
    a, b = rng.normal(size=n), rng.normal(size=n)
    return pd.DataFrame({"a": a, "b": b, "y": 50 + 20 * a - 10 * b + rng.normal(0, 1, n)})


def test_cli_json_on_a_numeric_table_with_task_regression(tmp_path):
    path = tmp_path / "quantities.csv"
    _numeric_table().to_csv(path, index=False)
    out = _cli("--data", str(path), "--label", "y", "--task", "regression", "--epochs", "60",
               "--lr", "0.01", "--json")
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["task"] == "regression" and result["config"]["task"] == "regression"
    assert result["test_r2"] > 0.98
    assert 0.5 < result["test_rmse"] < 3.0          # in the label's units (the noise is 1)
    refused = _cli("--data", str(path), "--label", "y", "--epochs", "1")
    assert refused.returncode == 2 and "--task regression" in refused.stderr


def test_bad_task_values_are_refused_with_the_setting_and_its_choices():
    out = _cli("--dataset", "moons", "--task", "quantity")
    assert out.returncode == 2 and "--task" in out.stderr and "classification" in out.stderr
    with pytest.raises(ConfigError, match=r"task \(--task\) must be one of: classification, regression"):
        RunConfig(task="quantity").validate()
    with pytest.raises(ConfigError, match=r"task \(--task\) regression needs a quantity.*'moons' has classes"):
        RunConfig(dataset="moons", task="regression").validate()
    with pytest.raises(ConfigError, match=r"task \(--task\) regression .* --arch classifies only"):
        RunConfig(dataset="table", task="regression", arch="dense 16").validate()


def test_save_and_load_keep_the_task(tmp_path):
    cfg = RunConfig(dataset="reg-gauss", n_samples=300, epochs=2).validate()
    data = load_data(cfg)
    trainer = build_trainer(cfg, data)
    list(trainer.run())
    save(trainer.model, tmp_path / "reg.npz")
    back = load(tmp_path / "reg.npz")
    assert back.task == "regression" and back.layer_sizes == trainer.model.layer_sizes
    np.testing.assert_array_equal(back.predict(data.X_test), trainer.model.predict(data.X_test))
    assert back.meta["history"][-1]["val_r2"] == trainer.history[-1]["val_r2"]


def test_a_table_model_keeps_its_target_scaling_through_a_file(tmp_path):
    frame = _numeric_table()
    data = dataset_from_table(frame, "y", task="regression")
    assert data.task == "regression" and data.n_classes == 1
    assert abs(float(data.y_train.mean())) < 1e-5 and float(data.y_train.std()) == pytest.approx(1, abs=1e-4)
    model = MLP([2, 4, 1], task="regression")
    model.meta["schema"] = data.schema
    save(model, tmp_path / "table.npz")
    back = load(tmp_path / "table.npz")
    assert back.meta["schema"]["target_scale"] == data.schema["target_scale"]
    X, y = table_arrays(back.meta["schema"], frame)
    expected = (frame["y"].to_numpy() - data.schema["target_mean"]) / data.schema["target_scale"]
    np.testing.assert_allclose(y, expected, rtol=1e-5)


def test_a_regression_file_with_classes_or_two_outputs_is_refused(tmp_path):
    from nn.files.io import ModelFormatError
    model = MLP([2, 3, 1], task="regression")
    save(model, tmp_path / "m.npz")
    with np.load(tmp_path / "m.npz") as f:
        arrays = dict(f)
    meta = json.loads(str(arrays["meta"]))
    meta["task"] = "classification"               # one output cannot be a classifier
    arrays["meta"] = np.array(json.dumps(meta))
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(ModelFormatError, match="at least 2 classes"):
        load(tmp_path / "bad.npz")


@pytest.mark.parametrize("param,values", [("hidden", (3, 7)), ("depth", (1, 2))])
def test_a_sweep_on_reg_plane_equals_training_each_network_alone(param, values):
    """The lockstep's linear output and squared error reproduce MLP + Trainer (float64)."""
    from nn import TrainConfig, Trainer
    from nn.sweep import SweepConfig, run_sweep
    run = RunConfig(dataset="reg-plane", n_samples=300, noise=0.1, hidden=[5], optimizer="adam",
                    lr=0.01, batch_size=16, epochs=3, seed=2)
    sweep = SweepConfig(run, param, list(values), 2, "float64").validate()
    result = run_sweep(sweep, workers=1)
    data = load_data(sweep.run)
    for r in result.trials:
        cfg = sweep.config_for(r["value"])
        model = MLP([2, *cfg.hidden, 1], cfg.activation, cfg.init, seed=sweep.trial_seed(r["trial"]),
                    dtype="float64", task="regression")
        tc = TrainConfig(cfg.optimizer, cfg.lr, cfg.batch_size, cfg.epochs, seed=sweep.trial_seed(r["trial"]))
        list(Trainer(model, data.X_train, data.y_train, config=tc).run())
        loss, r2 = model.evaluate(data.X_test, data.y_test)
        assert r["accuracy"] is None
        assert r["r2"] == pytest.approx(r2, rel=1e-9) and r["test_loss"] == pytest.approx(loss, rel=1e-9)
    assert all(s["mean_r2"] is not None for s in result.summary())


def test_the_inside_view_and_health_work_for_regression():
    from nn.views.inspect import HealthMonitor, backprop, neurons
    from nn.views.inspect.pictures import network_image
    data = load_dataset("reg-gauss", n_samples=200)
    model = MLP([2, 5, 4, 1], activation="tanh", dtype="float64", task="regression")
    step = backprop.BackpropStepper(model, data.X_train, data.y_train).step(sample=1)
    for k in (1, 2, 3):                  # the per-sample shares average to the library's dW
        shares = np.mean([step.sample_dW(k, i) for i in range(step.m)], axis=0)
        np.testing.assert_allclose(shares, step.layers[k - 1].dW, rtol=1e-10, atol=1e-12)
    formulas = [e.formula for e in step.equations()]
    assert "A3 = Z3 (linear output: the predicted value)" in formulas and "dZ3 = 2 (A3 − Y)" in formulas
    assert step.sample_loss() == pytest.approx((step.layers[-1].A[1, 0] - step.y[1]) ** 2)
    maps = neurons.neuron_maps(model, data.X_train, grid=20)
    np.testing.assert_allclose(maps.output.ravel(), model.predict(maps.inputs.reshape(-1, 2)), rtol=1e-10)
    assert network_image(model, maps).shape == (560, 720, 3)
    monitor = HealthMonitor(model, data.X_train, data.y_train)
    entry = monitor.update({"epoch": 1, "step": 5, "seconds": 0.1, "train_loss": 0.2})
    assert entry["layers"][-1]["units"] == 1
