"""Optimizers that update parameters in place.

With ~200k parameters an update is memory-bound, so each rule below is written as few passes
over memory as possible: BLAS ``scal`` (x *= a) and ``axpy`` (y += a x) update in place in one
pass each, where NumPy would need a temporary and two. Every array is handled as a flat view.
"""
from __future__ import annotations

import numpy as np
from scipy.linalg.blas import get_blas_funcs

OPTIMIZERS = ("sgd", "momentum", "adam")


def _flat(a: np.ndarray) -> np.ndarray:
    flat = a.reshape(-1)
    if not np.shares_memory(flat, a):
        raise ValueError("optimizers need C-contiguous parameter and gradient arrays")
    return flat


class Optimizer:
    def __init__(self, params: list[np.ndarray], lr: float, weight_decay: float = 0.0) -> None:
        self.lr, self.weight_decay = float(lr), float(weight_decay)
        self.axpy, self.scal = get_blas_funcs(("axpy", "scal"), (params[0],))
        self.is_weight = [p.ndim == 2 for p in params]   # L2 applies to W, not to biases

    def state(self, params: list[np.ndarray]) -> list[np.ndarray]:
        return [np.zeros(p.size, p.dtype) for p in params]

    def step(self, params: list[np.ndarray], grads: list[np.ndarray]) -> None:
        """Update ``params`` from ``grads`` (which may be used as scratch space)."""
        flat_p, flat_g = [_flat(p) for p in params], [_flat(g) for g in grads]
        if self.weight_decay:
            for p, g, is_w in zip(flat_p, flat_g, self.is_weight):
                if is_w:
                    self.axpy(p, g, a=self.weight_decay)   # g += wd W  (gradient of wd/2 |W|^2)
        self._update(flat_p, flat_g)

    def _update(self, params: list[np.ndarray], grads: list[np.ndarray]) -> None:
        raise NotImplementedError


class SGD(Optimizer):
    """w -= lr g"""

    def _update(self, params, grads):
        for p, g in zip(params, grads):
            self.axpy(g, p, a=-self.lr)


class Momentum(Optimizer):
    """v = mu v - lr g;  w += v   (the Keras / PyTorch form)"""

    def __init__(self, params, lr, weight_decay=0.0, momentum: float = 0.9):
        super().__init__(params, lr, weight_decay)
        self.mu = float(momentum)
        self.v = self.state(params)

    def _update(self, params, grads):
        for p, g, v in zip(params, grads, self.v):
            self.scal(self.mu, v)
            self.axpy(g, v, a=-self.lr)
            self.axpy(v, p, a=1.0)


class Adam(Optimizer):
    """m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;
    w -= lr_t m / (sqrt(v) + eps),  lr_t = lr sqrt(1 - b2^t) / (1 - b1^t)   (Kingma & Ba, sec. 2)"""

    def __init__(self, params, lr, weight_decay=0.0, beta1: float = 0.9, beta2: float = 0.999,
                 eps: float = 1e-7):
        super().__init__(params, lr, weight_decay)
        self.beta1, self.beta2, self.eps, self.t = beta1, beta2, eps, 0
        self.m, self.v = self.state(params), self.state(params)

    def _update(self, params, grads):
        self.t += 1
        lr_t = self.lr * float(np.sqrt(1 - self.beta2 ** self.t) / (1 - self.beta1 ** self.t))
        for p, g, m, v in zip(params, grads, self.m, self.v):
            self.scal(self.beta1, m)
            self.axpy(g, m, a=1 - self.beta1)
            self.scal(self.beta2, v)
            np.multiply(g, g, out=g)            # g is scratch from here on: g <- g^2
            self.axpy(g, v, a=1 - self.beta2)
            np.sqrt(v, out=g)                   # g <- sqrt(v) + eps
            g += self.eps
            np.divide(m, g, out=g)              # g <- m / (sqrt(v) + eps)
            self.axpy(g, p, a=-lr_t)


def make_optimizer(name: str, params: list[np.ndarray], lr: float, weight_decay: float = 0.0,
                   momentum: float = 0.9) -> Optimizer:
    if name == "sgd":
        return SGD(params, lr, weight_decay)
    if name == "momentum":
        return Momentum(params, lr, weight_decay, momentum)
    if name == "adam":
        return Adam(params, lr, weight_decay)
    raise ValueError(f"optimizer must be one of {', '.join(OPTIMIZERS)}; got {name!r}")
