"""The training loop: learning, seeding, stop/continue, divergence, optimizers, validation."""
import numpy as np
import pytest

from nn import MLP, ConfigError, Trainer, TrainConfig, TrainingDiverged
from nn.core.optimizers import make_optimizer
from nn.data import load_dataset


@pytest.fixture(scope="module")
def moons():
    return load_dataset("moons", n_samples=600, noise=0.1)


def make_trainer(data, **cfg):
    model = MLP([2, 16, 2], activation=cfg.pop("activation", "relu"), seed=cfg.get("seed", 0))
    return Trainer(model, data.X_train, data.y_train, data.X_test, data.y_test,
                   TrainConfig(**{"optimizer": "adam", "lr": 0.01, "batch_size": 16, "epochs": 5, **cfg}))


def test_training_learns_moons(moons):
    trainer = make_trainer(moons, epochs=30)
    records = list(trainer.run())
    ends = [r for r in records if r["end_of_epoch"]]
    assert [r["epoch"] for r in ends] == list(range(1, 31))
    assert ends[-1]["train_loss"] < ends[0]["train_loss"] / 2
    assert ends[-1]["val_accuracy"] > 0.95
    assert set(ends[0]) >= {"epoch", "seconds", "train_loss", "val_loss", "train_accuracy", "val_accuracy"}
    assert trainer.model.meta["history"] is trainer.history


def test_same_seed_gives_bit_identical_training(moons):
    a, b = make_trainer(moons, seed=3), make_trainer(moons, seed=3)
    list(a.run()), list(b.run())
    for p, q in zip(a.model.params, b.model.params):
        np.testing.assert_array_equal(p, q)
    c = make_trainer(moons, seed=4)
    list(c.run())
    assert not np.array_equal(a.model.params[0], c.model.params[0])


def test_stop_mid_epoch_then_continue_equals_uninterrupted(moons):
    whole = make_trainer(moons, epochs=4, report_every=0.0)   # a record after every step
    list(whole.run())
    parts = make_trainer(moons, epochs=4, report_every=0.0)
    for i, rec in enumerate(parts.run()):
        if i == 30:                     # mid-epoch 2
            parts.stop()
    assert 1 < parts.history[-1]["epoch"] < 3
    list(parts.run(epochs=4 - parts.epochs_done))
    assert parts.epochs_done == 4
    for p, q in zip(whole.model.params, parts.model.params):
        np.testing.assert_array_equal(p, q)


def test_closing_the_generator_keeps_the_model(moons):
    trainer = make_trainer(moons, epochs=10)
    run = trainer.run()
    next(run), next(run)
    run.close()                          # what a Streamlit rerun does to a running loop
    assert trainer.epochs_done == 2
    list(trainer.run(3))
    assert trainer.epochs_done == 5 and trainer.history[-1]["epoch"] == 5


def test_nan_loss_stops_with_the_last_finite_weights(moons):
    trainer = make_trainer(moons, epochs=3)
    list(trainer.run(1))
    good = [p.copy() for p in trainer.model.params]
    trainer.model.params[0][0, 0] = np.nan          # poison: the next loss is NaN
    with pytest.raises(TrainingDiverged, match="nan.*learning rate"):
        list(trainer.run(1))
    assert "nan" in trainer.diverged
    for p, q in zip(trainer.model.params, good):
        np.testing.assert_array_equal(p, q)


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam"])
def test_lr_50_on_moons_diverges_with_an_explanation(moons, optimizer):
    model = MLP([2, 32, 32, 2], seed=0)
    start = [p.copy() for p in model.params]
    trainer = Trainer(model, moons.X_train, moons.y_train, moons.X_test, moons.y_test,
                      TrainConfig(optimizer=optimizer, lr=50.0, batch_size=32, epochs=20))
    with pytest.raises(TrainingDiverged, match="exploded"):
        list(trainer.run())
    # it diverged before the first record, so the model is back at its starting weights
    for p, q in zip(model.params, start):
        np.testing.assert_array_equal(p, q)
    assert all(np.isfinite(r["train_loss"]) for r in trainer.history)


