"""Weight initialisation schemes. Weights are drawn in float64 from one seeded generator, layer by
layer (W then b), and cast afterwards, so float32 and float64 models of one seed start alike."""
from __future__ import annotations

import numpy as np

INITS = ("small", "normal", "he", "xavier")


def _layer(rng: np.random.Generator, scheme: str, fan_in: int, fan_out: int) -> tuple[np.ndarray, np.ndarray]:
    shape = (fan_in, fan_out)
    if scheme == "small":      # the MNIST tutorial: 0.01 N(0, 1), zero biases
        return 0.01 * rng.standard_normal(shape), np.zeros(fan_out)
    if scheme == "normal":     # the moons tutorial: N(0, 1) weights and biases
        return rng.standard_normal(shape), rng.standard_normal(fan_out)
    if scheme == "he":         # N(0, 2 / fan_in), for ReLU
        return rng.standard_normal(shape) * np.sqrt(2.0 / fan_in), np.zeros(fan_out)
    if scheme == "xavier":     # Glorot uniform: U(-a, a), a = sqrt(6 / (fan_in + fan_out))
        limit = np.sqrt(6.0 / (fan_in + fan_out))
        return rng.uniform(-limit, limit, shape), np.zeros(fan_out)
    raise ValueError(f"init must be one of {', '.join(INITS)}; got {scheme!r}")


def init_params(layer_sizes: list[int], scheme: str, seed: int, dtype: np.dtype) -> list[np.ndarray]:
    """[W1, b1, W2, b2, ...] with W of shape (fan_in, fan_out) and b of shape (fan_out,)."""
    rng = np.random.default_rng(seed)
    params: list[np.ndarray] = []
    for fan_in, fan_out in zip(layer_sizes[:-1], layer_sizes[1:]):
        W, b = _layer(rng, scheme, fan_in, fan_out)
        params += [W.astype(dtype), b.astype(dtype)]
    return params
