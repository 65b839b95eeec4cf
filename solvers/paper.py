"""``paper``: the authors' own partitioner and placer, step by step, count for count.

Balaji et al. (IEEE ESL 2020, arXiv 2009.09298) produce their results with the public
toolchain drexel-DISCO/SpiNeMap. This solver does what its code does, on mapopt's model:

1. Input lists (``SNNPartitioning/include/unroll/unroll.cc``, ``Model::readConnections``):
   each neuron's inputs in the order its connection file lists them, repeats included
   (:attr:`mapopt.network.Network.listing`; ascending pre-synaptic id for every net that
   did not come from such a file, which is the order :func:`mapopt.io.write_spinemap`
   gives the tool).
2. Unrolling (``Model::unroll``, same file): a neuron with more than k entries becomes a
   chain: unit 0 takes entries [0, k), unit j the previous unit and k-1 more, the neuron
   itself the rest. Without ``--unroll-fanin`` nothing is unrolled and ``minClusters``
   keeps the first 128 entries: mapopt's ``prune-first`` decomposition.
3. Clustering (``include/cluster/cluster.cc``, ``Clusters::minClusters``,
   ``numCanBePacked``, ``packToCluster``; :mod:`solvers.common.minclusters`): neuron by
   neuron, clusters sorted by utilization with ``std::sort`` (libstdc++'s order of ties,
   :mod:`solvers.common.stdsort`), each offered the pending inputs in turn. For an unrolled
   neuron the pending list is the raw inputs of the whole chain, and each cluster takes a
   *piece* as long as its free rows allow (at least k entries): the output it gets is the
   chain unit of the piece's last input, which then enters the next piece as its partial
   sum. So the published "k = 2" is a chain whose links are as long as the free rows of a
   crossbar, not of 2-input units. mapopt builds N' from the pieces (strategy ``pieces``):
   one unit per piece, a partial-sum edge to the next piece.
4. Connector clusters (``include/cluster/cluster.hh``, ``Clusters::connectedComponents``):
   when the cluster graph is not connected, connector clusters relay one neuron per
   component; they count as crossbars and are kept here as connector units
   (``connectors=False`` leaves them out).
5. Placement (``SNNPlacer/pso/placer.py``, ``generateNodeMappingInfo``): despite the
   folder's name, each cluster goes to a distinct node drawn at random (there unseeded,
   here from the run's seed); ``placement="in-order"`` fills the tiles nearest the I/O
   tile first instead.

Two defects of the code are reproduced, not repaired, and reported: with k >= 3 a piece
whose last input lies in the root's own range of the chain (its last k-1 or fewer inputs)
gets the neuron itself as output, so no partial sum is pushed and the pieces before it
are never added to the rest (``dropped_partials``, ``lost_synapses``); a repeated input
takes an entry (and a row) each time it is listed.

The paper's *text* instead describes 2-input units, each neuron a chain of m-1 of them:
that reading is ``chain:2@paper``, every unit of N' a column, packed by the same rule.
For any decomposition mapopt makes with extra units (chain, tree, auto), units are packed
whole, the most utilised crossbar that takes one first, ties to the lower crossbar id
(the tool never sees such an N', so it has no order of ties to follow, and its sort of
every crossbar per unit would cost O(units x crossbars)).
"""

from __future__ import annotations

from dataclasses import replace
from typing import ClassVar

import numpy as np

from mapopt.decompose.base import Decomposition, assemble, slot_ids, unit_slots, with_connectors
from mapopt.mapping import Mapping
from mapopt.network import Network
from mapopt.problem import MappingProblem
from mapopt.simulate import with_simulated_traffic
from mapopt.solver import Outcome, SolveContext, Solver
from mapopt.space import Categorical, SearchSpace
from solvers.common.minclusters import Clusters, Item, Piece, cluster_exact, cluster_whole_units, connect_components
from solvers.common.placement import place_in_order

PLACEMENTS = ("random", "in-order")


