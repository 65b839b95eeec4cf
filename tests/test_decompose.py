"""Decomposition strategies: closed forms, provenance, orderings, auto, bad input, the exact unroll model."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mapopt.decompose import decompose, parse_spec
from mapopt.decompose.chain import chain_units
from mapopt.decompose.ordering import block_groups, source_keys
from mapopt.decompose.tree import tree_levels, tree_units
from mapopt.errors import InputError
from mapopt.hardware import Hardware, load_preset
from mapopt.io import resolve_net
from mapopt.network import Network
from mapopt.problem import MappingProblem
from mapopt.registry import make_solver
from mapopt.solver import Budget


def hardware(f: int, rows: int | None = None, columns: int = 16) -> Hardware:
    return Hardware(name="test", rows=rows or f, columns=columns, fanin=f, crossbars_per_tile=4, mesh=None)


def fan_in_net(fanins: list[int], seed: int = 0) -> Network:
    """One input layer of max(fanins) neurons; compute neuron i reads a random subset of size fanins[i]."""
    rng = np.random.default_rng(seed)
    n_in = max(fanins)
    pre, post = [], []
    for i, m in enumerate(fanins):
        pre.append(rng.choice(n_in, size=m, replace=False))
        post.append(np.full(m, n_in + i))
    pre_a, post_a = np.concatenate(pre), np.concatenate(post)
    return Network.build(
        name="fan", is_input=np.arange(n_in + len(fanins)) < n_in, pre=pre_a, post=post_a,
        weight=rng.normal(size=len(pre_a)), layer=np.r_[np.zeros(n_in), np.ones(len(fanins))],
    )


def realised_once(dec) -> None:
    """Every original synapse appears exactly once in N', with its endpoints and weight."""
    orig, net = dec.original, dec.network
    raw = np.flatnonzero(dec.edge_origin >= 0)
    src = dec.edge_origin[raw]
    counts = np.bincount(np.concatenate((src, dec.pruned)), minlength=orig.n_synapses)
    assert (counts == 1).all()
    assert (net.pre[raw] == orig.pre[src]).all()
    assert (dec.origin[net.post[raw]] == orig.post[src]).all()
    assert (net.weight[raw] == orig.weight[src]).all()


@settings(max_examples=40, deadline=None)
@given(fanins=st.lists(st.integers(1, 60), min_size=1, max_size=5), k=st.integers(2, 12), seed=st.integers(0, 99))
def test_chain_and_tree_match_closed_forms(fanins: list[int], k: int, seed: int) -> None:
    net = fan_in_net(fanins, seed)
    hw = hardware(16)
    m = np.array(fanins)
    for spec, units, depth in (
        (f"chain:{k}", chain_units(m, k), chain_units(m, k)),
        (f"tree:{k}", tree_units(m, k), tree_levels(m, k)),
    ):
        dec = decompose(net, hw, spec)
        assert dec.n_units == int(units.sum())
        assert dec.depth == int(depth.max())
        assert dec.network.max_fanin <= k
        realised_once(dec)
        per_neuron = np.bincount(dec.origin[dec.compute], minlength=net.n_neurons)[~net.is_input]
        assert (per_neuron == units).all()


def test_tree_closed_form_values() -> None:
    assert tree_units(np.array([784]), 128).tolist() == [7 + 1]
    assert tree_levels(np.array([784, 128, 129, 16384, 16385]), 128).tolist() == [2, 1, 2, 2, 3]
    assert tree_units(np.array([8]), 2).tolist() == [4 + 2 + 1]


@settings(max_examples=25, deadline=None)
@given(fanins=st.lists(st.integers(1, 80), min_size=1, max_size=6), f=st.integers(2, 24), seed=st.integers(0, 99))
def test_auto_keeps_every_synapse_within_fanin(fanins: list[int], f: int, seed: int) -> None:
    net = fan_in_net(fanins, seed)
    hw = hardware(f)
    dec = decompose(net, hw, "auto")
    realised_once(dec)
    assert dec.pruned_synapses == 0
    assert dec.network.max_fanin <= f
    assert dec.depth == int(tree_levels(np.array(fanins), f).max())


