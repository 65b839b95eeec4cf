"""``anneal``: simulated annealing over unit moves, unit swaps and tile swaps, as a refinement.

It starts from any registered solver's mapping (``start="greedy"`` by default) and keeps
the validator's constraints at every step (a move that breaks ``columns`` or ``rows`` is
never made; units are never moved to an empty crossbar, so the crossbar count never
grows). Moves are scored with the incremental totals of
:class:`solvers.common.incremental.IncrementalCost`:

- emptying moves: a unit of the least-filled crossbar goes to the crossbar that needs the
  fewest new rows for it; an emptied crossbar lowers the first objective key, so these are
  always taken when feasible and the second key is not worse by more than the temperature;
- unit moves and swaps between crossbars, and swaps of two crossbar slots' tiles (the
  placement), accepted by the Metropolis rule on the objective's second key (hop_spikes,
  intercrossbar spikes, or energy).

Simulated annealing for SNN mapping follows e.g. the placement stage of NEUTRAMS (Ji et al.,
MICRO 2016) and the local search of SNEAP (Li et al. 2020). The best mapping seen (by the
lexicographic objective) is returned, so the result is never worse than the start. The run
length is ``moves`` (deterministic under a seed); the time limit, and ``max_seconds`` for the
annealing loop alone, stop it earlier.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from mapopt.evaluation import EnergyModel, assess
from mapopt.mapping import Mapping
from mapopt.problem import OBJECTIVES, MappingProblem
from mapopt.registry import make_solver
from mapopt.solver import Outcome, SolveContext, Solver
from mapopt.space import Categorical, Float, Int, SearchSpace
from solvers.common.incremental import IncrementalCost

#: An applied move, as its undo: ("unit", unit, crossbar to move it back to) or ("tile", slot, slot).
Move = tuple[str, int, int]
#: Fraction of the time limit the start solver may use.
START_SHARE = 0.5
#: Random crossbars an emptying move tries besides those that already receive the unit's sources.
EMPTY_SAMPLE = 8


def objective_key(state: IncrementalCost, problem: MappingProblem) -> tuple[float, float]:
    """The objective as (crossbars, second key) from the incremental totals.

    The energy objective is the validator's energy_total_j (:class:`mapopt.evaluation.EnergyModel`)
    less its constant synaptic-event term, in the second slot (the first is 0: crossbars are
    part of the energy, not a key of their own).
    """
    hw, objective = problem.hardware, problem.objective
    if OBJECTIVES[objective] == ("energy_total_j",):
        net = problem.decomposition.network
        # the synaptic-event energy is a constant of N' and left out, so that the temperature
        # scales with the part of the energy that moves can change
        energy = EnergyModel.of(hw, net.timesteps).total(state.crossbars, 0.0, state.deliveries, state.hop_spikes)
        return (0.0, energy)
    second = state.intercrossbar if objective == "crossbars-intercrossbar" else state.hop_spikes
    return (float(state.crossbars), second)


class Anneal(Solver):
    """Simulated annealing refinement of another solver's mapping."""

    name = "anneal"
    description = "simulated annealing (unit moves/swaps, tile swaps) refining a start solver's mapping"

    #: Tunable hyperparameters (mapopt.space); the move probabilities are bounded so they sum to <= 1.
    space = SearchSpace(
        Categorical("start", ("greedy", "layered", "partition", "windowed")),
        Int("moves", 2_000, 100_000, log=True),
        Float("t0", 0.005, 0.5, log=True),
        Float("t_end", 1e-5, 1e-3, log=True),
        Float("p_tile", 0.05, 0.4),
        Float("p_empty", 0.05, 0.3),
        Float("p_swap", 0.05, 0.3),
    )

    def __init__(
        self,
        *,
        start: str = "greedy",
        moves: int = 20000,
        t0: float = 0.05,
        t_end: float = 1e-4,
        p_tile: float = 0.3,
        p_empty: float = 0.2,
        p_swap: float = 0.3,
        max_seconds: float | None = None,
    ):
        self.start = start
        self.moves = moves
        self.t0 = t0
        self.t_end = t_end
        self.p_tile = p_tile
        self.p_empty = p_empty
        self.p_swap = p_swap
        self.max_seconds = max_seconds

    def _solve(self, problem: MappingProblem, ctx: SolveContext) -> Outcome:
        if self.start == self.name:
            raise ValueError("anneal cannot start from itself")
        if self.moves < 0 or not 0 < self.t_end <= self.t0:
            raise ValueError(f"need moves >= 0 and 0 < t_end <= t0, got {self.moves}, {self.t_end}, {self.t0}")
        starter = make_solver(self.start)
        remaining = ctx.remaining()
        sub = SolveContext(replace(ctx.budget, time_limit=None if remaining is None else remaining * START_SHARE))
        sub.rng = ctx.rng
        first = starter._solve(problem, sub)
        if first.mapping is None:
            return Outcome(None, message=f"start solver {self.start!r} found no mapping: {first.message}")
        if first.decomposition is not None:  # e.g. paper with connector units: a mapping of another N'
            raise ValueError(f"start solver {self.start!r} chose its own N'; anneal refines a mapping of the given one")
        best = self.refine(problem, ctx, first.mapping)
        return Outcome(best, info={"start": self.start, "start_objective": list(objective_key_of(first, problem))})

    def refine(self, problem: MappingProblem, ctx: SolveContext, mapping: Mapping) -> Mapping:
        """Anneal from ``mapping``; returns the best mapping seen (``mapping`` itself if nothing beat it)."""
        hw = replace(problem.hardware, mesh=mapping.mesh)
        state = IncrementalCost(problem.decomposition, hw, mapping)
        start_key = objective_key(state, problem)
        ctx.record(_incumbent(start_key))
        if self._anneal(problem, ctx, state, start_key) is None:
            return mapping
        return state.mapping(hw.mesh)

    def _anneal(
        self, problem: MappingProblem, ctx: SolveContext, state: IncrementalCost, start_key: tuple[float, float]
    ) -> tuple[float, float] | None:
        """Run the moves; leave ``state`` at the best mapping seen and return its key (None if the start)."""
        rng = ctx.rng
        stop = None if self.max_seconds is None else ctx.elapsed() + self.max_seconds
        compute = np.flatnonzero(problem.decomposition.compute)
        if compute.size == 0 or self.moves == 0:
            return None
        scale = max(abs(start_key[1]), 1e-12)
        cooling = (self.t_end / self.t0) ** (1.0 / max(self.moves, 1))
        temp = self.t0
        current = start_key
        best_key, trail = start_key, []  # trail: moves since the best, to roll back to it
        units = compute.tolist()
        n_slots = state.n_slots
        done = 0
        for step in range(self.moves):
            if step % 256 == 0 and (ctx.expired() or (stop is not None and ctx.elapsed() >= stop)):
                break
            done = step + 1
            temp *= cooling
            r = rng.random()
            if r < self.p_tile:
                c1, c2 = (int(x) for x in rng.integers(n_slots, size=2))
                undo = [("tile", c1, c2)]
                state.swap_tiles(c1, c2)
            elif r < self.p_tile + self.p_empty:
                undo = self._empty_move(state, rng, problem)
            elif r < self.p_tile + self.p_empty + self.p_swap:
                undo = self._swap_units(state, units, rng, problem)
            else:
                undo = self._move_unit(state, units, rng, problem)
            if not undo:
                continue
            key = objective_key(state, problem)
            worse = (key[1] - current[1]) / scale
            if key[0] < current[0] or (key[0] == current[0] and (worse <= 0 or rng.random() < math.exp(-worse / temp))):
                current = key
                trail.extend(undo)
                if key < best_key:
                    best_key, trail = key, []
                    ctx.record(_incumbent(key))
            else:
                _undo(state, undo)
        ctx.count("moves", done)
        for move in reversed(trail):  # back to the best mapping seen
            _undo(state, [move])
        return None if best_key == start_key else best_key

    def _fits(self, state: IncrementalCost, u: int, c: int, problem: MappingProblem) -> bool:
        hw = problem.hardware
        if not 0 < state.cols[c] < hw.columns:
            return False
        return len(state.rows_of[c]) + state.new_rows(u, c) <= hw.rows

    def _move_unit(
        self, state: IncrementalCost, units: list[int], rng: np.random.Generator, problem: MappingProblem
    ) -> list[Move]:
        """Move a random unit to a crossbar that already receives one of its sources (affinity)."""
        u = units[int(rng.integers(len(units)))]
        a = state.unit_crossbar[u]
        reads = state.reads(u)
        if not reads:
            return []
        dests = list(state.dest_of[reads[int(rng.integers(len(reads)))]])
        b = dests[int(rng.integers(len(dests)))]
        if a == b or not self._fits(state, u, b, problem):
            return []
        state.move(u, b)
        return [("unit", u, a)]

    def _swap_units(
        self, state: IncrementalCost, units: list[int], rng: np.random.Generator, problem: MappingProblem
    ) -> list[Move]:
        u, v = (units[int(i)] for i in rng.integers(len(units), size=2))
        a, b = state.unit_crossbar[u], state.unit_crossbar[v]
        if a == b:
            return []
        state.move(u, b)
        state.move(v, a)
        hw = problem.hardware
        if len(state.rows_of[a]) > hw.rows or len(state.rows_of[b]) > hw.rows:
            state.move(v, b)
            state.move(u, a)
            return []
        return [("unit", u, a), ("unit", v, b)]

    def _empty_move(self, state: IncrementalCost, rng: np.random.Generator, problem: MappingProblem) -> list[Move]:
        """Move a unit off the least-filled crossbar to the fitting crossbar needing the fewest new rows."""
        cols = np.asarray(state.cols)
        used = np.flatnonzero(cols > 0)
        if used.size < 2:
            return []
        a = int(used[np.argmin(cols[used])])
        u = sorted(state.members[a])[int(rng.integers(len(state.members[a])))]
        candidates = {c for s in state.reads(u) for c in state.dest_of[s]}
        candidates.update(int(c) for c in rng.choice(used, size=min(EMPTY_SAMPLE, used.size), replace=False))
        best, best_new = -1, None
        for c in sorted(candidates):
            if c != a and self._fits(state, u, c, problem):
                new = state.new_rows(u, c)
                if best_new is None or new < best_new:
                    best, best_new = c, new
        if best < 0:
            return []
        state.move(u, best)
        return [("unit", u, a)]


def _incumbent(key: tuple[float, float]) -> float:
    """The history's incumbent: the objective's first key (energy sits in the second slot)."""
    return key[0] if key[0] else key[1]


def _undo(state: IncrementalCost, moves: list[Move]) -> None:
    for kind, x, y in reversed(moves):
        if kind == "tile":
            state.swap_tiles(x, y)
        else:
            state.move(x, y)


def objective_key_of(outcome: Outcome, problem: MappingProblem) -> tuple[float, ...]:
    """The validator's objective of a start mapping (for the info record)."""
    verdict = assess(problem.decomposition, problem.hardware, outcome.mapping)
    return problem.key(verdict.metrics) if verdict.valid else ()
