"""Optimizers that update parameters in place, using preallocated scratch buffers.

Every update below is a handful of in-place NumPy calls: with ~200k parameters, temporaries
allocated per step would cost as much as the matrix products themselves.
"""
from __future__ import annotations

import numpy as np

OPTIMIZERS = ("sgd", "momentum", "adam")


class Optimizer:
    def __init__(self, params: list[np.ndarray], lr: float, weight_decay: float = 0.0) -> None:
        self.lr, self.weight_decay = float(lr), float(weight_decay)
        self.tmp = [np.empty_like(p) for p in params]
        self.is_weight = [p.ndim == 2 for p in params]   # L2 applies to W, not to biases

    def step(self, params: list[np.ndarray], grads: list[np.ndarray]) -> None:
        if self.weight_decay:
            for p, g, tmp, is_w in zip(params, grads, self.tmp, self.is_weight):
                if is_w:                                  # g += wd * W  (gradient of wd/2 |W|^2)
                    np.multiply(p, self.weight_decay, out=tmp)
                    g += tmp
        self._update(params, grads)

    def _update(self, params: list[np.ndarray], grads: list[np.ndarray]) -> None:
        raise NotImplementedError


class SGD(Optimizer):
    """w -= lr * g"""

    def _update(self, params, grads):
        for p, g, tmp in zip(params, grads, self.tmp):
            np.multiply(g, self.lr, out=tmp)
            p -= tmp


class Momentum(Optimizer):
    """v = mu * v - lr * g;  w += v   (the Keras / PyTorch form)"""

    def __init__(self, params, lr, weight_decay=0.0, momentum: float = 0.9):
        super().__init__(params, lr, weight_decay)
        self.mu = float(momentum)
        self.v = [np.zeros_like(p) for p in params]

    def _update(self, params, grads):
        for p, g, v, tmp in zip(params, grads, self.v, self.tmp):
            v *= self.mu
            np.multiply(g, self.lr, out=tmp)
            v -= tmp
            p += v


class Adam(Optimizer):
    """m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;
    w -= lr_t m / (sqrt(v) + eps),  lr_t = lr sqrt(1 - b2^t) / (1 - b1^t)   (Kingma & Ba, sec. 2)"""

    def __init__(self, params, lr, weight_decay=0.0, beta1: float = 0.9, beta2: float = 0.999,
                 eps: float = 1e-7):
        super().__init__(params, lr, weight_decay)
        self.beta1, self.beta2, self.eps, self.t = beta1, beta2, eps, 0
        self.m = [np.zeros_like(p) for p in params]
        self.v = [np.zeros_like(p) for p in params]

    def _update(self, params, grads):
        self.t += 1
        lr_t = self.lr * float(np.sqrt(1 - self.beta2 ** self.t) / (1 - self.beta1 ** self.t))
        for p, g, m, v, tmp in zip(params, grads, self.m, self.v, self.tmp):
            np.subtract(g, m, out=tmp)          # m += (1 - b1)(g - m)
            tmp *= 1 - self.beta1
            m += tmp
            np.multiply(g, g, out=tmp)          # v += (1 - b2)(g^2 - v)
            tmp -= v
            tmp *= 1 - self.beta2
            v += tmp
            np.sqrt(v, out=tmp)
            tmp += self.eps
            np.divide(m, tmp, out=tmp)
            tmp *= lr_t
            p -= tmp


def make_optimizer(name: str, params: list[np.ndarray], lr: float, weight_decay: float = 0.0,
                   momentum: float = 0.9) -> Optimizer:
    if name == "sgd":
        return SGD(params, lr, weight_decay)
    if name == "momentum":
        return Momentum(params, lr, weight_decay, momentum)
    if name == "adam":
        return Adam(params, lr, weight_decay)
    raise ValueError(f"optimizer must be one of {', '.join(OPTIMIZERS)}; got {name!r}")
