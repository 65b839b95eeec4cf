"""A decomposition's own packing (``Decomposition.layout``), checked and merged, as a start for solvers."""

from __future__ import annotations

import numpy as np

from mapopt.decompose.base import Decomposition
from mapopt.hardware import Hardware
from mapopt.network import wide
from solvers.common.arrays import unique_sorted
from solvers.common.packing import merge_crossbars


def proposed_layout(dec: Decomposition, hw: Hardware) -> np.ndarray | None:
    """The decomposition's own packing (``Decomposition.layout``, e.g. from ``auto``) when it is valid, merged.

    A proposal is checked here against ``columns`` and ``rows`` like any packing (an invalid
    one is ignored) and renumbered 0..c-1; the solver template re-validates the result.
    """
    layout = dec.layout
    if layout is None or layout.shape != dec.compute.shape:
        return None
    compute = dec.compute
    if (layout[compute] < 0).any() or (layout[~compute] != -1).any():
        return None
    unit_crossbar = np.full_like(layout, -1)
    unit_crossbar[compute] = np.unique(layout[compute], return_inverse=True)[1]
    n_cb = int(unit_crossbar.max()) + 1 if compute.any() else 0
    if (np.bincount(unit_crossbar[compute], minlength=n_cb) > hw.columns).any():
        return None
    net = dec.network
    key = unique_sorted(wide(net.pre) * max(n_cb, 1) + unit_crossbar[net.post])
    if (np.bincount(key % max(n_cb, 1), minlength=n_cb) > hw.rows).any():
        return None
    return merge_crossbars(dec, hw, unit_crossbar)
