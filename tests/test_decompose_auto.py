"""``auto`` decomposition: its N'-free candidate scoring agrees with the assembled N', and its choices are pinned."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from mapopt.decompose import decompose
from mapopt.decompose.auto import Candidate, candidates
from mapopt.decompose.base import unit_slots
from mapopt.decompose.ordering import group_inputs, unique_inverse
from mapopt.decompose.tree import grouped_tree
from mapopt.hardware import Hardware, load_preset
from mapopt.io import resolve_net
from mapopt.network import Network


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


@settings(max_examples=30, deadline=None)
@given(
    fanins=st.lists(st.integers(1, 100), min_size=1, max_size=8),
    n_in=st.integers(20, 100),
    f=st.integers(2, 12),
    seed=st.integers(0, 99),
)
def test_candidate_scoring_matches_the_assembled_decomposition(fanins: list[int], n_in: int, f: int, seed: int) -> None:
    """Per candidate and class: leaf ids, signatures, sources, units and depth as read from the candidate's N'."""
    net = layered_net(fanins, n_in, seed)
    hw = small_hw(f, f + 3)
    decomposed = ~net.is_input & (net.fanin > f)
    for edge_leaf, leaves in candidates(net, hw):
        dec = grouped_tree(net, edge_leaf, leaves, f, strategy="auto", label_arity=None)
        prime = dec.network
        cand = Candidate(net, edge_leaf, leaves, f)
        mult = np.random.default_rng(12345).integers(1, 2**62, size=prime.n_neurons, dtype=np.int64) | 1
        for c in np.unique(net.layer[decomposed]).tolist():
            members = np.flatnonzero(decomposed & (net.layer == c))
            units = np.flatnonzero(np.isin(dec.origin, members) & dec.compute)
            assert units.size == int(cand.units[members].sum())
            assert int(dec.level[units].max()) + 1 == int(cand.depth[members].max())
            partial_in = np.bincount(prime.post[dec.edge_origin < 0], minlength=prime.n_neurons)[units]
            leaf_ids = units[partial_in == 0]
            n_leaves = cand.leaves[members]
            local = np.arange(n_leaves.sum()) - np.repeat(unit_slots(n_leaves), n_leaves)
            owner = np.repeat(members, n_leaves)
            assert (cand.extra_id[owner] + local == leaf_ids).all()
            # the signature as defined on N': reduceat over N' synapses from each leaf's first synapse on
            reference = np.add.reduceat(mult[prime.pre] * (prime.pre + 1), prime.in_ptr[leaf_ids])
            assert (cand.signatures(leaf_ids) == reference).all()
            ptr, sources = cand.leaf_sources(owner, local)
            for i, u in enumerate(leaf_ids.tolist()):
                own = prime.pre[prime.in_ptr[u] : prime.in_ptr[u + 1]]
                assert sources[ptr[i] : ptr[i + 1]].tolist() == own.tolist()


@settings(max_examples=50, deadline=None)
@given(values=st.lists(st.integers(0, 5000), max_size=300), spare=st.sampled_from([0, 7, 10**6]))
def test_unique_inverse_equals_np_unique(values: list[int], spare: int) -> None:
    a = np.asarray(values, dtype=np.int64)
    size = (int(a.max()) + 1 if a.size else 0) + spare  # spare 10**6: the np.unique path
    uniq, inv = unique_inverse(a, size)
    ref_uniq, ref_inv = np.unique(a, return_inverse=True)
    assert uniq.tolist() == ref_uniq.tolist()
    assert inv.tolist() == ref_inv.tolist()


#: The choice per class (layer -> leaf size, source key, grouping) recorded on 2026-11-27 from the implementation
#: that assembled every candidate's N' and scored it there; the N'-free scoring must choose the same.
PINNED = [
    ("mlp:784-100-10", "dynapse-paper", {1: (128, "id", "chunk")}),
    ("conv:2x12x12,c6k5,p2,c8k3,f10", (8, 16), {1: (8, "id", "chunk"), 3: (8, "id", "chunk"), 4: (8, "id", "chunk")}),
    ("er:n=60,m=300", (8, 16), {1: (8, "cooccurrence", "chunk"), 2: (8, "id", "chunk")}),
    ("er:n=200,m=3000", (8, 16), {1: (4, "id", "chunk"), 2: (8, "id", "chunk")}),
    ("powerlaw:n=200", (8, 16), {1: (4, "id", "chunk"), 2: (8, "id", "chunk")}),
]


def test_auto_choices_are_pinned() -> None:
    for spec, hw_spec, choice in PINNED:
        net = resolve_net(spec)
        hw = load_preset(hw_spec) if isinstance(hw_spec, str) else small_hw(*hw_spec)
        edge_leaf = np.zeros(net.n_synapses, dtype=np.int64)
        leaves = np.where(net.is_input, 0, 1)
        decomposed = ~net.is_input & (net.fanin > hw.fanin)
        assert sorted(np.unique(net.layer[decomposed]).tolist()) == sorted(choice)
        for layer, (k, order, grouping) in choice.items():
            members = decomposed & (net.layer == layer)
            e_leaf, n_leaves = group_inputs(net, k, order=order, grouping=grouping)
            on = members[net.post]
            edge_leaf[on], leaves[members] = e_leaf[on], n_leaves[members]
        expected = grouped_tree(net, edge_leaf, leaves, hw.fanin, strategy="auto", label_arity=None)
        got = decompose(net, hw, "auto")
        for field in ("origin", "position", "level", "edge_origin"):
            assert np.array_equal(getattr(got, field), getattr(expected, field)), (spec, field)
        for field in ("pre", "post", "weight", "spikes"):
            assert np.array_equal(getattr(got.network, field), getattr(expected.network, field)), (spec, field)
