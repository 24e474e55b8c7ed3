"""Hidden-layer activations.

Each activation is a pair of functions side by side: ``forward(Z, out)`` computes A = f(Z) into
``out``; ``backward(dA, Z, A, out)`` computes dZ = dA * f'(Z) into ``out`` (which may be ``dA``
itself: the training loop passes its own scratch buffer, never an array the caller still needs).
``MLP`` calls them on its preallocated buffers, and the activation layers of ``nn.core.layers``
(``ReLU``, ``Tanh``, ``Sigmoid``) on arrays of their own. f'(Z) reads ``Z`` only through its sign
(relu, leaky relu), which A = f(Z) shares, so a caller that kept only A may pass it for ``Z``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
from scipy.special import expit

LEAKY_SLOPE = 0.01
# np.maximum(Z, 0) against a scalar runs a slow broadcasting loop: 17 us for 128 x 256 float32
# against 4 us against an array of zeros. Arrays up to ZEROS_MOST values take their zeros from
# one shared read-only buffer per dtype (1 MB in float32); bigger ones keep the scalar.
ZEROS_MOST = 1 << 18
_ZEROS: dict[str, np.ndarray] = {}

Array = np.ndarray


def _sigmoid(Z: Array, out: Array) -> Array:
    return expit(Z, out=out)  # 1 / (1 + e^-Z), stable for large |Z|


def _sigmoid_grad(dA: Array, Z: Array, A: Array, out: Array) -> Array:
    # f'(Z) = A (1 - A)
    np.multiply(dA, A, out=out)
    out *= 1 - A
    return out


def _zeros_like(Z: Array) -> Array | int:
    """Zeros shaped like ``Z`` (a view of the shared buffer), or the scalar 0 for a big ``Z``."""
    if Z.size > ZEROS_MOST:
        return 0
    zeros = _ZEROS.get(Z.dtype.char)
    if zeros is None:                       # threads may both make one: the same zeros
        zeros = _ZEROS[Z.dtype.char] = np.zeros(ZEROS_MOST, Z.dtype)
        zeros.flags.writeable = False
    return zeros[:Z.size].reshape(Z.shape)


def _relu(Z: Array, out: Array) -> Array:
    return np.maximum(Z, _zeros_like(Z), out=out)


def _relu_grad(dA: Array, Z: Array, A: Array, out: Array) -> Array:
    # f'(Z) = 1 where Z > 0, else 0 (a multiply by the mask is ~8x faster than masked assignment)
    return np.multiply(dA, Z > 0, out=out)


def _tanh(Z: Array, out: Array) -> Array:
    return np.tanh(Z, out=out)


def _tanh_grad(dA: Array, Z: Array, A: Array, out: Array) -> Array:
    # f'(Z) = 1 - A^2
    square = A * A
    np.subtract(1, square, out=square)
    return np.multiply(dA, square, out=out)


def _leaky_relu(Z: Array, out: Array) -> Array:
    return np.maximum(Z, Z * LEAKY_SLOPE, out=out)  # max(Z, 0.01 Z) = Z if Z > 0 else 0.01 Z


def _leaky_relu_grad(dA: Array, Z: Array, A: Array, out: Array) -> Array:
    slope = np.where(Z > 0, 1, LEAKY_SLOPE).astype(dA.dtype, copy=False)
    return np.multiply(dA, slope, out=out)


@dataclass(frozen=True)
class Activation:
    name: str
    forward: Callable[[Array, Array], Array]
    backward: Callable[[Array, Array, Array, Array], Array]


ACTIVATIONS: dict[str, Activation] = {
    a.name: a
    for a in (
        Activation("sigmoid", _sigmoid, _sigmoid_grad),
        Activation("relu", _relu, _relu_grad),
        Activation("tanh", _tanh, _tanh_grad),
        Activation("leaky_relu", _leaky_relu, _leaky_relu_grad),
    )
}


def get_activation(name: str) -> Activation:
    if name not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {', '.join(ACTIVATIONS)}; got {name!r}")
    return ACTIVATIONS[name]
