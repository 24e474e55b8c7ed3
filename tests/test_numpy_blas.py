"""The optimizers' vector passes in NumPy's own BLAS (``nn.core.numpy_blas``): y = a x + b y in
one pass, the same values as NumPy's passes, and NumPy's passes where BLAS cannot take the arrays."""
from pathlib import Path

import numpy as np
import pytest

from nn.core import numpy_blas


def test_numpy_wheels_blas_is_found():
    """NumPy's wheels bundle OpenBLAS 64: where it is, both routines are used (else the passes
    run in NumPy, and the test below checks that path too)."""
    bundled = Path(np.__file__).resolve().parent.parent / "numpy.libs"
    if not any("openblas64_" in f.name for f in bundled.glob("*")):
        pytest.skip("this NumPy has no bundled OpenBLAS 64")
    assert all(numpy_blas.available(d, r) for d in ("float32", "float64") for r in ("axpby", "axpy"))


@pytest.mark.parametrize("strided", [False, True])      # BLAS's pass, or NumPy's for a strided x
def test_axpby_and_axpy_are_one_pass_of_the_formula(strided):
    rng = np.random.default_rng(4)
    x0 = rng.standard_normal(2000)[::2] if strided else rng.standard_normal(1000)
    y0 = rng.standard_normal(1000)
    x, y = x0.copy() if not strided else rng.standard_normal(2000)[::2], y0.copy()
    x[...] = x0
    numpy_blas.axpby(1.0, x, 0.9, y)
    np.testing.assert_allclose(y, x0 + 0.9 * y0, rtol=1e-14)
    np.testing.assert_array_equal(x, x0)                 # alpha 1: x is left as it was
    numpy_blas.axpy(-0.25, x, y)
    np.testing.assert_allclose(y, x0 + 0.9 * y0 - 0.25 * x0, rtol=1e-13)
