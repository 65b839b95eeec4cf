"""``layered``: the fast path for structured (layered) nets, exploiting their known input sharing.

In a fully connected layer every neuron reads the same inputs, so after a chain or tree
decomposition the units at the same position of different neurons read the same input
range; in a convolutional layer the output channels at one spatial location read the
same window, and neighbouring locations overlapping windows. Ordering units by (layer,
smallest raw input, position, neuron) (``Network.layer`` and the decomposition's
``origin``/``position``) therefore puts units with shared inputs next to each other, and
one next-fit pass (:func:`solvers.common.packing.pack_sequential`, one numpy step per crossbar)
packs them; under-filled crossbars are merged where they fit; placement is traffic-greedy.
Nets without layer information are treated as one layer. When the decomposition brings its
own packing (``Decomposition.layout``: ``auto`` packs its candidates to choose between them),
that packing is kept instead if it needs fewer crossbars. ``auto`` always tries this method,
and on very large nets it is the only one it runs.
"""

from __future__ import annotations

import numpy as np

from mapopt.decompose.base import Decomposition
from mapopt.mapping import Mapping
from mapopt.problem import MappingProblem
from mapopt.solver import SolveContext
from mapopt.space import Categorical, SearchSpace
from solvers.common.layout import proposed_layout
from solvers.common.packing import merge_crossbars, pack_sequential, raw_signature
from solvers.common.placement import place_in_order
from solvers.common.traffic import TrafficGraph, place_traffic
from solvers.common.two_step import PackThenPlace


def layer_order(dec: Decomposition) -> np.ndarray:
    """Compute units ordered by (layer, smallest raw input, position, neuron)."""
    units = np.flatnonzero(dec.compute)
    sig = raw_signature(dec)[units]
    return units[np.lexsort((dec.origin[units], dec.position[units], sig, dec.network.layer[units]))]


class Layered(PackThenPlace):
    """Layer-aware ordering + exact next-fit packing + traffic-greedy placement."""

    name = "layered"
    description = "layer-aware fast path for fully connected / convolutional nets (shared-input ordering)"

    space = SearchSpace(Categorical("placement", ("traffic", "order")))

    def __init__(self, *, placement: str = "traffic"):
        self.placement = placement

    def assign(self, problem: MappingProblem, ctx: SolveContext) -> np.ndarray | None:
        """The crossbar of every unit (None if the deadline passed while packing)."""
        if self.placement not in ("traffic", "order"):
            raise ValueError(f"placement must be 'traffic' or 'order', got {self.placement!r}")
        dec = problem.decomposition
        unit_crossbar = pack_sequential(dec, problem.hardware, layer_order(dec), ctx)
        if unit_crossbar is None:
            return None
        unit_crossbar = merge_crossbars(dec, problem.hardware, unit_crossbar)
        proposed = proposed_layout(dec, problem.hardware)
        if proposed is not None and proposed.max() < unit_crossbar.max():
            unit_crossbar = proposed
        return unit_crossbar

    def place(
        self, problem: MappingProblem, unit_crossbar: np.ndarray, ctx: SolveContext, graph: TrafficGraph | None = None
    ) -> Mapping:
        """The tiles of an assignment (``graph``: its traffic graph, if already built)."""
        if self.placement == "order":
            return place_in_order(problem, unit_crossbar)
        return place_traffic(problem, unit_crossbar, ctx, graph=graph)
