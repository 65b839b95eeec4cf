"""``auto`` decomposition: its candidate units match the assembled N', its layout is valid, it beats plain trees."""

from __future__ import annotations

import importlib
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from mapopt.decompose import decompose
from mapopt.decompose.base import Decomposition
from mapopt.decompose.layout import UnitSets, grid_width, pack, units_of
from mapopt.decompose.ordering import reader_classes, source_keys, strip_groups, unique_inverse
from mapopt.decompose.tree import grouped_units
from mapopt.evaluation import assess
from mapopt.hardware import Hardware, load_preset
from mapopt.io import resolve_net
from mapopt.mapping import Mapping
from mapopt.network import Network
from mapopt.pipeline import run_strategy
from mapopt.problem import MappingProblem
from mapopt.registry import make_solver
from mapopt.solver import Budget

auto_module = importlib.import_module("mapopt.decompose.auto")  # the package re-exports the function ``auto``


def small_hw(f: int, rows: int, columns: int = 8) -> Hardware:
    return Hardware(name="small", rows=rows, columns=columns, fanin=f, crossbars_per_tile=2, mesh=None)


def layered_net(fanins: list[int], n_in: int, seed: int) -> Network:
    """Inputs, then compute neurons in three interleaved layers; neuron i reads fanins[i] random inputs."""
    rng = np.random.default_rng(seed)
    pre = [rng.choice(n_in, size=min(m, n_in), replace=False) for m in fanins]
    post = [np.full(len(p), n_in + i) for i, p in enumerate(pre)]
    n = n_in + len(fanins)
    return Network.build(
        name="layered",
        is_input=np.arange(n) < n_in,
        pre=np.concatenate(pre),
        post=np.concatenate(post),
        layer=np.r_[np.zeros(n_in), 1 + np.arange(len(fanins)) % 3],
    )


def rows_of(units: UnitSets) -> list[tuple[int, int, int, tuple[int, ...]]]:
    own, slot, private, ptr = units.owner, units.slot, units.private, units.ptr
    return sorted(
        (int(own[i]), int(slot[i]), int(private[i]), tuple(units.src[ptr[i] : ptr[i + 1]]))
        for i in range(units.n_units)
    )


def place(dec: Decomposition, hw: Hardware, unit_crossbar: np.ndarray) -> Mapping:
    n = int(unit_crossbar.max()) + 1
    placed = hw.with_mesh_for(n)
    return Mapping(unit_crossbar, placed.crossbar_slots()[:n], placed.mesh)


@settings(max_examples=40, deadline=None)
@given(
    fanins=st.lists(st.integers(1, 60), min_size=1, max_size=8),
    n_in=st.integers(10, 70),
    f=st.integers(2, 12),
    g=st.integers(2, 12),
    order=st.sampled_from(["id", "position", "cooccurrence"]),
    chain_every=st.integers(1, 3),
    seed=st.integers(0, 99),
)
def test_candidate_units_match_the_assembled_decomposition(
    fanins: list[int], n_in: int, f: int, g: int, order: str, chain_every: int, seed: int
) -> None:
    """The units scored without N' are exactly N's units: raw sources, partial sums, owner and position."""
    net = layered_net(fanins, n_in, seed)
    g = min(g, f)
    edge_leaf, leaves = strip_groups(net, g, source_keys(net, order), limit=f - 1)
    chained = ~net.is_input & (np.arange(net.n_neurons) % chain_every == 0) & (leaves > 1)
    dec = grouped_units(net, edge_leaf, leaves, chained, f, strategy="auto", label_arity=None)
    assert rows_of(auto_module.candidate_units(net, edge_leaf, leaves, chained, f)) == rows_of(units_of(dec))


@settings(max_examples=40, deadline=None)
@given(
    fanins=st.lists(st.integers(1, 60), min_size=1, max_size=8),
    n_in=st.integers(10, 70),
    f=st.integers(2, 12),
    extra_rows=st.integers(0, 6),
    columns=st.integers(1, 6),
    seed=st.integers(0, 99),
)
def test_auto_layout_is_a_valid_packing(
    fanins: list[int], n_in: int, f: int, extra_rows: int, columns: int, seed: int
) -> None:
    """``auto``'s proposed layout passes the validator, and ``layered`` never returns more crossbars than it."""
    net = layered_net(fanins, n_in, seed)
    hw = small_hw(f, f + extra_rows, columns)
    dec = decompose(net, hw, "auto")
    assert dec.layout is not None
    verdict = assess(dec, hw, place(dec, hw, dec.layout))
    assert verdict.valid, verdict.violations
    run = run_strategy(net, hw, "auto@layered", budget=Budget(seed=0))
    assert run.result.metrics["crossbars"] <= verdict.metrics["crossbars"]


