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


def concat_ranges(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """``np.concatenate([np.arange(s, s + c) for s, c in zip(starts, counts)])``, vectorised (CSR row gathers)."""
    counts = np.asarray(counts, dtype=np.int64)
    total = int(counts.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    offsets = np.asarray(starts, dtype=np.int64) - np.concatenate(([0], np.cumsum(counts)[:-1]))
    return np.repeat(offsets, counts) + np.arange(total, dtype=np.int64)