def test_block_grouping_is_consistent_across_neurons() -> None:
    net = fan_in_net([40, 35, 30, 38], seed=3)
    k = 10
    edge_leaf, leaves = block_groups(net, k, source_keys(net, "id"))
    key = net.post * 100 + edge_leaf
    _, sizes = np.unique(key, return_counts=True)
    assert sizes.max() <= k
    assert (leaves[~net.is_input] >= 4).all()
    # consistency: two sources sharing a leaf in one neuron share a leaf in every neuron reading both
    together: dict[int, set[tuple[int, int]]] = {}
    for v in np.flatnonzero(~net.is_input):
        sl = slice(net.in_ptr[v], net.in_ptr[v + 1])
        leaf_of = dict(zip(net.pre[sl].tolist(), edge_leaf[sl].tolist(), strict=True))
        together[v] = {(a, b) for a in leaf_of for b in leaf_of if a < b and leaf_of[a] == leaf_of[b]}
        apart = {(a, b) for a in leaf_of for b in leaf_of if a < b and leaf_of[a] != leaf_of[b]}
        for w, pairs in together.items():
            assert not (pairs & apart), f"neurons {v} and {w} group shared inputs differently"


def test_auto_beats_chain2_by_ten_on_mlp() -> None:
    net = resolve_net("mlp:784-100-10")
    hw = load_preset("dynapse-paper")
    crossbars = {}
    for spec in ("chain:2", "auto"):
        dec = decompose(net, hw, spec)
        result = make_solver("paper").solve(MappingProblem(dec, hw), Budget(seed=0))
        crossbars[spec] = result.metrics["crossbars"]
        assert result.metrics["pruned_synapses"] == 0
    assert crossbars["auto"] * 10 <= crossbars["chain:2"]


@pytest.mark.parametrize(
    ("spec", "fragment"),
    [
        ("chain:1", "k=1 must be at least 2"),
        ("tree:9", "k=9 exceeds the fan-in limit F=8"),
        ("auto,depth=1", "neuron 40 has fan-in 40"),
        ("chain:2,depth=3", "above the limit depth=3"),
        ("tree:4,order=random", "option order must be one of"),
        ("auto:4", "takes no arity"),
        ("tree:4,colour=red", "has no option 'colour'"),
    ],
)
def test_bad_specs_name_the_neuron_and_limit(spec: str, fragment: str) -> None:
    net = fan_in_net([40, 12])
    with pytest.raises(InputError, match=fragment):
        decompose(net, hardware(8), spec)


def test_fanin_above_rows_is_rejected() -> None:
    with pytest.raises(InputError, match="F=9 exceeds crossbar rows R=8"):
        Hardware(name="bad", rows=8, columns=8, fanin=9, crossbars_per_tile=1, mesh=None)


def test_parse_spec_options() -> None:
    assert parse_spec("tree:16,order=cooccurrence,grouping=block") == (
        "tree", 16, {"order": "cooccurrence", "grouping": "block"}
    )
    assert parse_spec("auto,depth=3") == ("auto", None, {"depth": 3})


def test_exact_unroll_model_finds_the_optimum() -> None:
    from mapopt.evaluation import assess
    from problems.formulations.unroll import UnrollData, solve, to_decomposition, to_mapping

    pre = np.tile(np.arange(6), 3)
    post = np.repeat([6, 7, 8], 6)
    net = Network.build(name="t", is_input=np.arange(9) < 6, pre=pre, post=post, weight=np.linspace(0.1, 1.8, 18))
    hw = Hardware(name="h", rows=4, columns=4, fanin=3, crossbars_per_tile=1, mesh=None)
    data = UnrollData.from_network(net, hw, max_crossbars=6)
    sol = solve(data, time_limit=20)
    # 9 units need 3 crossbars by columns; roots need 2 rows each, which leaf crossbars (3 rows used) lack: 4
    assert sol.status == "optimal"
    assert sol.crossbars == 4
    dec = to_decomposition(net, data, sol)
    realised_once(dec)
    assert dec.n_units == 9
    verdict = assess(dec, hw, to_mapping(dec, data, sol, hw))
    assert verdict.valid, verdict.violations
    assert verdict.metrics["crossbars"] == 4
