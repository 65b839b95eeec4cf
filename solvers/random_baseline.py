"""``random``: a seeded random mapping, the floor every other solver should beat.

Units are taken in a random order (from the run's seeded generator) and packed first-fit:
a unit joins the first of the ``window`` most recently opened crossbars that has a free
column (up to ``fill`` of them) and room for the unit's sources as rows; otherwise a new
crossbar is opened. Crossbars are then put on random crossbar slots of the mesh (K per
tile). Nothing is optimised, so
it shows what a mapping costs when no care is taken: a baseline for bake-offs and for the
SANA-FE cross-check (docs/sanafe.md), whose rank correlations need mappings that differ.
"""

from __future__ import annotations

import math

import numpy as np

from mapopt.mapping import Mapping
from mapopt.problem import MappingProblem
from mapopt.solver import Outcome, SolveContext, Solver
from mapopt.space import Float, Int, SearchSpace

#: Check the deadline every this many units.
CHECK_EVERY = 1024


class RandomMapping(Solver):
    """Random unit order packed first-fit, then random placement of the crossbars."""

    name = "random"
    description = "seeded random unit order packed first-fit, random tile placement (a baseline)"

    space = SearchSpace(Int("window", 1, 1024, log=True), Float("fill", 0.5, 1.0))

    def __init__(self, *, window: int = 64, fill: float = 1.0):
        self.window = window
        self.fill = fill

    def _solve(self, problem: MappingProblem, ctx: SolveContext) -> Outcome:
        if self.window < 1 or not 0.0 < self.fill <= 1.0:
            raise ValueError(f"need window >= 1 and 0 < fill <= 1, got window={self.window}, fill={self.fill}")
        dec, hw = problem.decomposition, problem.hardware
        net = dec.network
        columns = max(1, math.floor(self.fill * hw.columns))
        order = ctx.rng.permutation(np.flatnonzero(dec.compute))
        unit_crossbar = np.full(net.n_neurons, -1, dtype=np.int64)
        ptr, pre = net.in_ptr, net.pre
        # First-fit needs each open crossbar's row set, updated unit by unit: a per-unit loop
        # (as in the paper's packer), bounded by the window; acceptable for a baseline.
        rows: list[set[int]] = []
        cols: list[int] = []
        open_cbs: list[int] = []
        for i, u in enumerate(order.tolist()):
            if i % CHECK_EVERY == 0 and ctx.expired():
                return Outcome(None, message="time limit reached while packing")
            srcs = set(pre[ptr[u] : ptr[u + 1]].tolist())
            target = next((c for c in open_cbs if len(rows[c] | srcs) <= hw.rows), -1)
            if target < 0:
                target = len(cols)
                rows.append(set())
                cols.append(0)
                open_cbs.append(target)
                if len(open_cbs) > self.window:
                    open_cbs.pop(0)
            rows[target] |= srcs
            cols[target] += 1
            unit_crossbar[u] = target
            if cols[target] >= columns:
                open_cbs.remove(target)
        n_cb = len(cols)
        placed = problem.hardware_for(n_cb)
        slots = ctx.rng.permutation(placed.crossbar_slots())[:n_cb]
        return Outcome(Mapping(unit_crossbar, slots, placed.mesh))
