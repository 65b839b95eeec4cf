"""Every lower bound of mapopt.evaluation against brute force on tiny nets, and the solver template's gap."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from mapopt.decompose.tree import grouped_units
from mapopt.evaluation import assess, lossless_lower_bounds, lower_bounds
from mapopt.hardware import Hardware, load_preset
from mapopt.io import resolve_net
from mapopt.network import Network
from mapopt.pipeline import run_strategy
from mapopt.problem import MappingProblem
from mapopt.solver import Budget
from problems.formulations.bruteforce import brute_force


@st.composite
def tiny_decompositions(draw: st.DrawFn) -> tuple[MappingProblem, Hardware]:
    """A tiny net, a hardware and a random lossless decomposition of it (random groups, tree or chain)."""
    n_in = draw(st.integers(2, 6))
    n_comp = draw(st.integers(1, 3))
    n = n_in + n_comp
    fanin = draw(st.integers(2, 3))
    rows = draw(st.integers(fanin, 6))
    hw = Hardware(
        name="tiny", rows=rows, columns=draw(st.integers(1, 4)), fanin=fanin, crossbars_per_tile=2, mesh=None,
        e_syn=1.0, e_msg=2.0, e_hop=3.0, p_cell=0.01, p_col=0.1,
    )  # fmt: skip
    pre, post = [], []
    for v in range(n_in, n):
        sources = draw(st.sets(st.integers(0, n - 1).filter(lambda s, v=v: s != v), min_size=1, max_size=5))
        pre += sorted(sources)
        post += [v] * len(sources)
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    net = Network.build(
        name="tiny", is_input=np.arange(n) < n_in, pre=pre, post=post, spikes=rng.integers(0, 9, size=n), timesteps=9
    )
    # per neuron: how many groups (enough for the fan-in limit), which input goes where, tree or chain
    edge_leaf = np.zeros(net.n_synapses, dtype=np.int64)
    leaves = np.where(net.is_input, 0, 1).astype(np.int64)
    chained = np.zeros(n, dtype=bool)
    for v in range(n_in, n):
        lo, hi = net.in_ptr[v], net.in_ptr[v + 1]
        m = hi - lo
        chain = draw(st.booleans())
        cap = fanin - 1 if chain else fanin  # raw inputs per group (a chain link after the first reads a partial)
        fewest = -(-m // cap) if m > fanin else 1
        groups = draw(st.integers(fewest, max(fewest, min(m, fanin if not chain else m))))
        if groups == 1:
            continue
        assign = [draw(st.integers(0, groups - 1)) for _ in range(m)]
        assign[:groups] = range(groups)  # every group non-empty
        sizes = np.bincount(assign, minlength=groups)
        if sizes.max() > cap or (chain and sizes[0] > fanin):
            assign = [i % groups for i in range(m)]
        edge_leaf[lo:hi] = assign
        leaves[v] = groups
        chained[v] = chain
    dec = grouped_units(net, edge_leaf, leaves, chained, fanin, strategy="random", label_arity=None)
    return MappingProblem(dec, hw, draw(st.sampled_from(["crossbars-hops", "energy"]))), hw


@settings(max_examples=100, deadline=None)
@given(case=tiny_decompositions())
def test_bounds_never_exceed_the_brute_force_optimum(case: tuple[MappingProblem, Hardware]) -> None:
    """For a random lossless N': the N' bounds, the lossless bounds and the energy bound are <= the optimum."""
    problem, hw = case
    dec = problem.decomposition
    if dec.network.fanin.max() > hw.fanin or dec.n_units > (4 if problem.objective == "energy" else 6):
        return  # brute force over placements grows fast: energy scores every partition
    truth = brute_force(problem)
    if truth is None:  # nothing fits (a unit with more sources than rows): no optimum to compare with
        return
    verdict = assess(dec, hw, truth.mapping)
    assert verdict.valid
    crossbars = verdict.metrics["crossbars"]
    for name, value in lower_bounds(dec, hw).items():
        assert value <= crossbars, name
    for name, value in lossless_lower_bounds(dec.original, hw).items():
        assert value <= crossbars, name
    if problem.objective == "energy":
        assert verdict.metrics["lower_bound_energy_total_j"] <= truth.key[0] * (1 + 1e-12)


def test_lossless_bound_counts_the_fewest_units() -> None:
    """A neuron of fan-in 784 with F = 128 needs ceil(783 / 127) = 7 units whatever the decomposition."""
    net = resolve_net("mlp:784-1")
    hw = load_preset("dynapse-paper")
    bounds = lossless_lower_bounds(net, hw)
    assert bounds["lower_bound_crossbars_lossless_columns"] == 1
    assert bounds["lower_bound_crossbars_lossless_crosspoints"] == 1  # 784 + 6 synapses
    wide = Hardware(name="w", rows=128, columns=6, fanin=128, crossbars_per_tile=1, mesh=None)
    assert lossless_lower_bounds(net, wide)["lower_bound_crossbars_lossless_columns"] == 2  # 7 units, 6 columns


def test_heuristic_that_meets_the_bound_reports_gap_zero() -> None:
    """The solver template gives heuristics the validator's bound: meeting it is gap 0 on crossbars."""
    net = resolve_net("mlp:784-100-10")
    hw = load_preset("dynapse-paper")
    run = run_strategy(net, hw, "auto@layered", budget=Budget(seed=0))
    result = run.result
    assert result.bound == result.metrics["lower_bound_crossbars"]
    assert result.objective == result.bound and result.gap == 0.0  # 13 crossbars, the row bound
    row = run.row()
    assert row["gap"] == 0.0 and row["status"] == "feasible"  # hop_spikes is not proven


def test_energy_objective_gets_the_energy_bound() -> None:
    net = resolve_net("mlp:64-16-4")
    hw = load_preset("dynapse-paper")
    result = run_strategy(net, hw, "none@greedy", budget=Budget(seed=0), objective="energy").result
    assert result.bound == result.metrics["lower_bound_energy_total_j"] <= result.objective
    assert 0.0 <= result.gap < 1.0
