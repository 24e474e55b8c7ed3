"""BatchNorm: gradients against central differences in float64 (dense and conv inputs, alone and
inside a network), training statistics against the direct formula, running averages used at
inference, the ``bn`` item of ``--arch``, and the running statistics saved and checked in a file."""
import io
import zipfile

import numpy as np
import pytest

from nn.core import ArchError, BatchNorm, build_network, describe_arch, parse_arch
from nn.core.arch import layers_from_blocks
from nn.files.io import ModelFormatError, load, model_to_bytes
from test_layers import assert_close, check_layer, numeric


def bn_layer(in_shape, seed=0):
    layer = BatchNorm()
    layer.build(in_shape, np.random.default_rng(seed), np.dtype("float64"))
    rng = np.random.default_rng(seed + 1)        # gamma and beta away from 1 and 0
    layer.params[0][:] = 1 + 0.5 * rng.standard_normal(in_shape[-1])
    layer.params[1][:] = 0.3 * rng.standard_normal(in_shape[-1])
    return layer


@pytest.mark.parametrize("x_shape", [(6, 4), (3, 4, 5, 2)], ids=["dense", "conv"])
def test_batchnorm_gradients(x_shape):
    layer = bn_layer(x_shape[1:])
    x = np.random.default_rng(2).standard_normal(x_shape) * 2 + 0.7
    check_layer(layer, x)


def test_training_normalises_each_channel_by_the_batch_statistics():
    layer = bn_layer((5, 5, 3))
    x = np.random.default_rng(3).standard_normal((4, 5, 5, 3)) * [1, 3, 0.2] + [0, -2, 5]
    y, _ = layer.forward(x, train=True)
    mu, var = x.mean(axis=(0, 1, 2)), x.var(axis=(0, 1, 2))
    gamma, beta = layer.params
    np.testing.assert_allclose(y, gamma * (x - mu) / np.sqrt(var + BatchNorm.EPS) + beta, atol=1e-12)


def test_inference_uses_the_running_averages_not_the_batch():
    layer = bn_layer((3,))
    layer.buffers[0][:] = [1.0, -2.0, 0.5]
    layer.buffers[1][:] = [4.0, 0.25, 1.0]
    x = np.random.default_rng(4).standard_normal((7, 3))
    y, ctx = layer.forward(x, train=False)
    gamma, beta = layer.params
    assert ctx is None
    np.testing.assert_allclose(y, gamma * (x - layer.buffers[0]) / np.sqrt(layer.buffers[1] + BatchNorm.EPS) + beta)
    one, _ = layer.forward(x[:1], train=False)    # a single row reads the same as inside a batch
    np.testing.assert_allclose(one, y[:1])


def test_running_averages_follow_pytorchs_rule_over_the_whole_batch():
    layer = bn_layer((2,))
    x = np.random.default_rng(5).standard_normal((10, 2)) + 3
    parts = [BatchNorm.batch_stats(layer.forward(x[s], train=True)[1]) for s in (slice(0, 4), slice(4, 10))]
    layer.update_running(parts)                  # two chunks of one batch, merged exactly
    np.testing.assert_allclose(layer.buffers[0], 0.9 * 0 + 0.1 * x.mean(axis=0))
    np.testing.assert_allclose(layer.buffers[1], 0.9 * 1 + 0.1 * x.var(axis=0, ddof=1))


def bn_network(arch="conv 3x3x3, bn, pool 2, dense 6, bn"):
    net = build_network(arch, (1, 6, 6), 3, activation="tanh",
                        dtype="float64", seed=3)
    rng = np.random.default_rng(6)
    for p in net.params:
        p += 0.1 * rng.standard_normal(p.shape)
    return net


@pytest.mark.parametrize("arch", ["conv 3x3x3, bn, pool 2, dense 6, bn",
                                  "conv 3x3x3, pool 2, bn, dense 6, bn"])   # conv and pool fused
