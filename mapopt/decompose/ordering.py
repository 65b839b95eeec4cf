"""Unroll ordering: how each decomposed neuron's inputs are grouped into units (docs/model.md, section 3).

Units of different neurons can share crossbar rows only if they read the same sources,
so the grouping must be *consistent across neurons that share inputs* (MODEL.md, section
3; Balaji et al., IEEE ESL 2020, leave the ordering to the input order). Everything here
is a fast, vectorised heuristic that works from two ingredients:

* a **source key**: one global sort key per neuron as a source. ``id`` keeps the
  network's numbering, which generators and NIR imports lay out channel-major (C, H, W),
  so a sorted receptive field is a stack of per-channel window strips. ``cooccurrence``
  clusters sources read by the same neurons: sources are sorted by MinHash signatures of
  their post-synaptic sets (equal sets get equal keys, similar sets close ones), which is
  O(E) and needs no source x source co-occurrence matrix.
* a **grouping** of each neuron's sorted inputs into leaves of at most k inputs.
  ``chunk`` cuts each neuron's own sorted list into ceil(m/k) balanced pieces: neurons with
  the same input set (a fully connected layer; the output channels at one position of a
  convolution) get identical leaves, and neighbouring convolution windows get leaves that
  are overlapping receptive-field strips (the same channel group, shifted windows).
  ``block`` cuts the *class's* sorted source set (a class is one layer, or all neurons
  when layers are unknown) into balanced global blocks of at most k sources and gives
  each neuron one leaf per block it reads: partially overlapping input sets (sparse
  layers) still put their leaves on the same rows.

The exact counterpart (grouping plus crossbar assignment by CP-SAT, for small nets) is
:mod:`problems.formulations.unroll`.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from mapopt.decompose.base import unit_slots
from mapopt.decompose.tree import balanced_leaves
from mapopt.errors import InputError
from mapopt.network import CHUNK, Network, concat_ranges, wide

ORDERS = ("id", "position", "cooccurrence")
GROUPINGS = ("chunk", "strip", "block")
#: MinHash functions used by the ``cooccurrence`` key (more: finer clusters, slower).
MINHASHES = 3
#: Extra leaves tried per neuron when whole strips do not fit the leaf size (then: ``chunk``).
STRIP_RETRIES = 3


def reader_classes(net: Network) -> np.ndarray:
    """Per neuron as a source, a dense class index: equal exactly when two sources feed the same neurons.

    Classes are numbered in the order of their smallest member id. In a convolution whose
    output channels read every input channel, the input channels at one spatial position
    form one class (a *position*); in a one-channel filter every pixel is a class of its
    own; in a fully connected layer all inputs are one class. Reader sets are compared by
    two independent 64-bit sums of random multipliers (a false merge has probability about
    2^-128 per pair), in O(E).
    """
    n = net.n_neurons
    rng = np.random.default_rng(7)
    by_pre = _synapses_by_pre(net)
    pre_sorted = net.pre[by_pre]
    has = np.flatnonzero(np.bincount(net.pre, minlength=n) > 0)
    starts = np.searchsorted(pre_sorted, has)
    hashes = []
    for _ in range(2):
        mult = rng.integers(1, 2**62, size=n, dtype=np.int64) | 1
        h = np.zeros(n, dtype=np.int64)
        if has.size:  # exact (wrapping) int64 sums per source, in one pass over its synapses
            h[has] = np.add.reduceat(mult[net.post[by_pre]], starts)
        hashes.append(h)
    order = np.lexsort((np.arange(n), hashes[1], hashes[0]))  # equal (h0, h1) adjacent, ascending id inside
    h0, h1 = hashes[0][order], hashes[1][order]
    start = np.r_[True, (h0[1:] != h0[:-1]) | (h1[1:] != h1[:-1])]
    group = np.empty(n, dtype=np.int64)
    group[order] = np.cumsum(start) - 1
    first = order[start]  # smallest id of each group (ids ascend within a group)
    rank = np.empty(len(first), dtype=np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(len(first))
    return rank[group]


def source_keys(net: Network, order: str = "id", *, seed: int = 0) -> np.ndarray:
    """A global sort key (``int64[n]``, a permutation rank) for every neuron as a source.

    ``id``: the numbering itself; ``position``: sources grouped by :func:`reader_classes`
    (all channels of one position of a convolution become neighbours, positions in id
    order, so a receptive field's rows are consecutive runs across its channels);
    ``cooccurrence``: MinHash clusters of the sources' reader sets.
    """
    n = net.n_neurons
    if order == "id":
        return np.arange(n, dtype=np.int64)
    if order == "position":
        keys = np.empty(n, dtype=np.int64)
        keys[np.lexsort((np.arange(n), reader_classes(net)))] = np.arange(n)
        return keys
    if order != "cooccurrence":
        raise InputError(f"unknown unroll order {order!r}; known: {', '.join(ORDERS)}", source="--decompose")
    rng = np.random.default_rng(seed)
    by_pre = _synapses_by_pre(net)
    pre_sorted = net.pre[by_pre]
    has = np.flatnonzero(np.bincount(net.pre, minlength=n) > 0)
    starts = np.searchsorted(pre_sorted, has)
    del pre_sorted
    post_by_pre = net.post[by_pre]  # the targets, grouped by source (gathered once for every hash)
    del by_pre
    columns = [np.arange(n)]  # last tie-breaker: id
    for _ in range(MINHASHES):
        perm = rng.permutation(n)
        h = np.full(n, n, dtype=np.int64)  # sources with no targets sort last
        if has.size:
            h[has] = np.minimum.reduceat(perm[post_by_pre], starts)
        columns.append(h)
    order_idx = np.lexsort(columns)  # last key is primary
    keys = np.empty(n, dtype=np.int64)
    keys[order_idx] = np.arange(n)
    return keys


def _synapses_by_pre(net: Network) -> np.ndarray:
    """Synapse indices grouped by source (stable: = ``np.argsort(pre, kind="stable")``).

    The CSR -> CSC transpose of scipy.sparse is a linear-time counting sort, several times
    faster than the sort on large nets.
    """
    n = net.n_neurons
    by_post = sp.csr_matrix((np.arange(net.n_synapses), net.pre, net.in_ptr), shape=(n, n))
    return by_post.tocsc().data


def edge_rank(net: Network, keys: np.ndarray) -> np.ndarray:
    """Rank of each synapse among its post-synaptic neuron's inputs when sorted by the key of its source."""
    span = int(keys.max(initial=0)) + 1  # keys need not be ranks 0..n-1 (a sub-network keeps its net's keys)
    if net.n_neurons * span < 2**62:  # one int64 sort key (post, key): unique per synapse, so any sort gives lexsort's
        order = np.argsort(wide(net.post) * span + keys[net.pre], kind="stable")  # stable: linear on presorted runs
    else:
        order = np.lexsort((keys[net.pre], net.post))
    rank = np.empty(net.n_synapses, dtype=np.int64)
    rank[order] = np.arange(net.n_synapses) - net.in_ptr[net.post[order]]
    return rank


def chunk_groups(net: Network, k: int, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Leaves as balanced pieces of each neuron's key-sorted inputs: ``(edge_leaf, leaves)``.

    Only neurons with fan-in above k are split, so only their synapses are ranked by key
    (the others keep one leaf whatever the order: a sort of their synapses is skipped).
    Keys that increase with the id (order ``id``) rank every neuron's inputs as the net
    already stores them (ascending pre), so no sort runs at all; other keys are sorted
    neuron group by neuron group, about :data:`~mapopt.network.CHUNK` synapses at a time,
    which bounds the temporaries (the sort permutes synapses within a neuron only).
    """
    span = int(keys.max(initial=0)) + 1  # keys need not be ranks 0..n-1 (a sub-network keeps its net's keys)
    rank = np.arange(net.n_synapses) - net.in_ptr[net.post]
    split = np.flatnonzero(~net.is_input & (net.fanin > k))
    if split.size and not bool(np.all(keys[1:] > keys[:-1])):
        cnt = net.fanin[split]
        for group in np.split(split, np.searchsorted(np.cumsum(cnt), np.arange(CHUNK, int(cnt.sum()), CHUNK))):
            if group.size == 0:
                continue
            sub = concat_ranges(net.in_ptr[group], net.fanin[group])  # their synapses, ascending
            post = net.post[sub]
            key = wide(post) * span + keys[net.pre[sub]] if net.n_neurons * span < 2**62 else None
            order = np.argsort(key, kind="stable") if key is not None else np.lexsort((keys[net.pre[sub]], post))
            # the sort permutes synapses within each neuron only: the i-th sorted synapse has the rank of the i-th
            rank[sub[order]] = rank[sub]
    return balanced_leaves(net, k, rank)


def strip_groups(
    net: Network, k: int, keys: np.ndarray, *, limit: int | None = None, align: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """Leaves made of whole *strips*: ``(edge_leaf, leaves)``, like :func:`chunk_groups` but cut between runs.

    A run is a maximal stretch of consecutive source keys among a neuron's inputs: a
    receptive-field row of one channel with the ``id`` key, a row across all channels with
    the ``position`` key. Each neuron with fan-in above k gets ceil(m / k) leaves; a run
    goes whole to the leaf its middle input falls in (balanced cuts snapped to run
    boundaries), so neighbouring windows get leaves that are the same rows shifted, which
    share more crossbar rows than cuts inside a row. A run longer than a leaf is cut as in
    ``chunk``. A leaf may hold at most ``limit`` inputs (default k): a neuron whose snapped
    leaves exceed it gets up to :data:`STRIP_RETRIES` more leaves, else its ``chunk`` leaves.

    ``align`` > 1 snaps the cuts to a global grid instead: runs are rows of a grid whose
    width is the most common step between a neuron's run starts, and each cut goes to the
    nearest row that is a multiple of ``align`` (ties: the lower). With ``align = 2`` the
    11 rows of an 11 x 11 window split 6 + 5 on even rows and 5 + 6 on odd ones, so that
    half of all halves start on the same rows: a tile of 8 x 16 pixels then holds 96
    halves instead of 84.
    """
    limit = k if limit is None else limit
    edge_leaf, leaves = chunk_groups(net, k, keys)
    split = np.flatnonzero(~net.is_input & (net.fanin > k))
    if split.size == 0:
        return edge_leaf, leaves
    lo, cnt = net.in_ptr[split], net.fanin[split]
    sub = np.repeat(lo - unit_slots(cnt), cnt) + np.arange(int(cnt.sum()))  # their synapses, ascending
    post = net.post[sub]
    key = keys[net.pre[sub]]
    order = np.lexsort((key, post))
    sub, post, key = sub[order], post[order], key[order]
    rank = np.arange(sub.size) - np.repeat(unit_slots(cnt), cnt)
    m = net.fanin[post]
    new_run = np.r_[True, (key[1:] != key[:-1] + 1) | (post[1:] != post[:-1])]
    run = np.cumsum(new_run) - 1
    run_start = np.flatnonzero(new_run)
    run_len = np.diff(np.r_[run_start, sub.size])[run]
    middle = rank[run_start][run] + run_len // 2
    want = leaves[post]
    pending = np.ones(split.size, dtype=bool)  # per split neuron, in ``split`` order (= post order of ``sub``)
    owner = np.repeat(np.arange(split.size), cnt)
    row = _grid_rows(key, post, run, run_start) if align > 1 else None
    for extra in range(STRIP_RETRIES + 1):
        count = want + extra
        if row is None:
            snapped = np.where(run_len * count <= m, middle * count // m, rank * count // m)
        else:
            snapped = np.where(run_len * count <= m, _aligned_cuts(row, owner, split.size, count, align),
                               rank * count // m)  # fmt: skip
        size = np.bincount(owner * (int(count.max()) + 1) + snapped, minlength=split.size * (int(count.max()) + 1))
        ok = size.reshape(split.size, -1).max(axis=1) <= limit
        take = pending[owner] & ok[owner]
        edge_leaf[sub[take]] = snapped[take]
        pending &= ~ok
        if not pending.any():
            break
    # number the leaves each neuron actually uses 0..L-1 (a long leaf count may leave some empty)
    done = ~pending
    mine = done[owner]
    pair = owner[mine] * (int(edge_leaf[sub].max()) + 1) + edge_leaf[sub[mine]]
    uniq, inv = np.unique(pair, return_inverse=True)
    u_owner = uniq // (int(edge_leaf[sub].max()) + 1)
    local = np.arange(uniq.size) - np.searchsorted(u_owner, u_owner)
    edge_leaf[sub[mine]] = local[inv]
    leaves[split[done]] = np.bincount(u_owner, minlength=split.size)[done]
    return edge_leaf, leaves


def _grid_rows(key: np.ndarray, post: np.ndarray, run: np.ndarray, run_start: np.ndarray) -> np.ndarray | None:
    """Per synapse, the grid row of its run (keys sorted by (post, key)); None when the runs form no grid.

    The grid width is the most common step between consecutive run starts of one neuron.
    """
    starts = key[run_start]
    same = post[run_start][1:] == post[run_start][:-1]
    steps = (starts[1:] - starts[:-1])[same]
    if steps.size == 0:
        return None
    values, counts = np.unique(steps, return_counts=True)
    width = int(values[np.argmax(counts)])
    if width < 2:
        return None
    return ((starts - starts.min()) // width)[run]


def _aligned_cuts(row: np.ndarray, owner: np.ndarray, n_owners: int, count: np.ndarray, align: int) -> np.ndarray:
    """Leaf of each synapse: its row against ``count - 1`` cuts at the multiples of ``align`` nearest the even cuts."""
    lo = np.full(n_owners, np.iinfo(np.int64).max)
    hi = np.full(n_owners, -1)
    np.minimum.at(lo, owner, row)
    np.maximum.at(hi, owner, row)
    first, last = lo[owner], hi[owner]
    leaf = np.zeros(row.size, dtype=np.int64)
    for j in range(1, int(count.max())):
        ideal = first + j * (last - first + 1) / count
        cut = align * np.floor(ideal / align + 0.5 - 1e-9)
        cut = np.clip(cut, first + 1, last)
        leaf += (j < count) & (row >= cut)
    return leaf


def neuron_classes(net: Network) -> np.ndarray:
    """The class of each neuron for consistent grouping: its layer (all -1 when layers are unknown)."""
    return net.layer.astype(np.int64)


def block_groups(net: Network, k: int, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One leaf per global source block a neuron reads: ``(edge_leaf, leaves)``.

    Within each class (layer), the sources read by the class's neurons whose fan-in
    exceeds k are sorted by key and cut into ceil(S / k) balanced blocks; a neuron's
    inputs falling in one block form one leaf (at most k inputs, since a block has at
    most k sources). Neurons with fan-in <= k keep a single leaf (no decomposition).
    """
    fanin = net.fanin
    cls = neuron_classes(net)
    post = net.post
    big = fanin[post] > k
    leaves = np.where(net.is_input, 0, 1).astype(np.int64)
    edge_leaf = np.zeros(net.n_synapses, dtype=np.int64)
    if not big.any():
        return edge_leaf, leaves
    e = np.flatnonzero(big)
    owners = np.flatnonzero(~net.is_input & (fanin > k))  # = the posts of e, ascending
    classes = np.unique(cls[owners])
    post_e = post[e]
    # distinct (class, source) pairs, sorted by class then key: a source's position in its class
    # (int64[E] temporaries are updated in place and dropped early: on large nets they set the peak)
    pair = np.searchsorted(classes, cls)[post_e]  # dense class ranks keep the (class, key) order
    span = int(keys.max(initial=0)) + 1  # keys need not be ranks 0..n-1 (a sub-network keeps its net's keys)
    pair *= span
    pair += keys[net.pre[e]]
    uniq, inv = unique_inverse(pair, classes.size * span)
    del pair
    uclass = uniq // span
    first = np.searchsorted(uclass, uclass, side="left")
    position = np.arange(len(uniq)) - first
    size = np.bincount(uclass - uclass.min(), minlength=1)[uclass - uclass.min()]  # sources in the class
    n_blocks = -(-size // k)
    block = (position * n_blocks) // size  # balanced blocks of at most k sources
    eb = block[inv]
    del inv
    # leaf = dense rank of the block among the neuron's blocks
    width = int(n_blocks.max()) + 1
    owner_rank = np.zeros(net.n_neurons, dtype=np.int64)
    owner_rank[owners] = np.arange(owners.size)
    key = owner_rank[post_e]
    del post_e
    key *= width
    key += eb
    del eb
    ukey, kinv = unique_inverse(key, owners.size * width)
    del key
    uowner = owners[ukey // width]
    local = np.arange(len(ukey)) - np.searchsorted(uowner, uowner, side="left")
    if e.size == net.n_synapses:
        edge_leaf = local[kinv]
    else:
        edge_leaf[e] = local[kinv]
    leaves[np.unique(uowner)] = np.bincount(uowner, minlength=net.n_neurons)[np.unique(uowner)]
    return edge_leaf, leaves


def unique_inverse(values: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(values, return_inverse=True)`` for non-negative ints below ``size``.

    When ``size`` is at most a few times ``len(values)``, a presence mask and its cumulative
    count replace the O(E log E) sort (same result, O(E + size)); otherwise ``np.unique``.
    """
    if size > 4 * len(values) + 1024:
        return np.unique(values, return_inverse=True)
    present = np.zeros(size, dtype=bool)
    present[values] = True
    rank = np.cumsum(present) - 1
    return np.flatnonzero(present), rank[values]


def group_inputs(net: Network, k: int, *, order: str = "id", grouping: str = "chunk") -> tuple[np.ndarray, np.ndarray]:
    """The unroll ordering ``(edge_leaf, leaves)`` for leaves of at most ``k`` inputs."""
    keys = source_keys(net, order)
    if grouping == "chunk":
        return chunk_groups(net, k, keys)
    if grouping == "strip":
        return strip_groups(net, k, keys)
    if grouping == "block":
        return block_groups(net, k, keys)
    raise InputError(f"unknown grouping {grouping!r}; known: {', '.join(GROUPINGS)}", source="--decompose")
