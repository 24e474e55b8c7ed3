"""nn.views.inspect: neuron values, per-layer health and its readings, the backprop step view, checked
against the library's own forward pass, gradients and optimizer steps on small data."""
from __future__ import annotations

import json
import re

import numpy as np
import pytest

import nn
from nn.data import load_dataset
from nn.views.inspect import backprop, health, neurons
from nn.views.inspect.backprop import MINUS, BackpropStepper, neuron_formula


@pytest.fixture(scope="module")
def moons():
    d = load_dataset("moons", n_samples=1000)
    return d.X_train.astype(np.float64), d.y_train


def _model(sizes, activation="relu", init="he", seed=0):
    return nn.MLP(sizes, activation=activation, init=init, seed=seed, dtype="float64")


# --- neurons ------------------------------------------------------------------------------------
def test_forward_matches_the_model(moons):
    X, _ = moons
    model = _model([2, 8, 6, 2], "tanh")
    Zs, As = neurons.forward(model, X[:50])
    assert [Z.shape for Z in Zs] == [(50, 8), (50, 6), (50, 2)]
    assert np.allclose(Zs[-1], model.logits(X[:50])) and np.allclose(As[-1], model.predict_proba(X[:50]))
    assert np.allclose(As[0], np.tanh(X[:50] @ model.params[0] + model.params[1]))


def test_neuron_maps_are_the_hidden_activations_over_the_plane(moons):
    X, _ = moons
    model = _model([2, 5, 3, 2])
    maps = neurons.neuron_maps(model, X, grid=12)
    assert [A.shape for A in maps.hidden] == [(12, 12, 5), (12, 12, 3)] and maps.output.shape == (12, 12)
    r, c = 7, 3                                      # row r is ys[r], column c is xs[c]
    _, As = neurons.forward(model, np.array([[maps.xs[c], maps.ys[r]]]))
    assert np.allclose(maps.hidden[1][r, c], As[1][0], atol=1e-5)
    assert np.isclose(maps.output[r, c], As[2][0, 1], atol=1e-5)
    with pytest.raises(ValueError, match="2 inputs"):
        neurons.neuron_maps(_model([3, 4, 2]), np.zeros((5, 3)))


def test_first_layer_weights_as_images_and_most_active_units():
    model = _model([64, 10, 10])
    units = [3, 7]
    imgs = neurons.first_layer_weight_images(model, (8, 8), units)
    assert imgs.shape == (2, 8, 8) and np.array_equal(imgs[1].ravel(), model.params[0][:, 7])
    X = np.random.default_rng(0).random((40, 64))
    model.params[1][4] = 50.0                         # unit 4 far more active than the others
    model.params[1][9] = -50.0                        # unit 9 never active
    top = neurons.most_active_units(model, X, k=3)
    assert top[0] == 4 and 9 not in top and len(top) == 3
    activity = neurons.unit_activity(model, X)
    assert np.all(np.diff(activity[top]) <= 0)
    with pytest.raises(ValueError, match="units must be"):
        neurons.first_layer_weight_images(model, (8, 8), [10])


def test_explain_input_pushes_add_up_to_the_predicted_score():
    """One hidden layer: the scores are linear in A1, so the pushes plus the bias part are the
    predicted class's score above the mean score, exactly."""
    model = _model([64, 12, 10], seed=3)
    x = np.random.default_rng(1).random(64)
    ex = neurons.explain_input(model, x, top=5)
    logits = model.logits(x[None])[0]
    c = int(logits.argmax())
    W2, b2 = model.params[2], model.params[3]
    assert ex.predicted == c and np.allclose(ex.probabilities, model.predict_proba(x[None])[0])
    margin = logits[c] - logits.mean()
    assert np.isclose(ex.pushes.sum() + (b2[c] - b2.mean()), margin)
    assert np.allclose(ex.activations[0], np.maximum(x @ model.params[0] + model.params[1], 0))
    assert list(ex.top_units) == list(np.argsort(-ex.pushes, kind="stable")[:5])


