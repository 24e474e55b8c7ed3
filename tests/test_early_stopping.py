"""Early stopping in the training loop (nn.core.early_stopping, Trainer with val_share/patience):
the held-out rows come from the training rows only, training stops after ``patience`` epochs
without a better held-out loss, and the model keeps the weights of the best epoch."""
from __future__ import annotations

import numpy as np
import pytest

import nn
from nn.core.early_stopping import EarlyStopping, holdout_rows
from nn.core.history import HistoryError, check_history
from nn.core.settings import ConfigError


def noise_data(n: int = 240, features: int = 6, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Labels with nothing to learn: a network that memorises them gets worse on held-out rows."""
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, features)).astype(np.float32), rng.integers(0, 2, n)


def overfitting_trainer(patience: int = 5, epochs: int = 300, **extra) -> nn.Trainer:
    X, y = noise_data()
    model = nn.MLP([X.shape[1], 128, 2], seed=0)
    config = nn.TrainConfig(optimizer="adam", lr=0.01, batch_size=16, epochs=epochs,
                            val_share=0.25, patience=patience, **extra)
    return nn.Trainer(model, X, y, config=config)


def test_holdout_rows_split_the_training_rows_by_class():
    y = np.repeat([0, 1, 2], [40, 20, 4])
    fit, held = holdout_rows(y, 0.25, seed=3)
    assert np.array_equal(np.sort(np.concatenate([fit, held])), np.arange(len(y)))
    assert [int((y[held] == k).sum()) for k in range(3)] == [10, 5, 1]     # stratified
    again_fit, again_held = holdout_rows(y, 0.25, seed=3)
    assert np.array_equal(held, again_held) and np.array_equal(fit, again_fit)
    assert not np.array_equal(held, holdout_rows(y, 0.25, seed=4)[1])


def test_a_class_of_one_row_is_not_held_out():
    fit, held = holdout_rows(np.array([0, 0, 0, 0, 1]), 0.5, seed=0)
    assert 4 in fit and len(held) == 2


def test_the_trainer_trains_on_the_other_rows_only():
    trainer = overfitting_trainer()
    held = set(trainer._held_rows.tolist())
    assert trainer.n_fit == 180 and len(held) == 60
    trainer._begin_epoch()
    assert not held & set(trainer._order.tolist())
    assert trainer.steps_per_epoch == int(np.ceil(180 / 16))


def test_early_stopping_stops_and_restores_the_best_weights():
    trainer = overfitting_trainer(patience=5)
    weights, losses = {}, {}
    for record in trainer.run():
        if record["end_of_epoch"] and "restored" not in record:
            weights[record["epoch"]] = [p.copy() for p in trainer.model.params]
            losses[record["epoch"]] = record["holdout_loss"]
    best = min(losses, key=losses.get)
    last = trainer.history[-1]
    assert trainer.stopped_early and trainer.epochs_done < 300
    assert trainer.epochs_done - best == 5                   # patience epochs without a better one
    assert last["restored"] == best == trainer.early.best_epoch
    for p, q in zip(trainer.model.params, weights[best]):
        np.testing.assert_array_equal(p, q)
    X, y = noise_data()
    held = trainer._held_rows
    loss, _ = trainer.model.evaluate(X[held], y[held])
    assert loss == pytest.approx(losses[best], rel=1e-5)     # the figures the record gave
    check_history(trainer.history)


def test_the_test_split_plays_no_part_in_stopping():
    """The same run with two different test sets (one with every label flipped) stops at the
    same epoch with the same weights: only the held-out training rows decide."""
    X, y = noise_data()
    runs = []
    for flip in (0, 1):
        model = nn.MLP([X.shape[1], 32, 2], seed=0)
        config = nn.TrainConfig(optimizer="adam", lr=0.01, batch_size=16, epochs=100, val_share=0.25,
                                patience=4)
        trainer = nn.Trainer(model, X, y, X[:50], (y[:50] + flip) % 2, config=config)
        list(trainer.run())
        runs.append(trainer)
    a, b = runs
    assert a.epochs_done == b.epochs_done and a.early.best_epoch == b.early.best_epoch
    assert [r["holdout_loss"] for r in a.history] == [r["holdout_loss"] for r in b.history]
    assert a.history[-1]["val_accuracy"] != b.history[-1]["val_accuracy"]
    for p, q in zip(a.model.params, b.model.params):
        np.testing.assert_array_equal(p, q)


def test_the_last_epoch_restores_the_best_weights_too():
    trainer = overfitting_trainer(patience=1000, epochs=30)
    records = [r for r in trainer.run() if r["end_of_epoch"]]
    assert trainer.stopped_early is None and trainer.epochs_done == 30
    best = min(records, key=lambda r: r["holdout_loss"])["epoch"]
    assert best < 30 and records[-1]["restored"] == best


def test_continue_after_an_early_stop_trains_again():
    trainer = overfitting_trainer(patience=3)
    list(trainer.run())
    stopped_at = trainer.epochs_done
    list(trainer.run(2))
    assert trainer.epochs_done == stopped_at + 2


def test_early_stopping_is_off_by_default_and_records_say_so():
    X, y = noise_data(60)
    trainer = nn.Trainer(nn.MLP([6, 8, 2], seed=0), X, y, config=nn.TrainConfig(epochs=2))
    records = list(trainer.run())
    assert trainer.early is None and trainer.n_fit == 60
    assert all("holdout_loss" not in r for r in records)


def test_update_counts_epochs_without_a_better_loss():
    params = [np.zeros(3)]
    early = EarlyStopping(patience=2, params=params)
    assert not early.update(1, 0.5, [np.ones(3)])
    assert not early.update(2, 0.5, [np.full(3, 2.0)])        # not better by MIN_DELTA
    assert early.update(3, 0.6, [np.full(3, 3.0)])
    assert early.restore(params) == 1 and params[0].tolist() == [1.0, 1.0, 1.0]


@pytest.mark.parametrize("name, value", [("val_share", 0.6), ("val_share", -0.1), ("patience", 0),
                                         ("patience", 10_001), ("patience", 2.5)])
def test_bad_values_name_the_setting_and_its_range(name, value):
    with pytest.raises(ConfigError, match=rf"{name} \(--{name.replace('_', '-')}\) must be") as info:
        nn.TrainConfig(**{name: value}).validate()
    assert info.value.param == name


def test_a_history_with_a_bad_restored_epoch_is_refused():
    record = {"epoch": 1, "step": 3, "seconds": 0.1, "restored": -1}
    with pytest.raises(HistoryError, match="restored"):
        check_history([record])


def test_the_loss_chart_shows_the_held_out_rows_and_the_kept_epoch():
    from nn.views.plots import accuracy_figure, loss_figure
    trainer = overfitting_trainer(patience=5)
    list(trainer.run())
    fig = loss_figure(trainer.history)
    held = [t for t in fig.data if t.name == "held-out training rows"]
    assert len(held) == 1 and len(held[0].x) == trainer.epochs_done
    assert [shape.x0 for shape in fig.layout.shapes] == [trainer.early.best_epoch]
    assert f"weights kept (epoch {trainer.early.best_epoch})" in fig.layout.annotations[0].text
    assert len(accuracy_figure(trainer.history).data) == 3
    plain = nn.Trainer(nn.MLP([6, 8, 2], seed=0), *noise_data(60), config=nn.TrainConfig(epochs=2))
    list(plain.run())
    assert len(loss_figure(plain.history).data) == 2 and not loss_figure(plain.history).layout.shapes


def test_a_regression_holds_out_a_plain_share_and_scores_it_by_r2():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3)).astype(np.float32)
    y = (X @ np.array([1.0, -2.0, 0.5]) + 0.1 * rng.normal(size=200)).astype(np.float32)
    model = nn.MLP([3, 16, 1], task="regression", seed=0)
    config = nn.TrainConfig(optimizer="adam", lr=0.01, batch_size=16, epochs=20, val_share=0.2, patience=5)
    trainer = nn.Trainer(model, X, y, config=config)
    records = [r for r in trainer.run() if r["end_of_epoch"]]
    assert len(trainer._held_rows) == 40                     # every y differs: no strata
    assert records[-1]["holdout_r2"] > 0.9 and "holdout_accuracy" not in records[-1]
    check_history(trainer.history)


def test_a_batch_norm_network_gets_back_its_best_epochs_running_statistics_too():
    """The kept weights and batch norm's running averages belong together: both come from the
    best epoch, as a run trained to exactly that epoch has them."""
    from nn.core import build_network
    X, y = noise_data()

    def trainer(epochs: int, patience: int) -> nn.Trainer:
        model = build_network("dense 64, bn", (X.shape[1],), 2, seed=0)
        config = nn.TrainConfig(optimizer="adam", lr=0.01, batch_size=16, epochs=epochs,
                                val_share=0.25, patience=patience)
        return nn.Trainer(model, X, y, config=config)
    stopped = trainer(300, 3)
    records = list(stopped.run())
    best = next(r["restored"] for r in reversed(records) if "restored" in r)
    assert stopped.stopped_early and 1 <= best < stopped.epochs_done
    exact = trainer(best, 10_000)
    list(exact.run())
    assert stopped.model.buffers and len(stopped.model.buffers) == len(exact.model.buffers)
    for a, b in zip(stopped.model.params + stopped.model.buffers, exact.model.params + exact.model.buffers):
        np.testing.assert_array_equal(a, b)
