"""Weight initialisation schemes, one layer's draw at a time.

A network draws its layers' parameters from one generator seeded with its seed, layer by layer
(``MLP`` and ``Sequential`` alike): each layer's weights, then its biases (drawn for ``normal``
only, zeros otherwise), in float64, cast afterwards, so float32 and float64 networks of one seed
start alike. The generator is NumPy's ``default_rng(seed)``, except for ``legacy``: the MNIST
tutorial's own draws, ``np.random.seed(seed)`` then ``np.random.randn(784, 5) * 0.01`` for W1 and
``np.random.randn(5, 10) * 0.01`` for W2, which the legacy ``RandomState(seed)`` repeats exactly.
``fan_in`` and ``fan_out`` are the inputs and outputs each weight connects: a dense layer's
sizes, or a convolution's channels times its kernel's area.
"""
from __future__ import annotations

import math

import numpy as np

INITS = ("small", "normal", "he", "xavier", "legacy")
# What a network of layers (``Sequential``: the CNNs) offers; the two tutorial schemes are MLP-only.
LAYER_INITS = ("he", "xavier")


def check_init(scheme: str, allowed: tuple[str, ...] = INITS) -> str:
    if scheme not in allowed:
        raise ValueError(f"init must be one of {', '.join(allowed)}; got {scheme!r}")
    return scheme


def init_rng(scheme: str, seed: int) -> np.random.Generator | np.random.RandomState:
    """The generator a network of ``seed`` draws its layers from: ``RandomState(seed)`` for
    ``legacy`` (the stream of ``np.random.seed(seed)``), ``default_rng(seed)`` otherwise."""
    return np.random.RandomState(seed) if check_init(scheme) == "legacy" else np.random.default_rng(seed)


def layer_params(rng: np.random.Generator | np.random.RandomState, scheme: str, shape: tuple[int, ...],
                 fan_in: int, fan_out: int, n_biases: int, dtype: np.dtype) -> list[np.ndarray]:
    """[W, b]: W of ``shape``, b of ``n_biases`` values, drawn from ``rng`` in this order."""
    check_init(scheme)
    if scheme in ("small", "legacy"):   # the MNIST tutorial: 0.01 N(0, 1), zero biases
        W = rng.standard_normal(shape) * 0.01          # as its randn(784, 5) * 0.01
    elif scheme == "normal":   # the moons tutorial: N(0, 1) weights and biases
        W = rng.standard_normal(shape)
    elif scheme == "he":       # N(0, 2 / fan_in), for ReLU
        W = rng.standard_normal(shape) * math.sqrt(2.0 / fan_in)
    else:                      # xavier, Glorot uniform: U(-a, a), a = sqrt(6 / (fan_in + fan_out))
        limit = math.sqrt(6.0 / (fan_in + fan_out))
        W = rng.uniform(-limit, limit, shape)
    b = rng.standard_normal(n_biases) if scheme == "normal" else np.zeros(n_biases)
    return [W.astype(dtype), b.astype(dtype)]
