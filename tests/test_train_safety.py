"""Training on a shared server: the parameter limit, the run slots (several threads), Stop within
a chunk of work whatever the network size, histories read from files, and the epoch estimate."""
from __future__ import annotations

import threading

import numpy as np
import pytest

import nn
from nn.core import mlp as model_mod
from nn.core.settings import ConfigError
from nn.runs.experiment import (build_model, check_param_limit, config_from_preset, count_params,
                                estimate_epoch_seconds, layer_sizes_for, load_data)
from nn.core.training import GRAD_CHUNK, check_history
from nn.runs.presets import PRESETS
from nn.runs.slots import RunSlots


# --- parameters ----------------------------------------------------------------------------------
def test_every_preset_fits_the_default_parameter_limit():
    for name in PRESETS:
        check_param_limit(layer_sizes_for(config_from_preset(name)))


def test_too_many_parameters_are_refused_before_building(monkeypatch):
    cfg = config_from_preset("moons", hidden=[4096, 4096])
    data = load_data(config_from_preset("moons", n_samples=100))
    built = []
    monkeypatch.setattr(model_mod.MLP, "__init__", lambda self, *a, **k: built.append(a))
    with pytest.raises(ConfigError) as exc:
        build_model(cfg, data)
    assert exc.value.param == "hidden" and "16,801,794 parameters" in str(exc.value) and not built
    monkeypatch.setenv("NN_MAX_PARAMS", "1000")
    with pytest.raises(ConfigError, match="1,218 parameters.*1,000"):
        check_param_limit([2, 32, 32, 2])
    assert count_params([2, 32, 32, 2]) == 1218


