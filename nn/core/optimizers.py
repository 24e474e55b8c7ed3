"""Optimizers that update parameters in place.

With ~200k parameters an update is memory-bound, so each rule is a few in-place passes with no
temporaries: the gradient buffers (owned by the trainer) double as scratch space. A pass of the
form y = a x + b y runs in NumPy's own BLAS (``nn.core.numpy_blas``: one pass instead of two, on
BLAS's threads), the rest in NumPy; SciPy's BLAS is not used (a second OpenBLAS with its own
spinning threads: mixing the two slowed training tenfold). Parameters, gradients and state
packed in one buffer each (``nn.core.flat``: the MLP's and the trainer's are) are updated in
one call per pass.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from nn.core.flat import flat_view, for_pickle, from_pickle, packed
from nn.core.numpy_blas import axpby, axpy

OPTIMIZERS = ("sgd", "momentum", "adam")
# A running average whose gradient has stopped (a dead unit's weights) decays by beta each
# step and spends about 150 steps among the subnormal floats, where each arithmetic operation
# costs a hundred cycles instead of one: measured in the mnist-cnn preset, 5,000-10,000 of
# Adam's 80,000 m values were subnormal from the second epoch on, and the optimizer's time
# per epoch grew from 0.14 s to 0.50 s. So every FLUSH_EVERY steps the state's values below
# FLUSH_FACTOR x the smallest normal float are set to zero. A value above that cannot decay
# into the subnormals before the next flush (0.9^32 > 1e-8; a faster decay crosses them in a
# few steps), and what is flushed changes an update by less than lr x 1e-30 / eps (float32):
# far below the weights' rounding.
FLUSH_EVERY = 32
FLUSH_FACTOR = 1e8


def flush_tiny(arrays: list[np.ndarray]) -> None:
    """Set the values below ``FLUSH_FACTOR`` x the smallest normal float to zero, in place."""
    for a in arrays:
        np.copyto(a, 0, where=np.abs(a) < FLUSH_FACTOR * np.finfo(a.dtype).tiny)


class Optimizer:
    state_names: tuple[str, ...] = ()                    # the attributes holding running averages

    def __init__(self, params: list[np.ndarray], lr: float, weight_decay: float = 0.0, l1: float = 0.0) -> None:
        self.lr, self.weight_decay, self.l1 = float(lr), float(weight_decay), float(l1)
        self.steps = 0                                   # updates applied
        self.is_weight = [p.ndim >= 2 for p in params]   # L1, L2 apply to W and conv kernels, not biases
        self._flats: dict[tuple[int, ...], tuple[list[np.ndarray], np.ndarray | None]] = {}

    def __getstate__(self) -> dict[str, Any]:
        """Each running average's arrays go as their one buffer (``nn.core.flat``)."""
        return {**self.__dict__, "_flats": {}, **{name: for_pickle(getattr(self, name)) for name in self.state_names}}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        for name in self.state_names:
            setattr(self, name, from_pickle(getattr(self, name)))

    def _flat(self, arrays: list[np.ndarray]) -> np.ndarray | None:
        """The flat array under ``arrays`` when they are packed (``nn.core.flat``), else None;
        remembered by identity (the arrays are kept, so their ids stay theirs)."""
        key = tuple(map(id, arrays))
        hit = self._flats.get(key)
        if hit is None:
            if len(self._flats) > 8:
                self._flats.clear()
            hit = self._flats[key] = (list(arrays), flat_view(arrays))
        return hit[1]

    def step(self, params: list[np.ndarray], grads: list[np.ndarray]) -> None:
        """Update ``params`` from ``grads`` (which are used as scratch space)."""
        if self.weight_decay:
            for p, g, is_w in zip(params, grads, self.is_weight):
                if is_w:                        # g += wd W  (gradient of wd/2 |W|^2)
                    g += self.weight_decay * p
        if self.l1:
            for p, g, is_w in zip(params, grads, self.is_weight):
                if is_w:                        # g += l1 sign(W)  (a subgradient of l1 |W|_1)
                    g += self.l1 * np.sign(p)
        lists = [params, grads, *(getattr(self, name) for name in self.state_names)]
        flats = [self._flat(arrays) for arrays in lists]
        if all(f is not None for f in flats):          # all packed: one call per pass
            lists = [[f] for f in flats]
        self._update(*lists)
        self.steps += 1
        if self.steps % FLUSH_EVERY == 0:
            flush_tiny(self.state())

    def state(self) -> list[np.ndarray]:
        """The running averages kept between steps (flushed of near-subnormal values)."""
        return []

    def _update(self, params: list[np.ndarray], grads: list[np.ndarray], *state: list[np.ndarray]) -> None:
        """The rule, on aligned lists of parameters, gradients and each of ``state_names``."""
        raise NotImplementedError


