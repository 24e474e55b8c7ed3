"""The network: shapes, seeding, stable softmax, and gradients against finite differences."""
import numpy as np
import pytest

from nn import MLP
from nn.core.activations import ACTIVATIONS


def numeric_grad(model: MLP, X, y, param: np.ndarray, h: float = 1e-6) -> np.ndarray:
    """Central differences: dL/dp ~ (L(p + h) - L(p - h)) / 2h, one entry at a time."""
    grad = np.zeros_like(param)
    for idx in np.ndindex(param.shape):
        old = param[idx]
        param[idx] = old + h
        plus = model.loss(X, y)
        param[idx] = old - h
        minus = model.loss(X, y)
        param[idx] = old
        grad[idx] = (plus - minus) / (2 * h)
    return grad


@pytest.mark.parametrize("activation", list(ACTIVATIONS))
@pytest.mark.parametrize("hidden", [[5], [4, 3], [4, 3, 5]])
def test_gradients_match_finite_differences(activation, hidden):
    rng = np.random.default_rng(1)
    X = rng.standard_normal((7, 3))
    y = rng.integers(0, 4, size=7)
    model = MLP([3, *hidden, 4], activation=activation, init="xavier", seed=3, dtype="float64")
    for p in model.params[1::2]:            # non-zero biases so every path is exercised
        p[:] = rng.standard_normal(p.shape) * 0.1
    if activation in ("relu", "leaky_relu"):  # keep pre-activations away from the kink at 0
        model.params[1][:] += 0.05
    loss, grads = model.loss_and_grads(X, y)
    assert loss == pytest.approx(model.loss(X, y), rel=1e-12)
    for p, g in zip(model.params, grads):
        num = numeric_grad(model, X, y, p)
        rel = np.abs(g - num).max() / max(np.abs(g).max() + np.abs(num).max(), 1e-12)
        assert rel < 1e-6, f"relative error {rel:.2e} for a {p.shape} parameter"


def test_params_layout_and_seeding():
    a = MLP([784, 128, 10], seed=7)
    b = MLP([784, 128, 10], seed=7)
    c = MLP([784, 128, 10], seed=8)
    assert [p.shape for p in a.params] == [(784, 128), (128,), (128, 10), (10,)]
    assert all(p.dtype == np.float32 for p in a.params)
    assert all(np.array_equal(p, q) for p, q in zip(a.params, b.params))
    assert not np.array_equal(a.params[0], c.params[0])
    assert MLP([2, 3, 2], dtype="float64").params[0].dtype == np.float64


@pytest.mark.parametrize("init", ["small", "normal", "he", "xavier"])
def test_init_schemes(init):
    W, b = MLP([400, 300, 2], init=init, seed=0, dtype="float64").params[:2]
    std = {"small": 0.01, "normal": 1.0, "he": np.sqrt(2 / 400), "xavier": np.sqrt(2 / 700)}[init]
    assert W.std() == pytest.approx(std, rel=0.05)
    assert (b.std() > 0.5) if init == "normal" else np.all(b == 0)


def test_predict_proba_rows_sum_to_one_and_predict_is_argmax():
    model = MLP([2, 16, 16, 3], seed=0)
    X = np.random.default_rng(0).standard_normal((50, 2)).astype(np.float32)
    P = model.predict_proba(X)
    assert P.shape == (50, 3)
    np.testing.assert_allclose(P.sum(axis=1), 1, rtol=1e-5)
    np.testing.assert_array_equal(model.predict(X), P.argmax(axis=1))


def test_huge_logits_give_finite_loss_and_gradients():
    model = MLP([2, 4, 3], activation="relu", seed=0)
    model.params[2][:] = 1e30 * np.sign(model.params[2] + 1e-9)   # logits around +-1e30
    X = np.ones((5, 2), np.float32)
    loss, grads = model.loss_and_grads(X, np.array([0, 1, 2, 0, 1]))
    assert np.isfinite(loss)
    assert all(np.isfinite(g).all() for g in grads)
    assert np.isfinite(model.predict_proba(X)).all()


@pytest.mark.parametrize("classes", [2, 10, 32, 33])
def test_row_max_is_numpys_max_exactly(classes):
    """Column by column up to COLUMNWISE_MAX classes, NumPy's beyond: the same values, NaN and
    infinities included."""
    from nn.core.losses import COLUMNWISE_MAX, row_max
    Z = np.random.default_rng(classes).standard_normal((300, classes)).astype(np.float32)
    Z[3, classes // 2] = np.nan
    Z[4, -1], Z[5, 0], Z[6] = np.inf, -np.inf, -np.inf
    np.testing.assert_array_equal(row_max(Z), Z.max(axis=1, keepdims=True))
    assert row_max(Z).shape == (300, 1) and COLUMNWISE_MAX == 32


def test_loss_is_log_classes_for_zero_weights():
    model = MLP([3, 4, 5], seed=0)
    for p in model.params:
        p[:] = 0
    X = np.random.default_rng(0).standard_normal((8, 3)).astype(np.float32)
    assert model.loss(X, np.arange(8) % 5) == pytest.approx(np.log(5), rel=1e-6)


def test_buffered_and_fresh_gradients_agree():
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((32, 6)).astype(np.float32), rng.integers(0, 3, 32)
    model = MLP([6, 8, 3], activation="tanh", seed=2)
    loss1, fresh = model.loss_and_grads(X, y)
    out = [np.empty_like(p) for p in model.params]
    loss2, buffered = model.loss_and_grads(X, y, out=out)
    assert buffered is out and loss1 == loss2
    for a, b in zip(fresh, buffered):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("bad", [[784], [784, 0, 10], [2, 3, 1], [2, "3", 2], [2, 3.5, 2]])
def test_bad_layer_sizes_are_refused(bad):
    with pytest.raises(ValueError, match="layer"):
        MLP(bad)


@pytest.mark.parametrize("kwargs, word", [({"activation": "softplus"}, "activation"),
                                          ({"init": "zeros"}, "init"), ({"dtype": "int8"}, "dtype")])
def test_bad_options_name_the_option(kwargs, word):
    with pytest.raises(ValueError, match=word):
        MLP([2, 3, 2], **kwargs)


def test_wrong_input_width_is_refused():
    with pytest.raises(ValueError, match=r"\(n, 2\)"):
        MLP([2, 3, 2]).predict(np.zeros((4, 3)))
