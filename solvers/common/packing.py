"""Crossbar assignment by affinity packing: the shared engine of ``greedy``, ``layered``,
``partition`` and ``pso`` (no solver is registered here).

Units arrive in a given order (first-fit-decreasing by default, see :func:`affinity_order`).
A crossbar is opened with the first waiting unit; then, from a lookahead *pool* of the next
waiting units, it keeps taking the units that add the fewest new sources (rows) to what it
already holds: a unit whose sources the crossbar already has costs no row at all. This is
the shared-input affinity of SpiNeMap-style clustering (Balaji et al., TVLSI 2020, arXiv
1909.01843) and of the paper's greedy packer (Balaji et al., IEEE ESL 2020), made
vectorised: each batch scores the whole pool with numpy, and adds every unit of the
cheapest prefix whose summed new-source counts (an upper bound on the rows they add
together) still fits the free rows and columns. The Python loop runs per batch, so its
cost is about (crossbars x batches), never per synapse.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.cluster.hierarchy import DisjointSet

from mapopt.decompose.base import Decomposition
from mapopt.hardware import Hardware
from mapopt.solver import SolveContext
from solvers.common.arrays import unique_sorted


def raw_signature(dec: Decomposition) -> np.ndarray:
    """Per neuron of N': its smallest raw (original-synapse) source id, -1 when it has none.

    Units that read the same range of inputs (the same chain position of neurons of one
    fully connected layer, neighbouring windows of a convolution) get equal or close
    signatures, so sorting by it puts units with shared inputs next to each other.
    """
    net = dec.network
    big = np.iinfo(np.int64).max
    src = np.where(dec.edge_origin >= 0, net.pre, big)
    sig = np.full(net.n_neurons, -1, dtype=np.int64)
    has = net.fanin > 0
    if has.any():
        starts = net.in_ptr[:-1][has]
        sig[has] = np.minimum.reduceat(src, starts) if src.size else -1
    return np.where(sig == big, -1, sig)


def affinity_order(dec: Decomposition) -> np.ndarray:
    """Compute units in first-fit-decreasing order grouped by shared inputs.

    Keys, most significant first: layer, raw-source signature, fan-in (decreasing), neuron,
    position in its chain/tree.
    """
    net = dec.network
    units = np.flatnonzero(dec.compute)
    sig = raw_signature(dec)[units]
    keys = (dec.position[units], dec.origin[units], -net.fanin[units], sig, net.layer[units])
    return units[np.lexsort(keys)]


def pack_affinity(
    dec: Decomposition,
    hw: Hardware,
    order: np.ndarray,
    ctx: SolveContext | None = None,
    *,
    pool: int = 512,
    fill: float = 1.0,
) -> np.ndarray | None:
    """Assign the units of ``order`` to crossbars; returns ``unit_crossbar`` (-1 for inputs).

    ``pool`` is the lookahead (how many waiting units compete for a crossbar); ``fill``
    (0 < fill <= 1) caps the columns used per crossbar, leaving slack for later refinement.
    Returns None when ``ctx``'s deadline passes first.
    """
    net = dec.network
    ptr, pre = net.in_ptr, net.pre
    cap_cols = max(1, int(hw.columns * fill))
    unit_crossbar = np.full(net.n_neurons, -1, dtype=np.int64)
    held = np.zeros(net.n_neurons, dtype=bool)
    order = np.asarray(order, dtype=np.int64)
    stream = 0  # next unit of ``order`` not yet in the pool
    waiting = order[:0]
    crossbar = 0
    while stream < len(order) or waiting.size:
        if ctx is not None and ctx.expired():
            return None
        take = max(0, pool - waiting.size)
        waiting = np.concatenate((waiting, order[stream : stream + take]))
        stream += take
        # open a crossbar with the first waiting unit (the largest, in FFD order)
        seed = waiting[0]
        seed_src = pre[ptr[seed] : ptr[seed + 1]]
        held[seed_src] = True
        held_list = [seed_src]
        rows, cols = len(np.unique(seed_src)), 1
        unit_crossbar[seed] = crossbar
        waiting = waiting[1:]
        while cols < cap_cols and waiting.size:
            lengths = ptr[waiting + 1] - ptr[waiting]
            flat = _gather(ptr, pre, waiting, lengths)
            owner = np.repeat(np.arange(waiting.size), lengths)
            new = np.bincount(owner, weights=~held[flat], minlength=waiting.size).astype(np.int64)
            rank = np.argsort(new, kind="stable")
            budget = np.cumsum(new[rank]) <= hw.rows - rows
            count = min(int(np.argmin(budget)) if not budget.all() else budget.size, cap_cols - cols)
            if count == 0:
                break
            chosen = np.sort(rank[:count])
            unit_crossbar[waiting[chosen]] = crossbar
            chosen_src = flat[np.isin(owner, chosen)]
            fresh = np.unique(chosen_src[~held[chosen_src]])
            held[fresh] = True
            held_list.append(fresh)
            rows += fresh.size
            cols += count
            keep = np.ones(waiting.size, dtype=bool)
            keep[chosen] = False
            waiting = waiting[keep]
            if stream < len(order) and waiting.size < pool // 2:
                take = pool - waiting.size
                waiting = np.concatenate((waiting, order[stream : stream + take]))
                stream += take
        for part in held_list:
            held[part] = False
        crossbar += 1
    return unit_crossbar


def _gather(ptr: np.ndarray, pre: np.ndarray, units: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """The sources of ``units`` concatenated (a CSR row gather, vectorised)."""
    total = int(lengths.sum())
    if total == 0:
        return pre[:0]
    offsets = np.repeat(ptr[units] - np.concatenate(([0], np.cumsum(lengths)[:-1])), lengths)
    return pre[offsets + np.arange(total)]


def pack_sequential(
    dec: Decomposition, hw: Hardware, order: np.ndarray, ctx: SolveContext | None = None
) -> np.ndarray | None:
    """Next-fit packing of ``order``: each crossbar takes the longest prefix that fits.

    The distinct-source count of every prefix of the next C units is exact (first
    occurrences via :func:`numpy.unique`), so one numpy pass fills one crossbar. This is
    the fast path for orders that already put units with shared inputs next to each other.
    Returns None when ``ctx``'s deadline passes first.
    """
    net = dec.network
    ptr, pre = net.in_ptr, net.pre
    order = np.asarray(order, dtype=np.int64)
    unit_crossbar = np.full(net.n_neurons, -1, dtype=np.int64)
    start, crossbar = 0, 0
    while start < len(order):
        if ctx is not None and crossbar % 64 == 0 and ctx.expired():
            return None
        window = order[start : start + hw.columns]
        lengths = ptr[window + 1] - ptr[window]
        flat = _gather(ptr, pre, window, lengths)
        owner = np.repeat(np.arange(window.size), lengths)
        _, first = np.unique(flat, return_index=True)
        distinct = np.cumsum(np.bincount(owner[first], minlength=window.size))
        take = max(1, int(np.searchsorted(distinct, hw.rows, side="right")))
        unit_crossbar[window[:take]] = crossbar
        start += take
        crossbar += 1
    return unit_crossbar


def merge_crossbars(dec: Decomposition, hw: Hardware, unit_crossbar: np.ndarray, *, candidates: int = 8) -> np.ndarray:
    """Empty under-filled crossbars into others where all their units fit (a first-fit repair).

    Next-fit packing closes a crossbar as soon as no waiting unit fits it, so a few
    crossbars end up part-empty. Crossbars with at most half their columns used are taken
    from the emptiest; each goes, whole, to the crossbar that shares the most sources with
    it (from the sparse crossbar x source incidence product) among those where the union of
    sources fits R and the columns fit C. Returns the renumbered ``unit_crossbar``.
    """
    net = dec.network
    placed = unit_crossbar >= 0
    n_cb = int(unit_crossbar.max()) + 1 if placed.any() else 0
    if n_cb < 2:
        return unit_crossbar
    cols = np.bincount(unit_crossbar[placed], minlength=n_cb)
    small = np.flatnonzero(cols <= hw.columns // 2)
    if small.size == 0:
        return unit_crossbar
    key = unique_sorted(net.pre * n_cb + unit_crossbar[net.post])
    src, cb = key // n_cb, key % n_cb
    incidence = sp.csr_matrix((np.ones(key.size, dtype=np.int32), (cb, src)), shape=(n_cb, net.n_neurons))
    overlap = (incidence[small] @ incidence.T).tocsr()
    by_cb = np.argsort(cb, kind="stable")
    sources = np.split(src[by_cb], np.cumsum(np.bincount(cb, minlength=n_cb))[:-1])
    # Groups of crossbars merged together; a group's units all end on its one crossbar that was
    # never emptied (its holder), whose sources and columns are the group's.
    groups = DisjointSet(range(n_cb))
    emptied = np.zeros(n_cb, dtype=bool)
    order = small[np.argsort(cols[small], kind="stable")]
    position = {int(c): i for i, c in enumerate(small.tolist())}
    fallback = small[np.argsort(-cols[small], kind="stable")][:candidates].tolist()
    holder = np.arange(n_cb)  # per group representative: the group's holder
    for a in order.tolist():
        if emptied[a] or cols[a] == 0:
            continue
        row = overlap[position[a]]
        best = row.indices[np.argsort(-row.data, kind="stable")][: candidates + 1].tolist()
        for candidate in best + fallback:
            b = int(holder[groups[candidate]])
            if b == a or cols[a] + cols[b] > hw.columns:
                continue
            union = np.union1d(sources[a], sources[b])
            if union.size <= hw.rows:
                sources[b], sources[a] = union, src[:0]
                cols[b] += cols[a]
                cols[a] = 0
                emptied[a] = True
                groups.merge(a, b)
                holder[groups[b]] = b
                break
    target = holder[[groups[c] for c in range(n_cb)]]
    merged = np.where(placed, target[np.maximum(unit_crossbar, 0)], -1)
    merged[placed] = np.unique(merged[placed], return_inverse=True)[1]
    return merged