@settings(max_examples=60, deadline=None)
@given(
    fanins=st.lists(st.integers(1, 40), min_size=1, max_size=8),
    n_in=st.integers(5, 40),
    f=st.integers(2, 8),
    extra_rows=st.integers(0, 4),
    columns=st.integers(1, 5),
    chain_every=st.integers(1, 3),
    seed=st.integers(0, 99),
)
def test_layout_of_any_tree_or_chain_is_valid(
    fanins: list[int], n_in: int, f: int, extra_rows: int, columns: int, chain_every: int, seed: int
) -> None:
    """The packer keeps ``rows`` and ``columns`` on any mix of trees and chains (units with equal sources and
    different partial sums, sources read once), and ``layered`` keeps the better of it and its own packing."""
    net = layered_net(fanins, n_in, seed)
    hw = small_hw(f, f + extra_rows, columns)
    edge_leaf, leaves = strip_groups(net, max(2, f // 2), source_keys(net, "id"), limit=f - 1)
    chained = ~net.is_input & (np.arange(net.n_neurons) % chain_every == 0) & (leaves > 1)
    tree = grouped_units(net, edge_leaf, leaves, chained, f, strategy="x", label_arity=None)
    assume(tree.network.fanin.max() <= f)  # chain links over the limit: not a valid N' (the strip fallback)
    dec = replace(tree, layout=auto_module.layout_of(tree, hw, reader_classes(net)))
    verdict = assess(dec, hw, place(dec, hw, dec.layout))
    assert verdict.valid, verdict.violations
    result = make_solver("layered").solve(MappingProblem(dec, hw), Budget(seed=0))
    assert result.metrics["crossbars"] <= verdict.metrics["crossbars"]


@settings(max_examples=60, deadline=None)
@given(
    reads=st.lists(st.sets(st.integers(0, 9), max_size=6), min_size=1, max_size=8),
)
def test_reader_classes_are_equal_exactly_for_equal_reader_sets(reads: list[set[int]]) -> None:
    """Sources share a class exactly when they feed the same neurons; classes are numbered by smallest id."""
    n_in = 10
    pairs = [(s, n_in + i) for i, sources in enumerate(reads) for s in sources]
    pre, post = (np.array(x, dtype=np.int64) for x in zip(*pairs, strict=True)) if pairs else (np.zeros(0, int),) * 2
    net = Network.build(name="r", is_input=np.arange(n_in + len(reads)) < n_in, pre=pre, post=post)
    cls = reader_classes(net)
    readers = [frozenset(int(p) for p in post[pre == s]) for s in range(net.n_neurons)]
    for a in range(net.n_neurons):
        for b in range(net.n_neurons):
            assert (cls[a] == cls[b]) == (readers[a] == readers[b])
    firsts = [min(np.flatnonzero(cls == c)) for c in range(cls.max() + 1)]
    assert firsts == sorted(firsts)


def test_strips_keep_receptive_field_rows_whole() -> None:
    """``strip`` leaves of an 11 x 11 filter window are whole kernel rows (6 + 5), never above the limit."""
    net = resolve_net("edgedet:28x28,k=11")
    edge_leaf, leaves = strip_groups(net, 61, source_keys(net, "id"), limit=128)
    centre = 784 + 14 * 28 + 14
    inputs = net.pre[net.in_ptr[centre] : net.in_ptr[centre + 1]]
    groups = edge_leaf[net.in_ptr[centre] : net.in_ptr[centre + 1]]
    assert leaves[centre] == 2
    assert sorted(np.bincount(groups).tolist()) == [55, 66]
    for g in (0, 1):
        rows = inputs[groups == g] // 28
        assert np.all(np.bincount(rows)[np.unique(rows)] == 11)  # every row it touches, it holds whole
    sizes = np.bincount(net.post * 4 + edge_leaf, minlength=net.n_neurons * 4)
    assert sizes.max() <= 128


def test_strips_respect_the_leaf_size_as_a_hard_limit() -> None:
    """With ``limit = k`` (the ``tree:k`` strategy), no leaf has more than k inputs."""
    net = resolve_net("lenet5")
    for k in (37, 64, 75, 100):
        edge_leaf, _ = strip_groups(net, k, source_keys(net, "position"))
        assert np.bincount(net.post * 16 + edge_leaf).max() <= k


def test_grid_width_finds_the_image_width() -> None:
    """Convolutions and filters lie on a grid of their input's width; a dense layer on none."""
    for spec, layer, width in (("edgedet:28x28,k=5", 1, 28), ("lenet5", 3, 14), ("lenet5", 1, 32), ("mlp:64-16", 1, 0)):
        net = resolve_net(spec)
        pos = reader_classes(net)
        on = net.layer[net.post] == layer
        assert grid_width(net.post[on], pos[net.pre[on]]) == width, spec


@pytest.mark.parametrize(
    ("spec", "hw_spec"),
    [
        ("edgedet:28x28,k=11", "dynapse-paper"),
        ("imgsmooth:20x20,k=9", "dynapse-paper"),
        ("conv:2x12x12,c6k5,p2,c8k3,f10", (8, 16)),
        ("mlp:300-200-10", "dynapse-paper"),
        ("er:n=200,m=3000", (8, 16)),
        ("powerlaw:n=200", (8, 16)),
    ],
)
def test_auto_never_needs_more_crossbars_than_a_plain_tree(spec: str, hw_spec: str | tuple[int, int]) -> None:
    """``auto`` (with its layout) against ``tree:F``, both packed by the ``auto`` solver (annealing off: faster)."""
    net = resolve_net(spec)
    hw = load_preset(hw_spec) if isinstance(hw_spec, str) else small_hw(*hw_spec)
    budget, fast = Budget(seed=0), {"anneal_moves": 0}
    auto_cb = run_strategy(net, hw, "auto@auto", budget=budget, solver_params=fast).result.metrics["crossbars"]
    tree_cb = run_strategy(net, hw, f"tree:{hw.fanin}@auto", budget=budget, solver_params=fast).result.metrics[
        "crossbars"
    ]
    assert auto_cb <= tree_cb


def test_auto_unrolls_below_the_fan_in_limit_where_it_pays() -> None:
    """EdgeDet 28x28 with 11x11 windows (fan-in <= 121 < F = 128): unrolled, far fewer crossbars than whole."""
    net = resolve_net("edgedet:28x28,k=11")
    hw = load_preset("dynapse-paper")
    dec = decompose(net, hw, "auto")
    assert dec.extra_units > 0 and dec.depth == 2
    assert int(dec.layout.max()) + 1 <= 60  # whole neurons need 324 (docs/decomposition.md)
    whole = decompose(net, hw, "auto,depth=1")
    assert whole.extra_units == 0


def test_pack_groups_identical_units() -> None:
    """Units with one source set share rows: 300 copies of a 100-input leaf need ceil(300 / C) crossbars."""
    k, m = 300, 100
    units = UnitSets(
        ptr=np.arange(k + 1) * m,
        src=np.tile(np.arange(m), k),
        private=np.zeros(k, dtype=np.int64),
        owner=np.arange(k),
        slot=np.zeros(k, dtype=np.int64),
        layer=np.zeros(k, dtype=np.int64),
    )
    assert pack(units, 128, 128).crossbars == 3


@settings(max_examples=50, deadline=None)
@given(values=st.lists(st.integers(0, 5000), max_size=300), spare=st.sampled_from([0, 7, 10**6]))
def test_unique_inverse_equals_np_unique(values: list[int], spare: int) -> None:
    a = np.asarray(values, dtype=np.int64)
    size = (int(a.max()) + 1 if a.size else 0) + spare  # spare 10**6: the np.unique path
    uniq, inv = unique_inverse(a, size)
    ref_uniq, ref_inv = np.unique(a, return_inverse=True)
    assert uniq.tolist() == ref_uniq.tolist()
    assert inv.tolist() == ref_inv.tolist()