def test_explain_input_through_two_hidden_layers_matches_finite_differences():
    model = _model([6, 5, 4, 3], "tanh", "xavier", seed=2)
    x = np.random.default_rng(4).standard_normal(6)
    ex = neurons.explain_input(model, x)
    Zs, As = neurons.forward(model, x[None])

    def margin_from(a1):
        z2 = np.tanh(a1 @ model.params[2] + model.params[3])
        z3 = z2 @ model.params[4] + model.params[5]
        return z3[ex.predicted] - z3.mean()

    a1, eps = As[0][0], 1e-6
    grad = np.array([(margin_from(a1 + eps * e) - margin_from(a1 - eps * e)) / (2 * eps) for e in np.eye(5)])
    assert np.allclose(ex.pushes, a1 * grad, atol=1e-7)


# --- health -------------------------------------------------------------------------------------
def test_dead_relus_are_counted_on_a_network_built_with_dead_units(moons):
    X, y = moons
    model = _model([2, 8, 6, 2])
    model.params[1][[0, 3, 5]] = -100.0              # never positive on this data
    layers = health.layer_health(model, X[:200], y[:200])
    assert layers[0].dead_share == 3 / 8
    assert list(np.flatnonzero(health.dead_units(neurons.forward(model, X[:200])[0][0]))) == [0, 3, 5]
    assert layers[-1].dead_share is None                           # the output layer has no ReLUs
    assert not any(r.kind == "dead_relu" for r in health.readings(layers, "relu", "he"))
    model.params[1][6] = -100.0                                    # now half of layer 1
    layers = health.layer_health(model, X[:200], y[:200])
    found = [r for r in health.readings(layers, "relu", "he") if r.kind == "dead_relu"]
    assert len(found) == 1 and found[0].layer == 1 and found[0].text.startswith("layer 1: 50% of ReLUs are dead")
    assert health.layer_health(_model([2, 8, 2], "tanh"), X[:50], y[:50])[0].dead_share is None


def test_gradient_norms_are_the_norms_of_the_gradients(moons):
    X, y = moons
    model = _model([2, 16, 8, 2], "sigmoid", "xavier")
    _, grads = model.loss_and_grads(X[:300], y[:300])
    layers = health.layer_health(model, X[:300], y[:300])
    for k, h in enumerate(layers):
        g = grads[2 * k]
        assert np.isclose(h.grad_norm, np.sqrt((g ** 2).sum()))
        assert np.isclose(h.grad_rms, np.sqrt((g ** 2).mean()))
        assert np.isclose(h.weight_norm, np.linalg.norm(model.params[2 * k]))


def test_monitor_follows_a_trainer_without_changing_it(moons):
    X, y = moons
    config = nn.TrainConfig(optimizer="momentum", lr=0.05, batch_size=32, epochs=3)
    plain, watched = _model([2, 16, 16, 2]), _model([2, 16, 16, 2])
    for _ in nn.Trainer(plain, X, y, config=config).run():
        pass
    monitor = health.HealthMonitor(watched, X, y, max_rows=128)
    before = [p.copy() for p in watched.params]
    last_step = 0
    for record in nn.Trainer(watched, X, y, config=config).run():
        entry = monitor.update(record)
        W, W0 = watched.params[2], before[2]
        ratio = np.linalg.norm(W - W0) / np.linalg.norm(W0)
        assert np.isclose(entry["layers"][1]["update_ratio"], ratio)
        assert np.isclose(entry["layers"][1]["update_per_step"], ratio / (record["step"] - last_step))
        before, last_step = [p.copy() for p in watched.params], record["step"]
    assert all(np.array_equal(a, b) for a, b in zip(plain.params, watched.params))
    assert len(monitor.history) == 3 and monitor.history[-1]["epoch"] == 3
    json.dumps(monitor.history)                                    # JSON-able as it stands
    hists = monitor.histograms(bins=20)
    assert [h.now.sum() for h in hists] == [p.size for p in watched.params[::2]]
    assert np.array_equal(hists[0].start, np.histogram(monitor.start[0], hists[0].edges)[0])
    assert not np.array_equal(hists[0].start, hists[0].now)