def test_network_with_batchnorm_gradients_in_training_mode(arch):
    net = bn_network(arch)
    assert ("pool 2, bn" in arch) == bool(net._fused)
    rng = np.random.default_rng(7)
    X, y = rng.standard_normal((8, 36)), rng.integers(0, 3, 8)
    loss, grads = net.loss_and_grads(X, y)
    train_loss = lambda: net.loss_and_grads(X, y)[0]      # noqa: E731  (batch statistics)
    for k, (p, g) in enumerate(zip(net.params, grads)):
        num = numeric(train_loss, p)
        if k in (1, 5):                          # a bias just before a batch norm: it cancels out
            assert np.abs(num).max() < 1e-8 and np.abs(g).max() < 1e-12
        else:
            assert_close(g, num, f"network param {k} {p.shape}")


def test_training_steps_move_the_running_averages_and_evaluation_uses_them():
    net = bn_network()
    rng = np.random.default_rng(8)
    X, y = rng.standard_normal((64, 36)) + 2, rng.integers(0, 3, 64)
    before = net.evaluate(X, y)
    norm = net.layers[1]
    assert np.all(norm.buffers[0] == 0) and np.all(norm.buffers[1] == 1)
    net.loss_and_grads(X, y)
    assert not np.allclose(norm.buffers[0], 0)
    assert net.evaluate(X, y) != before          # inference reads the updated averages
    for _ in range(60):                          # the same batch again: the averages converge to it
        net.loss_and_grads(X, y)
    A = net._to_input(X)
    conv_out, _ = net.layers[0].forward(A)
    np.testing.assert_allclose(norm.buffers[0], conv_out.mean(axis=(0, 1, 2)), rtol=1e-2, atol=1e-3)


def test_threaded_chunks_update_the_running_averages_once_per_step():
    net = bn_network()
    X = np.random.default_rng(9).standard_normal((96, 36))
    y = np.arange(96) % 3
    net.workers = 2                              # two chunks of 48 rows on two threads
    assert len(net._chunks(96)) == 2
    net.loss_and_grads(X, y)
    conv_out, _ = net.layers[0].forward(net._to_input(X))
    np.testing.assert_allclose(net.layers[1].buffers[0], 0.1 * conv_out.mean(axis=(0, 1, 2)))


def test_the_trainer_never_cuts_a_batch_norm_networks_batches_by_time():
    """Batch statistics over pieces cut by the machine's speed would make training depend on it."""
    from nn.core.config import TrainConfig
    from nn.core.training import Trainer
    net = bn_network()
    X, y = np.random.default_rng(11).standard_normal((96, 36)), np.arange(96) % 3
    trainer = Trainer(net, X, y, config=TrainConfig(batch_size=32, epochs=1))
    trainer.pacer.rows = lambda factor=1.0: 5                # a very slow machine
    sizes = []
    step = net.train_step_grads
    net.train_step_grads = lambda X, y, grads, **kw: sizes.append(len(y)) or step(X, y, grads, **kw)
    list(trainer.run())
    assert sizes == [32, 32, 32]


# --- the --arch grammar ---------------------------------------------------------------------
def test_bn_items_go_between_the_layer_and_its_activation():
    blocks = parse_arch("conv 3x3x8, bn, pool 2, conv 3x3x8, bn, dense 16, bn, dropout 0.1")
    assert describe_arch(blocks) == "conv 3x3x8, bn, pool 2, conv 3x3x8, bn, dense 16, bn, dropout 0.1"
    kinds = [layer.kind for layer in layers_from_blocks(blocks, 10)]
    assert kinds == ["conv2d", "batchnorm", "maxpool2d", "relu", "conv2d", "batchnorm", "relu",
                     "flatten", "dense", "batchnorm", "relu", "dropout", "dense"]


