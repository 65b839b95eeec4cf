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

from mapopt.decompose.tree import balanced_leaves
from mapopt.errors import InputError
from mapopt.network import CHUNK, Network, concat_ranges, wide

ORDERS = ("id", "cooccurrence")
GROUPINGS = ("chunk", "block")
#: MinHash functions used by the ``cooccurrence`` key (more: finer clusters, slower).
MINHASHES = 3


def source_keys(net: Network, order: str = "id", *, seed: int = 0) -> np.ndarray:
    """A global sort key (``int64[n]``, a permutation rank) for every neuron as a source."""
    n = net.n_neurons
    if order == "id":
        return np.arange(n, dtype=np.int64)
    if order != "cooccurrence":
        raise InputError(f"unknown unroll order {order!r}; known: {', '.join(ORDERS)}", source="--decompose")
    rng = np.random.default_rng(seed)
    # synapses grouped by source (stable: = np.argsort(pre, kind="stable")): the CSR -> CSC transpose of
    # scipy.sparse is a linear-time counting sort, several times faster than the sort on large nets
    by_post = sp.csr_matrix((np.arange(net.n_synapses), net.pre, net.in_ptr), shape=(n, n))
    by_pre = by_post.tocsc().data
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


def edge_rank(net: Network, keys: np.ndarray) -> np.ndarray:
    """Rank of each synapse among its post-synaptic neuron's inputs when sorted by the key of its source."""
    n = net.n_neurons
    if n < 2**31:  # one int64 sort key (post, key): unique per synapse, so any sort gives lexsort's order
        order = np.argsort(wide(net.post) * n + keys[net.pre], kind="stable")  # stable: linear on presorted runs
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
    n = net.n_neurons
    rank = np.arange(net.n_synapses) - net.in_ptr[net.post]
    split = np.flatnonzero(~net.is_input & (net.fanin > k))
    if split.size and not bool(np.all(keys[1:] > keys[:-1])):
        cnt = net.fanin[split]
        for group in np.split(split, np.searchsorted(np.cumsum(cnt), np.arange(CHUNK, int(cnt.sum()), CHUNK))):
            if group.size == 0:
                continue
            sub = concat_ranges(net.in_ptr[group], net.fanin[group])  # their synapses, ascending
            post = net.post[sub]
            key = wide(post) * n + keys[net.pre[sub]] if n < 2**31 else None
            order = np.argsort(key, kind="stable") if key is not None else np.lexsort((keys[net.pre[sub]], post))
            # the i-th sorted synapse of a neuron gets the rank of its i-th synapse
            rank[sub[order]] = rank[sub]
    return balanced_leaves(net, k, rank)


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
    pair *= net.n_neurons
    pair += keys[net.pre[e]]
    uniq, inv = unique_inverse(pair, classes.size * net.n_neurons)
    del pair
    uclass = uniq // net.n_neurons
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
    if grouping == "block":
        return block_groups(net, k, keys)
    raise InputError(f"unknown grouping {grouping!r}; known: {', '.join(GROUPINGS)}", source="--decompose")
