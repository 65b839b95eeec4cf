"""Exact joint decomposition grouping + crossbar assignment for tiny nets (CP-SAT).

The exact solvers of :mod:`solvers.common.lexicographic` map a *fixed* N'. Here how each unrolled
neuron's inputs are grouped into units is a decision as well, through the CP-SAT model of
:mod:`problems.formulations.unroll` (MODEL.md section 6, problems 1 and 2 together): every compute
neuron with fan-in m above the leaf size k becomes a two-level tree of ceil(m/k) leaves
(at most k raw inputs each) and one root summing their partials, and every leaf and root
is put on a crossbar, minimising crossbars under ``rows`` and ``columns``.

**Space searched**: every partition of each such neuron's inputs into exactly ceil(m/k)
leaves (the fewest, so the fewest columns and depth 2) with every assignment of the units
to crossbars. Chains, deeper trees and trees with more leaves are outside it; so "proven"
below means proven over this space.

Procedure:

1. minimise crossbars over groupings and assignments (warm start: the balanced tree with
   inputs by id, packed by the registered greedy heuristics; leaf symmetry broken by
   "input p only in leaves <= p", a relabelling of leaves by their first input);
2. turn the best grouping into N' (:func:`problems.formulations.unroll.to_decomposition`, which builds
   it through :func:`mapopt.decompose.tree.grouped_tree` and ``assemble``);
3. the lexicographic solve of :mod:`solvers.common.lexicographic` on that N', given the phase-1 bound
   (valid for every member of the space), for the assignment, placement and secondary key.

The secondary key (hop_spikes, intercrossbar spikes) is then proven for the chosen
grouping only, so a run that regrouped anything is at best ``feasible`` with a zero gap on
crossbars; ``info["grouping"]`` says what was proven. A problem whose N' unrolls nothing
(or prunes) has a single grouping: it is solved as given, like ``cpsat``.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import numpy as np

from mapopt.decompose.base import Decomposition
from mapopt.decompose.tree import balanced_leaves, grouped_tree
from mapopt.errors import InputError
from mapopt.network import Network
from mapopt.problem import MappingProblem
from mapopt.solver import Outcome, SolveContext, Status
from problems.formulations.assignment import AssignmentData, crossbar_lower_bounds
from problems.formulations.unroll import (
    UnrollData,
    UnrollModel,
    UnrollSolution,
    build_model,
    read_solution,
    to_decomposition,
    to_mapping,
)
from solvers.common.lexicographic import Backend, solve_lexicographic, warm_start

#: Share of the remaining time the grouping phase may use (the rest is for the secondary key).
GROUPING_SHARE = 0.6
#: Refuse instances whose row clauses (sum over neurons of inputs x leaves, times crossbars) exceed this.
MAX_ROW_CLAUSES = 2_000_000
#: Proven bounds on integer objectives are rounded up with this tolerance.
TOLERANCE = 1e-6


def leaf_size(dec: Decomposition, fanin: int) -> int:
    """The leaf size k of the space: the given decomposition's arity (at most F), else F."""
    return min(dec.arity, fanin) if dec.arity else fanin


def regroups(dec: Decomposition) -> bool:
    """True when ``dec`` unrolls some neuron and prunes nothing: only then is there a grouping to choose."""
    return dec.extra_units > 0 and dec.pruned_synapses == 0


def unroll_data(net: Network, rows: int, columns: int, fanin: int, k: int, max_crossbars: int) -> UnrollData:
    """The :class:`UnrollData` of every compute neuron of ``net`` with leaves of at most ``k`` inputs.

    Raises :class:`InputError` (``fanin``) when a root would sum more than F leaves: such a
    neuron has no two-level tree and is outside the space.
    """
    neurons = np.flatnonzero(~net.is_input).tolist()
    inputs = [net.pre[net.in_ptr[v] : net.in_ptr[v + 1]].tolist() for v in neurons]
    data = UnrollData(neurons, inputs, rows, columns, k, max_crossbars)
    for i, v in enumerate(neurons):
        if data.n_leaves(i) > fanin:
            raise InputError(
                f"neuron {v} has fan-in {len(inputs[i])}: a two-level tree with leaves of k={k} inputs needs "
                f"{data.n_leaves(i)} leaves, above the fan-in limit F={fanin} of its root; use a larger arity",
                source="--decompose",
                constraint="fanin",
            )
    return data


