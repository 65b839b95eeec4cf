"""The decomposed network N' (docs/model.md, section 3) and the one routine that builds it.

N' is itself a :class:`~mapopt.network.Network`: input neurons and every original compute
neuron keep their ids (a decomposed neuron's id becomes its **root** unit), and the extra
neural units are appended after them. Three per-unit arrays record provenance
(``origin``, ``position``, ``level``); ``edge_origin`` ties every synapse of N' to the
original synapse it realises (or -1 for a partial-sum edge between units), and
``pruned`` lists the original synapses a prune strategy dropped. Every strategy (chain,
tree, prune, ...) only decides *which unit takes which input* and *which unit feeds which*;
:func:`assemble` turns that into N' with numpy, once, for all of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cached_property
from itertools import pairwise

import numpy as np

from mapopt.network import CHUNK, Network, index_dtype

TRAFFIC_MODES = ("upper", "simulated")


@dataclass(frozen=True, eq=False)
class Decomposition:
    """A network N and its decomposition N' into neural units.

    Attributes
    ----------
    original:
        The network N.
    network:
        N': units as neurons, partial-sum edges with weight 1.
    origin, position, level:
        Per neuron of N': the original neuron it belongs to, its index inside that
        neuron's chain/tree (the root has the largest), and its distance in edges to the root.
    edge_origin:
        Per synapse of N': index of the original synapse it realises, -1 for a partial sum.
    pruned:
        Indices of the original synapses dropped (prune strategies only).
    strategy, arity, traffic:
        How N' was made: strategy name, unit arity k (None when nothing was unrolled) and
        the traffic model of non-root units (``upper`` or ``simulated``).
    connectors:
        The last ``connectors`` neurons of N' are *connector units*: each relays the spikes
        of one unit (one input edge, marked -1 in ``edge_origin``) and realises nothing of
        N. The authors' partitioner adds them, in crossbars of their own, to connect a
        cluster graph that falls apart (``Clusters::connectedComponents``); they take
        columns and rows like any unit and their ``origin`` is that of the unit they relay.
    dropped:
        Non-root units whose partial sum goes nowhere (they send none). The authors'
        partitioner does this when it unrolls with k >= 3 (see ``solvers/paper.py``); the
        synapses feeding such a unit, directly or through its upstream units, never reach
        their neuron (:attr:`lost_synapses`), and are reported, like pruned ones.
    layout:
        Optional ``int64[n']``: a crossbar per unit (-1 for inputs) that the strategy found
        while choosing N' (``auto`` packs its candidates to rank them). A proposal that
        solvers may start from, never trusted: every mapping is re-checked by the validator.
    """

    original: Network
    network: Network
    origin: np.ndarray
    position: np.ndarray
    level: np.ndarray
    edge_origin: np.ndarray
    pruned: np.ndarray
    strategy: str
    arity: int | None
    traffic: str = "upper"
    connectors: int = 0
    dropped: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    layout: np.ndarray | None = None

    @property
    def is_root(self) -> np.ndarray:
        return self.level == 0

    @property
    def is_connector(self) -> np.ndarray:
        """Mask of N' neurons that are connector units (the last :attr:`connectors` ones)."""
        mask = np.zeros(self.network.n_neurons, dtype=bool)
        if self.connectors:
            mask[-self.connectors :] = True
        return mask

    @cached_property
    def lost_synapses(self) -> np.ndarray:
        """Original synapses realised in a unit whose partial sums end in a :attr:`dropped` unit."""
        net = self.network
        if self.dropped.size == 0:
            return np.zeros(0, dtype=np.int64)
        lost = np.zeros(net.n_neurons, dtype=bool)
        lost[self.dropped] = True
        partial = (self.edge_origin < 0) & ~self.is_connector[net.post]
        src, dst = net.pre[partial], net.post[partial]
        by_level = np.argsort(self.level[src], kind="stable")  # consumers (one level lower) first
        src, dst = src[by_level], dst[by_level]
        bounds = np.flatnonzero(np.diff(self.level[src])) + 1
        for s_part, d_part in zip(np.split(src, bounds), np.split(dst, bounds), strict=True):
            lost[s_part] |= lost[d_part]
        raw = self.edge_origin >= 0
        return np.sort(self.edge_origin[raw & lost[net.post]])

    @property
    def compute(self) -> np.ndarray:
        """Mask of N' neurons that need a crossbar column (all but inputs)."""
        return ~self.network.is_input

    @property
    def n_units(self) -> int:
        return int(self.compute.sum())

    @property
    def extra_units(self) -> int:
        return self.network.n_neurons - self.original.n_neurons

    @cached_property
    def depth(self) -> int:
        """Max number of units on a path inside one decomposed neuron (1 when none is)."""
        levels = self.level[self.compute]
        return int(levels.max()) + 1 if levels.size else 0

    @property
    def pruned_synapses(self) -> int:
        return len(self.pruned)

    @property
    def pruned_weight_fraction(self) -> float:
        total = float(np.abs(self.original.weight).sum())
        if total == 0.0:
            return 0.0
        return float(np.abs(self.original.weight[self.pruned]).sum()) / total

    def summary(self) -> dict[str, object]:
        return {
            "strategy": self.label,
            "units": self.n_units,
            "extra_units": self.extra_units,
            "depth": self.depth,
            "synapses_kept": int((self.edge_origin >= 0).sum()),
            "synapses_pruned": self.pruned_synapses,
            "pruned_weight_fraction": self.pruned_weight_fraction,
            "partial_edges": int(((self.edge_origin < 0) & ~self.is_connector[self.network.post]).sum()),
            "traffic": self.traffic,
            "connector_units": self.connectors,
            "dropped_partials": int(self.dropped.size),
            "synapses_lost": int(self.lost_synapses.size),
        }

    @property
    def label(self) -> str:
        return self.strategy if self.arity is None else f"{self.strategy}:{self.arity}"


def assemble(
    net: Network,
    *,
    keep: np.ndarray | None,
    edge_unit: np.ndarray,
    units_per_neuron: np.ndarray,
    partial_src: np.ndarray,
    partial_dst: np.ndarray,
    unit_level: np.ndarray,
    strategy: str,
    arity: int | None,
) -> Decomposition:
    """Build N' from per-neuron local unit indices.

    Parameters
    ----------
    net:
        The original network N.
    keep:
        ``bool[E]``: original synapses that are realised (the others are pruned); None: all.
    edge_unit:
        ``int[E]``: for each kept synapse, the *local* index (0-based, within its
        post-synaptic neuron) of the unit that takes it as a raw input.
    units_per_neuron:
        ``int[n]``: number of units of each neuron (1 when it is not decomposed, 0 for
        inputs). The unit with local index ``units_per_neuron[v] - 1`` is the root.
    partial_src, partial_dst:
        Partial-sum edges as *global unit slots* (see :func:`unit_slots`).
    unit_level:
        ``int[sum(units_per_neuron)]`` per unit slot: distance to the root (root 0).

    N' is written straight into its final ``(post, pre)`` order, in chunks of whole
    neurons, without an E-sized sort key or permutation: within one unit of N', raw inputs
    (original neurons, ids < n) come before partial sums (non-root units, ids >= n), raw
    inputs keep N's ascending order under a stable per-chunk sort by unit, and each edge's
    position is its unit's CSR offset plus its rank there. When nothing is unrolled or
    pruned, N' shares N's synapse arrays.
    """
    n = net.n_neurons
    units_per_neuron = np.asarray(units_per_neuron, dtype=np.int64)
    start = unit_slots(units_per_neuron)
    total = int(units_per_neuron.sum())
    # Map unit slots to N' ids: the root of v is v itself; non-roots get n, n+1, ...
    slot_owner = np.repeat(np.arange(n), units_per_neuron)
    slot_local = np.arange(total) - start[slot_owner]
    slot_id = slot_ids(units_per_neuron)
    n_prime = n + total - int((units_per_neuron > 0).sum())

    origin = np.arange(n_prime, dtype=np.int64)
    origin[slot_id] = slot_owner
    position = np.zeros(n_prime, dtype=np.int32)
    position[slot_id] = slot_local
    level = np.zeros(n_prime, dtype=np.int32)
    level[slot_id] = unit_level
    kept_all = keep is None or bool(np.all(keep))
    origin_ids = index_dtype(net.n_synapses + 1)  # edge_origin also holds -1
    if kept_all and n_prime == n and len(partial_src) == 0:  # N' = N: share the synapse arrays
        pre, post, weight = net.pre, net.post, net.weight
        edge_origin = np.arange(net.n_synapses, dtype=origin_ids)
    else:
        pre, post, weight, edge_origin = _ordered_synapses(
            net, None if kept_all else keep, edge_unit, start, slot_id.astype(index_dtype(n_prime)), n_prime,
            slot_id[partial_src], slot_id[partial_dst], origin_ids,
        )  # fmt: skip
    pruned = np.flatnonzero(~np.asarray(keep)).astype(origin_ids) if not kept_all else np.zeros(0, dtype=origin_ids)

    is_input = net.is_input[origin]
    # Only the root keeps the neuron's dynamics: its constant input (bias) too. A non-root
    # unit passes on a pure sum of its inputs; giving it the bias as well would add it once
    # per unit.
    bias = np.where(level == 0, net.bias[origin], 0.0)
    prime = Network(
        name=f"{net.name}/{strategy}" + ("" if arity is None else f":{arity}"),
        is_input=is_input,
        pre=pre,
        post=post,
        weight=weight,
        spikes=upper_traffic_from(net.spikes[origin], pre, post, edge_origin, level),
        spike_source=f"{net.spike_source}; non-root units: upper (sum of input spikes)",
        timesteps=net.timesteps,
        threshold=net.threshold[origin],
        leak=net.leak[origin],
        layer=net.layer[origin],
        bias=bias,
        reset=net.reset[origin],
        task=net.task,
    )
    return Decomposition(
        original=net,
        network=prime,
        origin=origin,
        position=position,
        level=level,
        edge_origin=edge_origin,
        pruned=pruned,
        strategy=strategy,
        arity=arity,
        traffic="upper",
    )


def _ordered_synapses(
    net: Network,
    keep: np.ndarray | None,
    edge_unit: np.ndarray,
    start: np.ndarray,
    slot_id: np.ndarray,
    n_prime: int,
    partial_pre: np.ndarray,
    partial_post: np.ndarray,
    origin_ids: np.dtype,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The synapses of N' in ``(post, pre)`` order: ``(pre, post, weight, edge_origin)`` (see :func:`assemble`)."""
    ids = slot_id.dtype
    # the N' unit of every kept synapse (int32 when ids fit), computed once in chunks
    e_all = np.flatnonzero(keep) if keep is not None else None
    n_raw = net.n_synapses if e_all is None else e_all.size
    unit_of = np.empty(n_raw, dtype=ids)
    for lo in range(0, n_raw, CHUNK):
        e = np.arange(lo, min(lo + CHUNK, n_raw)) if e_all is None else e_all[lo : lo + CHUNK]
        unit_of[lo : lo + e.size] = slot_id[start[net.post[e]] + edge_unit[e]]
    raw_count = np.bincount(unit_of, minlength=n_prime)
    part_count = np.bincount(partial_post, minlength=n_prime)
    ptr = np.concatenate(([0], np.cumsum(raw_count + part_count)))
    size = int(ptr[-1])
    pre = np.empty(size, dtype=ids)
    post = np.empty(size, dtype=ids)
    weight = np.empty(size, dtype=net.weight.dtype)
    edge_origin = np.empty(size, dtype=origin_ids)
    # raw inputs: each unit's slice starts with them, in N's (ascending pre) order; chunks end at neuron boundaries
    kept_ptr = net.in_ptr if e_all is None else np.searchsorted(e_all, net.in_ptr)
    for lo, hi in _neuron_chunks(kept_ptr):
        unit = unit_of[lo:hi]
        order = np.argsort(unit, kind="stable")
        unit = unit[order]
        e = lo + order if e_all is None else e_all[lo + order]
        at = ptr[unit] + np.arange(unit.size) - np.searchsorted(unit, unit)
        pre[at], post[at], weight[at], edge_origin[at] = net.pre[e], unit, net.weight[e], e
    del unit_of
    # partial sums: after the unit's raw inputs (their sources are non-root units, ids >= n), by source
    order = np.lexsort((partial_pre, partial_post))
    pp, pq = partial_post[order], partial_pre[order]
    at = ptr[pp] + raw_count[pp] + np.arange(pp.size) - np.searchsorted(pp, pp)
    pre[at], post[at], weight[at], edge_origin[at] = pq, pp, 1.0, -1
    return pre, post, weight, edge_origin


def _neuron_chunks(in_ptr: np.ndarray, chunk: int = CHUNK) -> list[tuple[int, int]]:
    """Synapse ranges ``[lo, hi)`` of about ``chunk`` synapses that start and end at neuron boundaries."""
    total = int(in_ptr[-1])
    cuts = np.unique(np.concatenate(([0], in_ptr[np.searchsorted(in_ptr, np.arange(chunk, total, chunk))], [total])))
    return [(int(a), int(b)) for a, b in pairwise(cuts.tolist()) if b > a]


def upper_traffic_from(
    spikes: np.ndarray, pre: np.ndarray, post: np.ndarray, edge_origin: np.ndarray, level: np.ndarray
) -> np.ndarray:
    """Spike counts with every non-root unit sending the sum of its inputs' spikes (``upper`` traffic).

    This is the count the paper's public code uses (an upper bound on the timesteps in
    which the unit sends a nonzero partial). A non-root unit's count is the sum, over its
    subtree, of the spikes of its raw inputs: the raw sums are one pass over the synapses
    (in chunks), then partial sums flow up the few partial-sum edges, deepest level first.
    ``spikes`` gives every neuron of N' its original neuron's count; roots keep it.
    """
    out = np.asarray(spikes, dtype=np.float64).copy()
    non_root = level > 0
    if not non_root.any():
        return out
    out[non_root] = 0.0
    raw_in = np.zeros(len(out))
    for lo in range(0, len(pre), CHUNK):
        p, q = pre[lo : lo + CHUNK], post[lo : lo + CHUNK]
        into = non_root[q] & (edge_origin[lo : lo + CHUNK] >= 0)
        raw_in += np.bincount(q[into], weights=spikes[p[into]], minlength=len(out))
    out[non_root] = raw_in[non_root]
    part = np.flatnonzero(edge_origin < 0)
    src, dst = pre[part], post[part]
    up = non_root[dst]
    src, dst = src[up], dst[up]
    for lv in np.unique(level[src])[::-1]:  # children of one level are final before their parents
        at = level[src] == lv
        np.add.at(out, dst[at], out[src[at]])
    return out


def slot_ids(units_per_neuron: np.ndarray) -> np.ndarray:
    """The N' id of every unit slot of :func:`assemble`: the root of v is v, the others n, n+1, ... in slot order."""
    n = len(units_per_neuron)
    total = int(units_per_neuron.sum())
    slot_owner = np.repeat(np.arange(n), units_per_neuron)
    slot_local = np.arange(total) - unit_slots(units_per_neuron)[slot_owner]
    is_root = slot_local == units_per_neuron[slot_owner] - 1
    ids = np.empty(total, dtype=np.int64)
    ids[is_root] = slot_owner[is_root]
    ids[~is_root] = n + np.arange(int((~is_root).sum()))
    return ids


def with_connectors(dec: Decomposition, relayed: np.ndarray) -> Decomposition:
    """``dec`` with one connector unit appended per entry of ``relayed`` (the N' unit it relays).

    Connector units (:attr:`Decomposition.connectors`) take the ids after N'; each reads its
    relayed unit by a weight-1 edge marked -1 and emits that unit's spikes, so a chain of
    connectors (the authors' connector clusters are chained when one is full) carries them on.
    """
    relayed = np.asarray(relayed, dtype=np.int64)
    if relayed.size == 0:
        return dec
    net = dec.network
    n_old = net.n_neurons
    new = n_old + np.arange(relayed.size)
    origin = np.concatenate((dec.origin, np.zeros(relayed.size, dtype=dec.origin.dtype)))
    spikes = np.concatenate((net.spikes, np.zeros(relayed.size)))
    for i, r in enumerate(relayed.tolist()):  # a connector may relay an earlier connector
        origin[n_old + i], spikes[n_old + i] = origin[r], spikes[r]
    prime = Network(
        name=net.name,
        is_input=np.concatenate((net.is_input, np.zeros(relayed.size, dtype=bool))),
        pre=np.concatenate((net.pre, relayed)),
        post=np.concatenate((net.post, new)),  # posts beyond n_old: still sorted by (post, pre)
        weight=np.concatenate((net.weight, np.ones(relayed.size))),
        spikes=spikes,
        spike_source=net.spike_source + "; connector units: the spikes they relay",
        timesteps=net.timesteps,
        threshold=np.concatenate((net.threshold, dec.original.threshold[origin[n_old:]])),
        leak=np.concatenate((net.leak, dec.original.leak[origin[n_old:]])),
        layer=np.concatenate((net.layer, dec.original.layer[origin[n_old:]])),
        bias=np.concatenate((net.bias, np.zeros(relayed.size))),  # a relay adds nothing of its own
        reset=np.concatenate((net.reset, dec.original.reset[origin[n_old:]])),
        task=net.task,
    )
    zeros = np.zeros(relayed.size, dtype=dec.position.dtype)
    return replace(
        dec,
        network=prime,
        origin=origin,
        position=np.concatenate((dec.position, zeros)),
        level=np.concatenate((dec.level, zeros.astype(dec.level.dtype))),
        edge_origin=np.concatenate((dec.edge_origin, np.full(relayed.size, -1, dtype=np.int64))),
        connectors=dec.connectors + int(relayed.size),
    )


def unit_slots(units_per_neuron: np.ndarray) -> np.ndarray:
    """Start slot of each neuron's units in the global slot numbering used by :func:`assemble`."""
    return np.concatenate(([0], np.cumsum(units_per_neuron)))[:-1]


def with_unit_spikes(
    dec: Decomposition, spikes: np.ndarray, *, traffic: str, source: str, timesteps: int | None = None
) -> Decomposition:
    """A copy of ``dec`` whose N' spike counts (inputs, roots and non-root units) are ``spikes``.

    ``traffic`` names how the non-root counts were obtained (one of :data:`TRAFFIC_MODES`);
    :func:`mapopt.simulate.with_simulated_traffic` uses this for ``simulated`` traffic.
    """
    if traffic not in TRAFFIC_MODES:
        raise ValueError(f"traffic must be one of {TRAFFIC_MODES}, got {traffic!r}")
    prime = dec.network.with_spikes(spikes, source, timesteps=timesteps)
    return replace(dec, network=prime, traffic=traffic)
