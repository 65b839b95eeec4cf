"""``auto``: choose, per neuron class, the unroll structure that needs the fewest crossbars.

The paper (Balaji et al., IEEE ESL 2020, arXiv 2009.09298) fixes one structure, a chain
of two-input units. ``auto`` instead builds candidate trees for every neuron whose fan-in
exceeds F, differing in the unroll ordering (source key ``id`` or ``cooccurrence``,
grouping ``chunk`` or ``block``, see :mod:`mapopt.decompose.ordering`) and in the leaf
size (F or F/2 inputs), each with inner units combining up to F partial sums (the
shallowest tree for its leaves). It scores each candidate with :func:`estimate_crossbars`,
a cheap packing estimate, separately for every neuron class (one layer: its neurons read
overlapping inputs, so they must share one grouping to share rows), and keeps the best
candidate per class. Neurons with fan-in <= F are never unrolled.

Scoring needs no candidate's N': a :class:`Candidate` derives the leaves, their source
sets and signatures, the unit counts and the depth from the grouping and the tree shape,
in O(E) time, with arrays of O(E / F) entries besides the sources of one leaf per distinct
signature. Candidates are generated and scored one at a
time and only the winning leaves of each class are kept, so ``auto`` peaks at about the
memory of one candidate grouping plus the final N' (one ``tree`` decomposition's).

Chains are not candidates: every chain unit after the first reads its own predecessor's
partial sum next to raw inputs, so no two neurons' units can share those rows, and a
chain is never shallower than a tree. The real crossbar count is always measured by a
solver and the validator, never taken from the estimate.

``max_depth`` bounds the depth (units on a root-to-leaf path): a candidate deeper than
it is dropped; the F-input balanced tree, the shallowest possible, is always among the
candidates, so a limit it cannot meet is reported as an :class:`InputError`.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np

from mapopt.decompose.base import Decomposition, unit_slots
from mapopt.decompose.ordering import ORDERS, block_groups, chunk_groups, neuron_classes, source_keys
from mapopt.decompose.tree import grouped_tree, tree_levels, tree_links, tree_shape
from mapopt.errors import InputError
from mapopt.hardware import Hardware
from mapopt.network import Network

#: Leaf sizes tried, as fractions of F.
LEAF_FRACTIONS = (1, 2)
#: Above this many distinct leaf signatures in a class, the overlap sweep is skipped.
MAX_SWEEP_GROUPS = 50_000
#: Synapses per pass when hashing leaves (bounds the temporaries).
CHUNK = 1 << 21


def check_depth(net: Network, hw: Hardware, max_depth: int) -> None:
    """Raise if some neuron needs a deeper tree than ``max_depth`` even with F-input units."""
    if max_depth < 1:
        raise InputError(f"max depth must be at least 1, got {max_depth}", source="--decompose")
    need = np.where(net.is_input, 0, tree_levels(net.fanin, hw.fanin))
    worst = int(np.argmax(need))
    if need[worst] > max_depth:
        raise InputError(
            f"neuron {worst} has fan-in {int(net.fanin[worst])}: with at most F={hw.fanin} inputs per unit it "
            f"needs depth {int(need[worst])}, above the limit depth={max_depth}",
            source="--decompose",
        )


class Candidate:
    """What scoring needs from one candidate grouping, without assembling its N'.

    The decomposition is fixed by ``(edge_leaf, leaves)`` and the inner arity; this holds
    the tree level sizes and, for the leaf signatures, the cumulative hash of the N' units
    after the original neurons in N' id order: O(E) time, O(E / F) memory (the pass over
    the synapses runs in chunks of :data:`CHUNK`).
    """

    def __init__(self, net: Network, edge_leaf: np.ndarray, leaves: np.ndarray, arity: int) -> None:
        self.net = net
        self.edge_leaf = edge_leaf
        self.sizes = tree_shape(leaves, arity)  # [levels, n]; row 0: leaves per neuron
        self.units = self.sizes.sum(axis=0)
        self.depth = (self.sizes > 0).sum(axis=0)
        self.leaves = self.sizes[0]
        n = net.n_neurons
        extras = np.maximum(self.units - 1, 0)  # non-root units: N' ids n, n+1, ... in (neuron, local) order
        self.extra_id = n + unit_slots(extras)  # N' id of local unit 0 of a decomposed neuron
        self.n_extra = int(extras.sum())
        self.hash_cum = self._hash_cumsum()

    def _hash_cumsum(self) -> np.ndarray:
        """Prefix sums (wrapping int64) of every extra unit's input hash, in N' id order.

        A unit's input hash is sum(mult[s] * (s + 1)) over its N' sources s, with the
        multipliers of :func:`_multipliers`; the signature of a leaf is the sum over a range
        of units (see :meth:`signatures`), so prefix sums give every leaf's in O(1).
        """
        net, n = self.net, self.net.n_neurons
        mult = _multipliers(n + self.n_extra)
        unit_hash = np.zeros(self.n_extra, dtype=np.int64)
        decomposed = self.units > 1
        for lo in range(0, net.n_synapses, CHUNK):  # raw inputs: edge -> leaf unit
            post = net.post[lo : lo + CHUNK]
            on = np.flatnonzero(decomposed[post])
            if on.size:
                pre = net.pre[lo : lo + CHUNK][on]
                leaf = self.extra_id[post[on]] - n + self.edge_leaf[lo : lo + CHUNK][on]
                np.add.at(unit_hash, leaf, mult[pre] * (pre + 1))
        partial_src, partial_dst, _ = tree_links(self.sizes)  # partial sums: child unit -> parent unit
        slot_id = self._slot_ids()
        src, dst = slot_id[partial_src], slot_id[partial_dst]
        into_extra = dst >= n  # a root (id < n) never lies inside a leaf's range
        src = src[into_extra]
        np.add.at(unit_hash, dst[into_extra] - n, mult[src] * (src + 1))
        return np.concatenate((np.zeros(1, dtype=np.int64), np.cumsum(unit_hash)))

    def _slot_ids(self) -> np.ndarray:
        """N' id of every unit slot, numbered as :func:`mapopt.decompose.base.assemble` numbers them."""
        n = self.net.n_neurons
        owner = np.repeat(np.arange(n), self.units)
        local = np.arange(owner.size) - unit_slots(self.units)[owner]
        return np.where(local == self.units[owner] - 1, owner, self.extra_id[owner] + local)

    def signatures(self, leaf_ids: np.ndarray) -> np.ndarray:
        """The leaf signatures the scoring groups leaves by (``leaf_ids``: ascending N' ids, all extra units).

        As the signature was defined when N' was assembled for every candidate (an
        ``np.add.reduceat`` over N' synapses at the leaves' first synapses), the signature
        of a leaf hashes the inputs of every unit from it up to the next listed leaf (the
        last: up to the end of N'). Equal source sets of consecutive-in-N' leaves give equal
        sums; a neuron's last leaf also covers the neuron's non-root inner units, if any.
        Kept exactly so that ``auto`` chooses as it always did.
        """
        rel = leaf_ids - self.net.n_neurons
        nxt = np.append(rel[1:], self.n_extra)
        return self.hash_cum[nxt] - self.hash_cum[rel]

    def leaf_sources(self, owner: np.ndarray, local: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The sources of the given leaves (neuron, local leaf), ascending, as CSR ``(ptr, sources)``."""
        net = self.net
        owners, which = np.unique(owner, return_inverse=True)
        lo, cnt = net.in_ptr[owners], net.fanin[owners]
        edges = np.repeat(lo - unit_slots(cnt), cnt) + np.arange(int(cnt.sum()))  # in-edges of the owners
        slot = unit_slots(self.leaves[owners])  # the owners' leaves, numbered consecutively
        wanted = np.full(int(self.leaves[owners].sum()), -1, dtype=np.int64)
        wanted[slot[which] + local] = np.arange(owner.size)
        pick = wanted[np.repeat(slot, cnt) + self.edge_leaf[edges]]
        keep = pick >= 0
        pick, src = pick[keep], net.pre[edges[keep]]
        order = np.argsort(pick, kind="stable")  # stable: sources stay ascending within a leaf
        ptr = np.concatenate(([0], np.cumsum(np.bincount(pick, minlength=owner.size))))
        return ptr, src[order]


def _multipliers(n_prime: int) -> np.ndarray:
    """Odd random 64-bit multipliers per N' id for the leaf signatures (fixed seed: reproducible)."""
    rng = np.random.default_rng(12345)
    return rng.integers(1, 2**62, size=n_prime, dtype=np.int64) | 1


def _sweep(
    sources: np.ndarray, ptr: np.ndarray, order: np.ndarray, counts: np.ndarray, hw: Hardware
) -> tuple[list[int], list[int]]:
    """Pack leaf groups in the given order; spare rows and columns of each crossbar used.

    Group i has ``counts[i]`` identical leaves reading ``sources[ptr[i]:ptr[i + 1]]``;
    groups are taken in ``order``. Consecutive groups share a crossbar while the union of
    their sources fits R rows and their leaves fit C columns (sources are Python sets: the
    loop runs per group of identical leaves, not per synapse).
    """
    R, C = hw.rows, hw.columns
    spare_rows: list[int] = []
    spare_cols: list[int] = []
    if len(order) > MAX_SWEEP_GROUPS:  # no overlap credit: each group on crossbars of its own
        for size, c in zip(np.diff(ptr)[order].tolist(), counts[order].tolist(), strict=True):
            full, rest = divmod(c, C)
            spare_rows += [R - size] * (full + (rest > 0))
            spare_cols += [0] * full + ([C - rest] if rest else [])
        return spare_rows, spare_cols
    union: set[int] = set()
    cols = 0
    bounds = ptr.tolist()
    for i, c in zip(order.tolist(), counts[order].tolist(), strict=True):
        src = sources[bounds[i] : bounds[i + 1]].tolist()
        while c > 0:
            merged = union.union(src)
            take = min(c, C - cols)
            if cols and (len(merged) > R or take == 0):
                spare_rows.append(R - len(union))
                spare_cols.append(C - cols)
                union, cols = set(), 0
                continue
            union, cols, c = merged, cols + take, c - take
    if cols:
        spare_rows.append(R - len(union))
        spare_cols.append(C - cols)
    return spare_rows, spare_cols


def estimate_crossbars(cand: Candidate, hw: Hardware, members: np.ndarray) -> float:
    """A cheap estimate of the crossbars a good packer needs for the units of neurons ``members``.

    ``members``: ascending ids of decomposed neurons (each has at least two leaves).
    Leaves (units with raw inputs only) with the same signature (the same source set) share
    their rows. Groups of identical leaves are swept in two orders, by smallest source
    (global blocks come together) and by (leaf slot, owning neuron) (neighbouring neurons,
    e.g. adjacent convolution windows, come together whatever the input numbering), and
    merged into one crossbar while the union of their sources fits R rows and their count
    C columns; the better order counts. Inner units (with partial sums) read rows no other
    unit reads; they fill the spare rows and columns of the leaf crossbars first, then
    crossbars of their own.
    """
    R, C = hw.rows, hw.columns
    if members.size == 0:
        return 0.0
    n_leaves = cand.leaves[members]
    n_inner = int((cand.units[members] - n_leaves).sum())
    # every non-root unit feeds exactly one inner unit: inner units read sum(units - 1) partial sums
    rows_per_inner = max(1.0, int((cand.units[members] - 1).sum()) / n_inner) if n_inner else 1.0
    per_crossbar = max(1.0, min(C, R // rows_per_inner))
    owner = np.repeat(members, n_leaves)  # leaves in N' id order: by (neuron, local leaf)
    local = np.arange(owner.size) - np.repeat(unit_slots(n_leaves), n_leaves)
    _, first, counts = np.unique(cand.signatures(cand.extra_id[owner] + local), return_index=True, return_counts=True)
    rep_owner, rep_local = owner[first], local[first]
    ptr, sources = cand.leaf_sources(rep_owner, rep_local)
    smallest = sources[ptr[:-1]]
    by_source = np.lexsort((rep_owner, smallest))
    by_neuron = np.lexsort((smallest, rep_owner, rep_local))
    best = math.inf
    for o in (by_source, by_neuron):
        spare_rows, spare_cols = _sweep(sources, ptr, o, counts, hw)
        fits = np.minimum(np.asarray(spare_cols), np.asarray(spare_rows) // rows_per_inner) if spare_rows else 0
        left = max(0.0, n_inner - float(np.sum(fits)))
        best = min(best, len(spare_rows) + math.ceil(left / per_crossbar))
    return float(best)


def candidates(net: Network, hw: Hardware) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """``(edge_leaf, leaves)`` of every candidate grouping, one at a time: leaf size x source key x grouping.

    A generator, so that only one candidate's ``int64[E]`` leaf array is alive at a time.
    """
    keys = [source_keys(net, order) for order in ORDERS]
    for fraction in LEAF_FRACTIONS:
        g = max(2, hw.fanin // fraction)
        for key in keys:
            yield chunk_groups(net, g, key)
            yield block_groups(net, g, key)


def auto(net: Network, hw: Hardware, *, max_depth: int | None = None) -> Decomposition:
    """The per-class best tree decomposition of ``net`` for ``hw`` (see the module docstring).

    Candidates are scored one at a time and only the winning leaves of each class are
    kept (ties: the earlier candidate), so the peak memory is that of one candidate plus
    the final N', not of every candidate's N'.
    """
    if max_depth is not None:
        check_depth(net, hw, max_depth)
    F = hw.fanin
    cls = neuron_classes(net)
    decomposed = ~net.is_input & (net.fanin > F)
    edge_leaf = np.zeros(net.n_synapses, dtype=np.int64)
    leaves = np.where(net.is_input, 0, 1).astype(np.int64)
    if decomposed.any():
        classes = np.unique(cls[decomposed]).tolist()
        members_of = {c: np.flatnonzero(decomposed & (cls == c)) for c in classes}
        best: dict[int, tuple[float, int, int]] = {}
        for e_leaf, n_leaves in candidates(net, hw):
            cand = Candidate(net, e_leaf, n_leaves, F)
            for c in classes:
                members = members_of[c]
                depth = int(cand.depth[members].max())
                if max_depth is not None and depth > max_depth:
                    continue
                score = (estimate_crossbars(cand, hw, members), depth, int(cand.units[members].sum()))
                if c not in best or score < best[c]:
                    best[c] = score
                    lo, cnt = net.in_ptr[members], net.fanin[members]
                    on = np.repeat(lo - unit_slots(cnt), cnt) + np.arange(int(cnt.sum()))  # the members' in-edges
                    edge_leaf[on] = e_leaf[on]
                    leaves[members] = n_leaves[members]
            del cand, e_leaf, n_leaves
        for c in classes:
            if c not in best:  # unreachable after check_depth: the F-leaf chunk tree is the shallowest
                raise InputError(f"no decomposition of layer {c} meets depth={max_depth}", source="--decompose")
    return grouped_tree(net, edge_leaf, leaves, F, strategy="auto", label_arity=None)
