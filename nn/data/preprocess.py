"""Turn a drawing into the 28x28 image an MNIST model expects, the way MNIST itself was made.

LeCun et al. fitted each digit into a 20x20 box (aspect ratio kept, anti-aliased) and centred
it in 28x28 by its centre of mass. Measured on the test set, that centre of mass sits at pixel
(14.0, 14.0) with a spread of 0.29 px: the box was moved by whole pixels. ``to_mnist`` repeats
those steps on any drawing and scales the result as ``nn.data`` scales MNIST (ink peak -> 1).
"""
from __future__ import annotations

import numpy as np
from PIL import Image
from scipy import ndimage

SIZE = 28                  # MNIST side
BOX = 20                   # the digit's longer side inside the 28x28 field
CENTRE = 14.0              # where MNIST puts the centre of mass (row, column), in pixel indices
INK_THRESHOLD = 0.1        # ink (in [0, 1]) below this is background: bounding box and "empty"
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)   # ITU-R 601, as PIL's "L" mode


def to_mnist(image: np.ndarray) -> np.ndarray | None:
    """A drawing as a (28, 28) float32 array in [0, 1], or ``None`` when nothing is drawn.

    ``image``: a 2-D grayscale array, or (H, W, 3) RGB / (H, W, 4) RGBA, of any size. Ink is bright
    on dark; on a board that is not fully opaque the ink is the alpha channel. Integer images are
    0..255, float images 0..1. Raises ``ValueError`` for anything else.
    """
    ink = ink_map(image)
    box = ink_bbox(ink)
    if box is None:
        return None
    top, bottom, left, right = box
    digit = fit_box(ink[top:bottom, left:right])
    return centre_by_mass(digit)


def ink_map(image: np.ndarray) -> np.ndarray:
    """Ink intensity as a float32 (H, W) array in [0, 1]."""
    a = _checked(image)
    full = 1 if a.dtype.kind in "fb" else 255
    scale = np.float32(1 / full)
    if a.ndim == 2:
        return a.astype(np.float32) * scale
    if a.shape[2] == 4 and a[..., 3].min() < full:
        return a[..., 3].astype(np.float32) * scale        # transparent board: ink is alpha
    return (a[..., :3].astype(np.float32) @ _LUMA) * scale  # opaque board: ink is brightness


def _checked(image: np.ndarray) -> np.ndarray:
    try:
        a = np.asarray(image)
    except ValueError as exc:                       # e.g. ragged nested lists
        raise ValueError(f"image must be a rectangular array ({exc})") from None
    if a.dtype.kind not in "biuf":
        raise ValueError(f"image must hold numbers; got dtype {a.dtype}")
    if not (a.ndim == 2 or (a.ndim == 3 and a.shape[2] in (3, 4))):
        raise ValueError("image must be 2-D grayscale or (H, W, 3) RGB or (H, W, 4) RGBA; "
                         f"got shape {a.shape}")
    if a.shape[0] == 0 or a.shape[1] == 0:
        raise ValueError(f"image is empty; got shape {a.shape}")
    if a.dtype.kind == "f":
        if not np.isfinite(a).all():
            raise ValueError("image holds NaN or infinite values")
        if a.min() < 0 or a.max() > 1:
            raise ValueError(f"float images must be in [0, 1]; got [{a.min():g}, {a.max():g}] "
                             "(pass uint8 for 0..255)")
    elif a.dtype.kind in "iu" and (a.min() < 0 or a.max() > 255):
        raise ValueError(f"integer images must be in 0..255; got [{a.min()}, {a.max()}]")
    return a


def ink_bbox(ink: np.ndarray) -> tuple[int, int, int, int] | None:
    """(top, bottom, left, right) of the pixels above ``INK_THRESHOLD``, half-open; None if none."""
    mask = ink > INK_THRESHOLD
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        return None
    return int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1


def fit_box(ink: np.ndarray, box: int = BOX) -> np.ndarray:
    """Resize so the longer side is ``box`` px, aspect ratio kept, with a Lanczos (anti-aliasing)
    filter; the peak is scaled to 1 as in MNIST, whose every digit peaks at 254-255."""
    h, w = ink.shape
    s = box / max(h, w)
    size = (max(1, round(w * s)), max(1, round(h * s)))           # PIL wants (width, height)
    picture = Image.fromarray(np.ascontiguousarray(ink, dtype=np.float32))   # mode "F"
    out = np.asarray(picture.resize(size, Image.Resampling.LANCZOS))
    out = np.clip(out, 0, None)                                    # Lanczos rings below zero
    return (out / out.max()).astype(np.float32) if out.max() > 0 else out.astype(np.float32)


def centre_by_mass(digit: np.ndarray, size: int = SIZE, centre: float = CENTRE) -> np.ndarray:
    """Paste ``digit`` into a size x size field, moved by whole pixels so its centre of mass
    lands on (centre, centre), kept inside the field."""
    h, w = digit.shape
    cy, cx = ndimage.center_of_mass(digit)
    top = int(np.clip(round(centre - cy), 0, size - h))
    left = int(np.clip(round(centre - cx), 0, size - w))
    out = np.zeros((size, size), dtype=np.float32)
    out[top:top + h, left:left + w] = np.clip(digit, 0, 1)
    return out
