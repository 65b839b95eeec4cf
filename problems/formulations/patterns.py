"""Crossbar contents as patterns: identical units, the configuration LP bound on crossbars, a hop_spikes bound.

Crossbar assignment is a bin packing in which an item's size depends on the other items
in its bin: a crossbar's rows are the *union* of its units' sources. Three things follow
from looking at it as a choice of crossbar contents (patterns) instead of unit by unit:

- **Unit types** (:func:`unit_types`). Units with the same sources that nobody reads, or
  that have the same readers and spike count, are interchangeable: swapping two of them
  maps every mapping onto one of equal cost. The exact models order them
  (:class:`~problems.formulations.assignment.AssignmentModel`, ``identical``), which
  removes ``m!`` equivalent assignments for every type of ``m`` units (a 3x3 convolution
  with two output channels has 64 types of 2).
- **The configuration LP** (:func:`pattern_bound`): min sum_p lambda_p s.t.
  sum_p a_tp lambda_p >= m_t for every type t, over every feasible pattern p (a_tp units
  of type t, at most C in all, the union of their sources at most R rows). Its optimum
  bounds the crossbar count from below and is much stronger than the column and row
  bounds when rows, not columns, limit a crossbar (the Gilmore-Gomory bound of cutting
  stock, Gilmore and Gomory, Operations Research 1961). It is solved by column
  generation: the restricted master LP by HiGHS (:func:`scipy.optimize.linprog`), the
  pricing subproblem (the pattern of largest dual value, a set-union knapsack) by a
  greedy pass and, when that finds nothing, by CP-SAT; the duals are smoothed (Wentges,
  ITOR 1997) against tailing off. Every iteration gives a valid bound (Farley, Operations
  Research 1990): sum_t pi_t m_t / z*, z* the pricing optimum or any proven upper bound on
  it, so the bound holds whenever the time runs out.
- **A hop_spikes bound for a fixed crossbar count** (:func:`hop_bound`): units that can
  share no crossbar with one another fall into separate groups (connected components of
  the pairs whose sources fit R rows together); every input a group reads must reach at
  least one of its crossbars, each crossbar takes at most the input spikes of its R
  heaviest inputs, and slots lie at fixed distances from the I/O tile. A small LP over
  (group, distance) then bounds the spike-hops from the I/O tile; sources that are units
  add the hops of their readers beyond the K crossbars of their own tile. On the planted
  instances (one group per block) the LP is an assignment problem whose optimum is the
  planted hop optimum.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.optimize import linprog
from scipy.sparse.csgraph import connected_components

from mapopt import interrupt
from mapopt.evaluation import crossbar_bounds
from mapopt.hardware import Hardware
from problems.formulations.assignment import CONFLICT_BOUND_MAX_UNITS, AssignmentData

#: Dual smoothing factor (0: plain column generation).
SMOOTHING = 0.8
#: Seconds the first CP-SAT pricing call may take; a call that proves nothing doubles it for the next...
PRICING_SECONDS = 1.0
#: ...up to this many.
PRICING_MAX_SECONDS = 8.0
#: Columns added per pricing round at most.
COLUMNS_PER_ROUND = 8
#: Objective scale of the integer pricing model (duals are rounded down to multiples of 1 / SCALE).
SCALE = 10**6


@dataclass(frozen=True, eq=False)
class UnitTypes:
    """Interchangeable units: ``members[t]`` are model indices (ascending) of type t, ``sources[t]`` its sources."""

    members: list[np.ndarray]
    sources: list[np.ndarray]

    @property
    def multiplicity(self) -> np.ndarray:
        return np.array([m.size for m in self.members], dtype=np.int64)

    @property
    def repeated(self) -> list[np.ndarray]:
        """The types with more than one unit (what symmetry breaking orders)."""
        return [m for m in self.members if m.size > 1]


def unit_types(data: AssignmentData) -> UnitTypes:
    """Group the units of ``data`` into interchangeable types (see the module docstring).

    Two units are of one type when they read the same sources and either neither is read
    by anything, or both are read by the same units and fire equally often; a unit that
    reads itself or is read by itself keeps a type of its own.
    """
    n = data.n_units
    order = np.lexsort((data.pair_source, data.pair_unit))
    unit_of, source_of = data.pair_unit[order], data.pair_source[order]
    starts = np.searchsorted(unit_of, np.arange(n + 1))
    is_source = data.source_unit[data.source_unit >= 0]
    readers_of: dict[int, tuple[int, ...]] = {}
    if is_source.size:
        as_source = np.full(n, -1, dtype=np.int64)
        as_source[data.source_unit[data.source_unit >= 0]] = np.flatnonzero(data.source_unit >= 0)
        for u in is_source.tolist():
            s = as_source[u]
            readers_of[u] = tuple(np.sort(data.pair_unit[data.pair_source == s]).tolist())
    keys: dict[tuple, list[int]] = {}
    for u in range(n):
        srcs = tuple(source_of[starts[u] : starts[u + 1]].tolist())
        readers = readers_of.get(u, ())
        own = data.source_unit[list(srcs)] if srcs else np.zeros(0, dtype=np.int64)
        if u in readers or u in own.tolist():
            key: tuple = ("self", u)
        else:
            spikes = float(data.source_spikes[np.flatnonzero(data.source_unit == u)[0]]) if readers else 0.0
            key = (srcs, readers, spikes)
        keys.setdefault(key, []).append(u)
    members = [np.array(v, dtype=np.int64) for v in keys.values()]
    sources = [source_of[starts[m[0]] : starts[m[0] + 1]].copy() for m in members]
    return UnitTypes(members, sources)


@dataclass
class PatternBound:
    """What column generation reached: the proven ``bound`` on crossbars, the restricted master's ``lp`` value."""

    bound: float
    lp: float
    converged: bool
    patterns: list[np.ndarray]
    iterations: int