def test_no_update_ratio_before_any_step(moons):
    X, y = moons
    monitor = health.HealthMonitor(_model([2, 4, 2]), X, y)
    entry = monitor.update()
    assert all(h["update_ratio"] is None for h in entry["layers"])
    assert not any(r["kind"] == "update_too_small" for r in entry["readings"])


def test_reading_vanishing_gradients_with_deep_sigmoid(moons):
    X, y = moons
    deep = [2] + [16] * 6 + [2]
    sig = health.layer_health(_model(deep, "sigmoid", "xavier"), X[:256], y[:256])
    kinds = [r.kind for r in health.readings(sig, "sigmoid", "xavier")]
    assert "vanishing" in kinds
    assert sig[0].grad_rms < 1e-3 * sig[-1].grad_rms
    relu = health.layer_health(_model(deep, "relu", "he"), X[:256], y[:256])
    assert "vanishing" not in [r.kind for r in health.readings(relu, "relu", "he")]


def test_reading_dead_units_after_too_high_a_learning_rate(moons):
    X, y = moons

    def dead_readings(lr):
        model = _model([2, 32, 32, 2])
        monitor = health.HealthMonitor(model, X, y)
        for record in nn.Trainer(model, X, y, config=nn.TrainConfig(optimizer="sgd", lr=lr, batch_size=16,
                                                                    epochs=3)).run():
            entry = monitor.update(record)
        return [r for r in entry["readings"] if r["kind"] == "dead_relu"]

    high = dead_readings(2.0)
    assert high and "try a smaller learning rate" in high[0]["text"]
    assert dead_readings(0.05) == []


def test_reading_exploding_signal_with_normal_init_and_relu(moons):
    X, y = moons
    normal = health.layer_health(_model([2, 64, 64, 64, 2], "relu", "normal"), X[:256], y[:256])
    found = [r for r in health.readings(normal, "relu", "normal") if r.kind == "exploding"]
    assert found and "`he` init" in found[0].text and found[0].layer == 4
    assert normal[-1].output_rms > 30 * normal[0].output_rms
    he = health.layer_health(_model([2, 64, 64, 64, 2], "relu", "he"), X[:256], y[:256])
    assert "exploding" not in [r.kind for r in health.readings(he, "relu", "he")]


def test_huge_scores_of_a_network_that_is_right_are_not_read_as_exploding(moons):
    X, y = moons
    model = _model([2, 64, 64, 64, 2], "relu", "normal")
    layers, loss = health.health_and_loss(model, X[:256], y[:256])
    assert loss > np.log(2)                                    # huge scores, wrong half the time
    assert "exploding" in [r.kind for r in health.readings(layers, "relu", "normal", loss)]
    assert "exploding" not in [r.kind for r in health.readings(layers, "relu", "normal", loss=0.01)]


def test_reading_saturated_tanh_with_normal_init(moons):
    X, y = moons
    normal = health.layer_health(_model([2, 64, 64, 2], "tanh", "normal"), X[:256], y[:256])
    found = [r for r in health.readings(normal, "tanh", "normal") if r.kind == "saturated"]
    assert [r.layer for r in found] == [2] and normal[1].saturated_share > 0.5
    xavier = health.layer_health(_model([2, 64, 64, 2], "tanh", "xavier"), X[:256], y[:256])
    assert health.readings(xavier, "tanh", "xavier") == []


def test_format_health_line(moons):
    X, y = moons
    model = _model([2, 8, 2])
    model.params[1][:6] = -100.0
    monitor = health.HealthMonitor(model, X, y)
    for record in nn.Trainer(model, X, y, config=nn.TrainConfig(lr=1e-3, epochs=1)).run():
        text = health.format_health_line(monitor.update(record))
    first, *rest = text.split("\n")
    assert first.startswith("health  L1 grad ") and "dead 75%" in first and "  |  L2 grad " in first
    assert "upd " in first and "sat " not in first
    assert rest and rest[0].startswith("  ! layer 1: 75% of ReLUs are dead")


# --- step through backprop ----------------------------------------------------------------------
def _copy(model):
    twin = _model(model.layer_sizes, model.activation, model.init)
    twin.copy_params_from(model.params)
    return twin


