"""Data augmentation for image rows: a small random affine map per image (shift, rotation,
scale), done for a whole minibatch at once in NumPy (bilinear sampling, no loop over images).

Drawings on the canvas are re-centred and scaled like MNIST digits, but never exactly: a network
that has seen its digits a pixel or two off, a few degrees tilted and a little larger or smaller
reads such drawings more reliably.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nn.core.settings import AUGMENT_RANGES


@dataclass(frozen=True)
class Augment:
    """Ranges of the random maps: shifts up to ``shift`` pixels each way, rotations up to
    ``rotate`` degrees, scales within 1 +- ``scale``."""
    shift: float = 2.0
    rotate: float = 10.0
    scale: float = 0.1

    def validate(self) -> "Augment":
        for name, high in AUGMENT_RANGES.items():
            value = getattr(self, name)
            if not 0 <= value <= high:
                raise ValueError(f"augment {name} must be in [0, {high:g}]; got {value!r}")
        return self

    def __call__(self, X: np.ndarray, rng: np.random.Generator,
                 image_shape: tuple[int, int] = (28, 28)) -> np.ndarray:
        return augment_batch(X, rng, image_shape, self)


def augment_batch(X: np.ndarray, rng: np.random.Generator, image_shape: tuple[int, int] = (28, 28),
                  settings: Augment = Augment()) -> np.ndarray:
    """A new array of rows: each image of ``X`` (rows of height x width floats) moved by its own
    random affine map about the image centre (positive angles turn it clockwise as displayed,
    positive shifts move it down and right); pixels from outside the image are 0."""
    H, W = image_shape
    n = len(X)
    images = np.asarray(X).reshape(n, H, W)
    f32 = np.float32
    angle = np.deg2rad(rng.uniform(-settings.rotate, settings.rotate, n)).astype(f32)
    zoom = rng.uniform(1 - settings.scale, 1 + settings.scale, n).astype(f32)
    shift = rng.uniform(-settings.shift, settings.shift, (2, n)).astype(f32)
    # output pixel p reads the input at c + R(-angle) (p - c - shift) / zoom  (the inverse map)
    cos, sin = (np.cos(angle) / zoom)[:, None, None], (np.sin(angle) / zoom)[:, None, None]
    cy, cx = f32((H - 1) / 2), f32((W - 1) / 2)
    dy = np.arange(H, dtype=f32)[None, :, None] - cy - shift[0][:, None, None]    # (n, H, 1)
    dx = np.arange(W, dtype=f32)[None, None, :] - cx - shift[1][:, None, None]    # (n, 1, W)
    src_y = cy + cos * dy - sin * dx
    src_x = cx + sin * dy + cos * dx
    return _bilinear(images, src_y, src_x).reshape(n, H * W).astype(X.dtype, copy=False)


def _bilinear(images: np.ndarray, src_y: np.ndarray, src_x: np.ndarray) -> np.ndarray:
    """images[k] sampled at (src_y[k], src_x[k]) with bilinear weights; 0 outside."""
    n, H, W = images.shape
    padded = np.zeros((n, H + 2, W + 2), images.dtype)      # a zero border absorbs the outside
    padded[:, 1:-1, 1:-1] = images
    y = np.clip(src_y + 1, 0, H + 0.999, out=src_y)
    x = np.clip(src_x + 1, 0, W + 0.999, out=src_x)
    y0, x0 = np.floor(y).astype(np.intp), np.floor(x).astype(np.intp)
    fy, fx = (y - y0).astype(images.dtype), (x - x0).astype(images.dtype)
    flat = padded.reshape(n, -1)
    base = (np.arange(n) * (H + 2) * (W + 2))[:, None, None]
    idx = base + y0 * (W + 2) + x0
    flat = flat.ravel()
    top = flat[idx] * (1 - fx) + flat[idx + 1] * fx
    bottom = flat[idx + W + 2] * (1 - fx) + flat[idx + W + 3] * fx
    return top * (1 - fy) + bottom * fy
