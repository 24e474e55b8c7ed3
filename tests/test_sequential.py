"""Sequential: the MLP contract (so nn.Trainer drives it), architecture texts and specs with their
validation, the parameter limit checked before allocating, chunked and threaded passes."""
import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import nn
from nn.core import (CNN_PRESETS, ArchError, Conv2D, Dense, Dropout, Flatten, MaxPool2D, ReLU,
                     Sequential, build_network, describe_arch, flops_per_sample, from_spec,
                     parse_arch, summary)
from nn.core.mlp import EvaluationStopped

ARCH = "conv 3x3x4 pad 1, pool 2, conv 3x3x8, pool 2, dense 16"


def tiny_images(n=96, seed=0):
    rng = np.random.default_rng(seed)
    return rng.random((n, 64), dtype=np.float32), rng.integers(0, 10, n)


# --- architecture text -----------------------------------------------------------------------
def test_parse_and_describe_round_trip():
    text = "conv 5x5x16, pool 2, conv 3x3x32 stride 2 pad 1, pool 3 stride 2, dense 128, dropout 0.25"
    blocks = parse_arch(text)
    assert blocks[0] == {"type": "conv", "kernel": [5, 5], "filters": 16, "stride": 1, "padding": 0}
    assert blocks[2] == {"type": "conv", "kernel": [3, 3], "filters": 32, "stride": 2, "padding": 1}
    assert blocks[3] == {"type": "pool", "size": 3, "stride": 2}
    assert describe_arch(blocks) == text
    assert parse_arch(describe_arch(blocks)) == blocks
    assert parse_arch("conv 5x5x8 pad same")[0]["padding"] == 2


@pytest.mark.parametrize("text,words", [
    ("conv 5x5", "conv KxKxF"),
    ("conv 13x13x8", "kernel size must be a whole number from 1 to 11"),
    ("conv 3x3x9999", "filters must be a whole number from 1 to 512"),
    ("conv 3x3x8 stride 9", "stride must be a whole number from 1 to 4"),
    ("conv 4x4x8 pad same", "square odd kernel"),
    ("pool 1", "pool size must be a whole number from 2 to 8"),
    ("dense 0", "dense size must be a whole number from 1 to 4096"),
    ("dropout 1.5", "0 <= R <= 0.9"),
    ("lstm 5", "starts with conv, pool, dense, bn or dropout"),
    (", ".join(["dense 8"] * 21), "1 to 20"),
])
def test_bad_arch_texts_name_the_item_and_the_range(text, words):
    with pytest.raises(ArchError, match=words.replace("(", r"\(")):
        parse_arch(text)


def test_arch_layers_put_the_activation_after_the_pool_and_add_the_output_layer():
    net = build_network(ARCH, (1, 8, 8), 10)
    kinds = [layer.kind for layer in net.layers]
    assert kinds == ["conv2d", "maxpool2d", "relu", "conv2d", "maxpool2d", "relu", "flatten",
                     "dense", "relu", "dense"]
    assert net.meta["arch"] == ARCH
    with pytest.raises(ArchError, match="conv cannot follow a dense"):
        build_network("dense 8, conv 3x3x4", (1, 8, 8), 10)
    with pytest.raises(ArchError, match="does not fit"):
        build_network("conv 9x9x4", (1, 8, 8), 10)


def test_summary_and_flops():
    net = build_network("conv 5x5x16, pool 2, conv 5x5x32, pool 2, dense 128", (1, 28, 28), 10)
    assert net.n_params == 416 + 12_832 + 65_664 + 1_290
    assert net.layer_sizes == [784, 24 * 24 * 16, 8 * 8 * 32, 128, 10]
    assert "16x24x24" in summary(net) and "80,202" in summary(net)
    fwd = 2 * (576 * 16 * 25 + 64 * 32 * 400 + 512 * 128 + 128 * 10)
    assert flops_per_sample(net)["forward"] == fwd
    assert flops_per_sample(net)["train"] == 3 * fwd - 2 * 576 * 16 * 25   # no dX for layer 1


def test_cnn_preset_builds():
    preset = CNN_PRESETS["mnist-cnn"]
    net = build_network(preset["arch"], (1, 28, 28), 10, activation=preset["activation"])
    assert net.layer_sizes[0] == 784 and net.layer_sizes[-1] == 10


