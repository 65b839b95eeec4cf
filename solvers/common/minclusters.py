"""The authors' crossbar clustering, step by step: ``Clusters::minClusters`` of drexel-DISCO/SpiNeMap.

Balaji et al. (IEEE ESL 2020, arXiv 2009.09298) map with the partitioner of their public
toolchain (github drexel-DISCO/SpiNeMap, folder SNNPartitioning). This module follows its
code, file by file, so that mapopt's ``paper`` solver gives the tool's crossbar count:

- ``include/cluster/cluster.cc``, ``Clusters::minClusters``: neurons are taken in id order.
  Before each one, *all* clusters are sorted by utilization (inputs + outputs, the most
  utilised first) with ``std::sort``, whose order of ties :mod:`solvers.common.stdsort`
  reproduces; then every cluster in that order is offered the neuron's pending inputs, and
  takes as many as it can (``numCanBePacked``) if that is enough (``packToCluster``); new
  clusters are opened for what is left.
- ``numCanBePacked``: the longest prefix of the pending list whose inputs not yet in the
  cluster fit its free inputs, provided the cluster has a free output
  (``Cluster::canBePacked``). An input listed twice counts twice.
- ``packToCluster``: the prefix is packed if it holds at least ``MIN_FANIN`` entries (the
  unroll fan-in k, or the crossbar size without unrolling) or, when fewer than that are
  pending, all of them. The cluster's new output is the unit that the *last* packed input
  belongs to in the unrolled chain (``input_to_output_map``, first occurrence wins); if
  that unit is not the neuron itself, it is pushed to the front of the pending list as the
  partial sum that the next piece reads.
- ``Clusters::connectedComponents`` (``include/cluster/cluster.hh``): when the cluster graph
  (cluster a -> b if an output of a is an input of b, ``postClustering``) is not connected,
  one neuron per component (the first output of the first cluster, in ``iterativeDFS``
  order, that has no outgoing edge) is relayed into new *connector* clusters of at most
  crossbar-size new neurons each, chained when one is full. They count as clusters. (With
  one-column crossbars the tool's chaining never ends; here a chain link needs two columns.)

:func:`cluster_exact` runs that loop on a list of :class:`Item` (one per neuron). Its cost is
the tool's: a sort of every cluster per neuron. :func:`cluster_whole_units` applies the same
rule (the most utilised cluster that takes the unit, else a new one) to units that must
stay whole, with ties going to the lower cluster id, in O(units x candidates); it serves the
decompositions the tool never sees (mapopt's chain, tree and auto units), where its
``std::sort`` order has no counterpart.

Crossbars need not be square here: ``rows`` bound a cluster's inputs, ``columns`` its
outputs and ``fanin`` the entries of one piece (the tool has one size for all three; with
R = C = F the code below is the tool's).
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from solvers.common.stdsort import std_sort_desc


@dataclass(frozen=True)
class Item:
    """One neuron's turn in ``minClusters``.

    ``neuron`` is its id; ``entries`` the ids it reads, in the order of its input list
    (repeats included); ``owner[i]`` the id of the unit that takes entry ``i`` in the
    authors' unrolled chain (``input_to_output_map``: the unit of the entry's first
    occurrence; the neuron itself when it is not unrolled). ``whole`` items must go into
    one cluster (a unit of mapopt's N'); the others are cut into pieces as the tool does.
    """

    neuron: int
    entries: Sequence[int]
    owner: Sequence[int]
    whole: bool = False


@dataclass(frozen=True)
class Piece:
    """What one cluster took of an item: entries ``start:stop`` (after the partial, if any)."""

    cluster: int
    start: int
    stop: int
    reads_partial: bool  # the first entry packed was the partial sum of the previous piece
    output: int  # the tool's output id (the owner of the last entry packed)
    forwards: bool  # the output was pushed as the next piece's partial sum


@dataclass
class Clusters:
    """The state of the tool's clusters: inputs and outputs (ids) of each, and who reads what."""

    rows: int
    columns: int
    fanin: int
    inputs: list[set[int]] = field(default_factory=list)
    outputs: list[set[int]] = field(default_factory=list)
    util: list[int] = field(default_factory=list)
    readers: dict[int, set[int]] = field(default_factory=dict)  # id -> clusters having it as an input
    order: list[int] = field(default_factory=list)  # ``sorted_clusters``
    # free rows and used columns per cluster as numpy arrays (capacity grows by doubling), so
    # that the clusters able to take a piece are found with one vectorised test
    free: np.ndarray = field(default_factory=lambda: np.zeros(64, dtype=np.int64))
    cols: np.ndarray = field(default_factory=lambda: np.zeros(64, dtype=np.int64))

    @property
    def count(self) -> int:
        return len(self.inputs)

    def add_cluster(self) -> int:
        """``Clusters::addCluster``: a new empty cluster, appended to the sorted list."""
        cid = len(self.inputs)
        self.inputs.append(set())
        self.outputs.append(set())
        self.util.append(0)
        self.order.append(cid)
        if cid == self.free.size:
            self.free = np.concatenate((self.free, np.zeros(cid, dtype=np.int64)))
            self.cols = np.concatenate((self.cols, np.zeros(cid, dtype=np.int64)))
        self.free[cid] = self.rows
        return cid

    def place(self, cid: int, ids: Iterable[int], output: int) -> None:
        """Add ``ids`` as inputs and ``output`` as an output of cluster ``cid``."""
        inputs = self.inputs[cid]
        for x in ids:
            if x not in inputs:
                inputs.add(x)
                self.readers.setdefault(x, set()).add(cid)
        self.outputs[cid].add(output)
        self.util[cid] = len(inputs) + len(self.outputs[cid])
        self.free[cid] = self.rows - len(inputs)
        self.cols[cid] = len(self.outputs[cid])

    def first_taker(self, prefix: Sequence[int], after: int, position: np.ndarray) -> int:
        """The cluster of least ``position`` above ``after`` that can take all of ``prefix`` (-1: none).

        A cluster takes it when it has a free output and the entries it lacks (an entry
        listed twice counts twice, as in ``numCanBePacked``) fit its free rows: surely when
        its free rows cover the whole prefix, otherwise only through the entries it holds.
        """
        n, need = self.count, len(prefix)
        free, cols = self.free[:n], self.cols[:n]
        open_ = cols < self.columns
        roomy = np.flatnonzero(open_ & (free >= need))
        best = -1
        if roomy.size:
            pos = position[roomy]
            pos = pos[pos > after]
            if pos.size:
                best = int(pos.min())
        held: dict[int, int] = {}
        for x in prefix:
            for c in self.readers.get(x, ()):
                held[c] = held.get(c, 0) + 1
        for c, have in held.items():
            p = position[c]
            if p > after and (best < 0 or p < best) and open_[c] and need - have <= free[c]:
                best = int(p)
        return best


