"""Tree decomposition: leaves take raw inputs, inner units combine partial sums (docs/model.md, section 3).

The paper (Balaji et al., IEEE ESL 2020, arXiv 2009.09298) unrolls a neuron into a chain,
whose depth grows linearly with the fan-in. A balanced k-ary tree realises the same sum
with depth ceil(log_k m): the m inputs are split into L = ceil(m / k) leaves of balanced
size (at most k each), and every further level combines at most k partial sums until one
unit, the root, is left. Closed forms (m > k): units = sum_{i=1..d} ceil(m / k^i) and
depth = d = ceil(log_k m).

:func:`grouped_tree` is the general builder: it takes *any* grouping of each neuron's
inputs into leaves (the unroll ordering, see :mod:`mapopt.decompose.ordering`) and
builds balanced levels of inner units above them. It is vectorised over neurons; the
only Python loop runs over tree levels (a handful).
"""

from __future__ import annotations

import numpy as np

from mapopt.decompose.base import Decomposition, assemble, unit_slots
from mapopt.network import Network


def tree_levels(fanin: np.ndarray, k: int) -> np.ndarray:
    """Closed-form depth (units on a root-to-leaf path) of a balanced k-ary tree: ceil(log_k m), 1 if m <= k."""
    fanin = np.asarray(fanin, dtype=np.int64)
    depth = np.ones_like(fanin)
    reach = np.full_like(fanin, k)
    while (reach < fanin).any():  # integer powers: no floating log rounding
        more = reach < fanin
        depth[more] += 1
        reach[more] *= k
    return depth


