"""Layers as objects, each with ``forward`` and ``backward`` side by side.

Images travel between layers channels-last, ``(n, height, width, channels)``: a convolution is then
one matrix product whose output rows are already the next layer's pixels, and the im2col copy reads
whole channel runs. Shapes given to and returned by ``output_shape`` are per sample, ``(H, W, C)``
for images and ``(features,)`` after ``Flatten``. Parameters follow PyTorch where it has a
convention: a convolution's weights are ``(out_channels, in_channels, kh, kw)`` and its biases
``(out_channels,)``; ``Flatten`` orders features (channel, row, column) as ``torch.nn.Flatten``
does on NCHW tensors. ``Dense`` has ``(fan_in, fan_out)`` weights: ``nn.MLP`` is a stack of them.
Parameters are drawn by ``nn.core.init``, activations computed by ``nn.core.activations``.

The contract, for every layer:

- ``forward(x, train) -> (y, ctx)``: ``ctx`` holds what ``backward`` needs (``None`` unless
  ``train``); the layer itself keeps no per-batch state, so inference may run while training does.
- ``backward(dy, ctx, grads, need_dx) -> dx``: writes dLoss/dparam into ``grads`` (arrays shaped
  like ``params``) and returns dLoss/dx (``None`` when ``need_dx`` is false: the first layer).
  ``dy`` may be overwritten: the caller never reuses it.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import as_strided, sliding_window_view

from nn.core.activations import ACTIVATIONS
from nn.core.init import layer_params
from nn.core.row_blocks import blocked_matmul, blocked_t_matmul

Array = np.ndarray
Shape = tuple[int, ...]


_ONES: dict[tuple[int, str], Array] = {}      # (rows, dtype.char): a vector of ones


def _column_sums(dY: Array, out: Array) -> Array:
    """out = 1^T dY, the sum over rows, through BLAS (several times faster than ``sum(axis=0)``
    on tall, narrow arrays)."""
    key = (len(dY), dY.dtype.char)
    ones = _ONES.get(key)                      # (worker threads share the cache: no KeyError race)
    if ones is None:
        if len(_ONES) > 16:
            _ONES.clear()
        ones = _ONES[key] = np.ones(dY.shape[0], dY.dtype)
    return np.matmul(ones, dY, out=out)


def _long_product(AT: Array, B: Array, block: int = 1024) -> Array:
    """AT @ B for a short, wide AT (m, K) and tall B (K, n) with K in the tens of thousands:
    the sum of the products of ``block``-row slabs, one batched NumPy matmul. Measured with
    mnist-cnn's first conv (27 x 36864 by 36864 x 16): 0.38 ms against 0.51 ms as one product,
    which moreover runs one thread at a time (the other worker waits: 1.02 ms for two), while
    the batched one runs on both cores at once."""
    m, K = AT.shape
    nb = K // block
    if nb < 2:
        return AT @ B
    head = nb * block
    out = (AT[:, :head].reshape(m, nb, block).transpose(1, 0, 2) @ B[:head].reshape(nb, block, -1)).sum(axis=0)
    if head < K:
        out += AT[:, head:] @ B[head:]
    return out


class Layer:
    """A layer without parameters unless a subclass gives it some (see ``build``). ``params`` are
    trained; ``buffers`` (BatchNorm's running statistics) are saved with them but not trained.
    A model file names each array ``layer{K}_{name}`` after ``param_names`` / ``buffer_names``."""
    kind = "layer"
    param_names: tuple[str, ...] = ("W", "b")
    buffer_names: tuple[str, ...] = ()

    def __init__(self) -> None:
        self.params: list[Array] = []
        self.buffers: list[Array] = []

    def output_shape(self, in_shape: Shape) -> Shape:
        return in_shape

    def param_shapes(self, in_shape: Shape) -> list[Shape]:
        """The parameters' shapes for this input shape, without allocating them."""
        return []

    def buffer_shapes(self, in_shape: Shape) -> list[Shape]:
        """The buffers' shapes for this input shape, without allocating them."""
        return []

    def build(self, in_shape: Shape, rng: np.random.Generator, dtype: np.dtype, init: str = "he") -> None:
        """Allocate and initialise the parameters (drawn in float64, then cast)."""
        self.params = []

    def spec(self) -> dict[str, Any]:
        """The layer as a JSON-able dict (``nn.core.arch.layer_from_spec`` reads it back)."""
        return {"type": self.kind}

    def forward(self, x: Array, train: bool = False) -> tuple[Array, Any]:
        raise NotImplementedError

    def backward(self, dy: Array, ctx: Any, grads: list[Array], need_dx: bool = True) -> Array | None:
        raise NotImplementedError

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.spec().items() if k != "type")
        return f"{type(self).__name__}({args})"