@pytest.mark.parametrize("activation, lr", [("tanh", 5.0), ("sigmoid", 10.0)])
def test_a_slow_blow_up_stops_at_a_record_with_its_weights(moons, activation, lr):
    """Bounded activations keep each step's loss moderate (no 100x jump), but the loss settles far
    above where it started: caught at a record, with the previous record's weights kept."""
    model = MLP([2, 8, 2], activation=activation, seed=0)
    trainer = Trainer(model, moons.X_train, moons.y_train, moons.X_test, moons.y_test,
                      TrainConfig(optimizer="momentum", lr=lr, batch_size=32, epochs=30))
    kept = [p.copy() for p in model.params]               # the weights of the last good record
    with pytest.raises(TrainingDiverged, match="rose to .* far above"):
        for _ in trainer.run():
            kept = [p.copy() for p in model.params]
    assert trainer.history, "some good records come first"
    for p, q in zip(model.params, kept):
        np.testing.assert_array_equal(p, q)
    assert max(r["train_loss"] for r in trainer.history) <= 10 * np.log(2)


def test_a_good_learning_rate_does_not_trip_the_divergence_check(moons):
    model = MLP([2, 64, 2], init="normal", seed=0)   # large initial loss, as seed-moons
    trainer = Trainer(model, moons.X_train, moons.y_train,
                      config=TrainConfig(optimizer="sgd", lr=1e-3, batch_size=10, epochs=3))
    list(trainer.run())
    assert trainer.diverged is None


def test_full_batch_is_one_step_per_epoch(moons):
    trainer = make_trainer(moons, optimizer="sgd", lr=0.5, batch_size="full", epochs=7)
    list(trainer.run())
    assert trainer.steps_done == 7


def test_big_batches_in_chunks_give_the_same_training(moons, monkeypatch):
    import nn.core.training as training

    def train(chunk: int) -> list[np.ndarray]:
        monkeypatch.setattr(training, "GRAD_CHUNK", chunk)
        model = MLP([2, 8, 2], activation="sigmoid", seed=1, dtype="float64")
        trainer = Trainer(model, moons.X_train, moons.y_train, config=TrainConfig(
            optimizer="sgd", lr=0.5, batch_size="full", epochs=5))
        list(trainer.run())
        assert trainer.history[-1]["train_accuracy"] > 0
        return model.params

    for whole, chunked in zip(train(10**6), train(64)):   # 450 rows: 7 full chunks + 1 partial
        np.testing.assert_allclose(chunked, whole, rtol=1e-10, atol=1e-12)


def test_optimizers_follow_their_update_rules():
    rng = np.random.default_rng(0)
    p0 = rng.standard_normal((3, 4)).astype(np.float64)
    grads = [rng.standard_normal((3, 4)) for _ in range(3)]
    for name in ("sgd", "momentum", "adam"):
        p = p0.copy()
        opt = make_optimizer(name, [p], lr=0.1, momentum=0.8)
        ref, v, m, s = p0.copy(), np.zeros_like(p0), np.zeros_like(p0), np.zeros_like(p0)
        for t, g in enumerate(grads, start=1):
            opt.step([p], [g.copy()])
            if name == "sgd":
                ref -= 0.1 * g
            elif name == "momentum":                  # v = mu v - lr g; w += v
                v = 0.8 * v - 0.1 * g
                ref += v
            else:
                m = 0.9 * m + 0.1 * g
                s = 0.999 * s + 0.001 * g * g
                lr_t = 0.1 * np.sqrt(1 - 0.999**t) / (1 - 0.9**t)
                ref -= lr_t * m / (np.sqrt(s) + 1e-7)
            np.testing.assert_allclose(p, ref, rtol=1e-10, atol=1e-14, err_msg=name)