# --- specs -----------------------------------------------------------------------------------
def test_spec_is_json_and_rebuilds_the_same_network():
    net = build_network(ARCH + ", dropout 0.2", (1, 8, 8), 10, seed=3)
    spec = json.loads(json.dumps(net.spec()))
    twin = from_spec(spec)
    assert [p.shape for p in twin.params] == [p.shape for p in net.params]
    twin.copy_params_from(net.params)
    X, _ = tiny_images()
    np.testing.assert_array_equal(twin.predict_proba(X), net.predict_proba(X))


@pytest.mark.parametrize("change,words", [
    (lambda s: s["layers"].append({"type": "softmax"}), "type must be one of"),
    (lambda s: s["layers"][0].update(filters=10**6), "filters must be a whole number from 1 to 512"),
    (lambda s: s["layers"][0].update(kernel=[3]), r"kernel must be \[height, width\]"),
    (lambda s: s["layers"][0].update(extra=1), "fields must be exactly"),
    (lambda s: s.update(input_shape=[1, 8, 10**6]), "input_shape must be"),
    (lambda s: s.update(dtype="float16"), "dtype must be one of"),
    (lambda s: s["layers"].insert(0, {"type": "dense", "units": 4}), "flat inputs"),
])
def test_bad_specs_are_refused_with_a_reason(change, words):
    spec = build_network(ARCH, (1, 8, 8), 10).spec()
    change(spec)
    with pytest.raises(ArchError, match=words):
        from_spec(spec)


def test_parameter_limit_is_checked():
    with pytest.raises(ArchError, match="limit is 100 "):
        build_network(ARCH, (1, 8, 8), 10, max_params=100)


def test_a_huge_spec_is_refused_before_allocating():
    """1.6 billion parameters (6.4 GB) asked for: refused, and the process stays small."""
    child = textwrap.dedent("""
        import resource, sys
        from nn.core import ArchError, from_spec
        from nn.hosting import limits
        base = int(next(l for l in open('/proc/self/status') if l.startswith('VmHWM')).split()[1])
        spec = {"input_shape": [1, 28, 28], "layers": [
            {"type": "conv2d", "filters": 512, "kernel": [3, 3], "stride": 1, "padding": 1},
            {"type": "flatten"}, {"type": "dense", "units": 4096}, {"type": "dense", "units": 10}]}
        try:
            from_spec(spec, max_params=limits().max_params)
            sys.exit("not refused")
        except ArchError as exc:
            assert "parameters" in str(exc), exc
        print((int(next(l for l in open('/proc/self/status') if l.startswith('VmHWM')).split()[1]) - base) / 1024)
    """)
    out = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert float(out.stdout.strip()) < 200


# --- the MLP contract ------------------------------------------------------------------------
def test_inference_verbs_agree():
    net = build_network(ARCH, (1, 8, 8), 10)
    X, y = tiny_images()
    proba = net.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-5)
    np.testing.assert_array_equal(net.predict(X), proba.argmax(axis=1))
    loss, acc = net.evaluate(X, y)
    assert acc == net.score(X, y)
    assert loss == pytest.approx(-np.log(proba[np.arange(len(y)), y]).mean(), rel=1e-4)
    with pytest.raises(ValueError, match=r"expected input of shape \(n, 64\)"):
        net.predict(X[:, :10])


def test_chunked_and_threaded_passes_equal_one_pass():
    X, y = tiny_images(200)
    net = build_network(ARCH, (1, 8, 8), 10, dtype="float64")
    net.workers = 1
    net.max_rows = 10**6
    logits = net.logits(X)
    loss, grads = net.loss_and_grads(X, y)
    for workers, max_rows in [(2, 10**6), (1, 37), (3, 23)]:
        net.workers, net.max_rows = workers, max_rows
        np.testing.assert_allclose(net.logits(X), logits, rtol=1e-12)
        loss_k, grads_k = net.loss_and_grads(X, y)
        assert loss_k == pytest.approx(loss, rel=1e-12)
        for g, gk in zip(grads, grads_k):
            np.testing.assert_allclose(gk, g, rtol=1e-9, atol=1e-14)