class Dense(Layer):
    """y = x W + b, with W of shape (fan_in, fan_out). With ``out`` (``forward``: the output's,
    ``backward``: dX's), the result is written into that array: ``nn.MLP``'s buffers."""
    kind = "dense"

    def __init__(self, units: int) -> None:
        super().__init__()
        self.units = int(units)

    def output_shape(self, in_shape: Shape) -> Shape:
        if len(in_shape) != 1:
            raise ValueError(f"dense takes flat inputs; got per-sample shape {in_shape} (add a Flatten)")
        return (self.units,)

    def param_shapes(self, in_shape: Shape) -> list[Shape]:
        return [(in_shape[0], self.units), (self.units,)]

    def build(self, in_shape, rng, dtype, init="he"):
        fan_in = in_shape[0]
        self.params = layer_params(rng, init, (fan_in, self.units), fan_in, self.units, self.units, dtype)

    def spec(self):
        return {"type": self.kind, "units": self.units}

    def forward(self, x, train=False, out=None, rows=None):
        """``rows``: the product in blocks of that many rows (``nn.core.row_blocks``)."""
        W, b = self.params
        if rows is None:
            y = np.matmul(x, W, out=out)             # Y = X W + b
        else:
            y = blocked_matmul(x, W, np.empty((len(x), self.units), W.dtype) if out is None else out, rows)
        y += b
        return y, (x if train else None)

    def backward(self, dy, ctx, grads, need_dx=True, out=None, rows=None):
        W = self.params[0]
        if rows is None:
            np.matmul(ctx.T, dy, out=grads[0])       # dW = X^T dY
        else:
            blocked_t_matmul(ctx, dy, grads[0], rows)   # dW = sum_b X_b^T dY_b
        _column_sums(dy, grads[1])                   # db = 1^T dY
        return np.matmul(dy, W.T, out=out) if need_dx else None    # dX = dY W^T


