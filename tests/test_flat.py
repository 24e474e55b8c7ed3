"""Parameters, gradients and optimizer state packed in one buffer (nn.core.flat): the optimizer's
one-call-per-pass update gives the same numbers as the per-array one, and packing survives
pickling (a trainer goes to a worker process and back)."""
import pickle

import numpy as np
import pytest

import nn
from nn.core.flat import flat_view, packed
from nn.core.optimizers import make_optimizer


def test_packed_views_tile_one_buffer_in_order():
    arrays = [np.arange(12.0).reshape(3, 4), np.arange(4.0)]
    views = packed(arrays)
    flat = flat_view(views)
    assert flat is not None and flat.shape == (16,)
    assert np.array_equal(flat, np.concatenate([a.ravel() for a in arrays]))
    assert flat_view(arrays) is None                    # separate arrays
    assert flat_view(views[::-1]) is None               # out of order
    assert flat_view(views[:1]) is None                 # not the whole buffer
    assert flat_view([views[0][:, :2]]) is None         # not contiguous
    assert not flat_view(packed(arrays, fill=0)).any()


@pytest.mark.parametrize("name", ["sgd", "momentum", "adam"])
def test_a_packed_update_equals_the_per_array_one(name):
    rng = np.random.default_rng(1)
    shapes = [(6, 5), (5,), (5, 3), (3,)]
    p0 = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    steps = [[rng.standard_normal(s).astype(np.float32) for s in shapes] for _ in range(4)]
    apart, together = [p.copy() for p in p0], packed(p0)
    opt_apart = make_optimizer(name, apart, 0.05, weight_decay=1e-3)
    opt_apart.__dict__.update({k: [a.copy() for a in getattr(opt_apart, k)] for k in opt_apart.state_names})
    opt_together = make_optimizer(name, together, 0.05, weight_decay=1e-3)
    for grads in steps:
        opt_apart.step(apart, [g.copy() for g in grads])
        opt_together.step(together, packed(grads))
    assert flat_view(together) is not None
    for a, b in zip(apart, together):
        np.testing.assert_array_equal(a, b)


def test_an_unpickled_trainer_is_packed_again_and_trains_the_same():
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((300, 8)).astype(np.float32), rng.integers(0, 3, 300)
    config = nn.TrainConfig(optimizer="adam", lr=0.01, batch_size=32, epochs=1, seed=0)
    here = nn.Trainer(nn.MLP([8, 16, 3], seed=0), X, y, config=config)
    list(here.run())
    there = pickle.loads(pickle.dumps(here))
    there.attach(X, y, None, None)
    for owner in (there.model.params, there.grads, there.optimizer.m, there.optimizer.v):
        assert flat_view(owner) is not None
    assert all(lp is p for layer, k in zip(there.model.layers, (0, 2)) for lp, p in
               zip(layer.params, there.model.params[k:k + 2]))
    list(here.run(1))
    list(there.run(1))
    for a, b in zip(here.model.params, there.model.params):
        np.testing.assert_array_equal(a, b)


def test_a_shallow_copy_of_an_mlp_leaves_the_original_computing_with_its_own_params():
    """copy.copy went through __setstate__, which packed new parameters and rebound the shared
    layers to them: the original's ``params`` then no longer were what its layers computed with
    (a worker Step's weights, copied back into ``params``, were ignored by the next forward)."""
    import copy
    model = nn.MLP([3, 5, 2], seed=0)
    X = np.random.default_rng(0).normal(size=(4, 3)).astype(np.float32)
    light = copy.copy(model)
    assert light.params is model.params
    for p in model.params:
        p += 1.0                                       # as copy_params_from writes a worker's result
    assert all(layer.params[0] is model.params[2 * k] for k, layer in enumerate(model.layers))
    fresh = nn.MLP([3, 5, 2], seed=0)
    fresh.copy_params_from(model.params)
    np.testing.assert_array_equal(model.logits(X), fresh.logits(X))


def test_an_unpickled_mlp_makes_one_copy_of_its_parameters_not_two():
    """A worker unpickles its trainer under its memory limit (nn.hosting.isolated): the packed
    parameters travel as their one buffer and come back as views of it, where unpickling the
    views as arrays of their own and packing them again held two copies at once."""
    import tracemalloc
    model = nn.MLP([300, 400, 10], seed=0)
    nbytes = sum(p.nbytes for p in model.params)
    data = pickle.dumps(model)
    tracemalloc.start()
    there = pickle.loads(data)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert nbytes <= peak < 1.5 * nbytes
    assert flat_view(there.params) is not None
    assert [layer.params[0] is there.params[2 * k] for k, layer in enumerate(there.layers)] == [True, True]
    for a, b in zip(model.params, there.params):
        np.testing.assert_array_equal(a, b)
