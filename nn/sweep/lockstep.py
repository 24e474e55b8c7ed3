"""Many small networks trained in lockstep, as one batched array computation.

A ``Lockstep`` holds S x K networks: S *streams* (one per seed: a stream has its own initial
weights and its own minibatch order) times K *networks* per stream that differ in hidden width
or learning rate. Every network of a stream sees the same minibatch (``Trainer`` shuffles with
``default_rng([seed, 1])`` whatever the network), so the hidden layers of the K networks are
concatenated side by side into one wide layer, and a step of all S x K networks is about twenty
NumPy calls on (S, batch, units) arrays instead of about twenty calls per network:

    Z1 = [X 1] [W1; b1]                (S, b, H)     H = all K hidden layers, one matmul
    A1 = f(Z1)
    Z2[k] = sum_{u in k} A1[u] W2[u]   (S, b, C, K)  products, then np.add.reduceat per network

Biases ride along as weights: the inputs get a column of ones, and each network's last hidden
layer gets one extra *bias unit* whose activation is always 1 and whose outgoing weights are the
output biases (its incoming weights have learning rate 0, so it stays 1). Deeper networks (two
or more hidden layers) are stacked over streams only (K = 1), their middle layers being plain
batched matmuls. Each network's arithmetic is that of ``MLP`` + ``Trainer`` with its seed, up to
the order in which sums are taken (see nn/sweep.py).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator, Sequence

import numpy as np
from scipy.special import expit

from nn.core.activations import get_activation
from nn.core.mlp import MLP
from nn.core.optimizers import FLUSH_EVERY, flush_tiny

PREGATHER_BYTES = 16 << 20      # data up to this size is put in each epoch's order once


@dataclass(frozen=True)
class NetSpec:
    """One network of a stream: its hidden layer sizes and its learning rate."""
    hidden: tuple[int, ...]
    lr: float


@dataclass(frozen=True)
class Shared:
    """What every network of a ``Lockstep`` has in common."""
    n_features: int
    n_classes: int
    activation: str = "relu"
    init: str = "he"
    optimizer: str = "adam"
    momentum: float = 0.9
    weight_decay: float = 0.0
    batch_size: int | str = 32
    dtype: str = "float32"
    l1: float = 0.0
    task: str = "classification"      # "regression": one linear output, mean squared error


class _Buffers:
    """Preallocated arrays for one batch size (a partial last batch gets its own)."""

    def __init__(self, ls: "Lockstep", b: int) -> None:
        S, dt, C, K, H = ls.S, ls.dtype, ls.shared.n_classes, ls.K, ls.widths[-1]
        self.Z = [np.empty((S, b, w), dt) for w in ls.widths]
        self.A = [np.empty((S, b, w), dt) for w in ls.widths]
        self.dA = [np.empty((S, b, w), dt) for w in ls.widths]
        self.P = np.empty((S, b, C, H), dt)        # per-unit products of the output layer
        self.ZL = np.empty((S, b, C, K), dt)       # logits of every network, then dZ_L in place


class Lockstep:
    """S streams (``seeds``) x K networks (``specs``), trained together on one dataset."""

    def __init__(self, specs: Sequence[NetSpec], seeds: Sequence[int], shared: Shared) -> None:
        self.specs, self.seeds, self.shared = list(specs), [int(s) for s in seeds], shared
        self.S, self.K = len(self.seeds), len(self.specs)
        depths = {len(s.hidden) for s in self.specs}
        if len(depths) != 1 or (depths != {1} and self.K != 1):  # deeper: one network a stream
            raise ValueError("a Lockstep holds networks of one hidden layer, or a single deeper network")
        self.dtype = np.dtype(shared.dtype)
        self.act = get_activation(shared.activation)
        self.fixes_bias_unit = float(self.act.forward(np.ones(1), out=np.empty(1))[0]) != 1.0
        self.L = depths.pop()                                 # hidden layers
        segments = [s.hidden[-1] + 1 for s in self.specs]     # last hidden layer + its bias unit
        self.counts = np.array(segments, dtype=np.intp)
        self.starts = np.concatenate([[0], np.cumsum(segments)[:-1]]).astype(np.intp)
        self.bias_units = self.starts + self.counts - 1       # index of each network's bias unit
        self.widths = [*self.specs[0].hidden[:-1], int(sum(segments))]
        self._init_params()
        self._init_optimizer()
        self._buffers: dict[int, _Buffers] = {}

    # --- parameters ----------------------------------------------------------------------
    def layer_sizes(self, k: int) -> list[int]:
        return [self.shared.n_features, *self.specs[k].hidden, self.shared.n_classes]

    def _init_params(self) -> None:
        """W[0] (S, d + 1, H1): first layer, its last row the biases; for deeper networks W[i]
        (S, H_i, H_i+1) and B[i] (S, 1, H_i+1); WL (S, C, H): every network's W_L transposed,
        side by side, each followed by its biases b_L (the bias unit's weights). Classes come
        before units so that sums over units run over contiguous memory."""
        S, d, C, L = self.S, self.shared.n_features, self.shared.n_classes, self.L
        fans = [d + 1, *self.widths]
        self.shapes = ([(S, fans[i], fans[i + 1]) for i in range(L)]
                       + [(S, 1, fans[i + 1]) for i in range(1, L)] + [(S, C, self.widths[-1])])
        self.flat_p, ps = self._flat_arrays()                  # all parameters in one array
        self.W, self.B, self.WL = ps[:L], [None, *ps[L:2 * L - 1]], ps[-1]
        bias_in = self.W[0][:, d] if L == 1 else self.B[L - 1][:, 0]
        bias_in[:, self.bias_units] = 1                       # Z = 1 on the bias units: A = f(1)
        for s in range(self.S):
            for k in range(self.K):                           # the weights MLP draws alone
                for view, p in zip(self._views(s, k), self._alone(s, k).params):
                    view[...] = p

    def _views(self, s: int, k: int) -> list[np.ndarray]:
        """Views of network (s, k)'s parameters, in ``MLP.params`` order and shapes."""
        d, L = self.shared.n_features, self.L
        u0, bu = self.starts[k], self.bias_units[k]
        last = slice(u0, bu)                                  # the last hidden layer's own units
        if L == 1:
            views = [self.W[0][s, :d, last], self.W[0][s, d, last]]
        else:
            views = [self.W[0][s, :d], self.W[0][s, d]]
            for i in range(1, L):
                cols = last if i == L - 1 else slice(None)
                views += [self.W[i][s, :, cols], self.B[i][s, 0, cols]]
        return views + [self.WL[s, :, last].T, self.WL[s, :, bu]]

    def _flat_arrays(self, dtype: np.dtype | type | None = None) -> tuple[np.ndarray, list[np.ndarray]]:
        """One flat array and, over it, a view shaped like each parameter: an optimizer
        step is then a few operations on the flat arrays, whatever the number of layers."""
        sizes = [int(np.prod(shape)) for shape in self.shapes]
        flat = np.zeros(sum(sizes), dtype or self.dtype)
        ends = np.cumsum(sizes)
        return flat, [flat[e - n:e].reshape(shape) for e, n, shape in zip(ends, sizes, self.shapes)]

    def _alone(self, s: int, k: int) -> MLP:
        """Network (s, k) as ``MLP`` builds it with stream s's seed: its initial weights."""
        return MLP(self.layer_sizes(k), self.shared.activation, self.shared.init, self.seeds[s],
                   self.shared.dtype, task=self.shared.task)

    def model(self, s: int, k: int) -> MLP:
        """Network (s, k) as a stand-alone ``MLP`` (its parameters copied)."""
        m = self._alone(s, k)
        m.copy_params_from(self._views(s, k))
        return m

    def finite(self, s: int, k: int) -> bool:
        return all(np.isfinite(p).all() for p in self._views(s, k))

    # --- optimizer -----------------------------------------------------------------------
    def _init_optimizer(self) -> None:
        """State for the rules of nn/core/optimizers.py over the flat parameter array.

        The rules are written as elementwise NumPy operations (not BLAS calls, which round
        differently at the ends of a vector), so a number never depends on its position in the
        stacked arrays: the same network gives the same bits however many run beside it."""
        self.lr64, self.wd, self.l1 = self._rates()
        self.lr = self.lr64.astype(self.dtype)                # float32(lr), as g * lr rounds it
        self.flat_g, self.grads = self._flat_arrays()
        self.tmp = np.zeros_like(self.flat_p)
        self.m = np.zeros_like(self.flat_p)                   # momentum: v;  adam: m
        self.v = np.zeros_like(self.flat_p)                   # adam: v
        self.t = 0
        self.steps = 0

    def _rates(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Learning rate (float64), weight decay and L1 of every parameter, in the flat order: each
        network's own learning rate, but 0 into the bias units (they must stay 1); weight decay
        and L1 on weights, not on biases."""
        L, d = self.L, self.shared.n_features
        lr_last = np.repeat([s.lr for s in self.specs], self.counts)   # per last-layer unit
        frozen = np.where(np.isin(np.arange(len(lr_last)), self.bias_units), 0.0, lr_last)
        lr, lrs = self._flat_arrays(np.float64)
        weight, weights = self._flat_arrays(np.float64)        # 1 on weights, 0 on biases
        lr[:], weight[:] = self.specs[0].lr, 1.0               # (deeper: one network)
        lrs[L - 1][...] = frozen                              # W into the last hidden layer
        if L > 1:
            lrs[2 * L - 2][...] = frozen                      # and its B
        lrs[-1][...] = lr_last                                # W_L and b_L
        weights[0][:, d] = 0                                  # b_1
        for B in weights[L:-1]:
            B[...] = 0                                        # b_i of deeper networks
        weights[-1][:, :, self.bias_units] = 0                # b_L
        return (lr, (weight * self.shared.weight_decay).astype(self.dtype),
                (weight * self.shared.l1).astype(self.dtype))

    def _step(self) -> None:
        sh, p, g, tmp = self.shared, self.flat_p, self.flat_g, self.tmp
        if sh.weight_decay:                                   # g += wd W  (gradient of wd/2 |W|^2)
            np.multiply(p, self.wd, out=tmp)
            g += tmp
        if sh.l1:                                             # g += l1 sign(W)  (L1's subgradient)
            np.sign(p, out=tmp)
            tmp *= self.l1
            g += tmp
        if sh.optimizer == "sgd":                             # w -= lr g
            np.multiply(g, self.lr, out=tmp)
            p -= tmp
        elif sh.optimizer == "momentum":                      # v = mu v - lr g;  w += v
            self.m *= sh.momentum
            np.multiply(g, self.lr, out=tmp)
            self.m -= tmp
            p += self.m
        else:
            self._adam()
        self.steps += 1
        if self.steps % FLUSH_EVERY == 0 and sh.optimizer != "sgd":
            flush_tiny([self.m, self.v])                      # as the optimizers do: no subnormals

    def _adam(self) -> None:
        """m += (1-b1)(g-m);  v += (1-b2)(g^2-v);  w -= lr_t m / (sqrt(v) + eps),
        lr_t = lr sqrt(1 - b2^t) / (1 - b1^t)."""
        b1, b2, eps = 0.9, 0.999, 1e-7
        p, g, m, v, tmp = self.flat_p, self.flat_g, self.m, self.v, self.tmp
        self.t += 1
        factor = float(np.sqrt(1 - b2 ** self.t) / (1 - b1 ** self.t))
        np.subtract(g, m, out=tmp)
        tmp *= 1 - b1
        m += tmp
        np.multiply(g, g, out=tmp)
        tmp -= v
        tmp *= 1 - b2
        v += tmp
        np.sqrt(v, out=tmp)
        tmp += eps
        np.divide(m, tmp, out=tmp)
        tmp *= (self.lr64 * factor).astype(self.dtype)        # lr_t in float64, then cast
        p -= tmp

    # --- training ------------------------------------------------------------------------
    def train(self, X: np.ndarray, y: np.ndarray, epochs: int,
              on_epoch: Callable[[int], None] | None = None) -> None:
        """``epochs`` epochs of minibatch training on (X, y), as ``Trainer.run`` would."""
        Xa = np.hstack([np.asarray(X, dtype=self.dtype), np.ones((len(X), 1), self.dtype)])  # [X, 1]
        if self.shared.task == "regression":                  # the values, one column
            Y = np.asarray(y, dtype=self.dtype).reshape(-1, 1)
        else:
            Y = np.eye(self.shared.n_classes, dtype=self.dtype)[np.asarray(y, dtype=np.intp)]  # one-hot
        rngs = [np.random.default_rng([seed, 1]) for seed in self.seeds]  # Trainer's shuffling
        with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
            for epoch in range(epochs):
                for Xb, Yb in self._batches(Xa, Y, rngs):
                    self._forward_backward(Xb, Yb)
                    self._step()
                if on_epoch is not None:
                    on_epoch(epoch + 1)

    def _batches(self, X: np.ndarray, Y: np.ndarray,
                 rngs: list[np.random.Generator]) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """One epoch's minibatches, (S, b, ...) each, in ``Trainer``'s order for every stream: a
        new permutation each epoch (none for a full batch), consecutive slices, the last maybe
        partial."""
        n, bs = len(X), self.shared.batch_size
        b = n if bs == "full" else min(int(bs), n)
        if b >= n:
            order = np.broadcast_to(np.arange(n), (self.S, n))
        else:
            order = np.stack([r.permutation(n) for r in rngs])
        if X.nbytes <= PREGATHER_BYTES:                       # put the rows in order once:
            Xo, Yo = X[order], Y[order]                       # batches are then slices, no copy
            for pos in range(0, n, b):
                yield Xo[:, pos:pos + b], Yo[:, pos:pos + b]
        else:
            for pos in range(0, n, b):
                rows = order[:, pos:pos + b]                  # (S, b)
                yield X[rows], Y[rows]

    def _buf(self, b: int) -> _Buffers:
        if b not in self._buffers:
            self._buffers[b] = _Buffers(self, b)
        return self._buffers[b]

    def _forward_backward(self, Xb: np.ndarray, Yb: np.ndarray) -> None:
        """Gradients of the mean cross-entropy of every network on its stream's batch
        (``Xb`` carries the column of ones)."""
        n = Xb.shape[1]
        buf, act, gs, L = self._buf(n), self.act, self.grads, self.L
        A = Xb
        for i in range(L):                            # Z_i = A_{i-1} W_i (+ b_i),  A_i = f(Z_i)
            np.matmul(A, self.W[i], out=buf.Z[i])
            if i > 0:
                buf.Z[i] += self.B[i]
            A = act.forward(buf.Z[i], out=buf.A[i])
        if self.fixes_bias_unit:                      # f(1) != 1 (sigmoid, tanh): set A = 1
            A[:, :, self.bias_units] = 1
        output = self._output_binary if self.shared.n_classes == 2 else self._output_softmax
        dA = output(A, Yb, n, buf, gs[-1])
        for i in reversed(range(L)):
            dZ = act.backward(dA, buf.Z[i], buf.A[i], out=dA)         # dZ_i = dA_i * f'(Z_i)
            A_prev = Xb if i == 0 else buf.A[i - 1]
            np.matmul(A_prev.transpose(0, 2, 1), dZ, out=gs[i])       # dW_i = A_{i-1}^T dZ_i
            if i > 0:                                                 # (dW_1's last row: db_1)
                dZ.sum(axis=1, keepdims=True, out=gs[L - 1 + i])      # db_i
                dA = np.matmul(dZ, self.W[i].transpose(0, 2, 1), out=buf.dA[i - 1])

    def _output_softmax(self, A: np.ndarray, Yb: np.ndarray, n: int, buf: _Buffers,
                        gW: np.ndarray) -> np.ndarray:
        """Softmax output (regression: the linear output): logits, dZ_L, the output layer's
        gradients; returns dA_{L-1}."""
        ZL, P = buf.ZL, buf.P
        np.multiply(A[:, :, None, :], self.WL[:, None], out=P)       # A[u] W_L[u, c]
        np.add.reduceat(P, self.starts, axis=3, out=ZL)               # Z_L[c, k]: sum over k's units
        if self.shared.task == "regression":
            # dZ_L = 2 (Z_L - y) / n, in place, as losses.mean_squared_error_grad
            ZL -= Yb[..., None]
            ZL *= self.dtype.type(2 / n)
        else:
            # dZ_L = (softmax(Z_L) - onehot(y)) / n, in place, as losses.softmax_cross_entropy_grad
            ZL -= ZL.max(axis=2, keepdims=True)
            np.exp(ZL, out=ZL)
            ZL /= ZL.sum(axis=2, keepdims=True)
            ZL -= Yb[..., None]
            ZL /= n
        E = np.repeat(ZL, self.counts, axis=3)                        # dZ_L of each unit's network
        np.multiply(A[:, :, None, :], E, out=P)
        P.sum(axis=1, out=gW)                                         # dW_L = A^T dZ_L (and db_L)
        np.multiply(E, self.WL[:, None], out=P)
        return P.sum(axis=2, out=buf.dA[-1])                          # dA = dZ_L W_L^T

    def _output_binary(self, A: np.ndarray, Yb: np.ndarray, n: int, buf: _Buffers,
                       gW: np.ndarray) -> np.ndarray:
        """Two classes: the same gradients through the logit difference d = z1 - z0, at half the
        work. softmax(z)_1 = expit(d), so dZ_1 = (expit(d) - y_1) / n and dZ_0 = -dZ_1 exactly;
        dW_L[:, c] = A^T dZ_c and dA = dZ_0 W_L[:, 0] + dZ_1 W_L[:, 1] = dZ_1 (W_L[:, 1] - W_L[:, 0])."""
        Wd = self.WL[:, 1] - self.WL[:, 0]                           # (S, H)
        P, D = buf.P[:, :, 0], buf.ZL[:, :, 0]                        # (S, b, H), (S, b, K)
        np.multiply(A, Wd[:, None], out=P)
        np.add.reduceat(P, self.starts, axis=2, out=D)                # d = A (w1 - w0) + (b1 - b0)
        expit(D, out=D)                                               # softmax(z)_1
        D -= Yb[:, :, 1:]
        D /= n                                                        # dZ_1
        E = np.repeat(D, self.counts, axis=2)                         # dZ_1 of each unit's network
        np.multiply(A, E, out=P)
        P.sum(axis=1, out=gW[:, 1])                                   # dW_L[:, 1] = A^T dZ_1
        np.negative(gW[:, 1], out=gW[:, 0])                           # dW_L[:, 0] = -dW_L[:, 1]
        return np.multiply(E, Wd[:, None], out=buf.dA[-1])            # dA = dZ_1 (w1 - w0)
