"""cpsat-structured: crossbars proven over auto's structured groupings, checked against brute force and cpsat-joint."""

from __future__ import annotations

import numpy as np
import pytest

from mapopt.decompose import decompose
from mapopt.errors import InputError
from mapopt.evaluation import assess
from mapopt.hardware import Hardware, customise, load_preset
from mapopt.io import resolve_net
from mapopt.network import Network
from mapopt.problem import MappingProblem
from mapopt.registry import make_solver
from mapopt.solver import Budget, SolveResult
from problems.formulations.bruteforce import brute_force
from problems.formulations.structured import members

TINY = Hardware(name="tiny", rows=4, columns=3, fanin=3, crossbars_per_tile=2, mesh=None)


def tiny_net(seed: int) -> Network:
    """Two compute neurons of fan-in 3..5 on 6 inputs: a space of a few members of at most 6 units."""
    rng = np.random.default_rng(seed)
    n_in, n_comp = 6, 2
    pre, post = [], []
    for v in range(n_in, n_in + n_comp):
        sources = sorted(rng.choice(n_in, int(rng.integers(3, 6)), replace=False))
        pre += sources
        post += [v] * len(sources)
    n = n_in + n_comp
    return Network.build(name=f"tiny{seed}", is_input=np.arange(n) < n_in, pre=pre, post=post,
                         spikes=rng.integers(1, 5, n).astype(float))  # fmt: skip


def solve(net: Network, hw: Hardware, limit: float = 30.0) -> SolveResult:
    problem = MappingProblem(decompose(net, hw, "auto"), hw)
    result = make_solver("cpsat-structured").solve(problem, Budget(time_limit=limit, seed=0))
    assert result.mapping is not None, result.message
    verdict = assess(result.decomposition or problem.decomposition, hw, result.mapping)  # None: its own N' won
    assert verdict.valid and verdict.metrics == result.metrics
    return result


@pytest.mark.parametrize("seed", range(6))
def test_agrees_with_brute_force_over_every_member(seed: int) -> None:
    """The proven crossbars equal the best of every member, each mapped by brute force."""
    net = tiny_net(seed)
    truth = None
    for _, member in members(net, TINY, 2):
        assert member.n_units <= 8  # brute force's limit
        found = brute_force(MappingProblem(member, TINY))
        if found is not None:
            truth = found.key[0] if truth is None else min(truth, found.key[0])
    result = solve(net, TINY)
    assert result.metrics["crossbars"] == truth == result.bound and result.gap == 0.0
    assert result.info["grouping"]["open"] == 0


def test_proves_a_small_convolution_faster_than_cpsat_joint() -> None:
    """conv:2x4x4,c2k3 with 16x8 crossbars, F=8: 4 crossbars, the optimum cpsat-joint proves (docs/exact.md)."""
    net = resolve_net("conv:2x4x4,c2k3")
    hw = customise(load_preset("toy"), crossbar="16x8", fanin=8, crossbars_per_tile=4, mesh="auto")
    result = solve(net, hw)
    assert result.metrics["crossbars"] == 4 and result.bound == 4.0


def test_never_worse_than_auto_with_a_heuristic() -> None:
    net = resolve_net("edgedet:4x4,k=3")
    hw = customise(load_preset("toy"), crossbar="8x8", fanin=8, crossbars_per_tile=4, mesh="auto")
    heuristic = make_solver("greedy").solve(MappingProblem(decompose(net, hw, "auto"), hw), Budget(seed=0))
    result = solve(net, hw, limit=5.0)
    assert result.bound <= result.metrics["crossbars"] <= heuristic.metrics["crossbars"]


def test_too_many_members_is_refused() -> None:
    """Four layers with about ten groupings each: their combinations are too many for the search."""
    net = resolve_net("conv:1x8x8,c4k3,c4k3,c4k3,f10")
    hw = customise(load_preset("toy"), crossbar="16x16", fanin=8, crossbars_per_tile=4, mesh="auto")
    problem = MappingProblem(decompose(net, hw, "auto"), hw)
    with pytest.raises(InputError, match="members"):
        make_solver("cpsat-structured").solve(problem, Budget(time_limit=5))


def test_unrolls_what_the_given_decomposition_cannot_fit() -> None:
    """Given N' = N with a fan-in above R (infeasible as it is), it searches the structured space and fits it."""
    from mapopt.decompose.prune import no_decomposition

    spikes = np.random.default_rng(3).integers(1, 5, 8).astype(float)
    net = Network.build(name="wide", is_input=np.arange(8) < 6, pre=np.r_[np.arange(6), np.arange(6)],
                        post=np.r_[np.full(6, 6), np.full(6, 7)], spikes=spikes)  # fmt: skip
    hw = load_preset("toy")  # 4x4 crossbars, F = 4: a neuron of fan-in 6 needs two units and a root
    result = make_solver("cpsat-structured").solve(MappingProblem(no_decomposition(net), hw), Budget(time_limit=10))
    assert result.mapping is not None and result.decomposition is not None
    assert assess(result.decomposition, hw, result.mapping).valid