class Paper(Solver):
    """The authors' SNNPartitioning ``min-clusters`` (count for count) and SNNPlacer placement."""

    name = "paper"
    description = "the authors' partitioner (SpiNeMap min-clusters, count for count) and random placement"
    decides: ClassVar[frozenset[str]] = frozenset({"pieces"})

    #: Tunable hyperparameters (mapopt.space): the placement method, and whether connector
    #: clusters are added (the authors' partitioner adds them).
    space = SearchSpace(Categorical("connectors", (True, False)), Categorical("placement", PLACEMENTS))

    def __init__(self, *, connectors: bool = True, placement: str = "random"):
        self.connectors = connectors
        self.placement = placement

    def _solve(self, problem: MappingProblem, ctx: SolveContext) -> Outcome:
        if self.placement not in PLACEMENTS:
            raise ValueError(f"placement must be one of {PLACEMENTS}, got {self.placement!r}")
        dec, hw = problem.decomposition, problem.hardware
        state = Clusters(hw.rows, hw.columns, hw.fanin)
        expired = ctx.expired
        if dec.strategy == "pieces":
            k = int(dec.arity or 2)
            items, first_new = unrolled_items(dec.original, k)
            pieces = cluster_exact(items, state, min_fanin=k, expired=expired)
            if pieces is None:
                return Outcome(None, message="time limit reached while clustering")
            simulated = dec.traffic == "simulated"
            dec, unit_crossbar, outputs = pieces_decomposition(dec.original, k, items, pieces)
            if simulated:  # the pieces' N' is new: simulate it as the pipeline simulated the k-chain
                dec = with_simulated_traffic(dec, seed=ctx.seed)
        elif dec.extra_units == 0:  # one unit per neuron: the tool's own mode without unrolling
            items = whole_items(dec, hw.fanin, hw.rows)
            pieces = cluster_exact(items, state, min_fanin=hw.fanin, expired=expired)
            if pieces is None:
                return Outcome(None, message="time limit reached while clustering")
            unit_crossbar = np.full(dec.network.n_neurons, -1, dtype=np.int64)
            for item, (piece,) in zip(items, pieces, strict=True):
                unit_crossbar[item.neuron] = piece.cluster
            outputs = {}
            first_new = dec.network.n_neurons
        else:
            net = dec.network
            units = np.flatnonzero(dec.compute)
            units = units[np.lexsort((dec.position[units], dec.origin[units]))]
            ptr, pre = net.in_ptr, net.pre
            units_in = ((u, pre[ptr[u] : ptr[u + 1]].tolist()) for u in units.tolist())
            placed = cluster_whole_units(units_in, state, expired=expired)
            if placed is None:
                return Outcome(None, message="time limit reached while clustering")
            unit_crossbar = np.full(net.n_neurons, -1, dtype=np.int64)
            unit_crossbar[units] = placed
            outputs = {}
            first_new = net.n_neurons
        net = dec.network
        rest = np.flatnonzero(dec.compute & (unit_crossbar < 0))  # compute units the tool skips: no input
        unit_crossbar[rest] = cluster_whole_units(((u, []) for u in rest.tolist()), state)  # type: ignore[assignment]
        regular = state.count
        info: dict[str, object] = {"regular_crossbars": regular}
        if self.connectors:
            conn = connect_components(state, first_new)
            info["components"] = conn.components
            if conn.relayed:
                n_prime = net.n_neurons
                relayed = [
                    n_prime + t - first_new if t >= first_new else outputs.get((c, t), t)  # tool id -> unit of N'
                    for t, c in zip(conn.relayed, conn.source, strict=True)
                ]
                dec = with_connectors(dec, np.asarray(relayed, dtype=np.int64))
                unit_crossbar = np.concatenate((unit_crossbar, regular + np.asarray(conn.cluster, dtype=np.int64)))
        info["connector_crossbars"] = int(unit_crossbar.max()) + 1 - regular if unit_crossbar.size else 0
        mapping = self._place(problem, unit_crossbar, ctx)
        changed = dec is not problem.decomposition
        return Outcome(mapping, info=info, decomposition=dec if changed else None)

    def _place(self, problem: MappingProblem, unit_crossbar: np.ndarray, ctx: SolveContext) -> Mapping:
        if self.placement == "in-order":
            return place_in_order(problem, unit_crossbar)
        n_cb = int(unit_crossbar.max()) + 1 if (unit_crossbar >= 0).any() else 0
        hw = problem.hardware_for(n_cb)
        slots = hw.crossbar_slots()
        return Mapping(unit_crossbar, slots[ctx.rng.permutation(slots.size)[:n_cb]], hw.mesh)


def whole_items(dec: Decomposition, fanin: int, rows: int) -> list[Item]:
    """One whole :class:`Item` per compute neuron of an N' without extra units.

    Entries are the neuron's input-list entries before position F whose synapse N' keeps
    (``prune-first``: exactly the tool's pending list; a pair listed twice takes two
    entries), then any kept input first listed later (none for ``prune-first``). A list
    that no empty crossbar could take whole (repeats over min(F, R) entries) counts each
    input once.
    """
    net = dec.original
    kept = np.zeros(net.n_synapses, dtype=bool)
    kept[dec.edge_origin[dec.edge_origin >= 0]] = True
    entries, ptr = net.listing
    position = np.arange(entries.size) - ptr[net.post[entries]]
    first = position == net.first_entry[entries]
    take = kept[entries] & ((position < fanin) | first)
    pre = net.pre[entries]
    items = []
    for v in np.flatnonzero(~net.is_input).tolist():
        a, b = ptr[v], ptr[v + 1]
        mask = take[a:b]
        ids = pre[a:b][mask].tolist()
        if len(ids) > min(fanin, rows):
            ids = pre[a:b][mask & first[a:b]].tolist()
        if ids:  # a neuron with no input is skipped, as by the tool (placed afterwards)
            items.append(Item(v, ids, [v] * len(ids), whole=True))
    return items


