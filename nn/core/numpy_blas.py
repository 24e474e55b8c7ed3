"""Vector passes of the form y = a x + b y in NumPy's own BLAS: one pass where NumPy takes two.

An optimizer's update is a handful of passes over every parameter (``nn.core.optimizers``).
NumPy computes v = mu v - lr g in three (scale v, scale g, subtract); BLAS's ``axpby``
(y = a x + b y) does it in one, and ``axpy`` (y += a x) runs on BLAS's threads, where a NumPy
pass runs on one core while BLAS's other thread spins, waiting for the next product. Measured on
784-256-10 with Adam, an epoch took 0.857x the time (median of 20 alternating epochs, faster in
20 of 20). ``axpby`` is single-threaded in OpenBLAS, ``axpy`` threaded above 10,000 values.

They are called through ctypes from the very library NumPy loaded (its threads, its thread
setting): SciPy's BLAS is a second OpenBLAS with its own spinning threads, and mixing the two
slowed training tenfold. NumPy's wheels bundle OpenBLAS built with 64-bit integers and its
symbols renamed (``scipy_cblas_saxpby64_``); any other build (MKL, Accelerate, a distribution's
OpenBLAS) is not used: ``available()`` says so, and the same passes run in NumPy.
"""
from __future__ import annotations

import ctypes
import os
from typing import Any

import numpy as np

_I64, _PTR = ctypes.c_int64, ctypes.c_void_p
# the routines used, with their arguments ("R": the dtype's real type)
_SIGNATURES = {
    "axpby": (_I64, "R", _PTR, _I64, "R", _PTR, _I64),         # n, a, x, incx, b, y, incy
    "axpy": (_I64, "R", _PTR, _I64, _PTR, _I64),               # n, a, x, incx, y, incy
}
_REALS = {np.dtype(np.float32): ("s", ctypes.c_float), np.dtype(np.float64): ("d", ctypes.c_double)}
_found: dict[tuple[str, np.dtype], Any] | None = None     # (routine, dtype) -> function


def _numpy_openblas() -> Any:
    """NumPy's own OpenBLAS (a ctypes library) when it is the 64-bit wheel build, else None."""
    from threadpoolctl import ThreadpoolController
    numpy_dir = os.path.dirname(os.path.dirname(np.__file__))
    for lib in ThreadpoolController().select(internal_api="openblas").lib_controllers:
        path = os.path.realpath(lib.filepath)
        if path.startswith(os.path.join(numpy_dir, "numpy")) and "openblas64_" in os.path.basename(path):
            return lib.dynlib
    return None


def _lookup() -> dict[tuple[str, np.dtype], Any]:
    lib = _numpy_openblas()
    found: dict[tuple[str, np.dtype], Any] = {}
    if lib is None:
        return found
    for dtype, (letter, real) in _REALS.items():
        for routine, args in _SIGNATURES.items():
            fn = getattr(lib, f"scipy_cblas_{letter}{routine}64_", None)
            if fn is not None:
                fn.restype = None
                fn.argtypes = [real if a == "R" else a for a in args]
                found[routine, dtype] = fn
    return found


def _functions() -> dict[tuple[str, np.dtype], Any]:
    global _found
    if _found is None:
        try:
            _found = _lookup()
        except Exception:          # threadpoolctl missing or a library it cannot read: no BLAS here
            _found = {}
        if not _agrees():
            _found = {}            # a small pass disagrees with NumPy's: use none of it
    return _found


def available(dtype: np.dtype | str, routine: str = "axpby") -> bool:
    """True if ``routine`` (axpby, axpy) runs in BLAS for ``dtype`` here."""
    return (routine, np.dtype(dtype)) in _functions()


def _vectors(routine: str, x: np.ndarray, y: np.ndarray) -> Any:
    """BLAS's ``routine`` for x and y when both are contiguous, of one shape and dtype, and y
    writeable; else None."""
    if (x.shape == y.shape and x.dtype == y.dtype and x.flags.c_contiguous and y.flags.c_contiguous
            and y.flags.writeable):
        return _functions().get((routine, y.dtype))
    return None


def axpby(alpha: float, x: np.ndarray, beta: float, y: np.ndarray) -> None:
    """y = alpha x + beta y, in one pass. ``x`` is left as it was when ``alpha`` is 1;
    otherwise it may serve as scratch (in NumPy it is scaled in place)."""
    fn = _vectors("axpby", x, y)
    if fn is not None:
        fn(y.size, alpha, x.ctypes.data, 1, beta, y.ctypes.data, 1)
        return
    y *= beta
    if alpha != 1:
        x *= alpha
    y += x


def axpy(alpha: float, x: np.ndarray, y: np.ndarray) -> None:
    """y += alpha x, in one pass (on BLAS's threads); ``x`` as in ``axpby``."""
    fn = _vectors("axpy", x, y)
    if fn is not None:
        fn(y.size, alpha, x.ctypes.data, 1, y.ctypes.data, 1)
        return
    if alpha != 1:
        x *= alpha
    y += x


def _agrees() -> bool:
    """Each routine found, on 5 values, against the formula in NumPy."""
    for (routine, dtype), fn in _found.items():
        x, y = np.arange(1, 6, dtype=dtype), np.arange(5, 0, -1, dtype=dtype)
        expected = 0.5 * x + (2.0 if routine == "axpby" else 1.0) * y
        if routine == "axpby":
            fn(5, 0.5, x.ctypes.data, 1, 2.0, y.ctypes.data, 1)
        else:
            fn(5, 0.5, x.ctypes.data, 1, y.ctypes.data, 1)
        if not np.allclose(y, expected):
            return False
    return True