class SGD(Optimizer):
    """w -= lr g"""

    def _update(self, params, grads, *state):
        for p, g in zip(params, grads):
            axpy(-self.lr, g, p)


class Momentum(Optimizer):
    """v = mu v - lr g;  w += v   (the Keras / PyTorch form)"""
    state_names = ("v",)

    def __init__(self, params, lr, weight_decay=0.0, momentum: float = 0.9, l1: float = 0.0):
        super().__init__(params, lr, weight_decay, l1)
        self.mu = float(momentum)
        self.v = packed(params, fill=0)

    def state(self):
        return self.v

    def _update(self, params, grads, vs):
        for p, g, v in zip(params, grads, vs):
            axpby(-self.lr, g, self.mu, v)
            axpy(1.0, v, p)


class Adam(Optimizer):
    """m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;
    w -= lr_t m / (sqrt(v) + eps),  lr_t = lr sqrt(1 - b2^t) / (1 - b1^t)   (Kingma & Ba, sec. 2)

    The state is kept scaled, ``m`` as m / (1 - b1) and ``v`` as v / (1 - b2), so that each
    average is updated without scaling g first (M = b1 M + g, V = b2 V + g^2), and the constants
    move to the last step: m / (sqrt(v) + eps) = c M / (sqrt(V) + eps'), c = (1 - b1) / sqrt(1 - b2),
    eps' = eps / sqrt(1 - b2). Seven passes over the parameters a step (three of them BLAS's
    axpby/axpy, ``nn.core.numpy_blas``), where the unscaled form in NumPy took twelve; an update
    moves by less than 1e-6 of itself (rounding) from the unscaled form's."""
    state_names = ("m", "v")

    def __init__(self, params, lr, weight_decay=0.0, beta1: float = 0.9, beta2: float = 0.999,
                 eps: float = 1e-7, l1: float = 0.0):
        super().__init__(params, lr, weight_decay, l1)
        self.beta1, self.beta2, self.eps, self.t = beta1, beta2, eps, 0
        self.m = packed(params, fill=0)          # M = m / (1 - b1)
        self.v = packed(params, fill=0)          # V = v / (1 - b2)

    def state(self):
        return self.m + self.v

    def _update(self, params, grads, ms, vs):
        self.t += 1
        root = float(np.sqrt(1 - self.beta2))
        lr_t = self.lr * float(np.sqrt(1 - self.beta2 ** self.t) / (1 - self.beta1 ** self.t))
        scale, eps = lr_t * (1 - self.beta1) / root, self.eps / root
        for p, g, m, v in zip(params, grads, ms, vs):
            axpby(1.0, g, self.beta1, m)        # M = b1 M + g
            g *= g                              # g <- g^2 (scratch from here on)
            axpby(1.0, g, self.beta2, v)        # V = b2 V + g^2
            np.sqrt(v, out=g)                   # w -= c lr_t M / (sqrt(V) + eps')
            g += eps
            np.divide(m, g, out=g)
            axpy(-scale, g, p)


def make_optimizer(name: str, params: list[np.ndarray], lr: float, weight_decay: float = 0.0,
                   momentum: float = 0.9, l1: float = 0.0) -> Optimizer:
    if name == "sgd":
        return SGD(params, lr, weight_decay, l1)
    if name == "momentum":
        return Momentum(params, lr, weight_decay, momentum, l1=l1)
    if name == "adam":
        return Adam(params, lr, weight_decay, l1=l1)
    raise ValueError(f"optimizer must be one of {', '.join(OPTIMIZERS)}; got {name!r}")
