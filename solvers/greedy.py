"""``greedy``: first-fit-decreasing affinity packing, then traffic-greedy tile placement.

Assignment: units in first-fit-decreasing order grouped by shared inputs
(:func:`solvers.common.packing.affinity_order`), packed so that a crossbar prefers the units whose
sources it already holds (:func:`solvers.common.packing.pack_affinity`); this is the
shared-input clustering idea of SpiNeMap (Balaji et al., TVLSI 2020, arXiv 1909.01843)
applied to the crossbar-packing step of Balaji et al. (IEEE ESL 2020, arXiv 2009.09298).
Under-filled crossbars are then merged where they fit (:func:`solvers.common.packing.merge_crossbars`).
Placement: traffic-greedy (:func:`solvers.common.traffic.place_traffic`). It is fast (vectorised per
crossbar, no per-synapse Python) and deterministic; it is also the start of ``anneal``.
"""

from __future__ import annotations

import numpy as np

from mapopt.problem import MappingProblem
from mapopt.solver import SolveContext
from mapopt.space import Float, Int, SearchSpace
from solvers.common.packing import affinity_order, merge_crossbars, pack_affinity
from solvers.common.two_step import PackThenPlace


class Greedy(PackThenPlace):
    """Affinity-packing first-fit decreasing + traffic-greedy placement."""

    name = "greedy"
    description = "first-fit decreasing with shared-input affinity; traffic-greedy placement"

    space = SearchSpace(Int("pool", 16, 4096, log=True), Float("fill", 0.7, 1.0))

    def __init__(self, *, pool: int = 512, fill: float = 1.0):
        self.pool = pool
        self.fill = fill

    def assign(self, problem: MappingProblem, ctx: SolveContext) -> np.ndarray | None:
        """The crossbar of every unit (None if the deadline passed while packing)."""
        if self.pool < 1 or not 0.0 < self.fill <= 1.0:
            raise ValueError(f"need pool >= 1 and 0 < fill <= 1, got pool={self.pool}, fill={self.fill}")
        dec, hw = problem.decomposition, problem.hardware
        unit_crossbar = pack_affinity(dec, hw, affinity_order(dec), ctx, pool=self.pool, fill=self.fill)
        return None if unit_crossbar is None else merge_crossbars(dec, hw, unit_crossbar)
