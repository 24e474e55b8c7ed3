"""Layers: gradients against central differences in float64 (every layer type, stride and padding
combinations, a whole small network), and forward passes against direct formulas (and PyTorch
when it is installed)."""
import numpy as np
import pytest

from nn.core import Conv2D, Dense, Dropout, Flatten, MaxPool2D, ReLU, Sequential, Sigmoid, Tanh


def build(layer, in_shape, seed=0):
    layer.build(in_shape, np.random.default_rng(seed), np.dtype("float64"), "xavier")
    for p in layer.params[1::2]:                 # non-zero biases, so every path is exercised
        p[:] = np.random.default_rng(seed + 1).standard_normal(p.shape) * 0.1
    return layer


def spread(shape, rng):
    """Distinct values at least 0.05 apart (no ties for max-pooling, no value near ReLU's kink)."""
    n = int(np.prod(shape))
    return ((rng.permutation(n) - n / 2 + 0.5) * 0.05).reshape(shape)


def numeric(f, arr, h=1e-6):
    """Central differences: df/da ~ (f(a + h) - f(a - h)) / 2h, one entry at a time."""
    grad = np.zeros_like(arr)
    for idx in np.ndindex(arr.shape):
        old = arr[idx]
        arr[idx] = old + h
        plus = f()
        arr[idx] = old - h
        minus = f()
        arr[idx] = old
        grad[idx] = (plus - minus) / (2 * h)
    return grad


def assert_close(analytic, num, what):
    rel = np.abs(analytic - num).max() / max(np.abs(analytic).max() + np.abs(num).max(), 1e-12)
    assert rel < 1e-6, f"{what}: relative error {rel:.2e}"


def check_layer(layer, x, **forward_kw):
    """L = sum(R * layer(x)) for a fixed random R: dL/dx and dL/dparams against differences."""
    y, ctx = layer.forward(x, train=True, **forward_kw)
    R = np.random.default_rng(9).standard_normal(y.shape)
    loss = lambda: float((layer.forward(x, train=True, **forward_kw)[0] * R).sum())  # noqa: E731
    grads = [np.empty_like(p) for p in layer.params]
    dx = layer.backward(R.copy(), ctx, grads, need_dx=True)
    assert dx.shape == x.shape
    assert_close(dx, numeric(loss, x), f"{layer!r} dX")
    for k, (p, g) in enumerate(zip(layer.params, grads)):
        assert_close(g, numeric(loss, p), f"{layer!r} param {k}")


CONV_CASES = [  # (in_shape (H, W, C), filters, kernel, stride, padding)
    ((5, 5, 1), 2, 3, 1, 0),          # one input channel: the transposed im2col path
    ((6, 6, 2), 3, 3, 1, 1),
    ((7, 7, 2), 2, 3, 2, 0),          # stride 2 leaves the last column unread
    ((6, 5, 3), 2, 3, 2, 1),
    ((5, 5, 1), 2, (3, 2), 1, 2),     # rectangular kernel, padding wider than 1
    ((8, 8, 2), 3, 2, 2, 0),          # stride = kernel (non-overlapping windows)
    ((4, 4, 2), 2, 1, 1, 0),          # 1x1 convolution
]


@pytest.mark.parametrize("in_shape,filters,kernel,stride,padding", CONV_CASES)
def test_conv_gradients(in_shape, filters, kernel, stride, padding):
    layer = build(Conv2D(filters, kernel, stride, padding), in_shape)
    x = np.random.default_rng(2).standard_normal((2, *in_shape))
    check_layer(layer, x)


def test_conv_first_layer_skips_the_input_gradient():
    layer = build(Conv2D(2, 3), (5, 5, 1))
    x = np.random.default_rng(2).standard_normal((2, 5, 5, 1))
    y, ctx = layer.forward(x, train=True)
    grads = [np.empty_like(p) for p in layer.params]
    assert layer.backward(np.ones_like(y), ctx, grads, need_dx=False) is None
    assert np.abs(grads[0]).sum() > 0


