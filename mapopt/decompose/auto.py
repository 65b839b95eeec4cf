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

import numpy as np

from mapopt.decompose.base import Decomposition
from mapopt.decompose.ordering import ORDERS, block_groups, chunk_groups, neuron_classes, source_keys
from mapopt.decompose.tree import grouped_tree, tree_levels
from mapopt.errors import InputError
from mapopt.hardware import Hardware
from mapopt.network import Network

#: Leaf sizes tried, as fractions of F.
LEAF_FRACTIONS = (1, 2)
#: Above this many distinct leaf signatures in a class, the overlap sweep is skipped.
MAX_SWEEP_GROUPS = 50_000


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


def _signature(dec: Decomposition, units: np.ndarray) -> np.ndarray:
    """A 64-bit hash of each unit's source set (equal sets, equal hashes; collisions negligible)."""
    net = dec.network
    rng = np.random.default_rng(12345)
    mult = rng.integers(1, 2**62, size=net.n_neurons, dtype=np.int64) | 1
    with np.errstate(over="ignore"):
        h = np.add.reduceat(mult[net.pre] * (net.pre + 1), net.in_ptr[units]) if units.size else np.zeros(0)
    return h.astype(np.int64)


def _sweep(net: Network, reps: np.ndarray, counts: np.ndarray, hw: Hardware) -> tuple[list[int], list[int]]:
    """Pack leaf groups (representative unit, leaf count) in the given order; spare rows and columns per crossbar.

    Consecutive groups share a crossbar while the union of their sources fits R rows and
    their leaves fit C columns (sources are Python sets: the loop runs per group of
    identical leaves, not per synapse).
    """
    R, C = hw.rows, hw.columns
    spare_rows: list[int] = []
    spare_cols: list[int] = []
    if len(reps) > MAX_SWEEP_GROUPS:  # no overlap credit: each group on crossbars of its own
        for r, c in zip(reps.tolist(), counts.tolist(), strict=True):
            full, rest = divmod(c, C)
            spare_rows += [R - int(net.fanin[r])] * (full + (rest > 0))
            spare_cols += [0] * full + ([C - rest] if rest else [])
        return spare_rows, spare_cols
    union: set[int] = set()
    cols = 0
    for r, c in zip(reps.tolist(), counts.tolist(), strict=True):
        src = net.pre[net.in_ptr[r] : net.in_ptr[r + 1]].tolist()
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


def estimate_crossbars(dec: Decomposition, hw: Hardware, units: np.ndarray) -> float:
    """A cheap estimate of the crossbars a good packer needs for ``units`` (ids of N').

    Leaves (units with raw inputs only) with the same source set share their rows. Groups
    of identical leaves are swept in two orders, by smallest source (global blocks come
    together) and by (leaf slot, owning neuron) (neighbouring neurons, e.g. adjacent
    convolution windows, come together whatever the input numbering), and merged into one
    crossbar while the union of their sources fits R rows and their count C columns; the
    better order counts. Inner units (with partial sums) read rows no other unit reads;
    they fill the spare rows and columns of the leaf crossbars first, then crossbars of
    their own.
    """
    net = dec.network
    R, C = hw.rows, hw.columns
    if units.size == 0:
        return 0.0
    partial_in = np.bincount(net.post[dec.edge_origin < 0], minlength=net.n_neurons)[units]
    leaves = units[partial_in == 0]
    inner = units[partial_in > 0]
    rows_per_inner = max(1.0, float(net.fanin[inner].mean())) if inner.size else 1.0
    per_crossbar = max(1.0, min(C, R // rows_per_inner))
    sweeps: list[tuple[list[int], list[int]]] = [([], [])]
    if leaves.size:
        _, first, counts = np.unique(_signature(dec, leaves), return_index=True, return_counts=True)
        reps = leaves[first]
        smallest = net.pre[net.in_ptr[reps]]
        by_source = np.lexsort((dec.origin[reps], smallest))
        by_neuron = np.lexsort((smallest, dec.origin[reps], dec.position[reps]))
        sweeps = [_sweep(net, reps[o], counts[o], hw) for o in (by_source, by_neuron)]
    best = math.inf
    for spare_rows, spare_cols in sweeps:
        fits = np.minimum(np.asarray(spare_cols), np.asarray(spare_rows) // rows_per_inner) if spare_rows else 0
        left = max(0.0, inner.size - float(np.sum(fits)))
        best = min(best, len(spare_rows) + math.ceil(left / per_crossbar))
    return float(best)


def candidates(net: Network, hw: Hardware) -> list[tuple[np.ndarray, np.ndarray]]:
    """``(edge_leaf, leaves)`` of every candidate grouping: leaf size x source key x grouping."""
    out = []
    keys = [source_keys(net, order) for order in ORDERS]
    for fraction in LEAF_FRACTIONS:
        g = max(2, hw.fanin // fraction)
        for key in keys:
            out.append(chunk_groups(net, g, key))
            out.append(block_groups(net, g, key))
    return out


def auto(net: Network, hw: Hardware, *, max_depth: int | None = None) -> Decomposition:
    """The per-class best tree decomposition of ``net`` for ``hw`` (see the module docstring)."""
    if max_depth is not None:
        check_depth(net, hw, max_depth)
    F = hw.fanin
    cls = neuron_classes(net)
    decomposed = ~net.is_input & (net.fanin > F)
    edge_leaf = np.zeros(net.n_synapses, dtype=np.int64)
    leaves = np.where(net.is_input, 0, 1).astype(np.int64)
    if decomposed.any():
        trials = [
            (e_leaf, n_leaves, grouped_tree(net, e_leaf, n_leaves, F, strategy="auto", label_arity=None))
            for e_leaf, n_leaves in candidates(net, hw)
        ]
        for c in np.unique(cls[decomposed]).tolist():
            members = decomposed & (cls == c)
            best = None
            for e_leaf, n_leaves, dec in trials:
                units = np.flatnonzero(members[dec.origin] & dec.compute)
                depth = int(dec.level[units].max()) + 1
                if max_depth is not None and depth > max_depth:
                    continue
                score = (estimate_crossbars(dec, hw, units), depth, units.size)
                if best is None or score < best[0]:
                    best = (score, e_leaf, n_leaves)
            if best is None:  # unreachable after check_depth: the F-leaf chunk tree is the shallowest
                raise InputError(f"no decomposition of layer {c} meets depth={max_depth}", source="--decompose")
            _, e_leaf, n_leaves = best
            on = members[net.post]
            edge_leaf[on] = e_leaf[on]
            leaves[members] = n_leaves[members]
    return grouped_tree(net, edge_leaf, leaves, F, strategy="auto", label_arity=None)