class _Pending:
    """The pending list of ``minClusters``: an optional partial sum in front of the raw entries."""

    __slots__ = ("entries", "front", "pos")

    def __init__(self, entries: Sequence[int]):
        self.entries = entries
        self.pos = 0
        self.front: int | None = None

    def __len__(self) -> int:
        return len(self.entries) - self.pos + (self.front is not None)

    def prefix(self, count: int) -> list[int]:
        """The first ``count`` pending entries."""
        head = [] if self.front is None else [self.front]
        return head + list(self.entries[self.pos : self.pos + count - len(head)])

    def can_pack(self, state: Clusters, cid: int) -> int:
        """``numCanBePacked``: how many pending entries cluster ``cid`` can take, from the front."""
        if len(state.outputs[cid]) >= state.columns:
            return 0
        inputs = state.inputs[cid]
        room = state.rows - len(inputs)
        limit = state.fanin if state.fanin < state.rows else len(self)  # one piece is one unit of N'
        taken = new = 0
        if self.front is not None:
            if self.front not in inputs:
                new = 1
                if new > room:
                    return 0
            taken = 1
        entries, i, end = self.entries, self.pos, len(self.entries)
        while i < end and taken < limit:
            if entries[i] not in inputs:
                new += 1
                if new > room:
                    break
            taken += 1
            i += 1
        return taken