def test_threaded_steps_shorten_the_gil_switch_interval_only_while_they_run(monkeypatch):
    """Worker threads run with a short GIL switch interval; the process gets its own back."""
    import sys
    import threading
    from nn.core import worker_threads
    X, y = tiny_images(64)
    net = build_network(ARCH, (1, 8, 8), 10)
    net.workers = 2
    seen = []
    real_pass = net._pass
    monkeypatch.setattr(net, "_pass", lambda *a: seen.append(sys.getswitchinterval()) or real_pass(*a))
    sys.setswitchinterval(0.004)
    try:
        net.loss_and_grads(X, y)
        assert len(seen) == 2 and max(seen) <= worker_threads.GIL_SWITCH_SECONDS + 1e-9
        assert sys.getswitchinterval() == pytest.approx(0.004)
        other = threading.Thread(target=net.loss_and_grads, args=(X, y))   # two trainings at once
        other.start()
        net.loss_and_grads(X, y)
        other.join()
        assert sys.getswitchinterval() == pytest.approx(0.004)
    finally:
        sys.setswitchinterval(0.005)


def test_evaluation_can_be_stopped_between_chunks():
    net = build_network(ARCH, (1, 8, 8), 10)
    net.max_rows, net.workers = 10, 1
    X, y = tiny_images()
    with pytest.raises(EvaluationStopped):
        net.evaluate(X, y, should_stop=lambda: True)


def test_dense_stack_matches_mlp():
    mlp = nn.MLP([64, 16, 10], seed=0)
    seq = Sequential([Dense(16), ReLU(), Dense(10)], input_shape=(64,))
    assert seq.layer_sizes == mlp.layer_sizes and seq.activation == "relu"
    seq.copy_params_from(mlp.params)
    X, y = tiny_images()
    np.testing.assert_allclose(seq.logits(X), mlp.logits(X), rtol=1e-5, atol=1e-6)
    _, g_seq = seq.loss_and_grads(X, y)
    _, g_mlp = mlp.loss_and_grads(X, y)
    for a, b in zip(g_seq, g_mlp):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


def test_dropout_training_is_reproducible():
    X, y = tiny_images()
    runs = []
    for _ in range(2):
        net = Sequential([Flatten(), Dense(16), ReLU(), Dropout(0.5), Dense(10)], input_shape=(64,), seed=2)
        runs.append([net.loss_and_grads(X, y)[0] for _ in range(3)])
    assert runs[0] == runs[1] and len(set(runs[0])) == 3     # new masks each step, same each run


def test_trainer_drives_a_cnn_on_digits():
    from nn.data import load_dataset
    data = load_dataset("digits")
    net = build_network("conv 3x3x8 pad 1, pool 2, dense 32", (1, 8, 8), data.n_classes, seed=0)
    cfg = nn.TrainConfig(optimizer="adam", lr=3e-3, batch_size=32, epochs=8, seed=0, report_every=60)
    trainer = nn.Trainer(net, data.X_train, data.y_train, data.X_test, data.y_test, cfg)
    records = list(trainer.run())
    assert records[-1]["epoch"] == 8
    assert records[-1]["val_accuracy"] > 0.93
    assert records[-1]["train_loss"] < records[0]["train_loss"]
    good = [p.copy() for p in net.params]
    net.copy_params_from([np.zeros_like(p) for p in good])
    net.copy_params_from(good)
    assert net.score(data.X_test, data.y_test) == pytest.approx(records[-1]["val_accuracy"])


def test_layers_reject_misplaced_inputs():
    with pytest.raises(ValueError, match="flat inputs"):
        Sequential([Dense(4)], input_shape=(1, 8, 8))
    with pytest.raises(ValueError, match="conv takes images"):
        Sequential([Conv2D(2, 3)], input_shape=(64,))
    with pytest.raises(ValueError, match="at least 2 class scores"):
        Sequential([Conv2D(2, 3), MaxPool2D(2)], input_shape=(1, 8, 8))


