"""What NumPy's own BLAS does that NumPy cannot: a product added into an array, and vector
passes on BLAS's threads.

- ``gemm_tn``: C = alpha A^T B + beta C. ``np.matmul`` calls gemm with beta = 0: it can only
  overwrite its output. Momentum folds the input layer's gradient into its state as it is
  computed (V = mu V - lr X^T dZ1, ``nn.core.optimizers``): the largest array of an MLP,
  784 x 256 floats, is then not written as a gradient and read back three times.
- ``axpby`` (y = a x + b y) and ``axpy`` (y += a x): each one pass where NumPy takes two (scale,
  then add), and run on BLAS's threads. A NumPy pass runs on one core while BLAS's other thread
  busy-waits on the second for the next product; measured on 784-256-10 with Adam, an epoch
  took 0.857x the time (median of 20 alternating epochs, faster in 20 of 20).

They are called through ctypes from the very library NumPy loaded (its threads, its thread
setting): SciPy's BLAS is a second OpenBLAS with its own spinning threads, and mixing the two
slowed training tenfold. NumPy's wheels bundle OpenBLAS built with 64-bit integers and its
symbols renamed (``scipy_cblas_sgemm64_``); any other build (MKL, Accelerate, a distribution's
OpenBLAS) is not used: ``available()`` says so, and the same passes run in NumPy.
"""
from __future__ import annotations

import ctypes
import os
from typing import Any

import numpy as np

_ROW_MAJOR, _NO_TRANS, _TRANS = 101, 111, 112     # CBLAS enums (cblas.h)
_I64, _PTR = ctypes.c_int64, ctypes.c_void_p
# the routines used, by name, with their arguments after the dtype's real type is put in for R
_SIGNATURES = {
    "gemm": ("int", "int", "int", _I64, _I64, _I64, "R", _PTR, _I64, _PTR, _I64, "R", _PTR, _I64),
    "axpby": (_I64, "R", _PTR, _I64, "R", _PTR, _I64),         # y = a x + b y
    "axpy": (_I64, "R", _PTR, _I64, _PTR, _I64),               # y = a x + y
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
                fn.argtypes = [real if a == "R" else ctypes.c_int if a == "int" else a for a in args]
                found[routine, dtype] = fn
    return found


def _functions() -> dict[tuple[str, np.dtype], Any]:
    global _found
    if _found is None:
        try:
            _found = _lookup()
        except Exception:          # threadpoolctl missing or a library it cannot read: no BLAS here
            _found = {}
        if not all(_agrees(dtype) for dtype in _REALS if ("gemm", dtype) in _found):
            _found = {}            # a small product disagrees with np.matmul: use none of it
    return _found


def available(dtype: np.dtype | str, routine: str = "gemm") -> bool:
    """True if ``routine`` (gemm for ``gemm_tn``, axpby, axpy) runs from BLAS for ``dtype`` here."""
    return (routine, np.dtype(dtype)) in _functions()


def fits(A: np.ndarray, B: np.ndarray, C: np.ndarray) -> bool:
    """True if ``gemm_tn(alpha, A, B, beta, C)`` runs in BLAS: one dtype that BLAS here
    multiplies, C-contiguous 2-D arrays, C writeable, and shapes A (k, m), B (k, n), C (m, n)."""
    arrays = (A, B, C)
    return (all(a.ndim == 2 and a.flags.c_contiguous and a.dtype == C.dtype for a in arrays)
            and A.shape[0] == B.shape[0] and C.shape == (A.shape[1], B.shape[1])
            and C.flags.writeable and available(C.dtype))


def gemm_tn(alpha: float, A: np.ndarray, B: np.ndarray, beta: float, C: np.ndarray) -> bool:
    """C = alpha A^T B + beta C, in place, in one BLAS call; False, and C untouched, when BLAS
    cannot take these arrays (``fits``: the caller then computes it otherwise)."""
    if not fits(A, B, C):
        return False
    (k, m), n = A.shape, B.shape[1]
    _functions()["gemm", C.dtype](_ROW_MAJOR, _TRANS, _NO_TRANS, m, n, k, alpha, A.ctypes.data, m,
                                  B.ctypes.data, n, beta, C.ctypes.data, n)
    return True


def _vectors(routine: str, x: np.ndarray, y: np.ndarray) -> Any:
    """BLAS's ``routine`` for x and y when both are contiguous, of one shape and dtype, and y
    writeable; else None."""
    if (x.shape == y.shape and x.dtype == y.dtype and x.flags.c_contiguous and y.flags.c_contiguous
            and y.flags.writeable):
        return _functions().get((routine, y.dtype))
    return None


def axpby(alpha: float, x: np.ndarray, beta: float, y: np.ndarray) -> None:
    """y = alpha x + beta y, in one pass (on BLAS's threads). ``x`` is left as it was when
    ``alpha`` is 1; otherwise it may serve as scratch (in NumPy it is scaled in place)."""
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


def _agrees(dtype: np.dtype) -> bool:
    rng = np.random.default_rng(0)
    A, B, C = (rng.standard_normal(shape).astype(dtype) for shape in ((5, 3), (5, 4), (3, 4)))
    expected = 0.5 * A.T @ B - 2.0 * C
    (k, m), n = A.shape, B.shape[1]
    _found["gemm", dtype](_ROW_MAJOR, _TRANS, _NO_TRANS, m, n, k, 0.5, A.ctypes.data, m,
                          B.ctypes.data, n, -2.0, C.ctypes.data, n)
    return bool(np.allclose(C, expected, rtol=1e-4, atol=1e-5))