def pattern_bound(
    data: AssignmentData,
    types: UnitTypes,
    start: np.ndarray | None,
    *,
    expired: Callable[[], bool],
    seed: int = 0,
) -> PatternBound:
    """The configuration LP bound on crossbars by column generation, until it converges or ``expired()``.

    ``start``: a feasible assignment (model order -> crossbar) whose crossbars seed the
    master with columns; every type alone is a column too, so the master is always feasible.
    """
    mult = types.multiplicity
    n_types = mult.size
    type_of = np.empty(data.n_units, dtype=np.int64)
    for t, m in enumerate(types.members):
        type_of[m] = t
    columns = [np.eye(n_types, dtype=np.int64)[t] * min(int(mult[t]), data.columns) for t in range(n_types)]
    if start is not None:
        for c in np.unique(start):
            columns.append(np.bincount(type_of[start == c], minlength=n_types))
    pricing = _Pricing(data, types, seed=seed)
    best, pi_best, lp, converged, iterations = 0.0, None, math.inf, False, 0
    while not expired() and not converged:
        iterations += 1
        a = np.array(columns, dtype=float).T
        res = linprog(np.ones(a.shape[1]), A_ub=-a, b_ub=-mult, bounds=(0, None), method="highs")
        if res.status != 0:
            break
        lp = float(res.fun)
        pi_lp = np.maximum(-res.ineqlin.marginals, 0.0)
        tries = [pi_lp] if pi_best is None else [SMOOTHING * pi_best + (1 - SMOOTHING) * pi_lp, pi_lp]
        for pi in tries:  # smoothed duals first; on a mis-price, the master's own
            found, upper = pricing.best(pi, expired)
            if math.isfinite(upper):
                farley = float(pi @ mult) / max(1.0, upper)
                if farley > best or pi_best is None:
                    best, pi_best = max(best, farley), pi
            new = [f for f in found if f @ pi_lp > 1 + 1e-9]
            if new:
                columns.extend(new[:COLUMNS_PER_ROUND])
                break
            if pi is pi_lp and upper <= 1 + (data.columns + 1) / SCALE:  # nothing prices out beyond rounding:
                converged = True  # the LP is solved; its value is >= the Farley bound just taken
            if expired():
                break
    return PatternBound(bound=best, lp=lp, converged=converged, patterns=columns, iterations=iterations)