def test_augmentation_is_applied_in_training_only_and_reproducibly():
    from nn.data.augment import Augment
    X, y = tiny_images()
    plain = build_network(ARCH, (1, 8, 8), 10, seed=4)
    loss_plain = plain.loss_and_grads(X, y)[0]
    losses = []
    for _ in range(2):
        net = build_network(ARCH, (1, 8, 8), 10, seed=4)
        net.augment = Augment(shift=1, rotate=10, scale=0.1)
        losses.append(net.loss_and_grads(X, y)[0])
        np.testing.assert_array_equal(net.predict_proba(X), plain.predict_proba(X))   # not at inference
    assert losses[0] == losses[1] != loss_plain


def test_augmentation_needs_one_channel_images():
    from nn.data.augment import Augment
    net = Sequential([Dense(10)], input_shape=(64,))
    net.augment = Augment()
    with pytest.raises(ValueError, match="one-channel images only"):
        net.loss_and_grads(*tiny_images())


def test_npz_round_trip_through_spec_and_named_arrays(tmp_path):
    from nn.core import network_from_arrays, param_arrays
    net = build_network(ARCH, (1, 8, 8), 10, seed=5)
    np.savez(tmp_path / "m.npz", meta=np.array(json.dumps(net.spec())), **param_arrays(net))
    with np.load(tmp_path / "m.npz", allow_pickle=False) as f:
        arrays = {k: f[k] for k in f.files if k != "meta"}
        spec = json.loads(str(f["meta"][()]))
    twin = network_from_arrays(spec, arrays)
    X, _ = tiny_images()
    np.testing.assert_array_equal(twin.predict_proba(X), net.predict_proba(X))
    bad = dict(arrays, layer1_W=arrays["layer1_W"][:2])
    with pytest.raises(ArchError, match="layer1_W is float32"):
        network_from_arrays(spec, bad)
    with pytest.raises(ArchError, match="unexpected arrays"):
        network_from_arrays(spec, dict(arrays, extra=arrays["layer1_b"]))
    with pytest.raises(ArchError, match="lacks layer4_b"):
        network_from_arrays(spec, {k: v for k, v in arrays.items() if k != "layer4_b"})


def test_the_package_offers_sequential_and_its_layers_at_the_top():
    """``nn.Sequential([...])`` as the issue writes it: PyTorch-shaped conv weights, and a model
    file that ``nn.load`` reads back as the same network."""
    import io as _io
    net = nn.Sequential([nn.Conv2D(4, 3, padding=1), nn.ReLU(), nn.MaxPool2D(2), nn.Flatten(),
                         nn.Dense(10)], input_shape=(1, 8, 8), seed=1)
    assert net.params[0].shape == (4, 1, 3, 3) and net.params[1].shape == (4,)
    X = np.random.default_rng(0).random((5, 64), dtype=np.float32)
    buf = _io.BytesIO()
    nn.save(net, buf)
    back = nn.load(buf.getvalue())
    assert isinstance(back, nn.Sequential)
    np.testing.assert_array_equal(back.predict_proba(X), net.predict_proba(X))


@pytest.mark.parametrize("arch, input_shape", [
    ("conv 5x5x4, pool 2, conv 3x3x6, pool 2, dense 8", (1, 16, 16)),     # both pairs fused
    ("conv 3x3x4 pad 1, pool 2, conv 3x3x8, pool 3, dense 8", (2, 12, 12)),  # 2 channels, pool 3
    ("conv 3x3x4 stride 2, pool 2, dense 8", (1, 17, 17)),                # strided conv
])
def test_fused_conv_pool_pass_equals_the_layer_by_layer_pass(arch, input_shape):
    rng = np.random.default_rng(3)
    X = rng.random((24, int(np.prod(input_shape))))
    X[:, : X.shape[1] // 2] = 0.0                   # blank rows: tied maxima in the pools
    y = rng.integers(0, 10, 24)
    net = build_network(arch, input_shape, 10, dtype="float64")
    net.workers = 1
    for p in net.params[1::2]:                       # non-zero biases, so Z carries them
        p[:] = rng.normal(0, 0.1, p.shape)
    assert net._fused                                # the pass under test does fuse
    loss, grads = net.loss_and_grads(X, y)
    net._fused = set()
    loss_ref, grads_ref = net.loss_and_grads(X, y)
    assert loss == pytest.approx(loss_ref, rel=1e-12)
    for g, g_ref in zip(grads, grads_ref):
        np.testing.assert_allclose(g, g_ref, rtol=1e-9, atol=1e-14)