def space_lower_bound(member: MappingProblem) -> int:
    """Crossbar lower bound over the whole space, from any member's N'.

    Every member has the same units (ceil(m/k) leaves and a root per regrouped neuron),
    synapses and sources (a leaf always feeds its root), so the ``columns``,
    ``crosspoints`` and ``rows`` bounds of :func:`~problems.formulations.assignment.crossbar_lower_bounds`
    hold for all of them; the conflict clique depends on the grouping and is left out.
    """
    bounds = crossbar_lower_bounds(AssignmentData.from_problem(member))
    return max(v for k, v in bounds.items() if k != "conflicts")


def balanced_two_level(net: Network, k: int) -> Decomposition:
    """The member of the space with each neuron's inputs split by id into ceil(m/k) balanced leaves."""
    edge_leaf, leaves = balanced_leaves(net, k)
    return grouped_tree(net, edge_leaf, leaves, max(2, int(leaves.max(initial=2))), strategy="tree", label_arity=k)


def solve_grouping(
    problem: MappingProblem, ctx: SolveContext, backend: Backend, *, warm: bool = True, linearization_level: int = 2
) -> Outcome:
    """Solve ``problem`` over every two-level grouping of its original net (see the module docstring).

    ``backend`` (CP-SAT) solves the fixed-N' phases; ``linearization_level`` is CP-SAT's
    setting for the grouping model.
    """
    dec, hw = problem.decomposition, problem.hardware
    if not regroups(dec):
        start = warm_start(problem, ctx) if warm else None
        return solve_lexicographic(problem, ctx, backend, warm=start, symmetry=True)
    net, k = dec.original, leaf_size(dec, hw.fanin)
    data = unroll_data(net, hw.rows, hw.columns, hw.fanin, k, max_crossbars=1)
    # warm start: the balanced tree packed by the greedy heuristics; its crossbars bound the model's
    start_dec = balanced_two_level(net, k)
    greedy = warm_start(replace(problem, decomposition=start_dec), ctx) if warm else None
    start = None
    if greedy is not None:  # crossbars relabelled 0..c-1, as the model's "open crossbars first" wants
        used, dense = np.unique(greedy[start_dec.compute], return_inverse=True)
        start = np.full_like(greedy, -1)
        start[start_dec.compute] = dense
        upper = len(used)
        ctx.record(float(upper))
    else:
        upper = int(sum(data.n_leaves(i) + (data.n_leaves(i) > 1) for i in range(len(data.neurons))))
    data = replace(data, max_crossbars=upper)
    clauses = upper * sum(len(s) * data.n_leaves(i) for i, s in enumerate(data.inputs))
    if clauses > MAX_ROW_CLAUSES:
        raise InputError(
            f"the joint grouping model of {net.name} would need {clauses} row clauses (limit {MAX_ROW_CLAUSES}); "
            "it is meant for tiny nets: use cpsat on a fixed decomposition",
            source="--solver",
        )
    lb = space_lower_bound(replace(problem, decomposition=start_dec))
    um = build_model(data)
    um.model.add(sum(um.opened) >= lb)
    _break_leaf_symmetry(um, data)
    if start is not None:
        _hint(um, data, start_dec, start)
    left = ctx.remaining()
    phase = _run(um, data, ctx, linearization_level, None if left is None else GROUPING_SHARE * left)
    info: dict[str, Any] = {
        "grouping": {
            "space": f"two-level trees, ceil(m/{k}) leaves of at most {k} inputs per neuron with fan-in > {k}",
            "leaf_size": k,
            "neurons_regrouped": int(sum(data.n_leaves(i) > 1 for i in range(len(data.neurons)))),
            "status": phase.status,
            "crossbars": phase.crossbars,
            "bound": phase.bound,
        }
    }
    bound = max(lb, math.ceil(phase.bound - TOLERANCE)) if math.isfinite(phase.bound) else lb
    info["grouping"]["lower_bound"] = lb
    if phase.status == "infeasible":
        return Outcome(None, Status.INFEASIBLE, message="no two-level grouping fits the crossbars", info=info)
    if phase.crossbars is not None:
        chosen = to_decomposition(net, data, phase)
        auto_mesh = replace(hw, mesh=None)  # the crossbar labels only; phase 2 places them on the real mesh
        unit_crossbar = to_mapping(chosen, data, phase, auto_mesh).unit_crossbar
    elif start is not None:
        chosen, unit_crossbar = start_dec, start
    else:
        return Outcome(None, bound=float(bound), message="no grouping found", info=info)
    out = solve_lexicographic(
        replace(problem, decomposition=chosen), ctx, backend, warm=unit_crossbar, symmetry=True, known_bound=bound
    )
    info.update(out.info)
    proven = phase.status == "optimal" or (phase.crossbars is not None and phase.crossbars <= bound)
    if out.mapping is None:
        status = Status.INFEASIBLE if out.status is Status.INFEASIBLE and proven else None
        return Outcome(None, status, bound=float(bound), message=out.message, info=info)
    if problem.objective == "energy":  # the grouping minimised crossbars, not energy: no bound over the space
        return Outcome(
            out.mapping, Status.FEASIBLE, message="energy optimised for the chosen grouping only", info=info,
            decomposition=chosen,
        )  # fmt: skip
    used = out.mapping.unit_crossbar
    proven = len(np.unique(used[used >= 0])) <= bound
    what = "crossbars proven optimal over the grouping space" if proven else "crossbars not proven"
    return Outcome(
        out.mapping,
        Status.FEASIBLE,
        bound=float(bound),
        message=f"{what} (bound {bound}); secondary key for the chosen grouping: {out.status or 'feasible'}",
        info=info,
        decomposition=chosen,
    )