def test_a_bn_after_a_convs_pool_normalises_the_pooled_maps_before_the_activation():
    blocks = parse_arch("conv 3x3x8, pool 2, bn, conv 3x3x8, pool 2, bn, dense 16")
    assert describe_arch(blocks) == "conv 3x3x8, pool 2, bn, conv 3x3x8, pool 2, bn, dense 16"
    kinds = [layer.kind for layer in layers_from_blocks(blocks, 10)]
    assert kinds == ["conv2d", "maxpool2d", "batchnorm", "relu", "conv2d", "maxpool2d", "batchnorm",
                     "relu", "flatten", "dense", "relu", "dense"]


@pytest.mark.parametrize("text,words", [("bn, conv 3x3x4", "right after a conv or dense"),
                                        ("conv 3x3x4, bn, pool 2, bn", "right after a conv or dense"),
                                        ("conv 3x3x4, pool 2, pool 2, bn", "right after a conv or dense"),
                                        ("dense 8, bn, bn", "right after a conv or dense"),
                                        ("conv 3x3x4, bn 2", "write 'bn' alone"),
                                        ("conv 3x3x4, relu", "conv, pool, dense, bn or dropout")])
def test_misplaced_bn_items_are_refused(text, words):
    with pytest.raises(ArchError, match=words):
        layers_from_blocks(parse_arch(text), 10)


# --- the model file -------------------------------------------------------------------------
def trained_bn_network():
    net = build_network("conv 3x3x4, bn, pool 2, dense 8, bn", (1, 8, 8), 3, seed=1)
    rng = np.random.default_rng(10)
    X, y = rng.random((40, 64), dtype=np.float32), rng.integers(0, 3, 40)
    for _ in range(3):
        net.loss_and_grads(X, y)
    return net, X


def test_file_round_trip_keeps_the_running_statistics():
    net, X = trained_bn_network()
    back = load(model_to_bytes(net))
    assert len(back.buffers) == 4 and any(not np.allclose(b, 0) for b in back.buffers[::2])
    for a, b in zip(net.params + net.buffers, back.params + back.buffers):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(back.predict_proba(X), net.predict_proba(X))
    assert back.meta["arch"] == "conv 3x3x4, bn, pool 2, dense 8, bn"


def rewritten(data: bytes, name: str, value) -> bytes:
    """The model file with member ``name`` replaced (or dropped when ``value`` is None)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            if info.filename != name + ".npy":
                dst.writestr(info, src.read(info))
        if value is not None:
            buf = io.BytesIO()
            np.save(buf, value)
            dst.writestr(name + ".npy", buf.getvalue())
    return out.getvalue()


@pytest.mark.parametrize("name,value,words", [
    ("layer2_var", np.full(4, -1.0, np.float32), "negative"),
    ("layer2_var", np.ones(5, np.float32), "shape"),
    ("layer2_mean", np.array([0, 0, np.nan, 0], np.float32), "NaN"),
    ("layer2_mean", None, "lacks layer2_mean"),
    ("layer3_mean", np.zeros(4, np.float32), "unexpected"),
])
def test_malformed_batchnorm_statistics_are_refused(name, value, words):
    net, _ = trained_bn_network()
    with pytest.raises(ModelFormatError, match=words):
        load(rewritten(model_to_bytes(net), name, value))


def test_a_run_in_a_worker_sends_the_running_statistics_with_the_weights():
    """The page's copy of a trainer follows the worker's records (nn.runs.remote_training): its
    batch norms must read with the worker's running averages, not the ones they started with."""
    from nn.core.config import TrainConfig
    from nn.core.training import Trainer
    from nn.runs.remote_training import _follow
    worker, page = bn_network(), bn_network()
    X, y = np.random.default_rng(12).standard_normal((48, 36)), np.arange(48) % 3
    trainer = Trainer(page, X, y, config=TrainConfig(batch_size=16, epochs=1))
    worker.loss_and_grads(X, y)
    record = {"epoch": 1, "step": 3, "seconds": 0.1}
    _follow(trainer, record, worker.params, worker.buffers)
    for a, b in zip(page.params + page.buffers, worker.params + worker.buffers):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(page.predict_proba(X), worker.predict_proba(X))