def pattern_assignment(
    data: AssignmentData, types: UnitTypes, patterns: list[np.ndarray], *, time_limit: float | None, seed: int = 0
) -> np.ndarray | None:
    """The fewest crossbars that cover every unit with copies of ``patterns`` (an integer master), as an assignment.

    A restricted master IP over the columns that column generation produced (price and
    branch), solved by CP-SAT: often an optimal assignment when the LP bound is tight.
    Returns model order -> crossbar, or None when no solution is found in time. A pattern
    copy that covers more units of a type than are left simply gets fewer (a subset of a
    feasible crossbar content is feasible).
    """
    from ortools.sat.python import cp_model

    mult = types.multiplicity
    a = np.array(patterns, dtype=np.int64)  # [patterns, types]
    model = cp_model.CpModel()
    most = int(mult.max()) if mult.size else 0
    copies = [model.new_int_var(0, most, f"p_{k}") for k in range(len(patterns))]
    for t in range(mult.size):
        on = np.flatnonzero(a[:, t])
        model.add(sum(int(a[k, t]) * copies[k] for k in on.tolist()) >= int(mult[t]))
    model.minimize(sum(copies))
    solver, status = _solve(model, time_limit, seed)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return None
    chosen = np.repeat(np.arange(len(patterns)), [int(solver.value(c)) for c in copies])
    slot = np.full(data.n_units, -1, dtype=np.int64)
    for t, members in enumerate(types.members):
        places = np.repeat(np.arange(chosen.size), a[chosen, t])  # crossbar copies, one entry per free place
        slot[members] = places[: members.size]
    return np.unique(slot, return_inverse=True)[1]  # drop copies left empty


class _Pricing:
    """The pricing subproblem: the pattern maximising sum_t pi_t a_t under C columns and R rows."""

    def __init__(self, data: AssignmentData, types: UnitTypes, *, seed: int):
        self.data, self.types, self.seed = data, types, seed
        self.cap = np.minimum(types.multiplicity, data.columns)
        self.seconds = PRICING_SECONDS
        owner = np.repeat(np.arange(len(types.sources)), [s.size for s in types.sources])
        self.incidence = sp.csr_matrix(
            (np.ones(owner.size, dtype=np.int64), (owner, np.concatenate(types.sources))),
            shape=(len(types.sources), data.n_sources),
        )

    def best(self, pi: np.ndarray, expired: Callable[[], bool]) -> tuple[list[np.ndarray], float]:
        """Improving patterns (greedy first, then CP-SAT) and a proven upper bound on the pricing optimum."""
        greedy = self._greedy(pi)
        improving = [p for p in greedy if p @ pi > 1 + 1e-9]
        if improving:
            improving.sort(key=lambda p: -float(p @ pi))
            return improving, math.inf  # improving columns; the bound is not needed this round
        return self._exact(pi, expired, max(greedy, key=lambda p: float(p @ pi)))

    def _greedy(self, pi: np.ndarray) -> list[np.ndarray]:
        """One greedy pattern per seed type of positive dual (the seed first, then most dual value per new row).

        Vectorised over types: a step scores every type by the rows it would add (a sparse
        type x source product), so a pattern costs at most C steps of array work.
        """
        data, types = self.data, self.types
        n_types = len(types.members)
        seeds = np.flatnonzero(pi > 0)
        out: list[np.ndarray] = []
        for seed in seeds.tolist():
            held = np.zeros(data.n_sources, dtype=bool)
            count = np.zeros(n_types, dtype=np.int64)
            rows = cols = 0
            pick = seed
            while pick >= 0:
                take = min(int(self.cap[pick]), data.columns - cols)
                count[pick] = take
                cols += take
                held[types.sources[pick]] = True
                rows = int(held.sum())
                if cols >= data.columns:
                    break
                new = self.incidence @ (~held).astype(np.int64)
                value = pi * np.minimum(self.cap, data.columns - cols) / (new + 1)
                value[(count > 0) | (pi <= 0) | (rows + new > data.rows)] = 0.0
                pick = int(np.argmax(value)) if value.max() > 0 else -1
            out.append(count)
        return out or [np.zeros(n_types, dtype=np.int64)]

    def _exact(
        self, pi: np.ndarray, expired: Callable[[], bool], hint: np.ndarray
    ) -> tuple[list[np.ndarray], float]:
        from ortools.sat.python import cp_model

        data, types = self.data, self.types
        weight = np.floor(pi * SCALE).astype(np.int64)
        live = np.flatnonzero(weight > 0)  # a type of no dual value never raises the objective: leave it out
        model = cp_model.CpModel()
        a = {t: model.new_int_var(0, int(self.cap[t]), f"a_{t}") for t in live.tolist()}
        used = {t: model.new_bool_var(f"z_{t}") for t in a}
        row: dict[int, Any] = {}
        for t, var in a.items():
            model.add(var <= int(self.cap[t]) * used[t])
            for s in types.sources[t].tolist():
                if s not in row:
                    row[s] = model.new_bool_var(f"y_{s}")
                model.add_implication(used[t], row[s])  # a unit on the crossbar needs a row per source
        model.add(sum(a.values()) <= data.columns)
        model.add(sum(row.values()) <= data.rows)
        model.maximize(sum(int(weight[t]) * v for t, v in a.items()))
        for t, var in a.items():  # the best greedy pattern as a hint (a feasible start)
            model.add_hint(var, int(hint[t]))
            model.add_hint(used[t], int(hint[t] > 0))
        found: list[np.ndarray] = []

        class Collect(cp_model.CpSolverSolutionCallback):
            def on_solution_callback(self) -> None:
                pattern = np.zeros(len(types.members), dtype=np.int64)
                for t, v in a.items():
                    pattern[t] = self.value(v)
                found.append(pattern)
                if expired():
                    self.stop_search()

        solver, status = _solve(model, self.seconds, self.seed, Collect(), linearization_level=2)
        if status != cp_model.OPTIMAL:
            self.seconds = min(2 * self.seconds, PRICING_MAX_SECONDS)  # not proven: the next call gets more time
        if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            return found, math.inf
        # rounding pi down loses less than 1/SCALE per unit: at most C/SCALE in all
        upper = (solver.best_objective_bound + data.columns) / SCALE
        return found[::-1], upper