def _pack(state: Clusters, item: Item, pending: _Pending, cid: int, taken: int, min_fanin: int) -> Piece | None:
    """``packToCluster``: pack the first ``taken`` entries into ``cid`` if the tool's rule allows."""
    size = len(pending)
    whole = taken == size
    enough = whole if item.whole else (taken >= min_fanin and size >= min_fanin) or (size < min_fanin and whole)
    if not enough or taken == 0:
        return None
    reads_partial = pending.front is not None
    start = pending.pos
    stop = start + taken - reads_partial
    packed = list(item.entries[start:stop])
    if reads_partial:
        packed.insert(0, pending.front)  # type: ignore[arg-type]
    # the output is the chain unit of the last raw entry packed; a lone partial sum (the
    # tool aborts there: its input_to_output_map has no partial sums) closes the chain
    output = item.owner[stop - 1] if stop > start else item.neuron
    state.place(cid, packed, output)
    pending.pos = stop
    forwards = output != item.neuron
    pending.front = output if forwards else None
    return Piece(cid, start, stop, reads_partial, output, forwards)


#: Check the deadline every this many items.
CHECK_EVERY = 256


def cluster_exact(
    items: Iterable[Item], state: Clusters, min_fanin: int, expired: Callable[[], bool] | None = None
) -> list[list[Piece]] | None:
    """``Clusters::minClusters`` over ``items`` in order (ties as libstdc++'s ``std::sort``).

    Returns the pieces of each item, or None when ``expired()`` turns true first.
    """
    result: list[list[Piece]] = []
    for i, item in enumerate(items):
        if expired is not None and i % CHECK_EVERY == 0 and expired():
            return None
        pieces: list[Piece] = []
        pending = _Pending(item.entries)
        if len(pending):
            std_sort_desc(state.order, state.util)
            order = np.asarray(state.order, dtype=np.int64)
            position = np.empty(order.size, dtype=np.int64)
            position[order] = np.arange(order.size)
            at = -1
            # the clusters in sorted order that the tool's loop would pack into (the others
            # take nothing, which it finds out one by one); clusters added below are offered
            # to the next neuron only
            while len(pending):
                size = len(pending)
                need = size if item.whole or size < min_fanin else min_fanin
                at = state.first_taker(pending.prefix(need), at, position)
                if at < 0:
                    break
                cid = int(order[at])
                piece = _pack(state, item, pending, cid, pending.can_pack(state, cid), min_fanin)
                if piece is None:
                    raise AssertionError(f"cluster {cid} was to take a piece of neuron {item.neuron}")
                pieces.append(piece)
            while len(pending):  # "Need new clusters to map the rest"
                cid = state.add_cluster()
                piece = _pack(state, item, pending, cid, pending.can_pack(state, cid), min_fanin)
                if piece is None:
                    raise ValueError(f"neuron {item.neuron}: {len(pending)} entries do not fit an empty crossbar")
                pieces.append(piece)
        result.append(pieces)
    return result