@pytest.mark.parametrize("activation", ["relu", "sigmoid", "tanh", "leaky_relu"])
def test_step_numbers_equal_the_library_gradients(moons, activation):
    X, y = moons
    model = _model([2, 5, 4, 2], activation)
    twin = _copy(model)
    view = BackpropStepper(model, X[:16], y[:16], nn.TrainConfig(optimizer="sgd", lr=0.1, batch_size=16)).step(sample=3)
    loss, grads = twin.loss_and_grads(X[:16], y[:16])
    assert view.loss == loss and view.m == 16 and view.sample == 3
    for k, s in enumerate(view.layers):
        A_prev = view.X if k == 0 else view.layers[k - 1].A
        assert np.allclose(s.dW, grads[2 * k]) and np.allclose(s.db, grads[2 * k + 1])
        assert np.allclose(A_prev.T @ s.dZ / view.m, s.dW)          # dW = A_{k-1}ᵀ dZ / m
        assert np.allclose(s.dZ.sum(axis=0) / view.m, s.db)         # db = Σ dZ / m
        assert np.array_equal(s.W_before, twin.params[2 * k])
    assert np.allclose(view.layers[-1].dZ, view.layers[-1].A - view.Y)   # dZ_L = A_L - Y


def test_per_sample_quantities_average_to_the_batch_gradient(moons):
    X, y = moons
    view = BackpropStepper(_model([2, 6, 3, 2], "tanh"), X, y,
                           nn.TrainConfig(optimizer="sgd", lr=0.1, batch_size=10)).step()
    for k in (1, 2, 3):
        per_sample = np.mean([view.sample_dW(k, i) for i in range(view.m)], axis=0)
        assert np.allclose(per_sample, view.layers[k - 1].dW)
    losses = [view.sample_loss(i) for i in range(view.m)]
    assert np.isclose(np.mean(losses), view.loss)


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam"])
def test_steps_equal_the_trainers_steps(moons, optimizer):
    """Four steps of 8 rows on 32 rows: one Trainer epoch, same order, same optimizer rule."""
    X, y = moons[0][:32], moons[1][:32]
    config = nn.TrainConfig(optimizer=optimizer, lr=0.05, batch_size=8, epochs=1, seed=5, weight_decay=1e-3)
    stepped, trained = _model([2, 6, 2], seed=1), _model([2, 6, 2], seed=1)
    stepper = BackpropStepper(stepped, X, y, config)
    views = [stepper.step() for _ in range(4)]
    for _ in nn.Trainer(trained, X, y, config=config).run():
        pass
    assert all(np.allclose(a, b, rtol=1e-12, atol=1e-14) for a, b in zip(stepped.params, trained.params))
    assert np.array_equal(views[-1].layers[0].W_after, stepped.params[0])
    assert np.array_equal(views[1].layers[0].W_after, views[2].layers[0].W_before)
    assert [v.step for v in views] == [1, 2, 3, 4] and views[0].optimizer == {"sgd": "sgd"}.get(optimizer, optimizer)


def test_sgd_step_is_w_minus_lr_grad(moons):
    X, y = moons
    model = _model([2, 4, 2])
    view = BackpropStepper(model, X[:8], y[:8], nn.TrainConfig(optimizer="sgd", lr=0.3, batch_size=8)).step()
    for s in view.layers:
        assert np.allclose(s.W_after, s.W_before - 0.3 * s.dW) and np.allclose(s.b_after, s.b_before - 0.3 * s.db)


def test_a_step_not_applied_leaves_model_and_optimizer_alone(moons):
    X, y = moons
    model = _model([2, 4, 2])
    stepper = BackpropStepper(model, X[:8], y[:8], nn.TrainConfig(optimizer="adam", lr=0.1, batch_size=8))
    before = [p.copy() for p in model.params]
    look = stepper.step(apply=False)
    assert all(np.array_equal(a, b) for a, b in zip(model.params, before)) and stepper.optimizer.t == 0
    done = stepper.step()
    assert np.array_equal(look.layers[0].W_after, done.layers[0].W_after) and stepper.optimizer.t == 1


