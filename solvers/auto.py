"""``auto``: picks assignment and placement methods by instance size and time budget.

This is the solver of ``mapopt run``'s ``best`` strategy (see :func:`mapopt.pipeline.best_strategy`);
the decomposition is chosen there (the ``auto`` strategy when registered). The rules,
measured in docs/benchmarks.md:

- every instance: the layer-aware fast path ``layered`` (one numpy pass per crossbar);
- up to ``greedy_synapses`` synapses in N': also ``greedy`` (affinity packing with a
  lookahead pool), and up to ``partition_synapses`` also ``partition`` (METIS); up to
  ``paper_units`` units the windowed most-utilised-first packer (``windowed``) is a candidate too;
- above ``exhaustive_synapses`` synapses, for an objective whose first key is the crossbar
  count, the candidates stop at the first packing that meets the validator's crossbar
  lower bound (no other can use fewer; the rest would only trade hop traffic for another
  full packing);
- up to ``anneal_units`` units (and ``greedy_synapses`` synapses) and with time left:
  ``anneal`` refines the best with ``anneal_moves`` moves, stopping earlier only at the
  time limit (or after ``anneal_seconds`` of annealing, when that is set).

Without a time limit and with ``anneal_seconds=None`` (the defaults) every step counts
work, not time, so the same seed gives the same mapping under any load (what ``best``
promises). The default 5,000 moves take about 1.3 s of CPU on the default net (784-64-10
MLP, auto decomposition), about what the former 2 s wall-clock cap allowed on an idle
machine, and reach the same crossbars and hop_spikes within 1 % (docs/reliability.md).

Candidates are scored cheaply and only the winner is validated (by the solver template):
every candidate first packs (its ``assign`` step); for an objective whose first key is
the crossbar count, only the candidates with the fewest crossbars are placed, since the
others lose whatever their placement; the placed ones are ranked by
:meth:`solvers.common.traffic.TrafficGraph.objective` (the objective from the crossbar
traffic graph, which the placement builds anyway). A candidate that fails (an error, no
result in time, more crossbars than a fixed mesh holds) is skipped and named in
``info["notes"]``; the run fails only when every candidate does.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mapopt.errors import InputError
from mapopt.evaluation import lower_bounds
from mapopt.mapping import Mapping
from mapopt.problem import OBJECTIVES, MappingProblem
from mapopt.solver import Outcome, SolveContext, Solver, Status
from mapopt.space import Categorical, Int, SearchSpace
from solvers.anneal import Anneal
from solvers.common.traffic import TrafficGraph
from solvers.common.two_step import PackThenPlace
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
        Categorical("paper_units", (0, 20_000, 100_000, 1_000_000)),
        Categorical("exhaustive_synapses", (0, 1_000_000, 10_000_000, 100_000_000)),
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
        paper_units: int = 20_000,
        exhaustive_synapses: int = 1_000_000,
    ):
        self.greedy_synapses = greedy_synapses
        self.partition_synapses = partition_synapses
        self.anneal_units = anneal_units
        self.anneal_moves = anneal_moves
        self.anneal_seconds = anneal_seconds
        self.paper_units = paper_units
        self.exhaustive_synapses = exhaustive_synapses

    def candidates(self, problem: MappingProblem) -> list[PackThenPlace]:
        """The methods tried on ``problem``, by its size."""
        dec = problem.decomposition
        synapses = dec.network.n_synapses
        methods: list[PackThenPlace] = [Layered()]
        if synapses <= self.greedy_synapses:
            methods.append(Greedy())
        if synapses <= self.partition_synapses:
            methods.append(Partition())
        if dec.n_units <= self.paper_units:
            methods.append(Windowed())
        return methods

    def _solve(self, problem: MappingProblem, ctx: SolveContext) -> Outcome:
        dec = problem.decomposition
        notes: list[str] = []
        packed: list[tuple[PackThenPlace, np.ndarray, int]] = []
        crossbars_first = OBJECTIVES[problem.objective][0] == "crossbars"
        stop_at = None
        if crossbars_first and dec.network.n_synapses > self.exhaustive_synapses:
            stop_at = lower_bounds(dec, problem.hardware)["lower_bound_crossbars"]
        for method in self.candidates(problem):
            if packed and ctx.expired():
                notes.append(f"{method.name}: not run (time limit)")
                continue
            if stop_at is not None and packed and packed[-1][2] <= stop_at:
                notes.append(f"{method.name}: not run ({packed[-1][0].name} meets the crossbar lower bound {stop_at})")
                continue
            unit_crossbar = _attempt(notes, method.name, lambda m=method: m.assign(problem, ctx))
            if unit_crossbar is not None:
                packed.append((method, unit_crossbar, _crossbars(unit_crossbar)))
        ranked: list[str] = []  # notes that only say a candidate lost
        if crossbars_first and packed:  # more crossbars lose whatever the placement
            fewest = min(count for _, _, count in packed)
            for method, _, count in packed:
                if count > fewest:
                    ranked.append(f"{method.name}: {count} crossbars, not placed ({fewest} elsewhere)")
            notes += ranked
            packed = [p for p in packed if p[2] == fewest]
        best: Mapping | None = None
        best_key: tuple[float, ...] | None = None
        chosen = ""
        for method, unit_crossbar, _ in packed:
            if best is not None and ctx.expired():
                notes.append(f"{method.name}: not placed (time limit)")
                continue

            def placed(m: PackThenPlace = method, uc: np.ndarray = unit_crossbar) -> tuple[Mapping, tuple[float, ...]]:
                graph = TrafficGraph.build(dec, uc)
                mapping = m.place(problem, uc, ctx, graph=graph)
                return mapping, graph.objective(problem, mapping)

            result = _attempt(notes, method.name, placed)
            if result is not None and (best_key is None or result[1] < best_key):
                (best, best_key), chosen = result, method.name
        if best is None:
            reason = "; ".join(notes) or "no candidate method"
            return Outcome(None, Status.ERROR, message=f"no candidate found a mapping: {reason}", info={"notes": notes})
        remaining = ctx.remaining()
        small = dec.n_units <= self.anneal_units and dec.network.n_synapses <= self.greedy_synapses
        refine = small and (remaining is None or remaining >= MIN_REFINE_SECONDS)
        if refine and self.anneal_moves > 0:
            best = Anneal(moves=self.anneal_moves, max_seconds=self.anneal_seconds).refine(problem, ctx, best)
            chosen += "+anneal"
        failed = [note for note in notes if note not in ranked and "meets the crossbar lower bound" not in note]
        message = ("candidates skipped: " + "; ".join(failed)) if failed else ""
        return Outcome(best, message=message, info={"methods": chosen, "notes": notes})


def _crossbars(unit_crossbar: np.ndarray) -> int:
    placed = unit_crossbar[unit_crossbar >= 0]
    return int(np.count_nonzero(np.bincount(placed))) if placed.size else 0


def _attempt(notes: list[str], name: str, step: Any) -> Any:
    """``step()``, or None with a note when it fails or finds nothing in time (a candidate never sinks the run)."""
    try:
        out = step()
    except (InputError, ValueError, RuntimeError, MemoryError) as err:
        notes.append(f"{name}: skipped ({type(err).__name__}: {err})")
        return None
    if out is None:
        notes.append(f"{name}: no result within the time limit")
    return out
