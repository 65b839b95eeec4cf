"""``auto``: picks assignment and placement methods by instance size and time budget.

This is the solver of ``mapopt run``'s ``best`` strategy (see :func:`mapopt.pipeline.best_strategy`);
the decomposition is chosen there (the ``auto`` strategy when registered). The rules,
measured in docs/benchmarks.md:

- every instance: the layer-aware fast path ``layered`` (one numpy pass per crossbar);
- up to ``greedy_synapses`` synapses in N': also ``greedy`` (affinity packing with a
  lookahead pool), and up to ``partition_synapses`` also ``partition`` (METIS); the best
  by the validator's objective is kept; up to ``paper_units`` units the windowed
  most-utilised-first packer (``windowed``) is a candidate too;
- up to ``anneal_units`` units (and ``greedy_synapses`` synapses) and with time left:
  ``anneal`` refines the best with ``anneal_moves`` moves, stopping earlier only at the
  time limit (or after ``anneal_seconds`` of annealing, when that is set).

Without a time limit and with ``anneal_seconds=None`` (the defaults) every step counts
work, not time, so the same seed gives the same mapping under any load (what ``best``
promises). The default 5,000 moves take about 1.3 s of CPU on the default net (784-64-10
MLP, auto decomposition), about what the former 2 s wall-clock cap allowed on an idle
machine, and reach the same crossbars and hop_spikes within 1 % (docs/reliability.md).
"""

from __future__ import annotations

import numpy as np

from mapopt.evaluation import assess
from mapopt.mapping import Mapping
from mapopt.problem import MappingProblem
from mapopt.solver import Outcome, SolveContext, Solver
from mapopt.space import Categorical, Int, SearchSpace
from solvers.anneal import Anneal
from solvers.greedy import Greedy
from solvers.layered import Layered
from solvers.partition import Partition
from solvers.windowed import Windowed

#: Below this remaining time (s) no refinement is started.
MIN_REFINE_SECONDS = 0.5


class Auto(Solver):
    """Portfolio by size: layered always, greedy/partition on mid-size nets, anneal on small ones."""

    name = "auto"
    description = "picks layered / greedy / partition and anneal refinement by instance size and budget"

    #: Tunable hyperparameters (mapopt.space). The size gates are choices among round numbers;
    #: the annealing budget only matters when annealing is on (anneal_units > 0): conditional.
    #: ``anneal_seconds`` (a wall-clock cap, off by default) is not tuned: tuned budgets count work.
    space = SearchSpace(
        Categorical("greedy_synapses", (300_000, 3_000_000, 30_000_000)),
        Categorical("partition_synapses", (0, 100_000, 1_000_000, 10_000_000)),
        Categorical("paper_units", (0, 100_000, 1_000_000)),
        Categorical("anneal_units", (0, 10_000, 50_000, 200_000)),
        Int("anneal_moves", 2_000, 100_000, log=True, when=("anneal_units", (10_000, 50_000, 200_000))),
    )

    def __init__(
        self,
        *,
        greedy_synapses: int = 3_000_000,
        partition_synapses: int = 1_000_000,
        anneal_units: int = 50_000,
        anneal_moves: int = 5_000,
        anneal_seconds: float | None = None,
        paper_units: int = 100_000,
    ):
        self.greedy_synapses = greedy_synapses
        self.partition_synapses = partition_synapses
        self.anneal_units = anneal_units
        self.anneal_moves = anneal_moves
        self.anneal_seconds = anneal_seconds
        self.paper_units = paper_units

    def _solve(self, problem: MappingProblem, ctx: SolveContext) -> Outcome:
        dec = problem.decomposition
        synapses = dec.network.n_synapses
        methods: list[Solver] = [Layered()]
        if synapses <= self.greedy_synapses:
            methods.append(Greedy())
        if synapses <= self.partition_synapses:
            methods.append(Partition())
        if dec.n_units <= self.paper_units:
            methods.append(Windowed())
        best: Mapping | None = None
        best_key: tuple[float, ...] | None = None
        chosen = ""
        for method in methods:
            if best is not None and ctx.expired():
                break
            out = method._solve(problem, ctx)
            if out.mapping is None:
                continue
            key = _key(problem, out.mapping) if len(methods) > 1 else (0.0,)
            if best_key is None or key < best_key:
                best, best_key, chosen = out.mapping, key, method.name
        if best is None:
            return Outcome(None, message="time limit reached before any method finished")
        remaining = ctx.remaining()
        small = dec.n_units <= self.anneal_units and synapses <= self.greedy_synapses
        refine = small and (remaining is None or remaining >= MIN_REFINE_SECONDS)
        if refine and self.anneal_moves > 0:
            best = Anneal(moves=self.anneal_moves, max_seconds=self.anneal_seconds).refine(problem, ctx, best)
            chosen += "+anneal"
        return Outcome(best, info={"methods": chosen})


def _key(problem: MappingProblem, mapping: Mapping) -> tuple[float, ...]:
    """The validator's objective of a candidate (an invalid one ranks last)."""
    verdict = assess(problem.decomposition, problem.hardware, mapping)
    return problem.key(verdict.metrics) if verdict.valid else (np.inf,)
