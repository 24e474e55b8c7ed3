"""The MNIST tutorial, exactly: its weights (``init="legacy"``), the loss it prints
(``reported_loss="binary_cross_entropy"``), and the preset ``seed-mnist-exact``.

The tutorial's first printed line is ``Training 3.250864945250842, Validation 3.250411860389282``:
the binary cross-entropy (summed over the ten classes) of its softmax output on the 60,000
training images before its first step, and on the 10,000 test images after it; its step is the
softmax cross-entropy's gradient, lr 0.5, full batch, float64.
"""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

from nn.cli import main
from nn.core.config import RunConfig, TrainConfig
from nn.core.losses import binary_cross_entropy_sum, reported_loss_sum, softmax_cross_entropy_grad
from nn.core.mlp import MLP
from nn.core.settings import ConfigError
from nn.core.training import Trainer
from nn.data import load_dataset
from nn.files.io import load, save
from nn.runs.budget import run_estimate
from nn.runs.experiment import config_from_preset
from test_model import numeric_grad

TUTORIAL_FIRST_LINE = (3.250864945250842, 3.250411860389282)   # its printed train and val loss


def naive_bce(P: np.ndarray, y: np.ndarray) -> float:
    """The tutorial's formula: -mean over rows of sum_k [Y log P + (1 - Y) log(1 - P)]."""
    Y = np.eye(P.shape[1])[y]
    return float(-np.mean(np.sum(Y * np.log(P) + (1 - Y) * np.log(1 - P), axis=1)))


def softmax(Z: np.ndarray) -> np.ndarray:
    E = np.exp(Z - Z.max(axis=1, keepdims=True))
    return E / E.sum(axis=1, keepdims=True)


def test_legacy_init_draws_the_tutorials_weights():
    """np.random.seed(42); W1 = randn(784, 5) * 0.01; W2 = randn(5, 10) * 0.01; zero biases."""
    state = np.random.get_state()
    try:
        np.random.seed(42)
        W1 = np.random.randn(784, 5) * 0.01
        W2 = np.random.randn(5, 10) * 0.01
    finally:
        np.random.set_state(state)
    model = MLP([784, 5, 10], activation="sigmoid", init="legacy", seed=42, dtype="float64")
    assert np.array_equal(model.params[0], W1) and np.array_equal(model.params[2], W2)
    assert not model.params[1].any() and not model.params[3].any()
    small = MLP([784, 5, 10], activation="sigmoid", init="small", seed=42, dtype="float64")
    assert not np.array_equal(small.params[0], W1)      # "small": the same law, another generator


def test_binary_cross_entropy_is_the_tutorials_formula():
    rng = np.random.default_rng(3)
    Z, y = rng.normal(0, 3, (50, 10)), rng.integers(0, 10, 50)
    logp = Z - Z.max(axis=1, keepdims=True)
    logp -= np.log(np.exp(logp).sum(axis=1, keepdims=True))
    assert reported_loss_sum(logp, y, "binary_cross_entropy") / 50 == pytest.approx(
        naive_bce(softmax(Z), y), rel=1e-13)
    assert reported_loss_sum(logp, y) == pytest.approx(-logp[np.arange(50), y].sum(), rel=1e-15)
    uniform = np.full((4, 10), 0.1)                      # -ln 0.1 - 9 ln 0.9 per row
    assert binary_cross_entropy_sum(np.log(uniform[:, 0]), uniform, np.arange(4)) / 4 == pytest.approx(
        -math.log(0.1) - 9 * math.log(0.9), rel=1e-14)


def test_reporting_bce_keeps_the_cross_entropy_step():
    """Only the loss returned changes: the gradient is the softmax cross-entropy's, bit for bit."""
    rng = np.random.default_rng(4)
    Z, y = rng.normal(0, 2, (30, 10)), rng.integers(0, 10, 30)
    ce, dz_ce = softmax_cross_entropy_grad(Z.copy(), y)
    bce, dz_bce = softmax_cross_entropy_grad(Z.copy(), y, report="binary_cross_entropy")
    assert np.array_equal(dz_ce, dz_bce)
    assert bce == pytest.approx(naive_bce(softmax(Z), y), rel=1e-13) and bce > ce


def test_the_bce_reporting_step_follows_the_cross_entropy_gradient_float64():
    """Finite differences of the mean cross-entropy against the gradients a step reporting
    binary cross-entropy computes (so the run trains exactly as the tutorial does)."""
    rng = np.random.default_rng(5)
    X, y = rng.normal(size=(20, 6)), rng.integers(0, 4, 20)
    model = MLP([6, 5, 4], activation="sigmoid", init="legacy", seed=1, dtype="float64")
    for p in model.params:                       # away from the tiny start, where every slope is ~0
        p += rng.normal(0, 0.5, p.shape)
    grads = [np.empty_like(p) for p in model.params]
    loss, _ = model.train_step_grads(X, y, grads, reuse_buffers=False, report="binary_cross_entropy")
    assert loss == pytest.approx(naive_bce(softmax(model.logits(X)), y), rel=1e-12)
    for p, g in zip(model.params, grads):       # model.loss: the mean cross-entropy
        np.testing.assert_allclose(g, numeric_grad(model, X, y, p), rtol=1e-5, atol=1e-9)


