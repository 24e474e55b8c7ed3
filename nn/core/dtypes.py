"""The float precisions a network may compute in (every network of nn.core, and the sweep)."""
from __future__ import annotations

from typing import Any

import numpy as np

DTYPES = ("float32", "float64")


def check_dtype(dtype: Any) -> np.dtype:
    """``dtype`` as a NumPy dtype if it names one of ``DTYPES``, else ValueError."""
    if str(dtype) not in DTYPES:
        raise ValueError(f"dtype must be one of {', '.join(DTYPES)}; got {dtype!r}")
    return np.dtype(dtype)
