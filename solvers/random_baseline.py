"""``random``: a seeded random mapping, the floor every other solver should beat.

Units are taken in a random order (from the run's seeded generator) and packed next-fit:
a unit joins the current crossbar while it has a free column (up to ``fill`` of them) and
room for the unit's sources as rows; otherwise a new crossbar is opened. Crossbars are
then put on random crossbar slots of the mesh (K per tile). Nothing is optimised, so
it shows what a mapping costs when no care is taken: a baseline for bake-offs and for the
SANA-FE cross-check (docs/sanafe.md), whose rank correlations need mappings that differ.
"""

from __future__ import annotations

import math

import numpy as np

from mapopt.mapping import Mapping
from mapopt.problem import MappingProblem
from mapopt.registry import register_solver
from mapopt.solver import Outcome, SolveContext, Solver

#: Check the deadline every this many units.
CHECK_EVERY = 1024


@register_solver
class RandomMapping(Solver):
    """Random unit order packed next-fit, then random placement of the crossbars."""

    name = "random"
    description = "seeded random unit order packed next-fit, random tile placement (a baseline)"

    def __init__(self, *, fill: float = 1.0):
        self.fill = fill

    def _solve(self, problem: MappingProblem, ctx: SolveContext) -> Outcome:
        if not 0.0 < self.fill <= 1.0:
            raise ValueError(f"need 0 < fill <= 1, got fill={self.fill}")
        dec, hw = problem.decomposition, problem.hardware
        net = dec.network
        columns = max(1, math.floor(self.fill * hw.columns))
        order = ctx.rng.permutation(np.flatnonzero(dec.compute))
        unit_crossbar = np.full(net.n_neurons, -1, dtype=np.int64)
        ptr, pre = net.in_ptr, net.pre
        # Next-fit needs the current crossbar's row set, updated unit by unit: a per-unit loop
        # (as in the paper's packer), acceptable for a baseline.
        current, rows, cols = -1, set(), columns
        for i, u in enumerate(order.tolist()):
            if i % CHECK_EVERY == 0 and ctx.expired():
                return Outcome(None, message="time limit reached while packing")
            srcs = set(pre[ptr[u] : ptr[u + 1]].tolist())
            if cols >= columns or len(rows | srcs) > hw.rows:
                current, rows, cols = current + 1, set(), 0
            rows |= srcs
            cols += 1
            unit_crossbar[u] = current
        n_cb = current + 1
        placed = problem.hardware_for(n_cb)
        slots = ctx.rng.permutation(placed.crossbar_slots())[:n_cb]
        return Outcome(Mapping(unit_crossbar, slots, placed.mesh))