@pytest.mark.parametrize("name", ["momentum", "adam"])
def test_a_stopped_gradient_leaves_no_subnormal_state(name):
    """A weight whose gradient stops (a dead unit's) has its running averages decay toward zero;
    they are flushed before they reach the subnormal floats (slow to compute with), and the
    weight moves as it would without the flush."""
    p, ref = np.ones(4, np.float32), np.ones(4, np.float64)
    opt = make_optimizer(name, [p], lr=1e-3)
    ref_opt = make_optimizer(name, [ref], lr=1e-3)
    tiny = np.finfo(np.float32).tiny
    for t in range(1500):
        g = np.full(4, 1e-3 if t < 20 else 0.0)
        opt.step([p], [g.astype(np.float32)])
        ref_opt.step([ref], [g.copy()])                # float64: its state stays far from subnormal
        state = np.concatenate(opt.state())
        assert not np.any((state != 0) & (np.abs(state) < tiny)), f"subnormal state at step {t}"
    assert np.all(np.concatenate(opt.state())[:4] == 0)        # the decayed average is flushed
    np.testing.assert_allclose(p, ref, rtol=1e-6)


def test_weight_decay_shrinks_weights_not_biases():
    p, b = np.ones((2, 2)), np.ones(2)
    opt = make_optimizer("sgd", [p, b], lr=0.1, weight_decay=0.5)
    opt.step([p, b], [np.zeros((2, 2)), np.zeros(2)])
    np.testing.assert_allclose(p, 0.95)
    np.testing.assert_allclose(b, 1.0)


@pytest.mark.parametrize("field, value, words", [
    ("lr", 0.0, "lr"), ("lr", -1.0, "lr"), ("lr", 1000.0, "100"), ("lr", float("nan"), "lr"),
    ("batch_size", 0, "batch_size"), ("batch_size", "half", "full"), ("epochs", 0, "epochs"),
    ("optimizer", "rmsprop", "sgd, momentum, adam"), ("momentum", 1.0, "momentum"),
])
def test_invalid_settings_name_the_parameter_and_range(field, value, words):
    with pytest.raises(ConfigError, match=words) as info:
        TrainConfig(**{field: value}).validate()
    assert info.value.param == field


def test_mismatched_data_is_refused(moons):
    with pytest.raises(ValueError, match="features"):
        Trainer(MLP([3, 4, 2]), moons.X_train, moons.y_train)
    with pytest.raises(ValueError, match="labels"):
        Trainer(MLP([2, 4, 2]), moons.X_train, moons.y_train + 5)


def test_a_steps_pieces_do_not_follow_the_machines_speed(moons):
    """The pacer (timed pieces) says 3 rows or 5,000: every batch still goes in one pass and the
    run ends with the same weights, bit for bit (pieces cut by time summed the same gradients in
    another order, so a run stopped and continued under load could end elsewhere)."""
    results = []
    for pace in (3, 5000):
        trainer = make_trainer(moons, optimizer="momentum", lr=0.05, batch_size=64, epochs=2)
        trainer.pacer.rows = lambda factor=1.0, pace=pace: pace
        sizes, step = [], trainer.model.train_step_grads
        trainer.model.train_step_grads = lambda X, y, grads, **kw: sizes.append(len(y)) or step(X, y, grads, **kw)
        list(trainer.run())
        results.append((sizes, [p.copy() for p in trainer.model.params]))
    (sizes_a, weights_a), (sizes_b, weights_b) = results
    assert sizes_a == sizes_b and max(sizes_a) == 64
    assert all(np.array_equal(a, b) for a, b in zip(weights_a, weights_b))


def test_a_steps_pieces_are_sized_by_the_networks_cost():
    from nn.core.training import PIECE_FLOPS, GRAD_CHUNK, train_flops_per_row
    assert train_flops_per_row(MLP([784, 256, 10])) == 2 * 784 * 256 * 2 + 2 * 256 * 10 * 3
    X, y = np.zeros((10, 784), np.float32), np.arange(10) % 10
    assert Trainer(MLP([784, 256, 10]), X, y).piece_rows == GRAD_CHUNK      # 1.2 MFLOP a row
    wide = MLP([784, 20000, 10])                                  # 64 MFLOP a row
    assert Trainer(wide, X, y).piece_rows == PIECE_FLOPS // train_flops_per_row(wide) == 62
