"""One cost model: every incremental evaluator and every model bound agrees with the validator.

mapopt/evaluation.py owns every formula (energy, hops via the hardware, lower bounds); local
search (``anneal``'s incremental totals, ``pso``'s traffic graph) and the exact models derive
from it. These property tests apply random moves and placements and compare each derived
number with :func:`mapopt.evaluation.metrics` recomputed from scratch.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mapopt.decompose import decompose
from mapopt.evaluation import EnergyModel, lower_bounds, metrics
from mapopt.hardware import Hardware
from mapopt.mapping import Mapping
from mapopt.network import Network
from mapopt.problem import MappingProblem
from mapopt.registry import make_solver
from mapopt.solver import Budget
from problems.formulations.assignment import AssignmentData, crossbar_lower_bounds
from solvers.anneal import objective_key
from solvers.common.incremental import IncrementalCost
from solvers.common.traffic import TrafficGraph

HW = Hardware(
    name="cost-test", rows=12, columns=4, fanin=12, crossbars_per_tile=2, mesh=None,
    e_syn=2e-12, e_msg=5e-11, e_hop=3e-12, p_cell=1e-15, p_col=4e-14,
)  # fmt: skip


def random_net(seed: int, n_in: int = 7, n_out: int = 12, density: float = 0.4) -> Network:
    rng = np.random.default_rng(seed)
    n = n_in + n_out
    pre, post = np.nonzero(rng.random((n, n_out)) < density)
    keep = pre != post + n_in
    return Network.build(
        name=f"random-{seed}",
        is_input=np.arange(n) < n_in,
        pre=pre[keep],
        post=post[keep] + n_in,
        weight=rng.normal(size=int(keep.sum())),
        spikes=rng.integers(0, 9, size=n).astype(float),
        timesteps=20,
    )


def start_state(seed: int, spec: str, objective: str = "energy") -> tuple[MappingProblem, IncrementalCost]:
    dec = decompose(random_net(seed), HW, spec)
    problem = MappingProblem(dec, HW, objective)
    start = make_solver("greedy").solve(problem, Budget()).mapping
    return problem, IncrementalCost(dec, replace(HW, mesh=start.mesh), start)


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    moves=st.lists(st.tuples(st.booleans(), st.integers(0, 10**6), st.integers(0, 10**6)), max_size=40),
    spec=st.sampled_from(["chain:3", "tree:3", "prune-first"]),
)
def test_anneal_energy_objective_is_the_validators_energy(
    seed: int, moves: list[tuple[bool, int, int]], spec: str
) -> None:
    """anneal's energy key plus the constant synaptic-event energy is energy_total_j, after any moves."""
    problem, state = start_state(seed, spec)
    dec = problem.decomposition
    compute = np.flatnonzero(dec.compute)
    for unit_move, a, b in moves:
        if unit_move and compute.size:
            state.move(int(compute[a % compute.size]), b % state.n_slots)
        else:
            state.swap_tiles(a % state.n_slots, b % state.n_slots)
    full = metrics(dec, HW, state.mapping(state.hw.mesh))
    constant = EnergyModel.of(HW, dec.network.timesteps).dynamic(full["synaptic_events"], 0.0, 0.0)
    assert objective_key(state, problem)[1] + constant == pytest.approx(full["energy_total_j"], rel=1e-12)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), perm_seed=st.integers(0, 10_000), spec=st.sampled_from(["chain:2", "prune-first"]))
def test_traffic_graph_hop_spikes_is_the_validators(seed: int, perm_seed: int, spec: str) -> None:
    """pso's placement fitness equals the validator's hop_spikes for any placement of the crossbars."""
    dec = decompose(random_net(seed), HW, spec)
    mapping = make_solver("layered").solve(MappingProblem(dec, HW), Budget()).mapping
    graph = TrafficGraph.build(dec, mapping.unit_crossbar)
    slots = replace(HW, mesh=mapping.mesh).crossbar_slots()
    tiles = np.random.default_rng(perm_seed).permutation(slots)[: graph.n_cb]
    placed = Mapping(mapping.unit_crossbar, tiles, mapping.mesh)
    hw = replace(HW, mesh=mapping.mesh)
    assert graph.hop_spikes(hw, tiles) == pytest.approx(metrics(dec, HW, placed)["hop_spikes"], rel=1e-12)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), spec=st.sampled_from(["chain:2", "tree:4", "prune-first"]))
def test_model_bounds_are_the_validators(seed: int, spec: str) -> None:
    """The exact models' columns, crosspoints and rows bounds are the validator's, from their own data."""
    dec = decompose(random_net(seed), HW, spec)
    model = crossbar_lower_bounds(AssignmentData.from_problem(MappingProblem(dec, HW)))
    validator = lower_bounds(dec, HW)
    for key in ("columns", "crosspoints", "rows"):
        assert model[key] == validator[f"lower_bound_crossbars_{key}"], key


def test_scalar_and_vector_hops_agree() -> None:
    for mesh in ((1, 1), (3, 5), (7, 2), (4, 4)):
        hw = replace(HW, mesh=mesh)
        tiles = np.arange(hw.n_tiles)
        a, b = (grid.ravel() for grid in np.meshgrid(tiles, tiles))
        scalar = [hw.hop_count(int(x), int(y)) for x, y in zip(a, b, strict=True)]
        assert np.array_equal(np.array(scalar), hw.hops(a, b))