def _break_leaf_symmetry(um: UnrollModel, data: UnrollData) -> None:
    """Leaves of one neuron are interchangeable: name them by their first input (input p in leaves <= p)."""
    for i, srcs in enumerate(data.inputs):
        for p in range(len(srcs)):
            for g in range(p + 1, data.n_leaves(i)):
                um.model.add(um.leaf_of[i, p, g] == 0)


def _hint(um: UnrollModel, data: UnrollData, dec: Decomposition, unit_crossbar: np.ndarray) -> None:
    """Hint the model with the grouping of ``dec`` (a member of the space) and its crossbars."""
    net = dec.original
    edge_leaf, _ = balanced_leaves(net, data.leaf_size)
    unit_of = {(o, p): u for u, (o, p) in enumerate(zip(dec.origin.tolist(), dec.position.tolist(), strict=True))}
    m = um.model
    for c, var in enumerate(um.opened):
        m.add_hint(var, int(c <= int(unit_crossbar.max())))
    for i, v in enumerate(data.neurons):
        groups = edge_leaf[net.in_ptr[v] : net.in_ptr[v + 1]]
        n_leaves = data.n_leaves(i)
        for p, g in enumerate(groups.tolist()):
            for h in range(n_leaves):
                m.add_hint(um.leaf_of[i, p, h], int(g == h))
        for g in range(n_leaves):
            crossbar = unit_crossbar[v if n_leaves == 1 else unit_of[v, g]]
            for c in range(data.max_crossbars):
                m.add_hint(um.leaf_on[i, g, c], int(crossbar == c))
        if n_leaves > 1:
            for c in range(data.max_crossbars):
                m.add_hint(um.root_on[i, c], int(unit_crossbar[v] == c))


def _run(um: UnrollModel, data: UnrollData, ctx: SolveContext, level: int, limit: float | None) -> UnrollSolution:
    """Solve the grouping model (seed and threads of the run); report improvements to the history."""
    from ortools.sat.python import cp_model

    class Improvements(cp_model.CpSolverSolutionCallback):
        def on_solution_callback(self) -> None:
            bound = self.best_objective_bound
            ctx.record(self.objective_value, math.ceil(bound - TOLERANCE) if math.isfinite(bound) else None)

    solver = cp_model.CpSolver()
    params = solver.parameters
    params.num_workers = ctx.budget.threads
    params.random_seed = ctx.seed
    params.linearization_level = level
    if limit is not None:
        params.max_time_in_seconds = max(limit, 0.0)
    code = solver.solve(um.model, Improvements())
    return read_solution(solver, code, um, data, unknown="unknown")
