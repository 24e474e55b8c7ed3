"""Images kept as their 8-bit pixels: x = code / 255, one byte a pixel instead of four (float32)
or eight (float64), turned into floats a piece at a time, bit for bit the floats ``nn.data``
reads (it scales images with ``pixels_to_float`` too).

A full-batch step reads the whole training matrix each iteration (seed-mnist: 60,000 x 784,
188 MB in float32, 47 MB as codes), so its pieces are read from the codes (``nn.Trainer``).
"""
from __future__ import annotations

import numpy as np

LEVELS = 255                 # x = code / LEVELS, code in 0..255
CHECK_ROWS = 4096            # rows per piece of ``pixel_codes``' pass (bounds its temporaries)


def pixels_to_float(codes: np.ndarray, dtype: np.dtype | str, out: np.ndarray | None = None) -> np.ndarray:
    """codes / 255 in ``dtype``: float32 as code x float32(1/255) (one rounding), float64 as
    code / 255.0 (the MNIST tutorial's ``x / 255.0``)."""
    dtype = np.dtype(dtype)
    if dtype == np.float64:
        return np.divide(codes, float(LEVELS), out=out, dtype=np.float64)
    if out is None:
        out = codes.astype(dtype)
    else:
        np.copyto(out, codes)
    out *= dtype.type(1 / LEVELS)
    return out


def pixel_codes(X: np.ndarray) -> np.ndarray | None:
    """The uint8 codes of ``X`` if ``pixels_to_float`` gives back every value of X bit for bit,
    else None (X is not pixels / 255 as ``nn.data`` reads them)."""
    if X.ndim != 2 or X.dtype not in (np.float32, np.float64):
        return None
    codes = np.empty(X.shape, np.uint8)
    back = np.empty((min(CHECK_ROWS, len(X)), X.shape[1]), X.dtype)
    for start in range(0, len(X), CHECK_ROWS):
        part = X[start:start + CHECK_ROWS]
        if not (part.min() >= 0 and part.max() <= 1):          # also False for NaN
            return None
        scaled = np.rint(part * LEVELS)
        codes[start:start + len(part)] = scaled
        if not np.array_equal(pixels_to_float(codes[start:start + len(part)], X.dtype, back[:len(part)]), part):
            return None
    return codes
