"""``windowed``: most-utilised-first packing over a window of open crossbars, then in-order placement.

Units are taken neuron by neuron (a decomposed neuron's units one after another, so the
inputs of a unit are packed together), and each goes to the most-utilised of the ``window``
most recently opened crossbars that still has a free column and room for its sources as
rows; a new crossbar is opened when none has. It is the rule of the authors' partitioner
(``Clusters::minClusters`` of drexel-DISCO/SpiNeMap, which ``paper`` follows exactly) with
the search bounded to a window, so its work per unit is constant: a fast baseline on any
N'. Placement fills tiles in order, nearest to the I/O tile first. (This was mapopt's
``paper`` solver before issue 10.)
"""

from __future__ import annotations

import numpy as np

from mapopt.mapping import Mapping
from mapopt.problem import MappingProblem
from mapopt.solver import SolveContext
from mapopt.space import Int, SearchSpace
from solvers.common.placement import place_in_order
from solvers.common.two_step import PackThenPlace

#: Check the deadline every this many units.
CHECK_EVERY = 1024


def pack_windowed(problem: MappingProblem, ctx: SolveContext, window: int) -> np.ndarray | None:
    """Unit -> crossbar by windowed most-utilised-first packing; None if time ran out."""
    dec, hw = problem.decomposition, problem.hardware
    net = dec.network
    compute = np.flatnonzero(dec.compute)
    order = compute[np.lexsort((dec.position[compute], dec.origin[compute]))]
    unit_crossbar = np.full(net.n_neurons, -1, dtype=np.int64)
    rows: list[set[int]] = []
    cols: list[int] = []
    open_cbs: list[int] = []
    ptr, pre = net.in_ptr, net.pre
    for i, u in enumerate(order.tolist()):
        if i % CHECK_EVERY == 0 and ctx.expired():
            return None
        srcs = set(pre[ptr[u] : ptr[u + 1]].tolist())
        target = -1
        for c in sorted(open_cbs, key=lambda c: -cols[c]):  # most utilised first
            if len(rows[c]) + len(srcs - rows[c]) <= hw.rows:
                target = c
                break
        if target < 0:
            target = len(cols)
            rows.append(set())
            cols.append(0)
            open_cbs.append(target)
            if len(open_cbs) > window:
                open_cbs.pop(0)
        rows[target] |= srcs
        cols[target] += 1
        unit_crossbar[u] = target
        if cols[target] == hw.columns:
            open_cbs.remove(target)
    return unit_crossbar


class Windowed(PackThenPlace):
    """Most-utilised-first packing over the last ``window`` opened crossbars + in-order placement."""

    name = "windowed"
    description = "most-utilised-first packing over a window of open crossbars, in-order placement"

    space = SearchSpace(Int("window", 1, 64, log=True))

    def __init__(self, *, window: int = 8):
        self.window = window

    def assign(self, problem: MappingProblem, ctx: SolveContext) -> np.ndarray | None:
        """The crossbar of every unit (None if the deadline passed while packing)."""
        if self.window < 1:
            raise ValueError(f"window must be >= 1, got {self.window}")
        return pack_windowed(problem, ctx, self.window)

    def place(
        self, problem: MappingProblem, unit_crossbar: np.ndarray, ctx: SolveContext, graph: object = None
    ) -> Mapping:
        """In-order placement (``graph`` is not needed)."""
        return place_in_order(problem, unit_crossbar)