def unrolled_items(net: Network, k: int) -> tuple[list[Item], int]:
    """``Model::unroll`` with max fan-in ``k``, as :class:`Item` lists for ``minClusters``.

    A neuron with m > k entries gets ceil((m - k) / (k - 1)) + 1 units, the neuron itself
    the last; the others take the tool's ids, n, n+1, ... in neuron order. ``owner`` of an
    entry is the unit its first occurrence belongs to (``input_to_output_map``). Returns the
    items and the number of ids the tool uses (its first connector id).
    """
    entries, ptr = net.listing
    m = np.diff(ptr)
    unrolled = m > k
    units = np.where(unrolled, -(-(m - k) // (k - 1)) + 1, 1)
    base = net.n_neurons + np.concatenate(([0], np.cumsum(units - 1)))[:-1]
    post = net.post[entries]
    first = net.first_entry[entries]
    chain = np.where(first < k, 0, 1 + (first - k) // (k - 1))
    owner = np.where(chain == units[post] - 1, post, base[post] + chain)
    pre = net.pre[entries]
    items = [
        Item(v, pre[ptr[v] : ptr[v + 1]].tolist(), owner[ptr[v] : ptr[v + 1]].tolist())
        for v in np.flatnonzero(m > 0).tolist()
    ]
    return items, net.n_neurons + int((units - 1).sum())


def pieces_decomposition(
    net: Network, k: int, items: list[Item], pieces: list[list[Piece]]
) -> tuple[Decomposition, np.ndarray, dict[tuple[int, int], int]]:
    """N' of the pieces (one unit per piece), its unit -> cluster array and (cluster, tool output) -> unit.

    A piece that pushed its output on feeds the next piece; one that did not while inputs
    remained (the tool's lost partial sum) is listed in ``dropped``. Each synapse goes to
    the piece holding its first entry. Levels count pieces to the end of their run.
    """
    n = net.n_neurons
    per_neuron = np.zeros(n, dtype=np.int64)
    for item, ps in zip(items, pieces, strict=True):
        per_neuron[item.neuron] = len(ps)
    per_neuron[~net.is_input & (per_neuron == 0)] = 1  # (a compute neuron with no input: one unit)
    start = unit_slots(per_neuron)
    ids = slot_ids(per_neuron)
    total = int(per_neuron.sum())
    level = np.zeros(total, dtype=np.int64)
    edge_unit = np.zeros(net.n_synapses, dtype=np.int64)
    src: list[int] = []
    slot_cluster = np.full(total, -1, dtype=np.int64)
    dropped_slots: list[int] = []
    lists = []
    first = net.first_entry
    for item, ps in zip(items, pieces, strict=True):
        v, s0 = item.neuron, start[item.neuron]
        run = 0
        for j in range(len(ps) - 1, -1, -1):
            piece = ps[j]
            slot_cluster[s0 + j] = piece.cluster
            if j == len(ps) - 1:
                run = 0
            elif piece.forwards:
                run += 1
                src.append(s0 + j)
            else:
                run = 1
                dropped_slots.append(s0 + j)
            level[s0 + j] = run
        lists.append((v, np.asarray([p.start for p in ps], dtype=np.int64)))
    for v, starts in lists:  # each synapse of v to the piece holding its first entry
        lo, hi = net.in_ptr[v], net.in_ptr[v + 1]
        edge_unit[lo:hi] = np.searchsorted(starts, first[lo:hi], side="right") - 1
    partial_src = np.asarray(src, dtype=np.int64)
    dec = assemble(
        net,
        keep=np.ones(net.n_synapses, dtype=bool),
        edge_unit=edge_unit,
        units_per_neuron=per_neuron,
        partial_src=partial_src,
        partial_dst=partial_src + 1,
        unit_level=level,
        strategy="pieces",
        arity=k,
    )
    dec = replace(dec, dropped=np.sort(ids[np.asarray(dropped_slots, dtype=np.int64)]))
    unit_crossbar = np.full(dec.network.n_neurons, -1, dtype=np.int64)
    unit_crossbar[ids] = slot_cluster
    outputs = {
        (piece.cluster, piece.output): int(ids[start[item.neuron] + j])
        for item, ps in zip(items, pieces, strict=True)
        for j, piece in enumerate(ps)
    }
    return dec, unit_crossbar, outputs
