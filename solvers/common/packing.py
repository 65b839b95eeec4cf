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

from mapopt.decompose.base import Decomposition
from mapopt.evaluation import deliveries
from mapopt.hardware import Hardware
from mapopt.network import wide
from mapopt.solver import SolveContext

#: At most this many rounds of merges (each applies a set of independent merges).
MERGE_ROUNDS = 64
#: Above this many entries the incidence product is not formed (see :func:`merge_crossbars`)...
MERGE_PRODUCT_MAX = 20_000_000
#: ...and only crossbars this close in packing order are scored as merge partners.
MERGE_BAND = 16


def raw_signature(dec: Decomposition) -> np.ndarray:
    """Per neuron of N': its smallest raw (original-synapse) source id, -1 when it has none.

    Units that read the same range of inputs (the same chain position of neurons of one
    fully connected layer, neighbouring windows of a convolution) get equal or close
    signatures, so sorting by it puts units with shared inputs next to each other.
    """
    net = dec.network
    big = np.iinfo(np.int64).max
    src = np.where(dec.edge_origin >= 0, wide(net.pre), big)  # int64 first: the sentinel does not fit int32
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

    The distinct-source count of every prefix of the next units is exact (first
    occurrences via :func:`numpy.unique`), so one numpy pass fills one crossbar. This is
    the fast path for orders that already put units with shared inputs next to each other.
    The window scored is about twice the previous crossbar's take (at most C units) and
    grows while every unit in it fits, so row-limited crossbars (a dozen units each on a
    random net) cost a dozen units of work, not C; the result is that of a C-unit window.
    Returns None when ``ctx``'s deadline passes first.
    """
    net = dec.network
    ptr, pre = net.in_ptr, net.pre
    order = np.asarray(order, dtype=np.int64)
    unit_crossbar = np.full(net.n_neurons, -1, dtype=np.int64)
    start, crossbar, width = 0, 0, hw.columns
    while start < len(order):
        if ctx is not None and crossbar % 64 == 0 and ctx.expired():
            return None
        window = order[start : start + width]
        lengths = ptr[window + 1] - ptr[window]
        flat = _gather(ptr, pre, window, lengths)
        owner = np.repeat(np.arange(window.size), lengths)
        _, first = np.unique(flat, return_index=True)
        distinct = np.cumsum(np.bincount(owner[first], minlength=window.size))
        take = max(1, int(np.searchsorted(distinct, hw.rows, side="right")))
        if take == window.size and width < hw.columns and start + width < len(order):
            width = min(hw.columns, 2 * width)  # every unit fitted: more might
            continue
        unit_crossbar[window[:take]] = crossbar
        start += take
        crossbar += 1
        width = min(hw.columns, max(8, 2 * take))
    return unit_crossbar


def merge_crossbars(
    dec: Decomposition, hw: Hardware, unit_crossbar: np.ndarray, *, candidates: int = 8, rounds: int = MERGE_ROUNDS
) -> np.ndarray:
    """Empty under-filled crossbars into others where all their units fit (a first-fit repair).

    Next-fit packing closes a crossbar as soon as no waiting unit fits it, so a few
    crossbars end up part-empty. A crossbar with at most half its columns used goes, whole,
    to the feasible crossbar (the union of their sources fits R rows, their units C columns)
    that shares the most sources with it, or else to one of the ``candidates`` fullest
    under-filled crossbars; the emptiest go first. The merges run in vectorised rounds:
    each round every under-filled crossbar claims its best target, and the claims that are
    best (emptiest first) among all claims touching their two crossbars are applied
    together (Luby's rule), so no crossbar takes part in two merges of one round and every
    applied merge was checked against the current rows and columns. The union of two
    source sets is ``rows(a) + rows(b) - shared(a, b)``.

    Shared sources come from the sparse (under-filled x all) crossbar-source incidence
    product, whose size is known before it is formed (sum over sources of their readers
    among the under-filled crossbars times all their readers). When it would exceed
    :data:`MERGE_PRODUCT_MAX` entries (random nets, where nearly every crossbar is
    under-filled in columns because its rows are full, and nearly no merge fits), only
    pairs within :data:`MERGE_BAND` crossbars of each other in packing order are scored:
    O(deliveries x band) work instead of the quadratic product. Returns the renumbered
    ``unit_crossbar``.
    """
    net = dec.network
    placed = unit_crossbar >= 0
    n_cb = int(unit_crossbar.max()) + 1 if placed.any() else 0
    if n_cb < 2:
        return unit_crossbar
    cols = np.bincount(unit_crossbar[placed], minlength=n_cb)
    if not ((cols > 0) & (cols <= hw.columns // 2)).any():
        return unit_crossbar
    src, cb = deliveries(net, unit_crossbar, n_cb)
    target = np.arange(n_cb)  # the crossbar each original crossbar's units end on
    for _ in range(rounds):
        incidence = sp.csr_matrix((np.ones(cb.size, dtype=np.int32), (cb, src)), shape=(n_cb, net.n_neurons))
        incidence.data[:] = 1  # merged crossbars may list a source twice: a row is a row
        rows = np.diff(incidence.indptr)
        small = np.flatnonzero((cols > 0) & (cols <= hw.columns // 2))
        if small.size == 0:
            break
        fits = _Fits(rows, cols, hw)
        a, b, shared, fallback = _merge_candidates(incidence, small, cols, candidates, fits)
        if a.size == 0:
            break
        # each small crossbar's claim: its best feasible candidate (most shared sources, then the fallback list)
        order = np.lexsort((b, -shared, fallback, a))
        first = np.concatenate(([True], a[order][1:] != a[order][:-1]))
        claim = order[first]
        a, b = a[claim], b[claim]
        rank = np.empty(a.size, dtype=np.int64)
        rank[np.lexsort((a, cols[a]))] = np.arange(a.size)  # emptiest first
        top = np.full(n_cb, a.size, dtype=np.int64)
        np.minimum.at(top, a, rank)
        np.minimum.at(top, b, rank)
        win = (top[a] == rank) & (top[b] == rank)
        a, b = a[win], b[win]
        relabel = np.arange(n_cb)
        relabel[a] = b
        np.add.at(cols, b, cols[a])
        cols[a] = 0
        cb = relabel[cb]
        target = relabel[target]
    merged = np.where(placed, target[np.maximum(unit_crossbar, 0)], -1)
    merged[placed] = np.unique(merged[placed], return_inverse=True)[1]
    return merged


class _Fits:
    """Whether crossbar a's units fit into crossbar b: columns, and rows given their shared sources."""

    def __init__(self, rows: np.ndarray, cols: np.ndarray, hw: Hardware):
        self.rows, self.cols, self.hw = rows, cols, hw

    def __call__(self, a: np.ndarray, b: np.ndarray, shared: np.ndarray) -> np.ndarray:
        rows, cols, hw = self.rows, self.cols, self.hw
        return (a != b) & (cols[b] > 0) & (cols[a] + cols[b] <= hw.columns) & (rows[a] + rows[b] - shared <= hw.rows)


def _merge_candidates(
    incidence: sp.csr_matrix, small: np.ndarray, cols: np.ndarray, candidates: int, fits: _Fits
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Feasible merges ``(a, b, shared sources, from the fallback list)`` for the under-filled crossbars ``small``.

    Overlap pairs (from the product, or the packing-order band when the product is too
    large) that fit, then pairs with the ``candidates`` fullest under-filled crossbars.
    """
    n_cb = incidence.shape[0]
    by_source = incidence.T.tocsr()  # source -> the crossbars it is delivered to
    is_small = np.zeros(n_cb, dtype=bool)
    is_small[small] = True
    readers = np.diff(by_source.indptr)
    source_of = np.repeat(np.arange(readers.size), readers)
    small_readers = np.bincount(source_of, weights=is_small[by_source.indices], minlength=readers.size)
    if float(small_readers @ readers) <= MERGE_PRODUCT_MAX:
        overlap = (incidence[small] @ incidence.T).tocoo()
        a, b, shared = small[overlap.row], overlap.col.astype(np.int64), overlap.data.astype(np.int64)
    else:
        a, b, shared = _band_overlaps(by_source, is_small)
    ok = fits(a, b, shared)
    a, b, shared = a[ok], b[ok], shared[ok]
    fullest = small[np.argsort(-cols[small], kind="stable")][:candidates]
    fa, fb = np.repeat(small, fullest.size), np.tile(fullest, small.size)
    key = a * n_cb + b  # the overlap pairs, looked up for the fallback pairs (absent: no shared source)
    by_key = np.argsort(key, kind="stable")
    pos = np.minimum(np.searchsorted(key[by_key], fa * n_cb + fb), max(key.size - 1, 0))
    hit = key[by_key][pos] == fa * n_cb + fb if key.size else np.zeros(fa.size, dtype=bool)
    f_shared = np.where(hit, shared[by_key][pos] if key.size else 0, 0)
    f_ok = fits(fa, fb, f_shared)
    return (
        np.concatenate((a, fa[f_ok])),
        np.concatenate((b, fb[f_ok])),
        np.concatenate((shared, f_shared[f_ok])),
        np.concatenate((np.zeros(a.size, dtype=bool), np.ones(int(f_ok.sum()), dtype=bool))),
    )


def _band_overlaps(by_source: sp.csr_matrix, is_small: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Shared-source counts of the pairs (under-filled a, any b) with |a - b| <= MERGE_BAND, both orders.

    A source's crossbars are one sorted row of ``by_source``; two of its crossbars within
    the band are at most MERGE_BAND places apart there, so comparing every entry with the
    next MERGE_BAND entries finds every such pair: O(deliveries x band), no product.
    """
    row = np.repeat(np.arange(by_source.shape[0]), np.diff(by_source.indptr))
    cb = by_source.indices.astype(np.int64)  # sorted within each source (CSR indices of a transposed matrix)
    pairs = []
    for step in range(1, MERGE_BAND + 1):
        near = (row[step:] == row[:-step]) & (cb[step:] - cb[:-step] <= MERGE_BAND)
        lo, hi = cb[:-step][near], cb[step:][near]
        pairs.append(np.concatenate((lo * by_source.shape[1] + hi, hi * by_source.shape[1] + lo)))
    key = np.concatenate(pairs) if pairs else np.zeros(0, dtype=np.int64)
    n_cb = by_source.shape[1]
    key = key[is_small[key // n_cb]]
    uniq, shared = np.unique(key, return_counts=True)
    return uniq // n_cb, uniq % n_cb, shared.astype(np.int64)
