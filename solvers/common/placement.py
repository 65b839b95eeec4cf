"""Placement helpers shared by solvers: crossbars onto tiles (sigma of docs/model.md)."""

from __future__ import annotations

import numpy as np

from mapopt.mapping import Mapping
from mapopt.problem import MappingProblem


def place_in_order(problem: MappingProblem, unit_crossbar: np.ndarray) -> Mapping:
    """Fill tiles with crossbars in id order, nearest tiles to the I/O tile first.

    The simple placement of the foundation: K crossbars per tile, tiles visited by hop
    distance from the I/O tile, so that the first (input-heavy) crossbars sit close to it.
    """
    n_cb = int(unit_crossbar.max()) + 1 if (unit_crossbar >= 0).any() else 0
    hw = problem.hardware_for(n_cb)
    return Mapping(unit_crossbar, hw.crossbar_slots()[:n_cb], hw.mesh)