def hop_bound(data: AssignmentData, crossbars: int, hw: Hardware, *, time_limit: float = 2.0) -> float:
    """A lower bound on hop_spikes of any assignment of ``data`` to exactly ``crossbars`` crossbars on ``hw``.

    ``hw`` has its mesh resolved. See the module docstring; 0 when nothing can be said.
    ``time_limit`` caps each small CP-SAT model that bounds one crossbar's input load.
    """
    io = max(_io_bound(data, crossbars, hw, time_limit), _layer_bound(data, hw, time_limit))
    return io + _unit_source_bound(data, hw)


def _layer_bound(data: AssignmentData, hw: Hardware, time_limit: float) -> float:
    """Spike-hops from the I/O tile, counted one distance ring at a time (a layer-cake bound).

    hop_spikes of inputs = sum over d >= 1 of the input spikes delivered at distance >= d.
    The slots nearer than d hold at most C x (their number) units, so at least k_d units
    sit on crossbars at distance >= d, and those receive every input their units read: at
    least the lightest input load that the union of k_d units' sources can have (a small
    CP-SAT minimisation over unit types; its proven bound is used).
    """
    is_input = data.source_unit < 0
    weight = np.where(is_input, data.source_spikes, 0.0)
    if not (weight > 0).any():
        return 0.0
    slots = hw.crossbar_slots()
    distance = np.sort(hw.hops(slots, np.full_like(slots, hw.io_tile_id)))
    types = unit_types(data)
    total = 0.0
    for d in np.unique(distance[distance > 0]).tolist():
        below = int((distance < d).sum())
        k = data.n_units - data.columns * below
        if k <= 0:
            break
        step = d - int(distance[distance < d].max(initial=0))
        total += step * _min_union_load(data, types, k, weight, time_limit)
    return total