def direct_conv(x_nchw, W, b, stride, padding):
    """The definition, one output pixel at a time: Y[n, f, i, j] = b[f] + sum W[f] * window."""
    n, C, H, Wd = x_nchw.shape
    F, _, kh, kw = W.shape
    xp = np.pad(x_nchw, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    Ho, Wo = (H + 2 * padding - kh) // stride + 1, (Wd + 2 * padding - kw) // stride + 1
    out = np.zeros((n, F, Ho, Wo))
    for i in range(Ho):
        for j in range(Wo):
            window = xp[:, :, i * stride:i * stride + kh, j * stride:j * stride + kw]
            out[:, :, i, j] = np.einsum("nchw,fchw->nf", window, W) + b
    return out


@pytest.mark.parametrize("in_shape,filters,kernel,stride,padding", CONV_CASES)
def test_conv_forward_is_cross_correlation_with_pytorch_weight_layout(in_shape, filters, kernel,
                                                                      stride, padding):
    layer = build(Conv2D(filters, kernel, stride, padding), in_shape)
    W, b = layer.params
    assert W.shape == (filters, in_shape[2], *((kernel, kernel) if isinstance(kernel, int) else kernel))
    assert b.shape == (filters,)
    x = np.random.default_rng(3).standard_normal((3, *in_shape))
    y, _ = layer.forward(x)
    expected = direct_conv(x.transpose(0, 3, 1, 2), W, b, stride, padding)
    np.testing.assert_allclose(y.transpose(0, 3, 1, 2), expected, rtol=1e-10, atol=1e-12)


def test_conv_and_flatten_match_pytorch():
    torch = pytest.importorskip("torch")
    conv = build(Conv2D(4, 3, stride=2, padding=1), (9, 9, 3))
    x = np.random.default_rng(4).standard_normal((2, 9, 9, 3))
    y, _ = conv.forward(x)
    flat, _ = Flatten().forward(y)
    ref = torch.nn.functional.conv2d(torch.from_numpy(x.transpose(0, 3, 1, 2).copy()),
                                     torch.from_numpy(conv.params[0]), torch.from_numpy(conv.params[1]),
                                     stride=2, padding=1)
    np.testing.assert_allclose(flat, torch.flatten(ref, 1).numpy(), rtol=1e-10, atol=1e-12)


POOL_CASES = [((4, 4, 2), 2, 2), ((5, 5, 2), 2, 2), ((5, 6, 1), 3, 2), ((6, 6, 2), 3, 3),
              ((5, 5, 1), 2, 1)]


@pytest.mark.parametrize("in_shape,size,stride", POOL_CASES)
def test_maxpool_gradients(in_shape, size, stride):
    layer = MaxPool2D(size, stride)
    x = spread((2, *in_shape), np.random.default_rng(5))
    check_layer(layer, x)


@pytest.mark.parametrize("in_shape,size,stride", POOL_CASES)
def test_maxpool_forward_is_the_window_maximum(in_shape, size, stride):
    x = np.random.default_rng(6).standard_normal((2, *in_shape))
    y, _ = MaxPool2D(size, stride).forward(x)
    Ho, Wo, _ = MaxPool2D(size, stride).output_shape(in_shape)
    assert y.shape == (2, Ho, Wo, in_shape[2])
    for i in range(Ho):
        for j in range(Wo):
            window = x[:, i * stride:i * stride + size, j * stride:j * stride + size]
            np.testing.assert_array_equal(y[:, i, j], window.max(axis=(1, 2)))


def test_dense_gradients():
    layer = build(Dense(3), (4,))
    check_layer(layer, np.random.default_rng(7).standard_normal((5, 4)))


@pytest.mark.parametrize("cls", [ReLU, Tanh, Sigmoid])
def test_activation_gradients(cls):
    x = spread((3, 2, 2, 3), np.random.default_rng(8))   # images too: activations are shape-free
    check_layer(cls(), x)


def test_flatten_gradient_and_order():
    x = np.random.default_rng(10).standard_normal((2, 3, 4, 5))      # (n, H, W, C)
    y, _ = Flatten().forward(x)
    np.testing.assert_array_equal(y, x.transpose(0, 3, 1, 2).reshape(2, -1))   # (c, h, w) order
    check_layer(Flatten(), x)


def test_dropout_gradient_with_a_fixed_mask():
    layer = Dropout(0.4)
    x = np.random.default_rng(11).standard_normal((4, 6))
    mask_rng = lambda: np.random.default_rng(0)   # noqa: E731  the same mask in every forward
    y, keep = layer.forward(x, train=True, rng=mask_rng())
    assert set(np.unique(keep)) == {0.0, np.float64(1 / 0.6)}
    R = np.random.default_rng(9).standard_normal(y.shape)
    loss = lambda: float((layer.forward(x, train=True, rng=mask_rng())[0] * R).sum())  # noqa: E731
    dx = layer.backward(R.copy(), keep, [], need_dx=True)
    assert_close(dx, numeric(loss, x), "dropout dX")


def test_dropout_is_the_identity_at_inference():
    x = np.random.default_rng(12).standard_normal((4, 6))
    y, _ = Dropout(0.5).forward(x, train=False)
    np.testing.assert_array_equal(y, x)


def small_network(dropout=False):
    layers = [Conv2D(2, 3, padding=1), MaxPool2D(2), ReLU(), Conv2D(3, 2, stride=2), Tanh(),
              Flatten(), Dense(4), Sigmoid(), *([Dropout(0.3)] if dropout else []), Dense(3)]
    net = Sequential(layers, input_shape=(1, 8, 8), seed=1, dtype="float64", init="xavier")
    rng = np.random.default_rng(13)
    for p in net.params[1::2]:
        p[:] = rng.standard_normal(p.shape) * 0.1
    return net


def test_whole_network_gradients():
    net = small_network()
    rng = np.random.default_rng(14)
    X = rng.standard_normal((5, 64))
    y = rng.integers(0, 3, 5)
    loss, grads = net.loss_and_grads(X, y)
    assert loss == pytest.approx(net.loss(X, y), rel=1e-12)
    for k, (p, g) in enumerate(zip(net.params, grads)):
        assert_close(g, numeric(lambda: net.loss(X, y), p), f"network param {k} {p.shape}")