def cluster_whole_units(
    units: Iterable[tuple[int, Sequence[int]]], state: Clusters, expired: Callable[[], bool] | None = None
) -> list[int] | None:
    """Each unit (id, distinct sources) into the most utilised cluster that takes it whole.

    The rule of ``minClusters`` for an item that must stay in one cluster, with ties to the
    lower cluster id. Candidates are the clusters with enough free rows for all the unit's
    sources (kept per free-row count in heaps keyed by (-outputs, id): equal free rows
    means utilization follows the outputs) and the clusters with a free output that already
    hold some of them; a new cluster is opened when none fits. Clusters whose rows are full
    are kept apart (``full_rows``): they take only a unit all of whose sources they hold,
    so they are not searched for a unit with a source that no open cluster holds (a
    partial sum, typically). Returns each unit's cluster, or None when ``expired()`` turns
    true first (checked every ``4 * CHECK_EVERY`` units).
    """
    R, C = state.rows, state.columns
    inputs, outputs, util = state.inputs, state.outputs, state.util
    buckets: dict[int, list[tuple[int, int]]] = {}  # free rows -> heap of (-outputs, cluster)
    free_mask = 0  # bit f set when bucket f may be non-empty
    roomy: dict[int, set[int]] = {}  # source -> clusters with a free output and a free row that hold it
    full_rows: dict[int, set[int]] = {}  # source -> clusters with a free output and no free row that hold it
    placed: list[int] = []
    empty: set[int] = set()
    for i, (uid, sources) in enumerate(units):
        if expired is not None and i % (4 * CHECK_EVERY) == 0 and expired():
            return None
        s = len(sources)
        best, best_util = -1, -1
        counts: dict[int, int] = {}
        unheld = 0
        for x in sources:
            a, b = roomy.get(x, empty), full_rows.get(x, empty)
            if not a and not b:
                unheld += 1
            for c in a:
                counts[c] = counts.get(c, 0) + 1
        if unheld == 0:
            for x in sources:
                for c in full_rows.get(x, empty):
                    counts[c] = counts.get(c, 0) + 1
        for c, have in counts.items():
            if s - have <= R - len(inputs[c]):
                u = util[c]
                if u > best_util or (u == best_util and c < best):
                    best, best_util = c, u
        mask = free_mask >> s
        f = s
        while mask:
            if mask & 1:
                heap = buckets[f]
                while heap:  # drop entries that no longer describe the cluster
                    neg_cols, c = heap[0]
                    if R - len(inputs[c]) == f and -neg_cols == len(outputs[c]) < C:
                        break
                    heapq.heappop(heap)
                if heap:
                    c = heap[0][1]
                    u = util[c]
                    if u > best_util or (u == best_util and c < best):
                        best, best_util = c, u
                else:
                    free_mask &= ~(1 << f)
            mask >>= 1
            f += 1
        if best < 0:
            best = state.add_cluster()
        held = inputs[best]
        was_roomy = len(held) < R
        fresh = [x for x in sources if x not in held]
        state.place(best, sources, uid)
        cols, free = len(outputs[best]), R - len(held)
        if cols < C:
            index = roomy if free else full_rows
            for x in fresh:
                index.setdefault(x, set()).add(best)
            if free == 0 and was_roomy:  # rows just filled up: move the cluster's old sources too
                for x in held:
                    if best in roomy.get(x, empty):
                        roomy[x].discard(best)
                        full_rows.setdefault(x, set()).add(best)
            heapq.heappush(buckets.setdefault(free, []), (-cols, best))
            free_mask |= 1 << free
        else:  # no free output: never a candidate again
            for x in held:
                roomy.get(x, empty).discard(best)
                full_rows.get(x, empty).discard(best)
        placed.append(best)
    return placed


@dataclass(frozen=True)
class Connectors:
    """The connector clusters ``connectedComponents`` adds: which id each new neuron relays."""

    components: int  # connected components of the cluster graph before connectors
    relayed: list[int]  # per connector neuron, the id it reads (a neuron, or an earlier connector neuron)
    source: list[int]  # per connector neuron, the cluster whose output it relays (-1: a connector's)
    cluster: list[int]  # per connector neuron, its connector cluster (0-based among the connectors)


def connect_components(state: Clusters, first_new_id: int) -> Connectors:
    """``Clusters::connectedComponents``: relay one neuron per component into connector clusters.

    New neurons get ids ``first_new_id``, ``first_new_id + 1``, ... (the tool's
    ``neuron_status.size()``). The depth-first search is written out (not networkx's)
    because the relayed neuron is the first sink met in the tool's own visiting order.
    """
    n_cb = state.count
    out: list[set[int]] = [set() for _ in range(n_cb)]
    inc: list[set[int]] = [set() for _ in range(n_cb)]
    for cid, outputs in enumerate(state.outputs):  # postClustering
        for o in outputs:
            for dest in state.readers.get(o, ()):
                out[cid].add(dest)
                inc[dest].add(cid)
    visited = [False] * n_cb
    comps: list[list[int]] = []
    for start in range(n_cb):  # iterativeDFS
        if visited[start]:
            continue
        stack, comp = [start], []
        while stack:
            v = stack.pop()
            if visited[v]:
                continue
            visited[v] = True
            comp.append(v)
            stack.extend(w for w in (*sorted(out[v]), *sorted(inc[v])) if not visited[w])
        comps.append(comp)
    relayed: list[int] = []
    source: list[int] = []
    cluster: list[int] = []
    if len(comps) > 1:
        sinks = [next(c for c in comp if not out[c]) for comp in comps if any(not out[c] for c in comp)]
        size = min(state.rows, state.columns)
        pending = [(min(state.outputs[c]), c) for c in reversed(sinks)]  # pop from the end = the tool's front
        current = -1
        while pending:
            if len(relayed) % size == 0:
                if relayed and size > 1:  # chain the full connector cluster to the next one (its first new neuron)
                    pending.append((first_new_id + current * size, -1))
                current += 1
            rid, src = pending.pop()
            relayed.append(rid)
            source.append(src)
            cluster.append(current)
    return Connectors(len(comps), relayed, source, cluster)