def _min_union_load(data: AssignmentData, types: UnitTypes, k: int, weight: np.ndarray, time_limit: float) -> float:
    """A lower bound on the input spikes read by any ``k`` units (the union of their sources), by CP-SAT."""
    from ortools.sat.python import cp_model

    model = cp_model.CpModel()
    mult = types.multiplicity
    count = [model.new_int_var(0, int(m), f"n_{t}") for t, m in enumerate(mult)]
    row: dict[int, Any] = {}
    for t, srcs in enumerate(types.sources):
        used = model.new_bool_var(f"z_{t}")
        model.add(count[t] <= int(mult[t]) * used)
        for s in srcs.tolist():
            if weight[s] > 0:
                if s not in row:
                    row[s] = model.new_bool_var(f"y_{s}")
                model.add_implication(used, row[s])
    model.add(sum(count) >= k)
    scale = SCALE / max(float(weight.max()), 1e-12)
    model.minimize(sum(math.floor(weight[s] * scale) * v for s, v in row.items()))
    solver, status = _solve(model, time_limit, 0)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return 0.0
    return max(0.0, solver.best_objective_bound / scale)


def _max_input_load(data: AssignmentData, units: np.ndarray, weight: np.ndarray, time_limit: float) -> float:
    """An upper bound on the input spikes one crossbar can receive from a content of ``units`` (CP-SAT).

    Its rows are the union of its units' sources, at most R of them, under C columns; the
    proven bound of the maximisation (or the R heaviest inputs, if that is smaller) is returned.
    """
    from ortools.sat.python import cp_model

    srcs_of = [data.pair_source[data.pair_unit == u] for u in units.tolist()]
    heaviest = float(np.sort(weight[np.unique(np.concatenate(srcs_of))])[::-1][: data.rows].sum()) if srcs_of else 0.0
    model = cp_model.CpModel()
    row: dict[int, Any] = {}
    on = [model.new_bool_var(f"u_{i}") for i in range(units.size)]
    for i, srcs in enumerate(srcs_of):
        for s in srcs.tolist():
            if s not in row:
                row[s] = model.new_bool_var(f"y_{s}")
            model.add_implication(on[i], row[s])
    # a row is only there for a unit on the crossbar that reads it
    for s, var in row.items():
        model.add_bool_or([on[i] for i, srcs in enumerate(srcs_of) if s in srcs] + [var.Not()])
    model.add(sum(on) <= data.columns)
    model.add(sum(row.values()) <= data.rows)
    scale = SCALE / max(float(weight.max()), 1e-12)
    model.maximize(sum(math.ceil(weight[s] * scale) * v for s, v in row.items() if weight[s] > 0))
    solver, status = _solve(model, time_limit, 0)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return heaviest
    return min(heaviest, solver.best_objective_bound / scale)


def _solve(
    model: Any, time_limit: float | None, seed: int, callback: Any = None, *, linearization_level: int = 1
) -> tuple[Any, int]:
    """Solve a small CP-SAT model on one worker, stoppable by a signal (:func:`mapopt.interrupt.run_stoppable`)."""
    from ortools.sat.python import cp_model

    solver = cp_model.CpSolver()
    if time_limit is not None:
        solver.parameters.max_time_in_seconds = max(time_limit, 0.01)
    solver.parameters.num_workers = 1  # small models: one worker with its LP beats a portfolio here
    solver.parameters.random_seed = seed
    solver.parameters.linearization_level = linearization_level
    solver.parameters.catch_sigint_signal = False  # mapopt handles signals
    status = interrupt.run_stoppable(lambda: solver.solve(model, callback), solver.stop_search)
    return solver, status


def _groups(data: AssignmentData) -> np.ndarray:
    """The group of every unit: components of the pairs that fit R rows together (one group above the size cap)."""
    n = data.n_units
    if n > CONFLICT_BOUND_MAX_UNITS:
        return np.zeros(n, dtype=np.int64)
    inc = sp.csr_matrix((np.ones(len(data.pair_unit)), (data.pair_unit, data.pair_source)), shape=(n, data.n_sources))
    shared = (inc @ inc.T).toarray()
    fanin = data.unit_fanin
    together = fanin[:, None] + fanin[None, :] - shared <= data.rows
    _, labels = connected_components(sp.csr_matrix(together), directed=False)
    return labels.astype(np.int64)


