"""Gradients on real-looking images: flat backgrounds, saturated strokes, padding wider than the
kernel, all-zero and all-one images. There, pooling windows tie exactly (every conv output of a
flat patch equals its bias), which random test data never does.

At such a tie the loss is still differentiable in the parameters (the tied outputs read identical
patches, so any change of W or b moves them together), so every parameter's gradient is checked
against central differences in float64, through the layer-by-layer path and the fused conv+pool
training path; where PyTorch is installed, against its autograd as well (it takes the first
maximum of a window, as ``MaxPool2D`` does), input gradient included.
"""
from __future__ import annotations

import numpy as np
import pytest
from test_layers import numeric

import nn
from nn.core import Conv2D, Dense, Flatten, MaxPool2D, ReLU, Sequential, Sigmoid, Tanh

try:
    import torch
except ImportError:              # the autograd cross-check is optional; differences always run
    torch = None
needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch is not installed: the autograd "
                                 "cross-check is skipped (central differences still run)")


def real_looking_images(n: int, size: int, channels: int = 1, seed: int = 0) -> np.ndarray:
    """Rows of (channels, size, size) images in [0, 1], MNIST-like: a zero background, a
    saturated stroke (a block of exact ones) with a soft edge, one all-zero and one all-one image."""
    rng = np.random.default_rng(seed)
    X = np.zeros((n, channels, size, size))
    for img in X[2:]:
        r, c = rng.integers(1, size // 2, 2)
        h, w = rng.integers(3, size // 2 + 1, 2)
        img[:, r:r + h, c:c + w] = 1.0                                  # saturated: exact ties
        img[:, r + h:r + h + 1, c:c + w] = rng.choice([0.25, 0.5, 0.75])   # an anti-aliased edge
    X[1] = 1.0                                                          # X[0] stays all zero
    return X.reshape(n, -1)


# (name, layers, input shape, whether the training pass fuses a conv with its pool)
NETWORKS = [
    ("conv-relu-pool", lambda: [Conv2D(3, 3), ReLU(), MaxPool2D(2), Flatten(), Dense(4)], (1, 10, 10), False),
    ("conv-pool-relu fused", lambda: [Conv2D(3, 3), MaxPool2D(2), ReLU(), Flatten(), Dense(4)], (1, 10, 10), True),
    ("padding wider than the kernel", lambda: [Conv2D(2, 3, padding=4), MaxPool2D(2), Tanh(), Flatten(), Dense(3)],
     (1, 6, 6), True),
    ("strided conv, overlapping pool", lambda: [Conv2D(3, 3, stride=2), Sigmoid(), MaxPool2D(3, 2), Flatten(),
                                               Dense(3)], (1, 13, 13), False),
    ("pool 3 leaves an edge", lambda: [Conv2D(2, 2), ReLU(), MaxPool2D(3), Flatten(), Dense(3)], (1, 11, 11), False),
    ("two channels, two fused pairs", lambda: [Conv2D(3, 3, padding=1), MaxPool2D(2), ReLU(), Conv2D(4, 3, padding=1),
                                              MaxPool2D(2), ReLU(), Flatten(), Dense(3)], (2, 8, 8), True),
    ("strided conv fused", lambda: [Conv2D(2, 3, stride=2), MaxPool2D(2), ReLU(), Flatten(), Dense(3)], (1, 13, 13), True),
]


def network(layers, input_shape, bias: float) -> Sequential:
    """A float64 network whose conv biases are +-``bias`` (never 0: ReLU's kink stays away from
    the flat regions, where every conv output equals its bias)."""
    net = Sequential(layers(), input_shape=input_shape, dtype="float64", seed=3)
    net.workers = 1
    for layer in net.layers:
        if isinstance(layer, Conv2D):
            layer.params[1][:] = bias * np.where(np.arange(layer.filters) % 2, -1, 1)
    return net


def central_differences(net: Sequential, X: np.ndarray, y: np.ndarray, h: float = 1e-6) -> list[np.ndarray]:
    """dL/dp ~ (L(p + h) - L(p - h)) / 2h for every parameter, one entry at a time."""
    return [numeric(lambda: net.loss_and_grads(X, y)[0], p, h) for p in net.params]


def relative_error(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a - b).max() / max(np.abs(a).max() + np.abs(b).max(), 1e-300))


@pytest.mark.parametrize("bias", [0.1, -0.1])
@pytest.mark.parametrize("name,layers,input_shape,fused", NETWORKS, ids=[c[0] for c in NETWORKS])
def test_parameter_gradients_on_flat_and_saturated_images(name, layers, input_shape, fused, bias):
    net = network(layers, input_shape, bias)
    assert bool(net._fused) == fused, "the case does not take the path it is meant to test"
    X = real_looking_images(6, input_shape[1], input_shape[0])
    y = np.arange(6) % net.n_classes
    _, grads = net.loss_and_grads(X, y)
    for k, (g, num) in enumerate(zip(grads, central_differences(net, X, y))):
        assert relative_error(g, num) < 1e-6, f"{name}: parameter {k}, relative error {relative_error(g, num):.2e}"


def test_a_tied_window_sends_its_gradient_once_to_its_first_maximum():
    x = np.zeros((1, 4, 4, 1))
    x[0, 2:, 2:] = 1.0                               # windows of 0s, and one of 1s: all tied
    for pool in (MaxPool2D(2), MaxPool2D(2, 1), MaxPool2D(3, 1)):
        y, ctx = pool.forward(x, train=True)
        dx = pool.backward(np.ones_like(y), ctx, [], need_dx=True)
        assert dx.sum() == y.size                    # each window's dY lands once
        Ho, Wo = y.shape[1:3]
        first = np.zeros_like(x)                     # PyTorch's rule: the first maximum, row-major
        for i in range(Ho):
            for j in range(Wo):
                win = x[0, i * pool.stride:i * pool.stride + pool.size, j * pool.stride:j * pool.stride + pool.size, 0]
                r, c = np.unravel_index(win.argmax(), win.shape)
                first[0, i * pool.stride + r, j * pool.stride + c, 0] += 1
        np.testing.assert_array_equal(dx, first)


def test_the_fused_path_sends_a_tied_tile_once():
    conv = Conv2D(2, 3)
    conv.build((6, 6, 1), np.random.default_rng(0), np.dtype("float64"))
    conv.params[1][:] = 0.1
    x = np.zeros((2, 6, 6, 1))                       # flat: every conv output equals its bias
    y, ctx = conv.forward_pooled(x, MaxPool2D(2))
    assert ctx[2].sum(axis=0).max() == 1             # one position marked per tile
    grads = [np.empty_like(p) for p in conv.params]
    conv.backward_pooled(np.ones_like(y), ctx, grads)
    np.testing.assert_allclose(grads[1], y[..., 0].size)   # db = the number of tiles, not 4x


# --- against PyTorch's autograd --------------------------------------------------------------
def torch_loss(net: Sequential, X: np.ndarray, y: np.ndarray):
    """The same network in PyTorch (NCHW), on leaf copies of its parameters and input."""
    params = [torch.tensor(p, requires_grad=True) for p in net.params]
    x = torch.tensor(X.reshape(len(X), *net.input_shape), requires_grad=True)
    a, it = x, iter(params)
    F = torch.nn.functional
    for layer in net.layers:
        if isinstance(layer, Conv2D):
            a = F.conv2d(a, next(it), next(it), stride=layer.stride, padding=layer.padding)
        elif isinstance(layer, MaxPool2D):
            a = F.max_pool2d(a, layer.size, layer.stride)
        elif isinstance(layer, Flatten):
            a = torch.flatten(a, 1)
        elif isinstance(layer, Dense):
            a = a @ next(it) + next(it)
        else:
            a = {ReLU: torch.relu, Tanh: torch.tanh, Sigmoid: torch.sigmoid}[type(layer)](a)
    loss = F.cross_entropy(a, torch.tensor(y, dtype=torch.int64))
    loss.backward()
    return loss.item(), [p.grad.numpy() for p in params], x.grad.numpy().reshape(len(X), -1)


def input_gradient(net: Sequential, X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """dL/dX through the layer-by-layer path (the first layer's ``need_dx`` forced on)."""
    A, ctxs = net._to_input(X), []
    for layer in net.layers:
        A, ctx = layer.forward(A, train=True)
        ctxs.append(ctx)
    _, dA = nn.core.losses.softmax_cross_entropy_grad(A, y)
    for layer, ctx, sl in reversed(list(zip(net.layers, ctxs, net._slices))):
        dA = layer.backward(dA, ctx, [np.empty_like(p) for p in net.params[sl]], need_dx=True)
    return dA.transpose(0, 3, 1, 2).reshape(len(X), -1)


@needs_torch
@pytest.mark.parametrize("bias", [0.1, 0.0, -0.1])          # 0: ReLU at its kink, as PyTorch
@pytest.mark.parametrize("name,layers,input_shape,fused", NETWORKS, ids=[c[0] for c in NETWORKS])
def test_gradients_agree_with_pytorch_on_flat_and_saturated_images(name, layers, input_shape, fused, bias):
    net = network(layers, input_shape, bias)
    X = real_looking_images(6, input_shape[1], input_shape[0])
    y = np.arange(6) % net.n_classes
    loss, grads = net.loss_and_grads(X, y)
    ref_loss, ref_grads, ref_dx = torch_loss(net, X, y)
    assert loss == pytest.approx(ref_loss, rel=1e-12)
    for k, (g, ref) in enumerate(zip(grads, ref_grads)):
        assert relative_error(g, ref) < 1e-10, f"{name}: parameter {k}"
    assert relative_error(input_gradient(net, X, y), ref_dx) < 1e-10, f"{name}: dX"


def mnist_rows(path: str, n: int = 8) -> tuple[np.ndarray, np.ndarray]:
    with np.load(path) as d:
        return d["x_train"][:n].reshape(n, -1) / 255.0, d["y_train"][:n].astype(np.int64)


def reproduction(bias: float) -> Sequential:
    """The network of the bug report: its conv biases at ``bias``."""
    net = Sequential([Conv2D(4, 5), ReLU(), MaxPool2D(2), Flatten(), Dense(10)],
                     input_shape=(1, 28, 28), dtype="float64")
    net.params[1][:] = bias
    return net


@pytest.mark.parametrize("bias", [0.1, -0.1])
def test_the_reported_conv_gradients_on_mnist_match_central_differences(mnist_path, bias):
    net = reproduction(bias)
    X, y = mnist_rows(mnist_path)
    _, grads = net.loss_and_grads(X, y)
    numeric = central_differences(net, X, y)
    for k in (0, 1):                                 # the conv's W and b (the dense ones agreed)
        assert relative_error(grads[k], numeric[k]) < 1e-6, f"conv parameter {k}"


@needs_torch
@pytest.mark.parametrize("bias", [0.1, -0.1])
def test_the_reported_network_on_mnist_agrees_with_pytorch(mnist_path, bias):
    net = reproduction(bias)
    X, y = mnist_rows(mnist_path)
    _, grads = net.loss_and_grads(X, y)
    _, ref_grads, _ = torch_loss(net, X, y)
    for k, (g, ref) in enumerate(zip(grads, ref_grads)):
        assert relative_error(g, ref) < 1e-10, f"parameter {k}"
