"""The exact solve of the joint assignment + placement problem, one procedure for every back end.

Lexicographic objectives (``crossbars-hops``, ``crossbars-intercrossbar``) are solved in
phases, each proven before the next starts, so "optimal" means optimal for the whole
lexicographic key:

1. minimise crossbars (:class:`~problems.formulations.assignment.AssignmentModel`, crossbars
   interchangeable, symmetry broken, warm-started from the greedy packing, bounded below by
   :func:`~problems.formulations.assignment.crossbar_lower_bounds`); the optimum c* is then fixed;
2. minimise the secondary key with exactly c* crossbars: intercrossbar spikes on the
   assignment model, or hop_spikes on the joint model whose slots sit on the tiles of the
   mesh that holds c* crossbars (``MappingProblem.hardware_for``: with an 'auto' mesh the
   smallest square, by the hardware's definition of 'auto'). Before the joint model, the
   placement QAP (:mod:`problems.formulations.placement_qap`) of the phase-1 assignment gives it a
   strong warm start.

The weighted ``energy`` objective is one phase on the joint model, with the validator's
energy coefficients (:class:`mapopt.evaluation.EnergyModel`).
The bound of the returned :class:`~mapopt.solver.Outcome` is on the objective's first key;
when phase 1 is proven and phase 2 is not, the status is ``feasible`` with a zero gap on
crossbars, and ``info["secondary"]`` holds the incumbent and bound of the secondary key.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import numpy as np

from mapopt.errors import InputError
from mapopt.evaluation import EnergyModel, metrics, synaptic_event_count
from mapopt.mapping import Mapping
from mapopt.problem import OBJECTIVES, MappingProblem
from mapopt.registry import make_solver, solver_names
from mapopt.solver import Budget, Outcome, SolveContext, Status
from problems.formulations.assignment import (
    AssignmentData,
    AssignmentModel,
    Builder,
    BuildInterrupted,
    SlotGrid,
    Weights,
    canonical_slots,
    crossbar_lower_bounds,
    infeasibility,
)
from problems.formulations.patterns import UnitTypes, hop_bound, pattern_assignment, pattern_bound, unit_types
from problems.formulations.placement_qap import PlacementData, PlacementModel

#: Registered heuristics whose best mapping warm-starts the exact models (those that are registered).
WARM_START_SOLVERS = ("greedy", "windowed")
#: Share of the remaining time the warm-start heuristics may use.
WARM_START_SHARE = 0.1
#: Share of the remaining time the placement QAP (a warm start for the joint model) may use.
PLACEMENT_SHARE = 0.25
#: Objective values of different phases are compared with this tolerance (float spikes).
TOLERANCE = 1e-6
#: Share of the remaining time the configuration LP bound (column generation) may use...
PATTERN_SHARE = 0.5
#: ...and the integer master over its patterns, of the time left after it.
PATTERN_IP_SHARE = 0.2


M = TypeVar("M", AssignmentModel, PlacementModel)
#: Called by a back end for each improving solution: (objective, best bound or None).
OnImprove = Callable[[float, float | None], None]


@dataclass
class Run:
    """What a back end reports for one model: ``status`` is optimal, feasible, infeasible or unknown."""

    status: str
    value: Callable[[Any], float] | None
    objective: float | None
    bound: float | None


class Backend(Protocol):
    """An exact back end: makes empty models and solves them under a time limit."""

    def new(self) -> Builder: ...

    def run(self, model: Builder, time_limit: float | None, on_improve: OnImprove) -> Run:
        """Solve; call ``on_improve(objective, bound)`` for each improving solution when the back end can."""


def warm_start(problem: MappingProblem, ctx: SolveContext) -> np.ndarray | None:
    """The unit -> crossbar array of the best mapping the registered greedy heuristics find, or None.

    They run through the solver interface (so their mappings are re-scored and validated)
    on a small share of the time; the best by the problem's objective key wins.
    """
    left = ctx.remaining()
    budget = Budget(time_limit=None if left is None else WARM_START_SHARE * left, seed=ctx.seed)
    best: tuple[tuple[float, ...], np.ndarray] | None = None
    for name in WARM_START_SOLVERS:
        if name not in solver_names():
            continue
        try:
            result = make_solver(name).solve(problem, budget)
        except InputError:  # e.g. its packing needs more crossbars than a fixed mesh holds: no start from it
            continue
        if result.metrics is not None:
            key = problem.key(result.metrics)
            if best is None or key < best[0]:
                best = (key, result.mapping.unit_crossbar)
                ctx.keep(result.mapping)  # the incumbent if the exact search is interrupted
    return None if best is None else best[1]


def solve_lexicographic(
    problem: MappingProblem,
    ctx: SolveContext,
    backend: Backend,
    *,
    warm: np.ndarray | None,
    symmetry: bool,
    known_bound: int | None = None,
) -> Outcome:
    """Solve ``problem`` exactly (within ``ctx``'s deadline) with ``backend``; ``warm`` is a unit->crossbar start.

    ``known_bound`` is a crossbar lower bound proven elsewhere (the joint grouping model of
    :mod:`solvers.common.grouping`); a warm start that meets it skips phase 1.
    """
    data = AssignmentData.from_problem(problem)
    hw = problem.hardware
    if data.n_units == 0:
        hw0 = problem.hardware_for(0)
        return Outcome(
            Mapping(data.unit_crossbar(np.zeros(0, np.int64)), np.zeros(0, np.int64), hw0.mesh), Status.OPTIMAL
        )
    reason = infeasibility(data)
    if reason:
        return Outcome(None, Status.INFEASIBLE, message=reason)
    bounds = crossbar_lower_bounds(data)
    if known_bound is not None:
        bounds["known"] = known_bound
    lb = max(bounds.values())
    capacity = hw.n_tiles * hw.crossbars_per_tile if hw.mesh is not None else None
    if capacity is not None and lb > capacity:
        return Outcome(
            None,
            Status.INFEASIBLE,
            message=_capacity_reason(hw, f"at least {lb} crossbars are needed (lower bounds {bounds})", capacity),
        )
    types = unit_types(data)
    identical = types.repeated if symmetry else []
    start = None
    if warm is not None:
        start = canonical_slots(data.model_slots(warm), identical)
        if capacity is not None and start.max() + 1 > capacity:
            start = None
    upper = int(start.max()) + 1 if start is not None else min(data.n_units, capacity or data.n_units)
    if start is not None:
        ctx.record(float(upper), float(lb))
    info: dict[str, Any] = {"lower_bounds": bounds, "phases": [], "identical_types": len(types.repeated)}
    if problem.objective == "energy":
        return _energy(problem, ctx, backend, data, start, upper, symmetry, identical, info)
    if start is None or upper > lb:
        lb, packed = _pattern_phase(data, types, start, ctx, bounds, info)
        if packed is not None and (start is None or packed.max() + 1 < upper):
            start = canonical_slots(packed, identical)
            upper = int(start.max()) + 1
        ctx.record(float(upper), float(lb))

    # ------------------------------------------------------------ phase 1: crossbars
    if start is not None and upper == lb:
        slots, bound1 = start, lb
        info["phases"].append({"phase": "crossbars", "status": "optimal", "by": "warm start meets the lower bound"})
    else:

        def build(b: Builder) -> AssignmentModel:
            model = AssignmentModel(
                b, data, slots=upper, weights=Weights(crossbars=1.0), symmetry=symmetry, identical=identical,
                min_open=lb, expired=ctx.expired,
            )  # fmt: skip
            if start is not None:
                model.hint(start)
            return model

        def improved(obj: float, bnd: float | None) -> None:
            ctx.record(obj, lb if bnd is None else max(lb, _ceil(bnd)))

        model, run = _build_and_run(backend, ctx, build, on_improve=improved)
        info["phases"].append(
            {"phase": "crossbars", "status": run.status, "objective": run.objective, "bound": run.bound}
        )
        if run.status == "infeasible":
            return Outcome(
                None, Status.INFEASIBLE, message=_capacity_reason(hw, "no assignment fits", capacity), info=info
            )
        bound1 = max(lb, _ceil(run.bound)) if run.bound is not None else lb
        if run.value is not None:
            slots = model.solution(run.value)
        elif start is not None:
            slots = start
        else:
            return Outcome(None, bound=float(bound1), message="no assignment found within the time limit", info=info)
    slots = canonical_slots(slots, identical)
    c_star = int(slots.max()) + 1
    ctx.record(float(c_star), float(bound1))
    hw2 = problem.hardware_for(c_star)
    grid = SlotGrid.for_hardware(hw2)
    ctx.keep(Mapping(data.unit_crossbar(slots), grid.tile, hw2.mesh))
    info["model"] = {"crossbars": c_star}
    if bound1 < c_star:
        mapping = Mapping(data.unit_crossbar(slots), grid.tile, hw2.mesh)
        return Outcome(
            mapping,
            Status.FEASIBLE,
            bound=float(bound1),
            info=info,
            message=f"crossbars not proven optimal: {c_star} found, lower bound {bound1}",
        )

    # ------------------------------------------------------------ phase 2: the secondary key
    secondary = OBJECTIVES[problem.objective][1]
    if secondary == "hop_spikes":
        slots, run = _hops_phase(problem, ctx, backend, data, slots, grid, hw2, symmetry, identical, info)
    else:

        def build_inter(b: Builder) -> AssignmentModel:
            model = AssignmentModel(
                b, data, slots=c_star, weights=Weights(intercrossbar=1.0), n_open=c_star, symmetry=symmetry,
                identical=identical, expired=ctx.expired,
            )  # fmt: skip
            model.hint(slots)
            return model

        model, run = _build_and_run(backend, ctx, build_inter)
        if run.value is not None:
            slots = model.solution(run.value)
        info["phases"].append(
            {"phase": secondary, "status": run.status, "objective": run.objective, "bound": run.bound}
        )
    ctx.record(float(c_star), float(c_star))
    mapping = Mapping(data.unit_crossbar(slots), grid.tile, hw2.mesh)
    info["model"][secondary] = run.objective
    info["secondary"] = {"key": secondary, "status": run.status, "incumbent": run.objective, "bound": run.bound}
    if run.status == "optimal":
        return Outcome(
            mapping,
            Status.OPTIMAL,
            bound=float(c_star),
            info=info,
            message=f"crossbars and {secondary} proven optimal (lexicographic, two phases)",
        )
    return Outcome(
        mapping,
        Status.FEASIBLE,
        bound=float(c_star),
        info=info,
        message=f"crossbars proven optimal ({c_star}); {secondary} not proven "
        f"(incumbent {run.objective}, bound {run.bound})",
    )


@dataclass
class Below:
    """Whether an N' fits in fewer crossbars than a cap: the assignment found, the proven bound, the model status."""

    unit_crossbar: np.ndarray | None  # over N' ids (-1 for inputs); None when none below the cap was found
    bound: int  # proven: no assignment of this N' uses fewer crossbars
    status: str  # optimal (found and proven) | infeasible (none below the cap) | feasible | unknown


def crossbars_below(
    problem: MappingProblem, ctx: SolveContext, backend: Backend, *, cap: int, symmetry: bool, share: float = 1.0
) -> Below:
    """Phase 1 only, with fewer than ``cap`` crossbars: the exact check behind ``cpsat-structured``.

    The assignment model gets ``cap - 1`` crossbar slots and minimises the crossbars used, on
    ``share`` of the time left; the validator's bounds and the conflict clique
    (:func:`~problems.formulations.assignment.crossbar_lower_bounds`) are checked first, so an
    N' whose bound reaches the cap is settled without a model.
    """
    data = AssignmentData.from_problem(problem)
    lb = max(crossbar_lower_bounds(data).values())
    if lb >= cap or infeasibility(data):
        return Below(None, max(lb, cap), "infeasible")

    def build(b: Builder) -> AssignmentModel:
        return AssignmentModel(b, data, slots=cap - 1, weights=Weights(crossbars=1.0), symmetry=symmetry,
                               expired=ctx.expired)  # fmt: skip

    model, run = _build_and_run(backend, ctx, build, share=share)
    if run.status == "infeasible":
        return Below(None, cap, "infeasible")
    bound = max(lb, _ceil(run.bound)) if run.bound is not None else lb
    if run.value is None:
        return Below(None, bound, run.status)
    return Below(data.unit_crossbar(canonical_slots(model.solution(run.value))), bound, run.status)


def _hops_phase(
    problem: MappingProblem,
    ctx: SolveContext,
    backend: Backend,
    data: AssignmentData,
    slots: np.ndarray,
    grid: SlotGrid,
    hw2: Any,
    symmetry: bool,
    identical: list[np.ndarray],
    info: dict[str, Any],
) -> tuple[np.ndarray, Run]:
    """Phase 2 for hop_spikes: QAP placement of the phase-1 crossbars, then the joint model.

    :func:`problems.formulations.patterns.hop_bound` bounds hop_spikes from below for
    c* crossbars; a placement that meets it is optimal without the joint model, and the
    phase's bound is the better of it and the back end's.
    """
    c_star = int(slots.max()) + 1
    hop_lb = hop_bound(data, c_star, hw2)
    info["hop_bound"] = hop_lb
    # 2a: place the phase-1 crossbars optimally (a warm start for the joint model)
    flows = PlacementData.from_assignment(problem, data.unit_crossbar(slots), hw2)

    def build_placement(b: Builder) -> PlacementModel:
        placement = PlacementModel(b, flows, symmetry=symmetry, expired=ctx.expired)
        placement.hint(grid.tile[:c_star])
        return placement

    placement, run = _build_and_run(backend, ctx, build_placement, share=PLACEMENT_SHARE)
    info["phases"].append({"phase": "placement", "status": run.status, "objective": run.objective, "bound": run.bound})
    tiles = placement.solution(run.value) if run.value is not None else grid.tile[:c_star]
    placed_hops = run.objective
    # crossbar a on tile t takes the next free slot of tile t
    slot_of_crossbar = np.empty(c_star, dtype=np.int64)
    for t in np.unique(tiles):
        on_t = np.flatnonzero(tiles == t)
        slot_of_crossbar[on_t] = np.flatnonzero(grid.tile == t)[: len(on_t)]
    start = slot_of_crossbar[slots]
    start_hops = _hop_spikes(problem, data, start, grid, hw2)
    if start_hops <= hop_lb + TOLERANCE * max(1.0, hop_lb):
        info["phases"].append({"phase": "hop_spikes", "status": "optimal", "by": "placement meets the hop bound"})
        return start, Run("optimal", None, start_hops, start_hops)
    # 2b: the joint assignment + placement model with exactly c* crossbars

    def build_joint(b: Builder) -> AssignmentModel:
        model = AssignmentModel(
            b, data, slots=grid.n_slots, weights=Weights(hops=1.0), grid=grid, n_open=c_star, symmetry=symmetry,
            identical=identical, expired=ctx.expired,
        )  # fmt: skip
        model.hint(start)
        return model

    model, run = _build_and_run(backend, ctx, build_joint)
    info["phases"].append({"phase": "hop_spikes", "status": run.status, "objective": run.objective, "bound": run.bound})
    bound = max(run.bound if run.bound is not None else 0.0, hop_lb)
    if run.value is None:  # the joint model found nothing better in time: keep the placed start
        status = "optimal" if start_hops <= bound + TOLERANCE * max(1.0, bound) else run.status
        return start, Run(status, None, placed_hops if placed_hops is not None else start_hops, bound)
    status = run.status
    if run.objective is not None and run.objective <= bound + TOLERANCE * max(1.0, bound):
        status = "optimal"
    return model.solution(run.value), Run(status, run.value, run.objective, bound)


def _hop_spikes(problem: MappingProblem, data: AssignmentData, slots: np.ndarray, grid: SlotGrid, hw: Any) -> float:
    """The validator's hop_spikes of an assignment to grid slots."""
    mapping = Mapping(data.unit_crossbar(slots), grid.tile, hw.mesh)
    return float(metrics(problem.decomposition, hw, mapping)["hop_spikes"])


def _pattern_phase(
    data: AssignmentData,
    types: UnitTypes,
    start: np.ndarray | None,
    ctx: SolveContext,
    bounds: dict[str, int],
    info: dict[str, Any],
) -> tuple[int, np.ndarray | None]:
    """The configuration LP bound on crossbars, then an assignment from its patterns, on a share of the time left.

    Returns the best crossbar bound so far and, if the integer master over the generated
    patterns found one, an assignment (model order -> crossbar); the caller keeps it when
    it beats the warm start.
    """
    left = ctx.remaining()
    if left is not None and left <= 0:
        return max(bounds.values()), None
    stop = None if left is None else ctx.elapsed() + PATTERN_SHARE * left
    began = ctx.elapsed()

    def expired() -> bool:
        return ctx.expired() or (stop is not None and ctx.elapsed() >= stop)

    found = pattern_bound(data, types, start, expired=expired, seed=ctx.seed)
    bounds["patterns"] = _ceil(found.bound)
    lb = max(bounds.values())
    upper = int(start.max()) + 1 if start is not None else data.n_units + 1
    packed = None
    if lb < upper and not ctx.expired():
        left = ctx.remaining()
        packed = pattern_assignment(
            data, types, found.patterns, time_limit=None if left is None else PATTERN_IP_SHARE * left, seed=ctx.seed
        )
    info["patterns"] = {
        "bound": found.bound, "lp": found.lp, "converged": found.converged, "columns": len(found.patterns),
        "iterations": found.iterations, "seconds": ctx.elapsed() - began,
        "integer_master": None if packed is None else int(packed.max()) + 1,
    }  # fmt: skip
    return lb, packed


def _energy(
    problem: MappingProblem,
    ctx: SolveContext,
    backend: Backend,
    data: AssignmentData,
    start: np.ndarray | None,
    upper: int,
    symmetry: bool,
    identical: list[np.ndarray],
    info: dict[str, Any],
) -> Outcome:
    """The weighted energy objective on the joint model, in one phase.

    The coefficients are the validator's (:class:`mapopt.evaluation.EnergyModel`): static
    energy per open crossbar, per delivery and per spike-hop; the synaptic-event energy is a
    constant of N'. The weights are divided by the smallest positive one so the back ends
    see coefficients of order one.
    """
    hw = problem.hardware_for(upper)
    grid = SlotGrid.for_hardware(hw)
    net = problem.decomposition.network
    energy = EnergyModel.of(hw, net.timesteps)
    raw = np.array([energy.per_crossbar, energy.per_delivery, energy.per_hop])
    scale = float(raw[raw > 0].min()) if (raw > 0).any() else 1.0
    constant = energy.dynamic(synaptic_event_count(net), 0.0, 0.0)
    weights = Weights(
        crossbars=energy.per_crossbar / scale, deliveries=energy.per_delivery / scale, hops=energy.per_hop / scale
    )

    def build(b: Builder) -> AssignmentModel:
        model = AssignmentModel(
            b, data, slots=grid.n_slots, weights=weights, grid=grid, symmetry=symmetry, identical=identical,
            expired=ctx.expired,
        )
        if start is not None:
            model.hint(start)
        return model

    def improved(obj: float, bnd: float | None) -> None:
        ctx.record(obj * scale + constant, None if bnd is None else bnd * scale + constant)

    model, run = _build_and_run(backend, ctx, build, on_improve=improved)
    info["phases"].append({"phase": "energy", "status": run.status, "objective": run.objective, "bound": run.bound})
    bound = None if run.bound is None else run.bound * scale + constant
    info["model"] = {"energy_total_j": None if run.objective is None else run.objective * scale + constant}
    if run.status == "infeasible":
        return Outcome(
            None,
            Status.INFEASIBLE,
            message=_capacity_reason(problem.hardware, "no assignment fits", grid.n_slots),
            info=info,
        )
    if run.value is None:
        slots = start
        if slots is None:
            return Outcome(None, bound=bound, message="no mapping found within the time limit", info=info)
    else:
        slots = model.solution(run.value)
    mapping = Mapping(data.unit_crossbar(slots), grid.tile, hw.mesh)
    if run.status == "optimal":
        return Outcome(mapping, Status.OPTIMAL, info=info, message="energy_total_j proven optimal")
    return Outcome(mapping, Status.FEASIBLE, bound=bound, info=info, message="energy_total_j not proven optimal")


def _build_and_run(
    backend: Backend,
    ctx: SolveContext,
    build: Callable[[Builder], M],
    *,
    share: float = 1.0,
    on_improve: OnImprove | None = None,
) -> tuple[M | None, Run]:
    """Build a model (with its warm start) and solve it on ``share`` of the time left.

    Past the deadline, or when the deadline passes while the model is being built (large
    instances), nothing is solved: the run is ``unknown`` and the caller keeps its incumbent.
    """
    if ctx.expired():
        return None, Run("unknown", None, None, None)
    try:
        model = build(backend.new())
    except BuildInterrupted:
        return None, Run("unknown", None, None, None)
    b = model.b
    left = ctx.remaining()
    run = backend.run(b, None if left is None else share * left, on_improve or (lambda obj, bnd: None))
    return model, run


def _ceil(bound: float) -> int:
    """A proven bound on an integer objective, rounded up (with a tolerance for float noise)."""
    return math.ceil(bound - TOLERANCE)


def _capacity_reason(hw: Any, what: str, capacity: int | None) -> str:
    mesh = "auto" if hw.mesh is None else f"{hw.mesh[0]}x{hw.mesh[1]}"
    return (
        f"[tile-capacity] {what}: the {mesh} mesh of {hw.name} holds {capacity} crossbars "
        f"({hw.crossbars_per_tile} per tile)"
    )
