"""Exact unroll ordering plus crossbar assignment for small nets, as a CP-SAT model (OR-Tools).

The fast groupings of :mod:`mapopt.decompose.ordering` are heuristics; this is the exact
formulation of MODEL.md, section 6, problems 1 and 2 together, for two-level trees
(leaves take raw inputs, one root per decomposed neuron combines the leaves' partial
sums): choose each neuron's leaves (a partition of its inputs into groups of at most
``leaf_size``) and put every leaf and root on a crossbar, minimising the crossbars used,
under ``rows`` (distinct sources per crossbar, a partial sum being a source of its own)
and ``columns``. A neuron with at most ``leaf_size`` inputs is one unit (no root).

API: data in (:class:`UnrollData`), model out (:func:`build_model` returns the CP-SAT
model and its variables, for reuse by exact solvers), or :func:`solve` for the solution;
:func:`to_decomposition` turns a solution into N' through the common builder and
:func:`to_mapping` into the mapping it proves (crossbars filled onto tiles in order),
which :func:`mapopt.evaluation.assess` then re-checks and scores.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from mapopt.decompose.base import Decomposition
from mapopt.decompose.tree import grouped_tree
from mapopt.hardware import Hardware
from mapopt.mapping import Mapping
from mapopt.network import Network


@dataclass(frozen=True)
class UnrollData:
    """One instance: the compute neurons' input lists, the crossbar size and the leaf size."""

    neurons: list[int]
    inputs: list[list[int]]
    rows: int
    columns: int
    leaf_size: int
    max_crossbars: int

    @classmethod
    def from_network(cls, net: Network, hw: Hardware, *, max_crossbars: int | None = None) -> UnrollData:
        """The instance of every compute neuron of ``net`` on ``hw`` with leaves of at most F inputs."""
        neurons = np.flatnonzero(~net.is_input).tolist()
        inputs = [net.pre[net.in_ptr[v] : net.in_ptr[v + 1]].tolist() for v in neurons]
        units = sum(1 if len(i) <= hw.fanin else -(-len(i) // hw.fanin) + 1 for i in inputs)
        return cls(neurons, inputs, hw.rows, hw.columns, hw.fanin, max_crossbars or max(1, units))

    def n_leaves(self, i: int) -> int:
        """Leaf slots of neuron i: the fewest leaves that hold its inputs (fewer columns, shallowest root)."""
        return max(1, -(-len(self.inputs[i]) // self.leaf_size))


@dataclass
class UnrollModel:
    """The CP-SAT model and its variables (tuple-keyed dicts)."""

    model: Any
    leaf_of: dict[tuple[int, int, int], Any]  # (neuron idx, input position, leaf) -> bool
    leaf_on: dict[tuple[int, int, int], Any]  # (neuron idx, leaf, crossbar) -> bool
    root_on: dict[tuple[int, int], Any]  # (neuron idx, crossbar) -> bool
    opened: list[Any]


@dataclass
class UnrollSolution:
    status: str
    crossbars: int | None
    bound: float
    edge_leaf: list[list[int]]  # per neuron, per input position: leaf index
    leaf_crossbar: list[list[int]]
    root_crossbar: list[int]  # -1 when the neuron is a single unit


def build_model(data: UnrollData) -> UnrollModel:
    """Variables, constraints and objective of the exact unroll + assignment problem."""
    from ortools.sat.python import cp_model  # imported here: plugin modules load on every CLI call

    m = cp_model.CpModel()
    B = range(data.max_crossbars)
    leaf_of, leaf_on, root_on = {}, {}, {}
    opened = [m.new_bool_var(f"open[{c}]") for c in B]
    row_use: dict[tuple[int, int], Any] = {}  # (source, crossbar) -> bool
    load: dict[int, list[Any]] = {c: [] for c in B}  # column users per crossbar
    partial_rows: dict[int, list[Any]] = {c: [] for c in B}
    for i, srcs in enumerate(data.inputs):
        L = data.n_leaves(i)
        # each input goes to exactly one leaf; a leaf takes at most leaf_size inputs
        for p in range(len(srcs)):
            for g in range(L):
                leaf_of[i, p, g] = m.new_bool_var(f"x[{i},{p},{g}]")
            m.add_exactly_one(leaf_of[i, p, g] for g in range(L))
        for g in range(L):
            m.add(sum(leaf_of[i, p, g] for p in range(len(srcs))) <= data.leaf_size)
            # every leaf slot is placed on exactly one crossbar (slots are all used: L is minimal)
            for c in B:
                leaf_on[i, g, c] = m.new_bool_var(f"y[{i},{g},{c}]")
                load[c].append(leaf_on[i, g, c])
                m.add_implication(leaf_on[i, g, c], opened[c])
            m.add_exactly_one(leaf_on[i, g, c] for c in B)
        # a leaf's source needs a row on the leaf's crossbar
        for p, s in enumerate(srcs):
            for g in range(L):
                for c in B:
                    key = (s, c)
                    if key not in row_use:
                        row_use[key] = m.new_bool_var(f"z[{s},{c}]")
                    m.add_bool_or([leaf_of[i, p, g].Not(), leaf_on[i, g, c].Not(), row_use[key]])
        if L > 1:
            # the root takes one column and one row per leaf partial sum on its crossbar
            for c in B:
                root_on[i, c] = m.new_bool_var(f"r[{i},{c}]")
                load[c].append(root_on[i, c])
                m.add_implication(root_on[i, c], opened[c])
                partial_rows[c].append(L * root_on[i, c])
            m.add_exactly_one(root_on[i, c] for c in B)
    for c in B:
        m.add(sum(load[c]) <= data.columns)
        m.add(sum(v for (_, cc), v in row_use.items() if cc == c) + sum(partial_rows[c]) <= data.rows)
        if c + 1 < data.max_crossbars:
            m.add(opened[c] >= opened[c + 1])  # symmetry: use crossbars in order
    m.minimize(sum(opened))
    return UnrollModel(m, leaf_of, leaf_on, root_on, opened)


def solve(data: UnrollData, *, time_limit: float = 10.0, seed: int = 0, threads: int = 1) -> UnrollSolution:
    """Solve :func:`build_model` with CP-SAT; status optimal / feasible / infeasible / timeout."""
    from ortools.sat.python import cp_model

    um = build_model(data)
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = float(time_limit)
    solver.parameters.random_seed = int(seed)
    solver.parameters.num_workers = int(threads)
    code = solver.solve(um.model)
    return read_solution(solver, code, um, data, unknown="timeout")


def read_solution(solver: Any, code: Any, um: UnrollModel, data: UnrollData, *, unknown: str) -> UnrollSolution:
    """The grouping and crossbars of a solved :func:`build_model` (``unknown``: status for other codes)."""
    from ortools.sat.python import cp_model

    status = {cp_model.OPTIMAL: "optimal", cp_model.FEASIBLE: "feasible", cp_model.INFEASIBLE: "infeasible"}.get(
        code, unknown
    )
    if status not in ("optimal", "feasible"):
        return UnrollSolution(status, None, solver.best_objective_bound, [], [], [])
    B = range(data.max_crossbars)
    edge_leaf, leaf_cb, root_cb = [], [], []
    for i, srcs in enumerate(data.inputs):
        L = data.n_leaves(i)
        edge_leaf.append([next(g for g in range(L) if solver.value(um.leaf_of[i, p, g])) for p in range(len(srcs))])
        leaf_cb.append([next(c for c in B if solver.value(um.leaf_on[i, g, c])) for g in range(L)])
        root_cb.append(next(c for c in B if solver.value(um.root_on[i, c])) if L > 1 else -1)
    bound = solver.objective_value if status == "optimal" else solver.best_objective_bound
    return UnrollSolution(status, round(solver.objective_value), bound, edge_leaf, leaf_cb, root_cb)


def to_decomposition(net: Network, data: UnrollData, solution: UnrollSolution) -> Decomposition:
    """N' of a solution: the solved leaves, a root above each decomposed neuron (strategy ``unroll-exact``)."""
    edge_leaf = np.zeros(net.n_synapses, dtype=np.int64)
    leaves = np.where(net.is_input, 0, 1).astype(np.int64)
    for v, groups in zip(data.neurons, solution.edge_leaf, strict=True):
        edge_leaf[net.in_ptr[v] : net.in_ptr[v + 1]] = groups
        leaves[v] = max(groups) + 1 if groups else 1
    arity = max(2, int(leaves.max(initial=2)))
    return grouped_tree(net, edge_leaf, leaves, arity, strategy="unroll-exact", label_arity=data.leaf_size)


def to_mapping(dec: Decomposition, data: UnrollData, solution: UnrollSolution, hw: Hardware) -> Mapping:
    """The solution's crossbar assignment for ``dec = to_decomposition(...)``, tiles nearest the I/O tile first."""
    slot = {v: i for i, v in enumerate(data.neurons)}
    unit_crossbar = np.full(dec.network.n_neurons, -1, dtype=np.int64)
    for u in np.flatnonzero(dec.compute).tolist():
        i = slot[int(dec.origin[u])]
        leaves = solution.leaf_crossbar[i]
        is_root = dec.level[u] == 0 and len(leaves) > 1
        unit_crossbar[u] = solution.root_crossbar[i] if is_root else leaves[int(dec.position[u])]
    used = np.unique(unit_crossbar[unit_crossbar >= 0])
    dense = np.searchsorted(used, unit_crossbar)
    unit_crossbar = np.where(unit_crossbar >= 0, dense, -1)
    placed = hw.with_mesh_for(len(used))
    return Mapping(unit_crossbar, placed.crossbar_slots()[: len(used)], placed.mesh)