def test_trainer_records_the_loss_before_the_step_and_validation_after():
    """A full-batch record: training loss of the step's forward pass, validation loss after the
    update (the tutorial's line), both as binary cross-entropy."""
    rng = np.random.default_rng(6)
    X, y, Xv, yv = rng.normal(size=(40, 6)), rng.integers(0, 3, 40), rng.normal(size=(15, 6)), rng.integers(0, 3, 15)
    model = MLP([6, 4, 3], activation="sigmoid", init="legacy", seed=2, dtype="float64")
    before = naive_bce(softmax(model.logits(X)), y)
    cfg = TrainConfig(optimizer="sgd", lr=0.5, batch_size="full", epochs=1, reported_loss="binary_cross_entropy")
    (record,) = list(Trainer(model, X, y, Xv, yv, cfg).run())
    assert record["train_loss"] == pytest.approx(before, rel=1e-13)
    assert record["val_loss"] == pytest.approx(naive_bce(softmax(model.logits(Xv)), yv), rel=1e-13)
    assert model.evaluate(Xv, yv, report="binary_cross_entropy")[0] == pytest.approx(record["val_loss"], rel=1e-14)


def test_settings_are_checked_and_kept(tmp_path):
    with pytest.raises(ConfigError, match=r"reported_loss \(--reported-loss\) must be one of: cross_entropy, "
                                          r"binary_cross_entropy"):
        RunConfig(reported_loss="mse").validate()
    with pytest.raises(ConfigError, match=r"dtype \(--dtype\) must be one of"):
        RunConfig(dtype="float16").validate()
    with pytest.raises(ConfigError, match=r"reported_loss \(--reported-loss\).*regression") as exc:
        RunConfig(dataset="reg-plane", reported_loss="binary_cross_entropy").validate()
    assert exc.value.param == "reported_loss"
    cfg = config_from_preset("seed-mnist-exact")
    assert (cfg.init, cfg.dtype, cfg.reported_loss, cfg.seed) == ("legacy", "float64", "binary_cross_entropy", 42)
    model = MLP([6, 3, 2], activation="sigmoid", init="legacy", seed=42, dtype="float64")
    model.meta["config"] = cfg.to_dict()
    save(model, tmp_path / "m.npz")
    back = load(tmp_path / "m.npz")
    assert back.init == "legacy" and back.dtype == np.float64
    assert back.meta["config"]["reported_loss"] == "binary_cross_entropy"
    assert all(np.array_equal(a, b) for a, b in zip(back.params, model.params))


def test_float64_runs_are_budgeted_wider():
    """A float64 run copies the (float32) data to float64: the server's budget counts it."""
    narrow = run_estimate(config_from_preset("seed-mnist"))
    wide = run_estimate(config_from_preset("seed-mnist", init="legacy", dtype="float64"))
    assert wide.bytes >= 2 * narrow.bytes + 70_000 * 784 * 8
    assert wide.epoch_seconds == pytest.approx(2 * narrow.epoch_seconds)


def test_cli_refuses_a_bad_reported_loss(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["train", "--dataset", "moons", "--reported-loss", "mse"])
    assert exc.value.code == 2 and "--reported-loss" in capsys.readouterr().err


def test_cli_trace_prints_the_tutorials_lines_from_the_first_epoch(capsys):
    code = main(["train", "--dataset", "moons", "--hidden", "4", "--epochs", "3", "--log-every", "2",
                 "--reported-loss", "binary_cross_entropy", "--trace", "--json"])
    captured = capsys.readouterr()
    out = json.loads(captured.out.strip().splitlines()[-1])
    lines = [line for line in captured.err.splitlines() if line.startswith("Training ")]
    history = out["history"]
    assert code == 0 and len(history) == 3
    assert lines == [f"Training {history[i]['train_loss']!r}, Validation {history[i]['val_loss']!r}" for i in (0, 2)]


@pytest.mark.mnist
def test_seed_mnist_exact_first_record_is_the_tutorials_first_line(capsys, mnist_path, monkeypatch):
    monkeypatch.setenv("MNIST_PATH", mnist_path)
    code = main(["train", "--preset", "seed-mnist-exact", "--epochs", "1", "--json"])
    captured = capsys.readouterr()
    first = json.loads(captured.out.strip().splitlines()[-1])["history"][0]
    assert code == 0
    assert abs(first["train_loss"] - TUTORIAL_FIRST_LINE[0]) < 1e-9
    assert abs(first["val_loss"] - TUTORIAL_FIRST_LINE[1]) < 1e-9
    assert "Training 3.2508649452" in captured.err          # the preset prints the tutorial's line


@pytest.mark.mnist
def test_float64_mnist_pixels_are_the_tutorials_x_over_255(mnist_path, monkeypatch):
    monkeypatch.setenv("MNIST_PATH", mnist_path)
    raw = np.load(mnist_path)["x_test"]
    data = load_dataset("mnist", dtype="float64")
    assert data.X_test.dtype == np.float64 and np.array_equal(data.X_test, raw.reshape(len(raw), -1) / 255.0)
    assert load_dataset("mnist").X_test.dtype == np.float32          # the default stays float32


@pytest.mark.mnist
def test_seed_mnist_exact_reaches_the_tutorials_accuracy(capsys, mnist_path, monkeypatch):
    """The whole run, 1000 full-batch steps in float64 (about twice seed-mnist's time): the
    tutorial's 86.69%, i.e. 8669 of the 10,000 test images, and its first line."""
    monkeypatch.setenv("MNIST_PATH", mnist_path)
    code = main(["train", "--preset", "seed-mnist-exact", "--json"])
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert code == 0 and out["epochs"] == 1000 and len(out["history"]) == 1000
    assert round(out["test_accuracy"] * 10_000) == 8669
    first = out["history"][0]
    assert abs(first["train_loss"] - TUTORIAL_FIRST_LINE[0]) < 1e-9
    assert abs(first["val_loss"] - TUTORIAL_FIRST_LINE[1]) < 1e-9