def _io_bound(data: AssignmentData, crossbars: int, hw: Hardware, time_limit: float) -> float:
    """The (group, distance) LP bound on the spike-hops of inputs from the I/O tile (see :func:`hop_bound`)."""
    is_input = data.source_unit < 0
    spikes = data.source_spikes
    if not (is_input & (spikes > 0)).any():
        return 0.0
    slots = hw.crossbar_slots()
    distance = hw.hops(slots, np.full_like(slots, hw.io_tile_id))
    classes, per_class = np.unique(distance, return_counts=True)
    if classes.size == 1 and classes[0] == 0:
        return 0.0
    group = _groups(data)
    n_groups = int(group.max()) + 1
    pair_group = group[data.pair_unit]
    need, load, most = np.zeros(n_groups), np.zeros(n_groups), np.zeros(n_groups)
    for g in range(n_groups):
        members = group == g
        readers = np.bincount(data.pair_source[pair_group == g], minlength=data.n_sources)
        need[g] = max(
            crossbar_bounds(int(members.sum()), int((pair_group == g).sum()), readers, data.rows, data.columns).values()
        )
        inputs = np.flatnonzero(is_input & (readers > 0))
        # an input read by r units of the group reaches at least ceil(r / C) of its crossbars
        load[g] = float((spikes[inputs] * -(-readers[inputs] // data.columns)).sum())
        most[g] = _max_input_load(data, np.flatnonzero(members), spikes * is_input, time_limit)
    if need.sum() > crossbars:
        return 0.0  # cannot happen for a feasible crossbar count; nothing to say
    # variables: y[g, d] (crossbars of g at distance class d), l[g, d] (input load they take); g-major
    n_classes = classes.size
    nv = n_groups * n_classes
    cost = np.concatenate((np.zeros(nv), np.tile(classes.astype(float), n_groups)))
    rows_ub, rhs_ub = [], []
    for d in range(n_classes):  # slots per distance class
        r = np.zeros(2 * nv)
        r[d:nv:n_classes] = 1
        rows_ub.append(r)
        rhs_ub.append(per_class[d])
    for g in range(n_groups):
        r = np.zeros(2 * nv)  # at least need[g] crossbars
        r[g * n_classes : (g + 1) * n_classes] = -1
        rows_ub.append(r)
        rhs_ub.append(-need[g])
        r = np.zeros(2 * nv)  # every input of the group delivered at least once
        r[nv + g * n_classes : nv + (g + 1) * n_classes] = -1
        rows_ub.append(r)
        rhs_ub.append(-load[g])
        for d in range(n_classes):  # a crossbar takes at most the spikes of its R heaviest inputs
            r = np.zeros(2 * nv)
            r[nv + g * n_classes + d] = 1
            r[g * n_classes + d] = -most[g]
            rows_ub.append(r)
            rhs_ub.append(0.0)
    equal = np.concatenate((np.ones(nv), np.zeros(nv)))[None, :]
    res = linprog(
        cost, A_ub=np.array(rows_ub), b_ub=np.array(rhs_ub), A_eq=equal, b_eq=[crossbars], bounds=(0, None),
        method="highs",
    )  # fmt: skip
    return float(res.fun) if res.status == 0 else 0.0


def _unit_source_bound(data: AssignmentData, hw: Hardware) -> float:
    """Spike-hops of units as sources: beyond the K crossbars of its own tile, each reader crossbar is >= 1 hop away.

    A unit read by r units reaches at least ceil(r / C) crossbars; from any tile the cheapest
    slots lie at the distances of the most central tile's sorted slot distances, so the
    sum of the first ceil(r / C) of those, times the unit's spikes, bounds its hops.
    """
    units = np.flatnonzero(data.source_unit >= 0)
    if units.size == 0:
        return 0.0
    readers = np.bincount(data.pair_source, minlength=data.n_sources)[units]
    need = -(-readers // data.columns)
    spikes = data.source_spikes[units]
    if not ((need > hw.crossbars_per_tile) & (spikes > 0)).any():
        return 0.0
    slots = hw.crossbar_slots()
    profile = np.sort(hw.hops(slots[None, :], np.arange(hw.n_tiles)[:, None]), axis=1).min(axis=0)
    cum = np.concatenate(([0], np.cumsum(profile)))
    return float((spikes * cum[np.minimum(need, profile.size)]).sum())
