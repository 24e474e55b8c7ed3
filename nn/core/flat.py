"""Arrays packed back to back in one flat buffer, so that an elementwise pass over all of them
(an optimizer's update: ``nn.core.optimizers``) is one NumPy call instead of one per array.

784-256-10 has four parameter arrays (W1, b1, W2, b2): Adam's twelve in-place passes were 48
NumPy calls a step, a third of them on arrays of 10 or 256 values where the call itself costs
more than the arithmetic. A pickled view would come back as an array of its own, so the
owners (``MLP``, ``Trainer``, ``Optimizer``) pickle a packed list as its buffer and shapes
(``Packed``: ``for_pickle``) and make the views again when unpickled (``from_pickle``): one copy
of the values in a worker process, not the unpickled arrays and a packed copy of them at once
(the worker's memory limit counts both). ``flat_view`` tells whether a list is still packed,
and every user falls back to one call per array when not.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np


def packed(arrays: Sequence[np.ndarray], fill: float | None = None) -> list[np.ndarray]:
    """Views of one new 1-D buffer shaped like ``arrays``, in order, holding copies of them
    (``fill``: that value instead). Arrays of different dtypes are copied, not packed."""
    arrays = list(arrays)
    if not arrays or len({a.dtype for a in arrays}) != 1:
        return [np.full_like(a, fill) if fill is not None else a.copy() for a in arrays]
    flat = np.empty(sum(a.size for a in arrays), arrays[0].dtype)
    views, start = [], 0
    for a in arrays:
        view = flat[start:start + a.size].reshape(a.shape)
        view[...] = a if fill is None else fill
        views.append(view)
        start += a.size
    return views


def flat_view(arrays: Sequence[np.ndarray]) -> np.ndarray | None:
    """The 1-D buffer that ``arrays`` tile exactly, back to back and in order (as ``packed``
    makes them); None if they do not."""
    if not arrays:
        return None
    base = arrays[0].base
    if not isinstance(base, np.ndarray) or base.ndim != 1 or not base.flags.c_contiguous:
        return None
    at = base.__array_interface__["data"][0]
    for a in arrays:
        if (a.base is not base or a.dtype != base.dtype or not a.flags.c_contiguous
                or a.__array_interface__["data"][0] != at):
            return None
        at += a.nbytes
    return base if at == base.__array_interface__["data"][0] + base.nbytes else None


@dataclass(frozen=True)
class Packed:
    """A packed list as pickled: its buffer once, and each array's shape."""
    flat: np.ndarray
    shapes: tuple[tuple[int, ...], ...]

    def views(self) -> list[np.ndarray]:
        views, start = [], 0
        for shape in self.shapes:
            size = int(np.prod(shape, dtype=np.int64))
            views.append(self.flat[start:start + size].reshape(shape))
            start += size
        return views


def for_pickle(arrays: Sequence[np.ndarray]) -> Packed | list[np.ndarray]:
    """``arrays`` to pickle: their buffer and shapes when packed, else the arrays themselves."""
    flat = flat_view(arrays)
    return list(arrays) if flat is None else Packed(flat, tuple(a.shape for a in arrays))


def from_pickle(pickled: Packed | Sequence[np.ndarray]) -> list[np.ndarray]:
    """What ``for_pickle`` gave, unpickled, as views of one buffer (arrays that were not packed
    are packed now)."""
    return pickled.views() if isinstance(pickled, Packed) else packed(pickled)
