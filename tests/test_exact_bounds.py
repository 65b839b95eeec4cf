"""Exact reach (issue 17): unit types, symmetry rules, the configuration LP bound, the hop bound, time limits.

Every bound is checked against truth: brute force on tiny nets (each bound at most the
optimum) and the planted instances (the hop bound equals the known optimum there).
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from mapopt.decompose import decompose
from mapopt.hardware import customise, load_preset
from mapopt.io import resolve_net
from mapopt.network import Network
from mapopt.problem import MappingProblem
from mapopt.registry import catalog, make_solver
from mapopt.solver import Budget, Status
from problems.formulations.assignment import AssignmentData, canonical_slots, crossbar_lower_bounds
from problems.formulations.bruteforce import brute_force
from problems.formulations.patterns import hop_bound, pattern_assignment, pattern_bound, unit_types
from problems.instances.planted import planted, planted_optimum

TOY = load_preset("toy")
TOY16 = customise(TOY, crossbar="16x16", fanin=16, crossbars_per_tile=4, mesh="auto")


def problem_of(net: Network, hw=TOY) -> tuple[MappingProblem, AssignmentData]:
    problem = MappingProblem(decompose(net, hw, "none"), hw)
    return problem, AssignmentData.from_problem(problem)


def tiny(seed: int) -> Network:
    """Random tiny nets: 4 inputs, 6 compute neurons reading 1-3 inputs each (some identical)."""
    rng = np.random.default_rng(seed)
    pre, post = [], []
    shapes = [sorted(rng.choice(4, size=rng.integers(1, 4), replace=False).tolist()) for _ in range(4)]
    for v in range(4, 10):
        for s in shapes[rng.integers(0, 4)]:
            pre.append(s)
            post.append(v)
    spikes = np.r_[rng.integers(1, 9, size=4), np.zeros(6)].astype(float)
    return Network.build(name=f"tiny{seed}", is_input=np.arange(10) < 4, pre=pre, post=post, spikes=spikes)


def test_identical_units_share_a_type() -> None:
    _, data = problem_of(catalog()["conv-8x8-c2k3"].build(), TOY16)
    types = unit_types(data)
    assert len(types.members) == 64 and set(types.multiplicity.tolist()) == {2}
    for members, sources in zip(types.members, types.sources, strict=True):
        for m in members.tolist():
            assert np.array_equal(np.sort(data.pair_source[data.pair_unit == m]), sources)


def test_units_read_by_others_are_typed_by_their_readers_too() -> None:
    net = resolve_net("mlp:8-6-3")
    _, data = problem_of(net, TOY16)
    types = unit_types(data)
    hidden = [m for m in types.members if m.size == 6]  # 6 hidden neurons: same inputs, same readers, same spikes?
    spikes = net.spikes[8:14]
    assert bool(hidden) == (np.unique(spikes).size == 1)


@pytest.mark.parametrize("seed", range(8))
def test_canonical_slots_keep_contents_and_meet_both_symmetry_rules(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 12
    slots = rng.integers(0, 5, size=n)
    identical = [np.array([0, 3, 7]), np.array([2, 5]), np.array([8, 9, 10, 11])]
    out = canonical_slots(slots, identical)
    # same crossbar contents, up to labels and swaps of identical units
    kind = np.arange(n)
    for members in identical:
        kind[members] = members[0]
    contents = lambda s: sorted(sorted(kind[s == c].tolist()) for c in np.unique(s))  # noqa: E731
    assert contents(out) == contents(slots)
    assert all(out[i] <= i for i in range(n))  # crossbars numbered by first unit
    for members in identical:
        assert np.all(np.diff(out[members]) >= 0)


@pytest.mark.parametrize("seed", range(6))
def test_bounds_never_exceed_brute_force(seed: int) -> None:
    net = tiny(seed)
    problem, data = problem_of(net)
    best = brute_force(problem)
    crossbars, hop_spikes = int(best.key[0]), best.key[1]
    types = unit_types(data)
    found = pattern_bound(data, types, None, expired=lambda: False)
    assert found.converged
    assert max(crossbar_lower_bounds(data).values()) <= crossbars
    assert found.bound <= crossbars + 1e-9
    hw = problem.hardware_for(crossbars)
    assert hop_bound(data, crossbars, hw) <= hop_spikes + 1e-9
    packed = pattern_assignment(data, types, found.patterns, time_limit=5.0)
    assert packed is not None and packed.max() + 1 >= crossbars


def test_hop_bound_is_the_planted_optimum() -> None:
    cases = ((8, 4, 4, 3, TOY), (12, 16, 16, 9, TOY16), (30, 4, 4, 3, customise(TOY, mesh="auto")))
    for blocks, rows, cols, reads, hw in cases:
        net = planted(blocks, rows, cols, reads)
        _, data = problem_of(net, hw)
        optimum = planted_optimum(net, blocks, hw)
        assert hop_bound(data, blocks, hw.with_mesh_for(blocks)) == pytest.approx(optimum["hop_spikes"], rel=1e-6)


def test_a_planted_instance_is_proven_at_once() -> None:
    """Crossbars by the cheap bounds, hop_spikes by the hop bound: no search needed (30 blocks, 120 units)."""
    hw = customise(TOY, mesh="auto")
    net = planted(30, 4, 4, 3)
    problem, _ = problem_of(net, hw)
    result = make_solver("cpsat").solve(problem, Budget(time_limit=60, seed=0))
    optimum = planted_optimum(net, 30, hw)
    assert result.status is Status.OPTIMAL, result.message
    assert result.metrics["hop_spikes"] == optimum["hop_spikes"]
    assert result.info["phases"][-1]["by"] == "placement meets the hop bound"


def test_pattern_bound_closes_what_the_cheap_bounds_leave_open() -> None:
    """On the 8x8 convolution the cheap bounds say 8; the configuration LP is 9.5, so 10 crossbars are needed."""
    _, data = problem_of(catalog()["conv-8x8-c2k3"].build(), TOY16)
    assert max(crossbar_lower_bounds(data).values()) == 8
    start = time.perf_counter()
    found = pattern_bound(data, unit_types(data), None, expired=lambda: time.perf_counter() - start > 60)
    assert found.converged and found.lp == pytest.approx(9.5)
    assert 9 < found.bound <= 9.5


def test_highs_keeps_its_time_limit_where_its_own_stop_does_not_come() -> None:
    """HiGHS spends minutes in its root mod-k separator on this model; its process is stopped at the limit."""
    problem, _ = problem_of(catalog()["conv-8x8-c2k3"].build(), TOY16)
    start = time.perf_counter()
    result = make_solver("pulp-highs").solve(problem, Budget(time_limit=6, seed=0, threads=1))
    assert time.perf_counter() - start < 6 + 2
    assert result.mapping is not None and result.bound is not None