def test_equations_show_the_chosen_sample(moons):
    X, y = moons
    config = nn.TrainConfig(optimizer="sgd", lr=0.1, batch_size=8)
    view = BackpropStepper(_model([2, 4, 2]), X[:8], y[:8], config).step(sample=5)
    eqs = {e.name: e for e in view.equations()}
    assert eqs["dZ2"].formula == "dZ2 = A2 − Y" and np.array_equal(eqs["dZ2"].value, view.layers[1].dZ[5])
    assert eqs["dZ1"].formula == "dZ1 = dA1 * relu'(Z1)" and eqs["dW1"].scope == "batch"
    assert eqs["A1"].text == backprop.format_array(view.layers[0].A[5])
    assert np.isclose(float(eqs["loss"].value), -np.log(view.layers[1].A[5, y[5]]))
    assert "W1 ← W1 − lr·dW1" in eqs["W1 after"].formula
    assert view.small and [s["layer"] for s in view.summaries()] == [1, 2]
    with pytest.raises(ValueError, match="sample must be"):
        BackpropStepper(_model([2, 4, 2]), X[:8], y[:8], nn.TrainConfig(batch_size=8)).step(sample=8)


def test_summaries_for_a_big_network():
    rng = np.random.default_rng(0)
    X, y = rng.random((64, 784)), rng.integers(0, 10, 64)
    model = nn.MLP([784, 256, 10], seed=0)
    view = BackpropStepper(model, X, y, nn.TrainConfig(optimizer="momentum", lr=0.05, batch_size=32)).step()
    assert not view.small
    s1 = view.summaries()[0]
    assert s1["shape"] == "784×256" and np.isclose(s1["dW_norm"], np.linalg.norm(view.layers[0].dW), rtol=1e-5)
    assert 0 <= s1["active_share"] <= 1 and s1["update_ratio"] > 0


# --- formulas -----------------------------------------------------------------------------------
def _numbers(text: str) -> list[float]:
    return [float(t) for t in re.findall(r"-?\d+\.\d+(?:e-?\d+)?", text.replace(MINUS, "-").replace("- ", "-"))]


def test_formula_numbers_match_the_model():
    model = _model([2, 3, 2])
    model.params[0][:, 1] = [0.52, -1.30]
    model.params[1][1] = 0.10
    x = np.array([0.7, -0.2])
    f = neuron_formula(model, 1, 1, x)
    z = 0.52 * 0.7 + 1.30 * 0.2 + 0.10
    assert f.text == f"a1_2 = relu(0.52·x1 {MINUS} 1.30·x2 + 0.10) = {z:.2f}"
    assert f.text_values == f"a1_2 = relu(0.52·0.70 {MINUS} 1.30·({MINUS}0.20) + 0.10) = relu({z:.2f}) = {z:.2f}"
    assert np.isclose(f.z, z) and np.isclose(f.a, z)
    out = neuron_formula(model, 2, 0, x)
    Zs, As = neurons.forward(model, x[None])
    nums = _numbers(out.text)
    assert np.allclose(nums[:3], model.params[2][:, 0], atol=0.006)
    assert np.isclose(nums[3], model.params[3][0], atol=0.006)
    assert np.isclose(nums[4], Zs[1][0, 0], atol=0.006) and np.isclose(nums[-1], As[1][0, 0], atol=0.006)


def test_formula_of_a_wide_layer_keeps_the_largest_terms():
    model = _model([50, 4, 2], "sigmoid", "xavier")
    x = np.random.default_rng(0).random(50)
    f = neuron_formula(model, 1, 2, x, max_terms=5)
    assert "(45 more terms:" in f.text and f.text.count("·x") == 5
    nums = _numbers(f.text_values.split(" = sigmoid(")[1])      # the sum inside, then z
    terms, rest, bias = nums[:10], nums[10], nums[11]
    total = sum(w * v for w, v in zip(terms[::2], terms[1::2])) + rest + bias
    assert np.isclose(total, f.z, atol=0.05) and np.isclose(f.a, 1 / (1 + np.exp(-f.z)))
    with pytest.raises(ValueError, match="unit must be"):
        neuron_formula(model, 1, 4, x)
    with pytest.raises(ValueError, match="layer must be"):
        neuron_formula(model, 3, 0, x)
