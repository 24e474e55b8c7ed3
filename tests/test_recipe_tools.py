"""The training tools of the time-to-accuracy recipes: label smoothing (gradient against central
differences in float64, in the loss and through the Trainer), the one-cycle learning-rate
schedule's values, and test-time augmentation (shapes, shifts, the averaging)."""
import math

import numpy as np
import pytest

from nn.core import build_network
from nn.core.config import RunConfig, TrainConfig
from nn.core.losses import log_softmax, softmax_cross_entropy_grad
from nn.core.mlp import MLP
from nn.core.settings import SETTINGS, ConfigError
from nn.core.training import ONECYCLE_START, ONECYCLE_WARMUP, Trainer, onecycle_lr
from nn.core.tta import SHIFTS, shifted, tta_evaluate, tta_log_proba
from test_layers import assert_close, numeric


# --- label smoothing ------------------------------------------------------------------------
@pytest.mark.parametrize("eps", [0.0, 0.1, 0.5])
def test_label_smoothing_loss_and_gradient(eps):
    rng = np.random.default_rng(0)
    Z, y = rng.standard_normal((6, 4)) * 3, rng.integers(0, 4, 6)
    q = (1 - eps) * np.eye(4)[y] + eps / 4                      # the smoothed target
    direct = lambda: float(-(q * log_softmax(Z)).sum(axis=1).mean())   # noqa: E731
    loss, dZ = softmax_cross_entropy_grad(Z.copy(), y, eps)
    assert loss == pytest.approx(direct(), rel=1e-12)
    np.testing.assert_allclose(dZ, (np.exp(log_softmax(Z)) - q) / 6, atol=1e-15)   # dZ = (A - q) / n
    assert_close(dZ, numeric(direct, Z), f"label smoothing {eps}")


def test_label_smoothing_through_a_network_matches_central_differences():
    net = build_network("conv 3x3x2, pool 2, dense 5", (1, 6, 6), 3, dtype="float64", seed=2)
    rng = np.random.default_rng(1)
    X, y = rng.standard_normal((4, 36)), rng.integers(0, 3, 4)
    _, grads = net.loss_and_grads(X, y, label_smoothing=0.2)
    loss = lambda: net.loss_and_grads(X, y, label_smoothing=0.2)[0]    # noqa: E731
    for k, (p, g) in enumerate(zip(net.params, grads)):
        assert_close(g, numeric(loss, p), f"param {k}")


def test_the_trainer_passes_label_smoothing_to_the_model():
    rng = np.random.default_rng(2)
    X, y = rng.standard_normal((64, 5)), rng.integers(0, 3, 64)
    losses = {}
    for eps in (0.0, 0.3):
        model = MLP([5, 8, 3], seed=0, dtype="float64")
        trainer = Trainer(model, X, y, config=TrainConfig(batch_size="full", epochs=1, lr=0.01,
                                                          label_smoothing=eps))
        losses[eps] = list(trainer.run())[-1]["train_loss"]
        grads = [np.empty_like(p) for p in model.params]
        fresh = MLP([5, 8, 3], seed=0, dtype="float64")
        assert losses[eps] == pytest.approx(fresh.train_step_grads(X, y, grads, label_smoothing=eps)[0])
    assert losses[0.3] != losses[0.0]


# --- one-cycle ------------------------------------------------------------------------------
def test_onecycle_climbs_then_falls():
    T, lr = 100, 0.01
    rates = [onecycle_lr(lr, t, T) for t in range(T)]
    top = int(ONECYCLE_WARMUP * T)
    assert rates[0] == pytest.approx(ONECYCLE_START * lr)
    assert rates[top] == pytest.approx(lr) and max(rates) == pytest.approx(lr)
    assert all(a < b for a, b in zip(rates[:top], rates[1:top + 1]))           # straight up
    assert all(a > b for a, b in zip(rates[top:], rates[top + 1:]))            # straight down
    assert rates[-1] == pytest.approx(lr / (T - top)) and rates[-1] > 0
    assert rates[10] == pytest.approx(lr * (0.1 + 0.9 * 10 / 25))
    assert rates[50] == pytest.approx(lr * 50 / 75)


def test_the_trainer_sets_the_onecycle_rate_at_every_step():
    X, y = np.random.default_rng(3).standard_normal((40, 3)), np.arange(40) % 2
    cfg = TrainConfig(lr=0.1, lr_schedule="onecycle", batch_size=10, epochs=2, report_every=0.0)
    trainer = Trainer(MLP([3, 4, 2], seed=0), X, y, config=cfg)
    seen = []
    step = trainer.optimizer.step

    def spy(params, grads):
        seen.append(trainer.optimizer.lr)
        step(params, grads)
    trainer.optimizer.step = spy
    list(trainer.run())
    assert seen == pytest.approx([onecycle_lr(0.1, t, 8) for t in range(8)])
    assert trainer.step_lr() == pytest.approx(onecycle_lr(0.1, 0, 8))   # a further run: a new cycle


