"""Solvers in two steps, pack then place: the shape ``auto`` relies on to compare packers cheaply.

``auto`` (solvers/auto.py) runs the ``assign`` step of several packers, places only the
packings with the fewest crossbars and ranks those by their traffic graph, so every packer
it draws on exposes the two steps separately; solving alone is the two steps in a row.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mapopt.mapping import Mapping
from mapopt.problem import MappingProblem
from mapopt.solver import Outcome, SolveContext, Solver
from solvers.common.traffic import TrafficGraph, place_traffic


class PackThenPlace(Solver):
    """A packer (``assign``: the crossbar of every unit) followed by a placement (``place``: their tiles)."""

    #: The message of a run whose deadline passed during the ``assign`` step.
    stopped_packing = "time limit reached while packing"

    def assign(self, problem: MappingProblem, ctx: SolveContext) -> np.ndarray | None:
        """The crossbar of every unit (-1 for inputs), or None if the deadline passed first."""
        raise NotImplementedError

    def place(
        self, problem: MappingProblem, unit_crossbar: np.ndarray, ctx: SolveContext, graph: TrafficGraph | None = None
    ) -> Mapping:
        """Traffic-greedy placement of an assignment (``graph``: its traffic graph, if already built)."""
        return place_traffic(problem, unit_crossbar, ctx, graph=graph)

    def run_info(self, problem: MappingProblem) -> dict[str, Any]:
        """Extra facts for the result's ``info`` (none by default)."""
        return {}

    def _solve(self, problem: MappingProblem, ctx: SolveContext) -> Outcome:
        unit_crossbar = self.assign(problem, ctx)
        if unit_crossbar is None:
            return Outcome(None, message=self.stopped_packing)
        ctx.record(float(unit_crossbar.max() + 1))
        return Outcome(self.place(problem, unit_crossbar, ctx), info=self.run_info(problem))
