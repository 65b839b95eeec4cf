"""Array helpers shared by the solvers.

:func:`unique_sorted` replaces ``np.unique(a)`` on large integer keys: numpy 2.4 computes
a plain ``np.unique`` with a hash table that is about 200 times slower than sorting when
there are millions of distinct int64 values (measured in docs/benchmarks.md); sort plus an
adjacent-difference mask gives the same sorted distinct values.
"""

from __future__ import annotations

import numpy as np


def unique_sorted(a: np.ndarray) -> np.ndarray:
    """The sorted distinct values of ``a`` (as ``np.unique(a)``)."""
    s = np.sort(a, axis=None)
    return s[np.concatenate((s[:1] == s[:1], s[1:] != s[:-1]))]