def test_onecycle_is_a_setting_choice():
    assert RunConfig(lr_schedule="onecycle").validate().lr_schedule == "onecycle"
    with pytest.raises(ConfigError, match="lr_schedule"):
        RunConfig(lr_schedule="triangle").validate()


# --- test-time augmentation -----------------------------------------------------------------
def test_shifted_moves_the_image_and_fills_zeros():
    X = np.arange(2 * 3 * 4, dtype=np.float32).reshape(1, -1) + 1       # one 2-channel 3x4 image
    img = X.reshape(2, 3, 4)
    down_left = shifted(X, (2, 3, 4), 1, -1).reshape(2, 3, 4)
    np.testing.assert_array_equal(down_left[:, 1:, :-1], img[:, :-1, 1:])
    assert not down_left[:, 0].any() and not down_left[:, :, -1].any()
    np.testing.assert_array_equal(shifted(X, (2, 3, 4), 0, 0), X)


def test_tta_averages_the_probabilities_of_the_shifted_copies():
    net = build_network("conv 3x3x2, pool 2, dense 6", (1, 8, 8), 4, seed=1, dtype="float64")
    X = np.random.default_rng(4).random((5, 64))
    logp = tta_log_proba(net, X, 3)
    assert logp.shape == (5, 4)
    copies = [np.exp(net.log_proba(shifted(X, (1, 8, 8), *s))) for s in SHIFTS[:3]]
    np.testing.assert_allclose(np.exp(logp), np.mean(copies, axis=0), rtol=1e-12)
    np.testing.assert_array_equal(tta_log_proba(net, X, 1), net.log_proba(X))
    y = np.arange(5) % 4
    loss, acc = tta_evaluate(net, X, y, 3)
    assert loss == pytest.approx(-logp[np.arange(5), y].mean()) and acc == np.mean(logp.argmax(1) == y)
    assert tta_evaluate(net, X, y, 1) == pytest.approx(net.evaluate(X, y))


def test_tta_is_refused_where_it_cannot_apply():
    mlp = MLP([64, 4, 3])
    with pytest.raises(ValueError, match="images"):
        tta_log_proba(mlp, np.zeros((2, 64)), 2)
    with pytest.raises(ValueError, match="1 to 9"):
        tta_log_proba(mlp, np.zeros((2, 64)), 10)
    assert SETTINGS["tta"].high == len(SHIFTS)                 # the setting offers every copy there is
    with pytest.raises(ConfigError, match="tta"):
        RunConfig(dataset="moons", tta=3).validate()
    with pytest.raises(ConfigError, match="tta"):
        Trainer(mlp, np.zeros((4, 64)), np.zeros(4, int), config=TrainConfig(tta=2))
    assert RunConfig(dataset="digits", arch="conv 3x3x4, dense 8", tta=5).validate().tta == 5


def test_the_trainer_validates_with_tta():
    net = build_network("conv 3x3x2, pool 2, dense 6", (1, 8, 8), 3, seed=1)
    rng = np.random.default_rng(5)
    X, y = rng.random((30, 64), dtype=np.float32), np.arange(30) % 3
    trainer = Trainer(net, X, y, X, y, TrainConfig(epochs=1, batch_size=30, tta=4))
    record = list(trainer.run())[-1]
    loss, acc = tta_evaluate(net, X, y, 4)
    assert record["val_loss"] == pytest.approx(loss, rel=1e-5) and record["val_accuracy"] == acc
    assert not math.isclose(record["val_loss"], net.evaluate(X, y)[0], rel_tol=1e-6)


# --- the Train page -------------------------------------------------------------------------
def test_the_train_page_offers_the_recipe_settings_from_the_link_to_the_widgets():
    from app_pages import open_app
    at = open_app(preset="moons", dataset="digits", arch="conv 3x3x4, bn, dense 8", lr_schedule="onecycle",
                  label_smoothing="0.1", tta="3")
    assert not at.exception
    assert at.selectbox(key="tw.lr_schedule").value == "onecycle"
    assert at.selectbox(key="tw.lr_schedule").options == ["constant", "cosine", "onecycle"]
    assert at.number_input(key="tw.label_smoothing").value == pytest.approx(0.1)
    assert at.number_input(key="tw.tta").value == 3
    at.number_input(key="tw.tta").set_value(5).run()
    at.number_input(key="tw.label_smoothing").set_value(0.2).run()
    cfg = at.session_state["train_cfg"]
    assert (cfg["tta"], cfg["label_smoothing"], cfg["arch"]) == (5, pytest.approx(0.2), "conv 3x3x4, bn, dense 8")
    at.segmented_control(key="tw.kind").set_value("MLP").run()         # an MLP reads no shifted copies
    assert not at.exception and at.session_state["train_cfg"]["tta"] == 1