class Conv2D(Layer):
    """2-D convolution (cross-correlation, as in PyTorch) with stride and zero padding.

    Y[n, y, x, f] = b[f] + sum_{c,i,j} W[f, c, i, j] Xp[n, s y + i, s x + j, c], Xp the padded input.
    Computed as one matrix product: Y = cols(X) Wm^T + b, where each row of cols(X) is one output
    pixel's receptive field, ordered (i, j, c), and Wm is W in the same order.
    """
    kind = "conv2d"

    def __init__(self, filters: int, kernel_size: int | tuple[int, int], stride: int = 1,
                 padding: int = 0) -> None:
        super().__init__()
        kh, kw = (kernel_size, kernel_size) if isinstance(kernel_size, (int, np.integer)) else kernel_size
        self.filters, self.kernel = int(filters), (int(kh), int(kw))
        self.stride, self.padding = int(stride), int(padding)

    def output_shape(self, in_shape: Shape) -> Shape:
        if len(in_shape) != 3:
            raise ValueError(f"conv takes images; got per-sample shape {in_shape}")
        H, W, _ = in_shape
        (kh, kw), s, p = self.kernel, self.stride, self.padding
        Ho, Wo = (H + 2 * p - kh) // s + 1, (W + 2 * p - kw) // s + 1
        if Ho < 1 or Wo < 1:
            raise ValueError(f"a {kh}x{kw} kernel (padding {p}) does not fit a {H}x{W} image")
        return (Ho, Wo, self.filters)

    def param_shapes(self, in_shape: Shape) -> list[Shape]:
        return [(self.filters, in_shape[2], *self.kernel), (self.filters,)]

    def build(self, in_shape, rng, dtype, init="he"):
        shape = self.param_shapes(in_shape)[0]
        fan_in, fan_out = shape[1] * shape[2] * shape[3], shape[0] * shape[2] * shape[3]
        self.params = layer_params(rng, init, shape, fan_in, fan_out, self.filters, dtype)

    def spec(self):
        return {"type": self.kind, "filters": self.filters, "kernel": list(self.kernel),
                "stride": self.stride, "padding": self.padding}

    def _weight_matrix(self) -> Array:
        W = self.params[0]                           # (F, C, kh, kw) -> (F, kh * kw * C)
        return W.transpose(0, 2, 3, 1).reshape(W.shape[0], -1)

    def _im2col(self, x: Array, pool: int = 1) -> tuple[Array, Shape]:
        """cols(X): (n Ho Wo, kh kw C), one row per output pixel. With one input channel it is
        built as the transpose of a (kh kw, n Ho Wo) array: one long copy per kernel offset,
        3x faster than gathering 5-float runs. With ``pool`` = k > 1 (k dividing Ho and Wo) the
        rows are ordered pool-offset-major, (di, dj, n, Ho / k, Wo / k): output pixel
        (k yq + di, k xq + dj) of sample n, so a following k x k pool reads k k contiguous slabs."""
        n, H, W, C = x.shape
        (kh, kw), s, p = self.kernel, self.stride, self.padding
        if p:
            xp = np.zeros((n, H + 2 * p, W + 2 * p, C), x.dtype)
            xp[:, p:p + H, p:p + W] = x
        else:
            xp = x
        Ho, Wo = (H + 2 * p - kh) // s + 1, (W + 2 * p - kw) // s + 1
        if C == 1 and pool > 1 and s == 1:
            return self._im2col_pooled_1ch(xp, pool, Ho, Wo), (n, Ho, Wo)
        if C == 1 and pool > 1:
            k, Hq, Wq = pool, Ho // pool, Wo // pool
            colsT = np.empty((kh, kw, k, k, n, Hq, Wq), x.dtype)
            for i in range(kh):
                for j in range(kw):
                    for di in range(k):
                        for dj in range(k):
                            r0, c0 = i + s * di, j + s * dj
                            colsT[i, j, di, dj] = xp[:, r0:r0 + s * k * (Hq - 1) + 1:s * k,
                                                     c0:c0 + s * k * (Wq - 1) + 1:s * k, 0]
            return colsT.reshape(kh * kw, -1).T, (n, Ho, Wo)
        if C == 1:
            colsT = np.empty((kh, kw, n, Ho, Wo), x.dtype)
            for i in range(kh):
                for j in range(kw):
                    colsT[i, j] = xp[:, i:i + s * (Ho - 1) + 1:s, j:j + s * (Wo - 1) + 1:s, 0]
            return colsT.reshape(kh * kw, -1).T, (n, Ho, Wo)
        win = sliding_window_view(xp, (kh, kw), axis=(1, 2))[:, ::s, ::s]   # (n, Ho, Wo, C, kh, kw)
        if pool > 1:
            k = pool
            win = win.reshape(n, Ho // k, k, Wo // k, k, C, kh, kw).transpose(2, 4, 0, 1, 3, 6, 7, 5)
        else:
            win = win.transpose(0, 1, 2, 4, 5, 3)
        cols = win.reshape(n * Ho * Wo, kh * kw * C)                      # the one copy
        return cols, (n, Ho, Wo)

    def _im2col_pooled_1ch(self, xp: Array, k: int, Ho: int, Wo: int, ones: bool = False) -> Array:
        """Pool-major cols of a padded one-channel input, stride 1. Row y = k yq + di + i of xp
        depends on (i, di) only through a = i + di, so the (kh + k - 1)(kw + k - 1) distinct
        blocks T[a, b] = xp[:, a + k yq, b + k xq] are gathered once, then copied as whole
        blocks into place: 0.41 against 0.69 ms for 100 strided copies (mnist-cnn, 64 images).
        With ``ones``, a last column of ones carries the bias through the products."""
        (kh, kw), n = self.kernel, len(xp)
        Hq, Wq = Ho // k, Wo // k
        ns, rs, cs, _ = xp.strides
        T = np.empty((kh + k - 1, kw + k - 1, n, Hq, Wq), xp.dtype)
        np.copyto(T, as_strided(xp, T.shape, (rs, cs, ns, k * rs, k * cs), writeable=False))
        t0, t1 = T.strides[:2]
        colsT = np.empty((kh * kw + ones, k * k * n * Hq * Wq), xp.dtype)
        if ones:
            colsT[-1] = 1
        view = colsT[:kh * kw].reshape(kh, kw, k, k, n, Hq, Wq)
        np.copyto(view, as_strided(T, view.shape, (t0, t1, t0, t1) + T.strides[2:], writeable=False))
        return colsT.T

    def forward(self, x, train=False):
        cols, (n, Ho, Wo) = self._im2col(x)
        y = cols @ self._weight_matrix().T           # Y = cols(X) Wm^T + b
        y += self.params[1]
        return y.reshape(n, Ho, Wo, self.filters), ((cols, x.shape) if train else None)

    def backward(self, dy, ctx, grads, need_dx=True):
        cols, x_shape = ctx
        F, C, kh, kw = self.params[0].shape
        dY = dy.reshape(-1, F)
        dWm = dY.T @ cols                            # dWm = dY^T cols(X)
        np.copyto(grads[0], dWm.reshape(F, kh, kw, C).transpose(0, 3, 1, 2))
        _column_sums(dY, grads[1])                   # db = 1^T dY
        if not need_dx:
            return None
        return self._col2im(dY, x_shape)            # dX = col2im(dY Wm)

    def forward_pooled(self, x: Array, pool: "MaxPool2D") -> tuple[Array, Any]:
        """Training forward of this convolution followed by ``pool`` (``pool.fuses`` true for
        this layer's output): the same values as ``pool.forward(self.forward(x))``, with the
        convolution's rows computed pool-offset-major so the pool's max and its mask run over
        k k contiguous slabs (pool forward 0.65 -> 0.26 ms, mnist-cnn's first conv, 64 images)."""
        k, (n, H, W, C), p = pool.size, x.shape, self.padding
        (kh, kw), Wm, b = self.kernel, self._weight_matrix(), self.params[1]
        if C == 1 and self.stride == 1 and not p:    # bias as a column of ones: no pass for it
            Ho, Wo = H - kh + 1, W - kw + 1
            cols = self._im2col_pooled_1ch(x, k, Ho, Wo, ones=True)
            z = cols @ np.concatenate([Wm, b[:, None]], axis=1).T   # Z = [cols 1] [Wm b]^T
        else:
            cols, (n, Ho, Wo) = self._im2col(x, pool=k)
            z = cols @ Wm.T                          # Z = cols(X) Wm^T + b, rows (di, dj, n, yq, xq)
            z += b
        z = z.reshape(k * k, n, Ho // k, Wo // k, self.filters)
        y = np.maximum(z[0], z[1]) if k * k > 1 else z[0].copy()
        for t in range(2, k * k):
            np.maximum(y, z[t], out=y)               # Y = max over each k x k tile
        mask = np.empty(z.shape, bool)               # the tile's first maximum (MaxPool2D's rule)
        _first_max_mask(list(z), y, list(mask))
        return y, (cols, x.shape, mask)

    def backward_pooled(self, dy: Array, ctx: Any, grads: list[Array], need_dx: bool = True) -> Array | None:
        """Backward of ``forward_pooled``: dZ = mask * dY per tile, then the convolution's
        (dW and db do not depend on the rows' order; col2im takes them back in (n, Ho, Wo))."""
        cols, x_shape, mask = ctx
        kk, n, Hq, Wq, F = mask.shape
        dZ = np.multiply(mask, dy)                   # (k k, n, Ho / k, Wo / k, F)
        if cols.shape[1] == math.prod(self.kernel) * x_shape[3] + 1:   # [dWm db]^T = [cols 1]^T dZ
            # (cols is the transpose of a contiguous array: in this order the products are
            # BLAS's; dZ^T cols was 2x slower and did not run on both cores at once)
            dWbT = _long_product(cols.T, dZ.reshape(-1, F))
            np.copyto(grads[0], dWbT[:-1].T.reshape(F, *self.kernel, x_shape[3]).transpose(0, 3, 1, 2))
            np.copyto(grads[1], dWbT[-1])
        else:
            self.backward(dZ.reshape(-1, F), (cols, x_shape), grads, need_dx=False)
        if not need_dx:
            return None
        k = math.isqrt(kk)
        dZ = dZ.reshape(k, k, n, Hq, Wq, F).transpose(2, 3, 0, 4, 1, 5)
        return self._col2im(np.ascontiguousarray(dZ).reshape(-1, F), x_shape)

    def _col2im(self, dY: Array, x_shape: Shape) -> Array:
        """dX = col2im(dY Wm): for each kernel offset (i, j), the block dY W[:, :, i, j] of dcols
        (one small product) is added onto the pixels its windows read, all samples at once.
        The gradient is accumulated spatial-major, (H, W, n, C), with dY's rows reordered
        (Ho, Wo, n) to match, so each offset's add runs over whole rows of n C floats instead of
        C-float runs: 1.8 against 2.4 ms for the mnist-cnn preset's second conv, 64 images."""
        n, H, W, C = x_shape
        F = dY.shape[1]
        (kh, kw), s, p = self.kernel, self.stride, self.padding
        Ho, Wo = (H + 2 * p - kh) // s + 1, (W + 2 * p - kw) // s + 1
        dYt = np.ascontiguousarray(dY.reshape(n, Ho * Wo, F).transpose(1, 0, 2)).reshape(-1, F)
        Wt = np.ascontiguousarray(self.params[0].transpose(2, 3, 0, 1))    # (kh, kw, F, C)
        dxt = np.zeros((H + 2 * p, W + 2 * p, n, C), dY.dtype)
        block = np.empty((len(dY), C), dY.dtype)
        block4 = block.reshape(Ho, Wo, n, C)
        for i in range(kh):
            for j in range(kw):
                np.matmul(dYt, Wt[i, j], out=block)                  # (Ho Wo n, C)
                dxt[i:i + s * (Ho - 1) + 1:s, j:j + s * (Wo - 1) + 1:s] += block4
        return np.ascontiguousarray(dxt[p:p + H, p:p + W].transpose(2, 0, 1, 3))


def _first_max_mask(parts: list[Array], y: Array, out: list[Array]) -> None:
    """out[t] = [parts[t] == y] and [no earlier part == y], where ``parts`` are a window's
    positions in row-major order and ``y`` their maximum: each window marks exactly one position,
    its first maximum, so dX = mask * dY sends dY once even when values tie."""
    np.equal(parts[0], y, out=out[0])
    taken = out[0].copy()                            # windows whose maximum is already marked
    for t in range(1, len(parts)):
        np.equal(parts[t], y, out=out[t])
        np.greater(out[t], taken, out=out[t])        # a > b on booleans is a and not b
        if t < len(parts) - 1:
            np.logical_or(taken, out[t], out=taken)


class MaxPool2D(Layer):
    """Max over size x size windows every ``stride`` pixels (default: stride = size).

    Backward: dX = dY at the window's first maximum (row-major order within the window) and 0
    elsewhere, as PyTorch does. On an exact tie (a flat background, padding, saturated strokes)
    only the first tied position gets dY: the max is then not differentiable, and sending dY to
    every tied position would count it several times. ``Conv2D.forward_pooled`` keeps the same rule.
    """
    kind = "maxpool2d"

    def __init__(self, size: int = 2, stride: int | None = None) -> None:
        super().__init__()
        self.size = int(size)
        self.stride = self.size if stride is None else int(stride)

    def output_shape(self, in_shape: Shape) -> Shape:
        if len(in_shape) != 3:
            raise ValueError(f"pool takes images; got per-sample shape {in_shape}")
        H, W, C = in_shape
        k, s = self.size, self.stride
        if H < k or W < k:
            raise ValueError(f"a {k}x{k} pool does not fit a {H}x{W} image")
        return ((H - k) // s + 1, (W - k) // s + 1, C)

    def fuses(self, in_shape: Shape) -> bool:
        """Whether a convolution with per-sample output ``in_shape`` may run this pool fused
        (``Conv2D.forward_pooled``): non-overlapping tiles that cover the image exactly."""
        k = self.size
        return self.stride == k and in_shape[0] % k == 0 and in_shape[1] % k == 0

    def spec(self):
        return {"type": self.kind, "size": self.size, "stride": self.stride}

    def forward(self, x, train=False):
        n, H, W, C = x.shape
        k, s = self.size, self.stride
        Ho, Wo, _ = self.output_shape((H, W, C))
        if k == s:                                   # tiles: a reshape, no window copy
            tiles = x[:, :Ho * k, :Wo * k].reshape(n, Ho, k, Wo, k, C)
            rows = tiles[:, :, 0]                    # Y = max over each tile: first over its
            for r in range(1, k):                    # rows, then its columns (4x faster than
                rows = np.maximum(rows, tiles[:, :, r])   # max(axis=(2, 4)))
            y = rows[:, :, :, 0]
            for c in range(1, k):
                y = np.maximum(y, rows[:, :, :, c])
            if not train:
                return y, None
            mask = np.empty(tiles.shape, bool)
            offsets = [(r, c) for r in range(k) for c in range(k)]
            _first_max_mask([tiles[:, :, r, :, c] for r, c in offsets], y,
                            [mask[:, :, r, :, c] for r, c in offsets])
            return y, (mask, x.shape)
        win = sliding_window_view(x, (k, k), axis=(1, 2))[:, ::s, ::s]     # (n, Ho, Wo, C, k, k)
        flat = win.reshape(n, Ho, Wo, C, k * k)
        arg = flat.argmax(axis=4)
        y = np.take_along_axis(flat, arg[..., None], axis=4)[..., 0]
        return y, ((arg, x.shape) if train else None)

    def backward(self, dy, ctx, grads, need_dx=True):
        if not need_dx:
            return None
        where, x_shape = ctx
        n, H, W, C = x_shape
        k, s = self.size, self.stride
        Ho, Wo = dy.shape[1], dy.shape[2]
        dx = np.zeros(x_shape, dy.dtype) if (k != s or (Ho * k, Wo * k) != (H, W)) else None
        if k == s:                                   # dX = mask * dY, broadcast over each tile
            tiles = np.multiply(where, dy[:, :, None, :, None])
            if (Ho * k, Wo * k) == (H, W):
                return tiles.reshape(x_shape)
            dx[:, :Ho * k, :Wo * k] = tiles.reshape(n, Ho * k, Wo * k, C)
            return dx
        for i in range(k):                           # one strided add per window offset (i, j)
            for j in range(k):
                hit = where == i * k + j
                dx[:, i:i + s * (Ho - 1) + 1:s, j:j + s * (Wo - 1) + 1:s] += dy * hit
        return dx


class Flatten(Layer):
    """(n, H, W, C) -> (n, C * H * W), ordered as ``torch.nn.Flatten`` orders an NCHW tensor."""
    kind = "flatten"

    def output_shape(self, in_shape: Shape) -> Shape:
        return (math.prod(in_shape),)

    def forward(self, x, train=False):
        if x.ndim == 2:                              # already flat
            return x, (x.shape if train else None)
        y = np.ascontiguousarray(x.transpose(0, 3, 1, 2)).reshape(len(x), -1)  # Y = X in (c, h, w) order
        return y, (x.shape if train else None)

    def backward(self, dy, ctx, grads, need_dx=True):
        if not need_dx:
            return None
        if len(ctx) == 2:
            return dy
        n, H, W, C = ctx                             # dX = dY, back in (h, w, c) order
        return dy.reshape(n, C, H, W).transpose(0, 2, 3, 1)


class _ActivationLayer(Layer):
    """A = f(Z) elementwise, f the activation of ``nn.core.activations`` named by ``kind``."""

    def forward(self, x, train=False):
        y = ACTIVATIONS[self.kind].forward(x, np.empty_like(x))
        return y, (y if train else None)

    def backward(self, dy, ctx, grads, need_dx=True):
        return ACTIVATIONS[self.kind].backward(dy, ctx, ctx, dy)   # dZ = dA * f'(Z), from A (kept as Z)


class ReLU(_ActivationLayer):
    kind = "relu"


class Tanh(_ActivationLayer):
    kind = "tanh"


class Sigmoid(_ActivationLayer):
    kind = "sigmoid"


class Dropout(Layer):
    """Inverted dropout: in training each value is zeroed with probability ``rate`` and the rest
    scaled by 1 / (1 - rate), so inference is the identity. ``Sequential`` passes each pass its
    own ``rng`` (seeded by step and chunk), so a run is reproducible whatever the threads' timing."""
    kind = "dropout"

    def __init__(self, rate: float = 0.5) -> None:
        super().__init__()
        self.rate = float(rate)
        self.rng = np.random.default_rng(0)         # used only when no rng is passed

    def spec(self):
        return {"type": self.kind, "rate": self.rate}

    def forward(self, x, train=False, rng: np.random.Generator | None = None):
        if not train or self.rate == 0:
            return x, None
        rng = self.rng if rng is None else rng
        keep = (rng.random(x.shape, dtype=np.float32) >= self.rate).astype(x.dtype)
        keep *= 1.0 / (1.0 - self.rate)
        return x * keep, keep                        # Y = X * M / (1 - rate)

    def backward(self, dy, ctx, grads, need_dx=True):
        if ctx is None:
            return dy
        dy *= ctx                                    # dX = dY * M / (1 - rate)
        return dy


class BatchNorm(Layer):
    """Batch normalisation (Ioffe and Szegedy, 2015) of each channel: the last axis, so the
    features of a dense layer's output or the channels of an image, normalised over every other
    axis (rows, and pixels for images).

    Training: y = gamma xhat + beta, xhat = (x - mu) / sqrt(var + eps), with the mean ``mu`` and
    biased variance ``var`` of this pass's rows. Inference: the same with the running averages
    (``buffers``: mean, var), updated once per step by ``update_running``. ``Sequential`` runs a
    batch in chunks on its worker threads: each chunk is normalised by its own statistics ("ghost
    batch norm", as PyTorch's DataParallel without SyncBatchNorm), and the running averages take
    the whole batch's.
    """
    kind = "batchnorm"
    param_names = ("gamma", "beta")
    buffer_names = ("mean", "var")
    MOMENTUM = 0.1                                   # PyTorch's defaults
    EPS = 1e-5

    def param_shapes(self, in_shape: Shape) -> list[Shape]:
        return [(in_shape[-1],), (in_shape[-1],)]

    def buffer_shapes(self, in_shape: Shape) -> list[Shape]:
        return [(in_shape[-1],), (in_shape[-1],)]

    def build(self, in_shape, rng, dtype, init="he"):
        C = in_shape[-1]
        self.params = [np.ones(C, dtype), np.zeros(C, dtype)]          # gamma = 1, beta = 0
        self.buffers = [np.zeros(C, dtype), np.ones(C, dtype)]         # running mean 0, var 1

    def forward(self, x, train=False):
        gamma, beta = self.params
        C = x.shape[-1]
        if not train:                                # Y = (X - mean) gamma / sqrt(var + eps) + beta
            mean, var = self.buffers
            scale = gamma / np.sqrt(var + self.EPS)
            return x * scale + (beta - mean * scale), None
        x2 = x.reshape(-1, C)
        m = len(x2)
        mu = _column_sums(x2, np.empty(C, x.dtype)) / m               # mu = 1^T X / m
        xhat = x2 - mu
        var = _column_sums(xhat * xhat, np.empty(C, x.dtype)) / m     # var = 1^T (X - mu)^2 / m
        inv = 1.0 / np.sqrt(var + self.EPS)
        xhat *= inv                                  # xhat = (X - mu) / sqrt(var + eps)
        y = xhat * gamma
        y += beta                                    # Y = gamma xhat + beta
        return y.reshape(x.shape), (xhat, inv, mu, var)

    def backward(self, dy, ctx, grads, need_dx=True):
        xhat, inv, _, _ = ctx
        gamma = self.params[0]
        dY = dy.reshape(xhat.shape)
        m = len(dY)
        _column_sums(dY * xhat, grads[0])            # dgamma = 1^T (dY * xhat)
        _column_sums(dY, grads[1])                   # dbeta = 1^T dY
        if not need_dx:
            return None
        # dX = gamma / (m sqrt(var + eps)) (m dY - 1^T dY - xhat * (1^T (dY * xhat)))
        dx = dY * m
        dx -= grads[1]
        dx -= xhat * grads[0]
        dx *= gamma * inv / m
        return dx.reshape(dy.shape)

    @staticmethod
    def batch_stats(ctx: Any) -> tuple[int, Array, Array]:
        """(rows, mean, biased variance) of a training pass, from its ``ctx``."""
        xhat, _, mu, var = ctx
        return len(xhat), mu, var

    def update_running(self, parts: list[tuple[int, Array, Array]]) -> None:
        """r <- (1 - momentum) r + momentum b (PyTorch's rule), b the step's batch mean and
        unbiased variance. ``parts`` are the (rows, mean, variance) of the chunks of one batch,
        merged exactly: mu = sum n_k mu_k / m, var = sum n_k (var_k + (mu_k - mu)^2) / m."""
        m = sum(n for n, _, _ in parts)
        mu = sum(n * mu_k.astype(np.float64) for n, mu_k, _ in parts) / m
        var = sum(n * (v.astype(np.float64) + (mu_k - mu) ** 2) for n, mu_k, v in parts) / m
        unbiased = var * m / max(m - 1, 1)
        mean, running_var = self.buffers
        mean *= 1 - self.MOMENTUM
        mean += (self.MOMENTUM * mu).astype(mean.dtype)
        running_var *= 1 - self.MOMENTUM
        running_var += (self.MOMENTUM * unbiased).astype(running_var.dtype)


ACTIVATION_LAYERS: dict[str, type[Layer]] = {"relu": ReLU, "tanh": Tanh, "sigmoid": Sigmoid}
LAYER_TYPES: dict[str, type[Layer]] = {
    cls.kind: cls for cls in (Dense, Conv2D, MaxPool2D, Flatten, ReLU, Tanh, Sigmoid, Dropout, BatchNorm)}
