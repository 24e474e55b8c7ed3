"""An optimizer's fold: SGD and momentum take the input layer's gradient straight from NumPy's
BLAS (C = alpha X^T dZ1 + beta C, ``nn.core.numpy_blas``) and update as if it had been written."""
import numpy as np
import pytest

from nn import MLP, Trainer, TrainConfig
from nn.core import numpy_blas
from nn.core.flat import packed
from nn.core.layers import _fold_dw
from nn.core.optimizers import make_optimizer
from nn.data import load_dataset

needs_blas = pytest.mark.skipif(not numpy_blas.available("float32"), reason="NumPy's BLAS is not OpenBLAS 64")


@needs_blas
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_gemm_tn_is_alpha_at_b_plus_beta_c(dtype):
    rng = np.random.default_rng(0)
    A, B, C = (rng.standard_normal(s).astype(dtype) for s in ((70, 33), (70, 9), (33, 9)))
    expected = -0.3 * A.T.astype(np.float64) @ B + 0.9 * C
    assert numpy_blas.gemm_tn(-0.3, A, B, 0.9, C)
    np.testing.assert_allclose(C, expected, rtol=1e-4 if dtype == "float32" else 1e-12, atol=1e-5)


def test_gemm_tn_leaves_arrays_it_cannot_take_untouched():
    A, B = np.ones((4, 3), np.float32), np.ones((4, 2), np.float32)
    for C in (np.ones((2, 3), np.float32),                # wrong shape
              np.ones((3, 2), np.float64),                # another dtype
              np.ones((2, 3), np.float32).T):             # not C-contiguous
        before = C.copy()
        assert not numpy_blas.fits(A, B, C)
        assert numpy_blas.gemm_tn(1.0, A, B, 0.0, C) is False
        np.testing.assert_array_equal(C, before)
    assert not numpy_blas.fits(np.ones((3, 4), np.float32).T, B, np.ones((3, 2), np.float32))


def test_the_numpy_fallback_folds_the_same():
    """A transposed (not C-contiguous) input goes through NumPy, with the same result."""
    rng = np.random.default_rng(1)
    X, dZ, C = rng.standard_normal((20, 6)), rng.standard_normal((20, 4)), rng.standard_normal((6, 4))
    expected = 0.5 * X.T @ dZ - 2.0 * C
    _fold_dw(np.asfortranarray(X), dZ, 0.5, -2.0, C)
    np.testing.assert_allclose(C, expected, rtol=1e-12)


@needs_blas
@pytest.mark.parametrize("name", ["sgd", "momentum"])
def test_a_folded_step_updates_as_the_written_gradient_does(name):
    rng = np.random.default_rng(2)
    X, y = rng.standard_normal((64, 20)), rng.integers(0, 3, 64)
    models = [MLP([20, 16, 8, 3], seed=1, dtype="float64") for _ in range(2)]
    grads = [packed(m.params, fill=0) for m in models]
    opts = [make_optimizer(name, m.params, 0.1) for m in models]
    for _ in range(5):
        models[0].train_step_grads(X, y, grads[0])
        opts[0].step(models[0].params, grads[0])
        fold = opts[1].fold_first_weight(models[1].params, grads[1])
        assert fold is not None
        models[1].train_step_grads(X, y, grads[1], fold=fold)
        opts[1].step(models[1].params, grads[1], folded=True)
    for a, b in zip(models[0].params, models[1].params):
        np.testing.assert_allclose(b, a, rtol=1e-12, atol=1e-14)
    assert not np.allclose(models[1].params[0], MLP([20, 16, 8, 3], seed=1, dtype="float64").params[0])


def test_rules_that_need_the_gradient_itself_do_not_fold():
    m = MLP([5, 4, 2])
    grads = packed(m.params, fill=0)
    assert make_optimizer("adam", m.params, 0.01).fold_first_weight(m.params, grads) is None
    assert make_optimizer("momentum", m.params, 0.01, weight_decay=1e-3).fold_first_weight(m.params, grads) is None
    assert make_optimizer("sgd", m.params, 0.01, l1=1e-3).fold_first_weight(m.params, grads) is None
    unpacked = [np.zeros_like(p) for p in m.params]               # gradients not in one buffer
    assert make_optimizer("momentum", m.params, 0.01).fold_first_weight(m.params, unpacked) is None


@needs_blas
@pytest.mark.parametrize("cfg", [dict(optimizer="momentum", lr=0.05),
                                 dict(optimizer="momentum", lr=0.05, lr_schedule="onecycle"),
                                 dict(optimizer="sgd", lr=0.3, lr_schedule="cosine")])
def test_a_trainer_that_folds_trains_as_one_that_does_not(cfg):
    """The trainer folds minibatch steps (a one-cycle rate is set before the fold reads it)."""
    data = load_dataset("moons", n_samples=400, noise=0.1)
    runs = []
    for fold in (False, True):
        model = MLP([2, 16, 2], seed=0, dtype="float64")
        trainer = Trainer(model, data.X_train, data.y_train, config=TrainConfig(batch_size=32, epochs=3, **cfg))
        trainer._can_fold = fold
        folds = []
        step = trainer.optimizer.step
        trainer.optimizer.step = lambda p, g, folded=False: folds.append(folded) or step(p, g, folded)
        list(trainer.run())
        assert set(folds) == {fold}
        runs.append(model.params)
    for a, b in zip(*runs):
        np.testing.assert_allclose(b, a, rtol=1e-11, atol=1e-13)


@pytest.mark.parametrize("strided", [False, True])      # BLAS's pass, or NumPy's for a strided x
def test_axpby_and_axpy_are_one_pass_of_the_formula(strided):
    rng = np.random.default_rng(4)
    x0 = rng.standard_normal(2000)[::2] if strided else rng.standard_normal(1000)
    y0 = rng.standard_normal(1000)
    x, y = x0.copy() if not strided else rng.standard_normal(2000)[::2], y0.copy()
    x[...] = x0
    numpy_blas.axpby(1.0, x, 0.9, y)
    np.testing.assert_allclose(y, x0 + 0.9 * y0, rtol=1e-14)
    np.testing.assert_array_equal(x, x0)                 # alpha 1: x is left as it was
    numpy_blas.axpy(-0.25, x, y)
    np.testing.assert_allclose(y, x0 + 0.9 * y0 - 0.25 * x0, rtol=1e-13)