def tree_units(fanin: np.ndarray, k: int) -> np.ndarray:
    """Closed-form unit count of a balanced k-ary tree: sum_{i=1..d} ceil(m / k^i); 1 when m <= k."""
    fanin = np.asarray(fanin, dtype=np.int64)
    depth = tree_levels(fanin, k)
    units = np.zeros_like(fanin)
    power = 1
    for i in range(1, int(depth.max(initial=1)) + 1):
        power *= k
        units += np.where(i <= depth, -(-fanin // power), 0)
    return np.where(fanin <= k, 1, units)


def balanced_leaves(net: Network, k: int, edge_rank: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Split each neuron's inputs, in ``edge_rank`` order, into ceil(m / k) leaves of balanced size.

    Returns ``(edge_leaf, leaves)``: the local leaf index of every synapse and the number
    of leaves per neuron (0 for inputs). Leaf sizes differ by at most one and never exceed k.
    """
    fanin = net.fanin
    rank = np.arange(net.n_synapses) - net.in_ptr[net.post] if edge_rank is None else np.asarray(edge_rank)
    leaves = np.where(net.is_input, 0, np.maximum(-(-fanin // k), 1))
    edge_leaf = leaves[net.post].astype(np.int64, copy=False)  # then in place: fewer int64[E] temporaries
    edge_leaf *= rank
    edge_leaf //= np.maximum(fanin, 1)[net.post]
    return edge_leaf, leaves.astype(np.int64)


def tree_shape(leaves: np.ndarray, arity: int) -> np.ndarray:
    """Nodes of each neuron's tree per level (``int64[levels, n]``, row 0 = leaves), given its leaf count.

    Each level with c > 1 nodes gets ceil(c / arity) parents; a neuron's column ends with
    its root (one node) and zeros above it.
    """
    if arity < 2:
        raise ValueError(f"inner arity must be at least 2, got {arity}")
    counts = np.asarray(leaves, dtype=np.int64)
    level_sizes = [counts]
    while (counts > 1).any():
        counts = np.where(counts > 1, -(-counts // arity), 0)
        level_sizes.append(counts)
    return np.stack(level_sizes)


def tree_links(sizes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Partial-sum edges and unit levels of the trees whose level sizes are ``sizes`` (see :func:`tree_shape`).

    Returns ``(partial_src, partial_dst, unit_level)`` in the global unit slots of
    :func:`~mapopt.decompose.base.unit_slots` (a neuron's slots: leaves first, the root
    last). Child j of a level with c nodes and p parents goes to parent floor(j p / c),
    so siblings are balanced.
    """
    n = sizes.shape[1]
    offsets = np.vstack((np.zeros((1, n), dtype=np.int64), np.cumsum(sizes, axis=0)[:-1]))
    units = sizes.sum(axis=0)
    depth = (sizes > 0).sum(axis=0)  # levels per neuron
    start = unit_slots(units)
    src_parts, dst_parts, lvl_slot_parts, lvl_value_parts = [], [], [], []
    for i in range(sizes.shape[0]):
        c = sizes[i]
        owners = np.flatnonzero(c > 0)
        cnt = c[owners]
        owner = np.repeat(owners, cnt)
        j = np.arange(int(cnt.sum())) - np.repeat(unit_slots(cnt), cnt)
        slot = start[owner] + offsets[i, owner] + j
        lvl_slot_parts.append(slot)
        lvl_value_parts.append(depth[owner] - 1 - i)
        if i + 1 < sizes.shape[0]:
            has_parent = c[owner] > 1
            o, jj, s = owner[has_parent], j[has_parent], slot[has_parent]
            p = sizes[i + 1, o]
            src_parts.append(s)
            dst_parts.append(start[o] + offsets[i + 1, o] + (jj * p) // c[o])
    unit_level = np.zeros(int(units.sum()), dtype=np.int64)
    unit_level[np.concatenate(lvl_slot_parts)] = np.concatenate(lvl_value_parts)
    empty = np.zeros(0, dtype=np.int64)
    partial_src = np.concatenate(src_parts) if src_parts else empty
    partial_dst = np.concatenate(dst_parts) if dst_parts else empty
    return partial_src, partial_dst, unit_level


def grouped_tree(
    net: Network,
    edge_leaf: np.ndarray,
    leaves: np.ndarray,
    arity: int,
    *,
    strategy: str,
    label_arity: int | None,
) -> Decomposition:
    """Build N' from a given leaf grouping, with balanced inner levels of at most ``arity`` partials.

    ``edge_leaf[e]`` is the local leaf (0..leaves[v]-1) taking synapse ``e`` as a raw input;
    ``leaves[v]`` the number of leaves of neuron v (1: v is not decomposed; 0: input).
    Each level with c > 1 nodes gets p = ceil(c / arity) parents, child j going to parent
    floor(j p / c), so siblings are balanced. All leaves of a neuron sit at the same depth.
    """
    sizes = tree_shape(leaves, arity)  # [levels, n]: nodes of each neuron at each tree level (0 = leaves)
    partial_src, partial_dst, unit_level = tree_links(sizes)
    return assemble(
        net,
        keep=np.ones(net.n_synapses, dtype=bool),
        edge_unit=np.asarray(edge_leaf, dtype=np.int64),
        units_per_neuron=sizes.sum(axis=0),
        partial_src=partial_src,
        partial_dst=partial_dst,
        unit_level=unit_level,
        strategy=strategy,
        arity=label_arity,
    )


def tree(net: Network, k: int, *, edge_rank: np.ndarray | None = None) -> Decomposition:
    """Unroll every compute neuron with fan-in above ``k`` into a balanced k-ary tree.

    ``edge_rank`` (``int[E]``, optional) is the unroll ordering: the position of each
    synapse among its neuron's inputs; consecutive ranks share a leaf. Default: ascending
    pre-synaptic id, which gives every neuron with the same input set the same leaves.
    """
    edge_leaf, leaves = balanced_leaves(net, k, edge_rank)
    return grouped_tree(net, edge_leaf, leaves, k, strategy="tree", label_arity=k)


def grouped_units(
    net: Network,
    edge_leaf: np.ndarray,
    leaves: np.ndarray,
    chained: np.ndarray,
    arity: int,
    *,
    strategy: str,
    label_arity: int | None,
) -> Decomposition:
    """Like :func:`grouped_tree`, but the neurons in ``chained`` become chains of their groups.

    A chained neuron with L groups gets L units: unit j takes group j's raw inputs and, for
    j > 0, the partial sum of unit j - 1 (the chain of Balaji et al., IEEE ESL 2020, with
    the groups of the unroll ordering as its links); the last unit is the root. The other
    neurons get balanced trees over their groups as in :func:`grouped_tree`. The caller
    keeps every chained unit within the fan-in limit (groups after the first at most F - 1).
    """
    chained = np.asarray(chained, dtype=bool) & (leaves > 1)
    sizes = tree_shape(np.where(chained, 1, leaves), arity)
    t_src, t_dst, t_level = tree_links(sizes)
    tree_units = sizes.sum(axis=0)
    units = np.where(chained, leaves, tree_units)
    start, t_start = unit_slots(units), unit_slots(tree_units)
    # tree slots -> slots of the combined numbering (a chained neuron has one placeholder tree slot)
    t_owner = np.repeat(np.arange(net.n_neurons), tree_units)
    t_global = start[t_owner] + np.arange(t_owner.size) - t_start[t_owner]
    keep = ~chained[t_owner]
    unit_level = np.zeros(int(units.sum()), dtype=np.int64)
    unit_level[t_global[keep]] = t_level[keep]
    c_owner = np.repeat(np.flatnonzero(chained), leaves[chained])
    c_local = np.arange(c_owner.size) - np.repeat(unit_slots(leaves[chained]), leaves[chained])
    c_slot = start[c_owner] + c_local
    unit_level[c_slot] = leaves[c_owner] - 1 - c_local
    link = c_local < leaves[c_owner] - 1
    partial_src = np.concatenate((t_global[t_src], c_slot[link]))
    partial_dst = np.concatenate((t_global[t_dst], c_slot[link] + 1))
    return assemble(
        net,
        keep=np.ones(net.n_synapses, dtype=bool),
        edge_unit=np.asarray(edge_leaf, dtype=np.int64),
        units_per_neuron=units,
        partial_src=partial_src,
        partial_dst=partial_dst,
        unit_level=unit_level,
        strategy=strategy,
        arity=label_arity,
    )


def grouping_of(dec: Decomposition) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(edge_leaf, leaves, chained)`` that rebuild a lossless tree or chain N' with :func:`grouped_units`.

    Every original synapse is realised by one raw synapse of N' (``edge_origin``); its
    unit's ``position`` is its group. A neuron whose every unit takes raw inputs and that
    has more than one unit is a chain; otherwise its groups are the leaves of a tree.
    """
    net, prime = dec.original, dec.network
    raw = np.flatnonzero(dec.edge_origin >= 0)
    edge_leaf = np.zeros(net.n_synapses, dtype=np.int64)
    edge_leaf[dec.edge_origin[raw]] = dec.position[prime.post[raw]]
    units = np.bincount(dec.origin[dec.compute], minlength=net.n_neurons)
    with_raw = np.zeros(prime.n_neurons, dtype=bool)
    with_raw[prime.post[raw]] = True
    raw_units = np.bincount(dec.origin[with_raw], minlength=net.n_neurons)
    leaves = np.where(net.is_input, 0, np.maximum(raw_units, 1)).astype(np.int64)
    chained = (units > 1) & (raw_units == units)
    return edge_leaf, leaves, chained