# --- run slots -----------------------------------------------------------------------------------
def test_run_slots_bound_concurrent_runs_across_threads():
    pool, lock, go = RunSlots(lambda: 2), threading.Lock(), threading.Event()
    now, peak, done = [0], [0], []

    def visitor(i: int) -> None:
        with pool.slot() as slot:
            assert slot.acquire()
            with lock:
                now[0] += 1
                peak[0] = max(peak[0], now[0])
            go.wait(5)                    # hold the slot until the main thread lets everyone go
            with lock:
                now[0] -= 1
            done.append(i)

    threads = [threading.Thread(target=visitor, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for _ in range(200):                  # two run, four wait in line
        if pool.running == 2 and pool.waiting == 4:
            break
        threading.Event().wait(0.01)
    assert pool.running == 2 and pool.waiting == 4
    go.set()
    for t in threads:
        t.join(10)
    assert sorted(done) == list(range(6)) and peak[0] == 2
    assert pool.running == 0 and pool.waiting == 0


def test_run_slots_queue_in_order_report_places_and_stop_leaves_the_line():
    pool = RunSlots(lambda: 1)
    first = pool.slot()
    assert first.acquire()
    second, third = pool.slot(), pool.slot()
    assert second.ahead == 0 and third.ahead == 1
    seen: list[int] = []
    stop = threading.Event()
    result: list[bool] = []

    def wait_third() -> None:
        result.append(third.acquire(should_stop=stop.is_set, on_wait=seen.append, poll=0.01))
        third.release()

    t = threading.Thread(target=wait_third)
    t.start()
    stop.set()                            # Stop while waiting: gives up, leaves the line
    t.join(5)
    assert result == [False] and pool.waiting == 1 and second.ahead == 0
    first.release()                       # the slot frees: the next in line gets it
    assert second.acquire(poll=0.01) and pool.running == 1
    second.release()
    assert pool.running == 0 and pool.waiting == 0


def test_a_waiting_run_is_told_its_place_then_starts_when_a_slot_frees():
    pool = RunSlots(lambda: 1)
    holder = pool.slot()
    assert holder.acquire()
    places: list[int] = []
    started = threading.Event()

    def waiter() -> None:
        with pool.slot() as slot:
            if slot.acquire(on_wait=places.append, poll=0.01):
                started.set()

    t = threading.Thread(target=waiter)
    t.start()
    for _ in range(500):
        if places:
            break
        threading.Event().wait(0.01)
    assert places and places[0] == 0 and not started.is_set()
    holder.release()
    t.join(5)
    assert started.is_set() and pool.running == 0


# --- Stop whatever the network size -------------------------------------------------------------
def _big_trainer(n_val: int = 8 * model_mod.EVAL_CHUNK, batch: int | str = 64):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((4 * GRAD_CHUNK, 32)).astype(np.float32)
    y = rng.integers(0, 3, len(X))
    Xv = rng.standard_normal((n_val, 32)).astype(np.float32)
    yv = rng.integers(0, 3, n_val)
    model = nn.MLP([32, 512, 512, 3], seed=0)
    return nn.Trainer(model, X, y, Xv, yv, nn.TrainConfig(optimizer="sgd", lr=0.01, batch_size=batch,
                                                          epochs=3, report_every=3600))  # end-of-epoch records only


def test_stop_during_the_validation_pass_returns_without_finishing_it(monkeypatch):
    trainer = _big_trainer()
    forward = trainer.model._forward
    chunks, stopped = [], []

    def counted(A):
        if len(A) == model_mod.EVAL_CHUNK:           # a validation chunk (training uses 64 rows)
            chunks.append(len(A))
            if len(chunks) == 2 and not stopped:
                stopped.append(1)
                trainer.stop()                       # Stop pressed while the second chunk runs
        return forward(A)

    monkeypatch.setattr(trainer.model, "_forward", counted)
    records = list(trainer.run())
    assert len(chunks) == 2                            # 2 of the 8 chunks, then it returned
    assert trainer.epochs_done == 1 and records[-1]["val_loss"] is None
    assert trainer.history[-1]["val_accuracy"] is None
    chunks.clear()
    list(trainer.run(1))                               # the next run evaluates fully again
    assert len(chunks) == 8 and trainer.history[-1]["val_accuracy"] is not None


def test_stop_from_another_thread_mid_evaluation_of_a_large_network():
    trainer = _big_trainer(n_val=64 * model_mod.EVAL_CHUNK)
    forward, in_eval = trainer.model._forward, threading.Event()
    evaluated = []

    def watched(A):
        if len(A) == model_mod.EVAL_CHUNK:
            evaluated.append(1)
            in_eval.set()
        return forward(A)

    trainer.model._forward = watched
    t = threading.Thread(target=lambda: list(trainer.run()))
    t.start()
    assert in_eval.wait(60)
    trainer.stop()
    t.join(60)
    assert not t.is_alive() and len(evaluated) < 64 and trainer.history[-1]["val_loss"] is None


def test_stop_between_chunks_of_a_big_batch_does_not_take_the_step(monkeypatch):
    trainer = _big_trainer(batch="full")
    before = [p.copy() for p in trainer.model.params]
    grads = trainer.model.train_step_grads
    calls = []

    def counted(*a, **k):
        calls.append(1)
        if len(calls) == 2:
            trainer.stop()
        return grads(*a, **k)

    monkeypatch.setattr(trainer.model, "train_step_grads", counted)
    assert list(trainer.run()) == []
    assert len(calls) == 2 and trainer.steps_done == 0         # 2 of 4 chunks, step not applied
    assert all(np.array_equal(a, b) for a, b in zip(before, trainer.model.params))
    list(trainer.run(1))                                         # continues: the step is redone
    assert trainer.steps_done == 1 and trainer.epochs_done == 1


def test_chunked_inference_matches_one_pass():
    rng = np.random.default_rng(1)
    model = nn.MLP([5, 7, 3], seed=1, dtype="float64")
    X = rng.standard_normal((2 * model_mod.EVAL_CHUNK + 5, 5))
    y = rng.integers(0, 3, len(X))
    logits = model._forward(X)
    assert np.allclose(model.logits(X), logits) and (model.predict(X) == logits.argmax(1)).all()
    logp = logits - np.log(np.exp(logits).sum(1, keepdims=True))
    loss, acc = model.evaluate(X, y)
    assert loss == pytest.approx(-logp[np.arange(len(y)), y].mean())
    assert acc == pytest.approx((logits.argmax(1) == y).mean())
    assert np.allclose(model.predict_proba(X), np.exp(logp))


# --- histories from files -----------------------------------------------------------------------
@pytest.mark.parametrize("history, words", [
    ("notalist", "list of records"), ([1, 2], "not a record"), ([{"epoch": "x"}], "epoch"),
    ([{"epoch": 1e308, "step": 1, "seconds": 0, "train_loss": 1, "train_accuracy": 0.5}], "epoch"),
    ([{"epoch": 1, "step": 1, "seconds": 0, "train_loss": 1, "train_accuracy": 0.5,
       "val_accuracy": 5.0}], "val_accuracy"),
])
def test_bad_histories_are_refused_with_a_reason(history, words):
    with pytest.raises(ValueError, match=words):
        check_history(history)
    model = nn.MLP([2, 3, 2])
    model.meta["history"] = history
    with pytest.raises(ValueError, match=words):
        nn.Trainer(model, np.zeros((4, 2), np.float32), np.array([0, 1, 0, 1]))


# --- the epoch estimate -------------------------------------------------------------------------
def test_epoch_estimate_follows_the_cost_model():
    rate = 1e9                                             # 1 GFLOP/s, efficiency 0.5
    small = estimate_epoch_seconds([784, 256, 10], 60_000, 10_000, 128, flops_per_second=rate)
    products = 784 * 256 + 256 * 10
    flops = (4 * products + 2 * 256 * 10) * 60_000 + 2 * products * 10_000
    assert small == pytest.approx(flops / 0.5e9 + 469 * 100e-6)
    big = estimate_epoch_seconds([784, 1024, 1024, 10], 60_000, 10_000, 128, flops_per_second=rate)
    assert big > 5 * small
