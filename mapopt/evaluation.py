"""The validator and the metrics: the single source of truth for "valid" and "cost".

:func:`check` tests every constraint of docs/model.md section 4 by its stable name
(``decomposition``, ``complete``, ``columns``, ``rows``, ``fanin``, ``tile-capacity``) and :func:`metrics`
computes every metric of section 5. Solvers never score themselves: the solver template
and every report call :func:`assess` on the final mapping.

Everything is vectorised over synapses. The central object is the set of *deliveries*:
distinct (source, destination crossbar) pairs, because a spike is multicast once per
destination crossbar (as SANA-FE counts packets); rows, traffic and hops all follow from it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from mapopt.decompose.base import Decomposition
from mapopt.hardware import Hardware
from mapopt.mapping import Mapping
from mapopt.network import CHUNK, Network

#: How many violations of one constraint are listed before the rest are summarised.
MAX_LISTED = 5


@dataclass(frozen=True)
class Violation:
    """One broken constraint: which, where, the limit and the actual value."""

    constraint: str
    item: str
    limit: object
    actual: object
    detail: str = ""

    def __str__(self) -> str:
        what = f": {self.detail}" if self.detail else ""
        return f"[{self.constraint}] {self.item}{what} (limit {self.limit}, actual {self.actual})"


@dataclass(frozen=True)
class Assessment:
    violations: list[Violation]
    metrics: dict[str, float | int | str] | None

    @property
    def valid(self) -> bool:
        return not self.violations


def _first(mask: np.ndarray) -> np.ndarray:
    return np.flatnonzero(mask)[:MAX_LISTED]


def deliveries(net: Network, unit_crossbar: np.ndarray, n_crossbars: int) -> tuple[np.ndarray, np.ndarray]:
    """Distinct (source, destination crossbar) pairs of N' when its units sit on ``unit_crossbar``.

    Sorted by source, then crossbar. This is the validator's central object (rows, traffic
    and hops follow from it); heuristics that condense an assignment into crossbar traffic
    use it too. ``n_crossbars`` exceeds every crossbar id in use.
    """
    ncb = max(int(n_crossbars), 1)
    # one int64 key per synapse, built in place (the id arrays may be int32: widen before multiplying)
    key = net.pre.astype(np.int64)
    key *= ncb
    key += unit_crossbar[net.post]
    # sort + adjacent-difference instead of np.unique: same result, but numpy 2.4's hash-based
    # np.unique is ~200x slower on millions of distinct int64 keys (measured in docs/benchmarks.md)
    key.sort()
    distinct = np.empty(key.size, dtype=bool)
    distinct[:1] = True
    np.not_equal(key[1:], key[:-1], out=distinct[1:])
    key = key[distinct]
    return key // ncb, key % ncb


def _deliveries(dec: Decomposition, mapping: Mapping) -> tuple[np.ndarray, np.ndarray]:
    """Distinct (source, destination crossbar) pairs of N' under the mapping."""
    return deliveries(dec.network, mapping.unit_crossbar, mapping.n_crossbar_ids)


def check(
    dec: Decomposition, hw: Hardware, mapping: Mapping, pairs: tuple[np.ndarray, np.ndarray] | None = None
) -> list[Violation]:
    """Every violated constraint, at most :data:`MAX_LISTED` items per constraint.

    ``pairs``: the mapping's :func:`deliveries`, if the caller has them already.
    """
    out = _check_sound(dec, mapping)
    if out:  # the other checks need a sound N' and a complete, in-range placement
        return out
    return _check_placed(dec, hw, mapping, pairs or _deliveries(dec, mapping))


def _check_sound(dec: Decomposition, mapping: Mapping) -> list[Violation]:
    """``decomposition`` and ``complete``."""
    return _check_decomposition(dec) + _check_complete(dec, mapping)


def _check_placed(
    dec: Decomposition, hw: Hardware, mapping: Mapping, pairs: tuple[np.ndarray, np.ndarray]
) -> list[Violation]:
    """The checks after ``decomposition`` and ``complete``: fan-in, columns, rows, tiles."""
    out = _check_fanin(dec, hw)
    out += _check_columns_rows(dec, hw, mapping, pairs)
    out += _check_tiles(hw, mapping)
    return out


def _check_complete(dec: Decomposition, mapping: Mapping) -> list[Violation]:
    net, orig = dec.network, dec.original
    out: list[Violation] = []
    n_prime = net.n_neurons
    if len(mapping.unit_crossbar) != n_prime:
        return [Violation("complete", "mapping", n_prime, len(mapping.unit_crossbar), "one entry per unit of N'")]
    compute = dec.compute
    cb = mapping.unit_crossbar
    for u in _first(compute & ((cb < 0) | (cb >= mapping.n_crossbar_ids))):
        out.append(
            Violation(
                "complete",
                f"unit {u} (neuron {dec.origin[u]})",
                f"0..{mapping.n_crossbar_ids - 1}",
                int(cb[u]),
                "compute unit not placed on an existing crossbar",
            )
        )
    for u in _first(~compute & (cb != -1)):
        out.append(Violation("complete", f"input neuron {u}", -1, int(cb[u]), "inputs take no crossbar column"))
    # every original synapse realised exactly once or pruned
    eo, e_orig = dec.edge_origin, orig.n_synapses
    realised = int(np.count_nonzero(eo >= 0))
    highest = max(int(eo.max(initial=-1)), int(dec.pruned.max(initial=-1)))
    if int(eo.min(initial=0)) < -1 or int(dec.pruned.min(initial=0)) < 0 or highest >= e_orig:
        out.append(
            Violation("complete", "decomposition", f"0..{e_orig - 1}", "out of range", "synapse index out of range")
        )
        return out
    covered = np.zeros(e_orig, dtype=bool)  # one byte per synapse, filled chunk by chunk: no E-sized copies
    for lo in range(0, len(eo), CHUNK):
        part = eo[lo : lo + CHUNK]
        covered[part[part >= 0]] = True
    covered[dec.pruned] = True
    if realised + len(dec.pruned) != e_orig or not covered.all():  # pigeonhole: else each exactly once
        times = np.bincount(np.concatenate((eo[eo >= 0], dec.pruned)), minlength=e_orig)
        for e in _first(times != 1):
            out.append(
                Violation(
                    "complete",
                    f"synapse {e} ({orig.pre[e]}->{orig.post[e]})",
                    1,
                    int(times[e]),
                    "must be realised exactly once or listed as pruned",
                )
            )
    return out


def _check_decomposition(dec: Decomposition) -> list[Violation]:
    """Decomposition integrity: N' computes N (docs/model.md, section 4, ``decomposition``).

    - ids: N' keeps N's neurons as its first n ids, each its own root (origin v, level 0);
      an extra unit (id >= n) is a non-root (level >= 1) of a compute neuron, and every
      neuron of N' is an input exactly when its origin is;
    - roots keep their neuron's threshold, leak, bias and reset potential (they apply its
      dynamics), and non-root units carry no bias (they pass on a pure sum);
    - positions: the units of a neuron are numbered 0..u-1 without repeats, the root last;
    - a raw synapse of N' realises its original synapse: same pre-synaptic neuron, a unit
      of the same post-synaptic neuron, the same weight;
    - a partial-sum edge has weight exactly 1 and goes from a unit to a unit of the same
      neuron one level closer to the root, and every non-root unit sends exactly one.
    Together: every unit's partial sum reaches its own root, so the root adds exactly the
    weighted inputs of the original neuron. Two exceptions the authors' partitioner needs
    (``Decomposition.connectors``, ``Decomposition.dropped``): connector units (the last
    ids) relay one compute unit each and are checked by :func:`_check_connectors`; a unit
    listed as dropped sends no partial sum (its inputs are reported as ``lost_synapses``).
    """
    net, orig = dec.network, dec.original
    n, n_prime = orig.n_neurons, net.n_neurons
    if n_prime < n:
        return [Violation("decomposition", "N'", f">= {n} neurons", n_prime, "N' must keep every neuron of N")]
    origin, level, position = dec.origin, dec.level, dec.position
    if n == 0:
        return []
    if origin.min(initial=0) < 0 or origin.max(initial=0) >= n:
        return [Violation("decomposition", "origin", f"0..{n - 1}", "out of range", "a unit's neuron must exist in N")]
    out: list[Violation] = []
    ids = np.arange(n_prime)
    kept = ids < n
    for u in _first(kept & ((origin != ids) | (level != 0))):
        out.append(Violation("decomposition", f"neuron {u}", f"origin {u}, level 0", f"origin {origin[u]}, level "
                             f"{level[u]}", "an original neuron is its own root"))  # fmt: skip
    connector = dec.is_connector
    bad_extra = ~kept & ~connector & ((level < 1) | orig.is_input[np.clip(origin, 0, n - 1)])
    for u in _first(bad_extra):
        out.append(Violation("decomposition", f"unit {u} (neuron {origin[u]})", "a non-root unit of a compute neuron",
                             f"level {level[u]}", "an extra unit is part of a decomposed compute neuron"))  # fmt: skip
    for u in _first(net.is_input != orig.is_input[origin]):
        out.append(Violation("decomposition", f"unit {u} (neuron {origin[u]})", bool(orig.is_input[origin[u]]),
                             bool(net.is_input[u]), "a unit is an input exactly when its neuron is"))  # fmt: skip
    roots = np.flatnonzero(~orig.is_input)
    params = (net.threshold[roots] != orig.threshold[roots]) | (net.leak[roots] != orig.leak[roots])
    params |= (net.bias[roots] != orig.bias[roots]) | (net.reset[roots] != orig.reset[roots])
    for v in roots[_first(params)]:
        out.append(Violation("decomposition", f"root {v}",
                             f"threshold {orig.threshold[v]}, leak {orig.leak[v]}, bias {orig.bias[v]}, "
                             f"reset {orig.reset[v]}",
                             f"threshold {net.threshold[v]}, leak {net.leak[v]}, bias {net.bias[v]}, "
                             f"reset {net.reset[v]}",
                             "a root applies its neuron's dynamics"))  # fmt: skip
    for u in _first(~kept & (net.bias != 0)):
        out.append(Violation("decomposition", f"unit {u} (neuron {origin[u]})", 0.0, float(net.bias[u]),
                             "a non-root unit passes on a pure sum: no bias"))  # fmt: skip
    if out:
        return out
    units = np.bincount(origin[~connector], minlength=n)
    order = np.flatnonzero(~connector)
    order = order[np.lexsort((position[order], origin[order]))]
    repeated = np.zeros(n_prime, dtype=bool)
    repeated[order[1:]] = (origin[order[1:]] == origin[order[:-1]]) & (position[order[1:]] == position[order[:-1]])
    misplaced = (position >= units[origin]) | repeated | (kept & (position != units[np.minimum(ids, n - 1)] - 1))
    for u in _first(misplaced & dec.compute & ~connector):
        out.append(Violation("decomposition", f"unit {u} (neuron {origin[u]})", f"0..{units[origin[u]] - 1}, root last",
                             int(position[u]), "unit positions number a neuron's units once each"))  # fmt: skip
    for i in _wrong_endpoints(dec):
        e = dec.edge_origin[i]
        out.append(
            Violation(
                "decomposition",
                f"synapse {e} ({orig.pre[e]}->{orig.post[e]})",
                f"{orig.pre[e]}->unit of {orig.post[e]} w={orig.weight[e]}",
                f"{net.pre[i]}->unit {net.post[i]} of {origin[net.post[i]]} w={net.weight[i]}",
                "realised with the wrong endpoints or weight",
            )
        )
    out += _check_connectors(dec, connector)
    part = np.flatnonzero((dec.edge_origin < 0) & ~connector[net.post])
    a, b = net.pre[part], net.post[part]
    for i in _first(net.weight[part] != 1.0):
        out.append(Violation("decomposition", f"partial edge {a[i]}->{b[i]}", 1.0, float(net.weight[part[i]]),
                             "a partial sum is passed on with weight exactly 1"))  # fmt: skip
    for i in _first((origin[a] != origin[b]) | (level[a] != level[b] + 1)):
        out.append(
            Violation(
                "decomposition",
                f"partial edge {a[i]}->{b[i]}",
                "unit of the same neuron, one level closer to the root",
                "elsewhere",
                "a partial sum must flow towards its own root",
            )
        )
    non_root = np.flatnonzero(dec.compute & (level > 0) & ~connector)
    outdeg = np.bincount(a, minlength=n_prime)
    sends = np.ones(n_prime, dtype=np.int64)
    sends[dec.dropped] = 0  # a dropped partial sum goes nowhere (reported as lost synapses)
    for u in _first(outdeg[non_root] != sends[non_root]):
        unit = non_root[u]
        out.append(
            Violation(
                "decomposition",
                f"unit {unit} (neuron {origin[unit]})",
                int(sends[unit]),
                int(outdeg[unit]),
                "a non-root unit sends its partial sum to exactly one unit"
                + (" (none: it is listed as dropped)" if sends[unit] == 0 else ""),
            )
        )
    return out


def _wrong_endpoints(dec: Decomposition) -> list[int]:
    """The first :data:`MAX_LISTED` raw synapses of N' that realise their original synapse wrongly.

    In chunks of :data:`~mapopt.network.CHUNK` synapses, so the check costs no E-sized
    temporaries; indices out of range are ``complete``'s to report.
    """
    net, orig = dec.network, dec.original
    found: list[int] = []
    for lo in range(0, net.n_synapses, CHUNK):
        eo = dec.edge_origin[lo : lo + CHUNK]
        raw = np.flatnonzero((eo >= 0) & (eo < orig.n_synapses))
        src = eo[raw]
        at = lo + raw
        wrong = (
            (net.pre[at] != orig.pre[src])
            | (dec.origin[net.post[at]] != orig.post[src])
            | (net.weight[at] != orig.weight[src])
        )
        found += at[np.flatnonzero(wrong)[: MAX_LISTED - len(found)]].tolist()
        if len(found) >= MAX_LISTED:
            break
    return found


def _check_connectors(dec: Decomposition, connector: np.ndarray) -> list[Violation]:
    """Connector units relay one compute unit each; only connectors read from connectors."""
    net = dec.network
    out: list[Violation] = []
    if dec.dropped.size and (
        dec.dropped.min() < 0 or dec.dropped.max() >= net.n_neurons or np.any(dec.level[dec.dropped] == 0)
    ):
        out.append(Violation("decomposition", "dropped units", "non-root units of N'", "other ids", "bad dropped list"))
    if not dec.connectors:
        return out
    into = connector[net.post]
    indeg = np.bincount(net.post[into], minlength=net.n_neurons)
    for u in _first(connector & (indeg != 1)):
        out.append(Violation("decomposition", f"connector unit {u}", 1, int(indeg[u]), "a connector relays one unit"))
    bad = into & ((dec.edge_origin >= 0) | net.is_input[net.pre])
    bad |= ~into & connector[net.pre]
    for i in _first(bad):
        out.append(
            Violation(
                "decomposition",
                f"edge {net.pre[i]}->{net.post[i]}",
                "compute unit -> connector unit, or connector -> connector",
                "other",
                "connector units only relay spikes of compute units",
            )
        )
    return out


def _check_fanin(dec: Decomposition, hw: Hardware) -> list[Violation]:
    fanin = dec.network.fanin
    return [
        Violation("fanin", f"unit {u} (neuron {dec.origin[u]})", hw.fanin, int(fanin[u]))
        for u in _first(fanin > hw.fanin)
    ]


def _check_columns_rows(
    dec: Decomposition, hw: Hardware, mapping: Mapping, pairs: tuple[np.ndarray, np.ndarray]
) -> list[Violation]:
    ncb = max(mapping.n_crossbar_ids, 1)
    cols = np.bincount(mapping.unit_crossbar[dec.compute], minlength=ncb)
    out = [Violation("columns", f"crossbar {c}", hw.columns, int(cols[c])) for c in _first(cols > hw.columns)]
    _, dest = pairs
    rows = np.bincount(dest, minlength=ncb)
    out += [Violation("rows", f"crossbar {c}", hw.rows, int(rows[c])) for c in _first(rows > hw.rows)]
    return out


def _check_tiles(hw: Hardware, mapping: Mapping) -> list[Violation]:
    out: list[Violation] = []
    w, h = mapping.mesh
    if hw.mesh is not None and (w > hw.mesh[0] or h > hw.mesh[1]):
        out.append(
            Violation(
                "tile-capacity",
                "mesh",
                f"{hw.mesh[0]}x{hw.mesh[1]}",
                f"{w}x{h}",
                "mapping uses a larger mesh than the hardware has",
            )
        )
    x, y = hw.io_tile
    if not (0 <= x < w and 0 <= y < h):
        out.append(Violation("tile-capacity", "I/O tile", f"inside {w}x{h}", f"({x}, {y})"))
    used = _used_crossbars(mapping)
    tiles = mapping.crossbar_tile[used]
    for c in used[_first((tiles < 0) | (tiles >= w * h))]:
        out.append(
            Violation(
                "tile-capacity",
                f"crossbar {c}",
                f"tile 0..{w * h - 1}",
                int(mapping.crossbar_tile[c]),
                "tile outside the mesh",
            )
        )
    if out:
        return out
    per_tile = np.bincount(tiles, minlength=w * h)
    out += [
        Violation("tile-capacity", f"tile {t} ({t % w}, {t // w})", hw.crossbars_per_tile, int(per_tile[t]))
        for t in _first(per_tile > hw.crossbars_per_tile)
    ]
    return out


def _used_crossbars(mapping: Mapping) -> np.ndarray:
    cb = mapping.unit_crossbar
    return np.unique(cb[cb >= 0])


def crossbar_bounds(units: int, crosspoints: int, readers: np.ndarray, rows: int, columns: int) -> dict[str, int]:
    """The cheap lower bounds on the crossbars any mapping of a fixed N' needs, from counts alone.

    ``units``: compute units of N'; ``crosspoints``: its synapses; ``readers[x]``: the number
    of units source x feeds (one entry per source, zeros allowed). The exact models of
    ``problems/formulations`` call this with their own data, so every bound is defined here once.

    - ``columns``: ceil(units / C), one column per unit;
    - ``crosspoints``: ceil(crosspoints / (R * C)), one crosspoint per synapse;
    - ``rows``: a source read by r units needs a row in at least ceil(r / C) crossbars (one
      row serves at most C columns), and a crossbar has R rows: ceil(sum_x ceil(r(x) / C) / R).
      It implies ceil(sources / R), since every source with a reader needs at least one row.
    """
    readers = np.asarray(readers, dtype=np.int64)
    return {
        "columns": math.ceil(units / columns),
        "crosspoints": math.ceil(crosspoints / (rows * columns)),
        "rows": math.ceil(int((-(-readers // columns)).sum()) / rows),
    }


def lower_bounds(dec: Decomposition, hw: Hardware) -> dict[str, int]:
    """The bounds of :func:`crossbar_bounds` for N' on ``hw``, under the metric names of docs/model.md section 5."""
    net = dec.network
    readers = np.bincount(net.pre, minlength=net.n_neurons)
    bounds = crossbar_bounds(dec.n_units, net.n_synapses, readers, hw.rows, hw.columns)
    out = {f"lower_bound_crossbars_{k}": v for k, v in bounds.items()}
    out["lower_bound_crossbars"] = max(bounds.values())
    return out


def lossless_lower_bounds(net: Network, hw: Hardware) -> dict[str, int]:
    """Bounds on the crossbars of *every* lossless decomposition of N (units of at most F inputs) and mapping.

    The scope is wider than :func:`lower_bounds` (one N'): any strategy that keeps every
    synapse (``none``, ``chain:k``, ``tree:k``, ``auto`` with any depth, the exact grouping
    models) can do no better. A neuron of fan-in m > F needs at least ceil((m - 1) / (F - 1))
    units: u units take the m raw inputs and the u - 1 partial sums between them, at most F
    each, so m + u - 1 <= u F. With those fewest units U and partial sums P = U - (compute
    neurons), :func:`crossbar_bounds` applies: each raw source is read by one unit per
    synapse in any decomposition (its readers are its fan-out), each partial sum by one unit,
    and N' has E + P synapses.
    """
    compute = ~net.is_input
    m = net.fanin
    fewest = np.where(compute, np.where(m <= hw.fanin, 1, -(-(m - 1) // max(hw.fanin - 1, 1))), 0)
    units = int(fewest.sum())
    partials = units - int(compute.sum())
    readers = np.concatenate((np.bincount(net.pre, minlength=net.n_neurons), np.ones(partials, dtype=np.int64)))
    bounds = crossbar_bounds(units, net.n_synapses + partials, readers, hw.rows, hw.columns)
    out = {f"lower_bound_crossbars_lossless_{k}": v for k, v in bounds.items()}
    out["lower_bound_crossbars_lossless"] = max(bounds.values())
    return out


def energy_lower_bound(dec: Decomposition, hw: Hardware, crossbars: int) -> float:
    """A lower bound on energy_total_j of any mapping of N' that uses at least ``crossbars`` crossbars.

    Synaptic events are fixed by N'; a source read by r units is delivered to at least
    ceil(r / C) crossbars (one per crossbar hosting a reader, at most C readers each), so
    deliveries >= sum_x s(x) ceil(r(x) / C); hop_spikes >= 0; the static energy grows with
    the crossbars. Every term of :class:`EnergyModel` is non-negative, so the sum bounds it.
    """
    net = dec.network
    readers = np.bincount(net.pre, minlength=net.n_neurons)
    deliveries = float((net.spikes * -(-readers // hw.columns)).sum())
    events = float(net.spikes[net.pre].sum())
    return EnergyModel.of(hw, net.timesteps).total(crossbars, events, deliveries, 0.0)


def objective_bound(metrics: dict[str, float | int | str], key: str) -> float | None:
    """The validator's lower bound on metric ``key`` for the N' that ``metrics`` describe (None if it has none).

    The solver template combines it with a solver's own bound, so that a heuristic whose
    result meets a valid bound reports a zero gap (docs/model.md, section 6).
    """
    name = {"crossbars": "lower_bound_crossbars", "energy_total_j": "lower_bound_energy_total_j"}.get(key)
    value = metrics.get(name) if name else None
    return None if value is None else float(value)


@dataclass(frozen=True)
class EnergyModel:
    """energy_total_j (docs/model.md section 5) as a linear function of four counts.

    energy_total_j = per_synaptic_event * synaptic_events + per_delivery * deliveries
    + per_hop * hop_spikes (the dynamic energy) + per_crossbar * crossbars (the static energy
    of every used crossbar over the window). The validator's metrics, the incremental
    evaluators of local search and the exact energy objective all take their coefficients
    from here, so the formula exists once.
    """

    per_synaptic_event: float
    per_delivery: float
    per_hop: float
    per_crossbar: float

    @classmethod
    def of(cls, hw: Hardware, timesteps: int) -> EnergyModel:
        static = timesteps * (hw.p_cell * hw.rows * hw.columns + hw.p_col * hw.columns)
        return cls(per_synaptic_event=hw.e_syn, per_delivery=hw.e_msg, per_hop=hw.e_hop, per_crossbar=static)

    def synapse(self, synaptic_events: float) -> float:
        """energy_synapse_j: the synaptic events' part of the dynamic energy."""
        return self.per_synaptic_event * synaptic_events

    def network(self, deliveries: float, hop_spikes: float) -> float:
        """energy_network_j: the spike traffic's part (messages and hops; SANA-FE's "network" energy)."""
        return self.per_delivery * deliveries + self.per_hop * hop_spikes

    def dynamic(self, synaptic_events: float, deliveries: float, hop_spikes: float) -> float:
        """energy_dynamic_j (= synapse + network)."""
        return self.per_synaptic_event * synaptic_events + self.per_delivery * deliveries + self.per_hop * hop_spikes

    def total(self, crossbars: float, synaptic_events: float, deliveries: float, hop_spikes: float) -> float:
        """energy_total_j = dynamic + static."""
        return self.dynamic(synaptic_events, deliveries, hop_spikes) + self.per_crossbar * crossbars


def metrics(
    dec: Decomposition, hw: Hardware, mapping: Mapping, pairs: tuple[np.ndarray, np.ndarray] | None = None
) -> dict[str, float | int | str]:
    """Every metric of docs/model.md section 5 for a mapping that passed :func:`check`.

    ``pairs``: the mapping's :func:`deliveries`, if the caller has them already.
    """
    net = dec.network
    hw_mesh = hw if hw.mesh == mapping.mesh else replace(hw, mesh=mapping.mesh)
    used = _used_crossbars(mapping)
    n_cb = len(used)
    tiles_used = np.unique(mapping.crossbar_tile[used])
    units = dec.n_units
    crosspoints = net.n_synapses
    s = net.spikes
    src, dest = pairs or _deliveries(dec, mapping)
    src_cb = mapping.unit_crossbar[src]
    io = hw_mesh.io_tile_id
    src_tile = np.where(src_cb >= 0, mapping.crossbar_tile[np.maximum(src_cb, 0)], io)
    dest_tile = mapping.crossbar_tile[dest]
    spikes = s[src]
    hops = hw_mesh.hops(src_tile, dest_tile)
    synaptic_events = synaptic_event_count(net)
    deliveries = float(spikes.sum())
    hop_spikes = float((spikes * hops).sum())
    energy = EnergyModel.of(hw, net.timesteps)
    energy_dynamic = energy.dynamic(synaptic_events, deliveries, hop_spikes)
    energy_static = energy.per_crossbar * n_cb
    capacity_cells = n_cb * hw.rows * hw.columns
    capacity_cols = n_cb * hw.columns
    T = net.timesteps
    energy_wasted = T * (hw.p_cell * (capacity_cells - crosspoints) + hw.p_col * (capacity_cols - units))
    result: dict[str, float | int | str] = {
        "crossbars": n_cb,
        "tiles": len(tiles_used),
        "mesh": f"{mapping.mesh[0]}x{mapping.mesh[1]}",
        "units": units,
        "neuron_utilization": units / capacity_cols if n_cb else 0.0,
        "synapse_utilization": crosspoints / capacity_cells if n_cb else 0.0,
        "used_crosspoints": crosspoints,
        "pruned_synapses": dec.pruned_synapses,
        "pruned_weight_fraction": dec.pruned_weight_fraction,
        "synaptic_events": synaptic_events,
        "deliveries": deliveries,
        "intercrossbar_spikes": float(spikes[src_cb != dest].sum()),
        "intertile_spikes": float(spikes[src_tile != dest_tile].sum()),
        "hop_spikes": hop_spikes,
        "max_hops": int(hops.max()) if hops.size else 0,
        "energy_synapse_j": energy.synapse(synaptic_events),
        "energy_network_j": energy.network(deliveries, hop_spikes),
        "energy_dynamic_j": energy_dynamic,
        "energy_static_j": energy_static,
        "energy_wasted_j": energy_wasted,
        "energy_total_j": energy_dynamic + energy_static,
        "depth": dec.depth,
        "connector_units": dec.connectors,
        "connector_crossbars": _connector_crossbars(dec, mapping),
        "dropped_partials": int(dec.dropped.size),
        "lost_synapses": int(dec.lost_synapses.size),
    }
    result.update(lower_bounds(dec, hw))
    result["lower_bound_energy_total_j"] = energy_lower_bound(dec, hw, int(result["lower_bound_crossbars"]))
    result.update(lossless_lower_bounds(dec.original, hw))
    return result


def _connector_crossbars(dec: Decomposition, mapping: Mapping) -> int:
    """Used crossbars that host connector units only (the connector clusters of the authors' tool)."""
    if not dec.connectors:
        return 0
    placed = dec.compute
    cb = mapping.unit_crossbar[placed]
    hosts_other = np.zeros(max(mapping.n_crossbar_ids, 1), dtype=bool)
    hosts_other[cb[~dec.is_connector[placed]]] = True
    return int(np.unique(cb[~hosts_other[cb]]).size)


def synaptic_event_count(net: Network) -> float:
    """Synaptic events: every spike of a source crosses each of its crosspoints (sum over synapses of s(pre))."""
    return float(net.spikes @ np.bincount(net.pre, minlength=net.n_neurons))


def assess(dec: Decomposition, hw: Hardware, mapping: Mapping) -> Assessment:
    """Check the mapping; compute the metrics when it is valid (the deliveries are computed once for both)."""
    sound = _check_sound(dec, mapping)
    if sound:
        return Assessment(sound, None)
    pairs = _deliveries(dec, mapping)
    violations = _check_placed(dec, hw, mapping, pairs)
    return Assessment(violations, None if violations else metrics(dec, hw, mapping, pairs))


@dataclass(frozen=True)
class Usage:
    """Per-crossbar and per-tile-pair figures of a valid mapping (what ``mapopt plot`` draws).

    ``crossbars`` are the used crossbar ids; ``columns``, ``rows`` and ``crosspoints`` are
    theirs (units placed, distinct sources, synapses of N' realised there);
    ``traffic_src``/``traffic_dst``/``traffic_spikes`` are the inter-tile spike counts, one
    entry per (source tile, destination tile) pair with src != dst (inputs come from the
    I/O tile), summed over the deliveries of :func:`metrics`.
    """

    crossbars: np.ndarray
    tile: np.ndarray
    columns: np.ndarray
    rows: np.ndarray
    crosspoints: np.ndarray
    traffic_src: np.ndarray
    traffic_dst: np.ndarray
    traffic_spikes: np.ndarray


def usage(dec: Decomposition, hw: Hardware, mapping: Mapping) -> Usage:
    """Columns, rows and crosspoints of every used crossbar, and the inter-tile traffic by tile pair.

    Uses the same deliveries as :func:`metrics` (one per source and destination crossbar),
    so the traffic here sums to ``intertile_spikes``.
    """
    net = dec.network
    used = _used_crossbars(mapping)
    ncb = max(mapping.n_crossbar_ids, 1)
    columns = np.bincount(mapping.unit_crossbar[dec.compute], minlength=ncb)[used]
    crosspoints = np.bincount(mapping.unit_crossbar[net.post], minlength=ncb)[used]
    src, dest = _deliveries(dec, mapping)
    rows = np.bincount(dest, minlength=ncb)[used]
    hw_mesh = hw if hw.mesh == mapping.mesh else replace(hw, mesh=mapping.mesh)
    src_cb = mapping.unit_crossbar[src]
    src_tile = np.where(src_cb >= 0, mapping.crossbar_tile[np.maximum(src_cb, 0)], hw_mesh.io_tile_id)
    dest_tile = mapping.crossbar_tile[dest]
    off = src_tile != dest_tile
    n_tiles = mapping.mesh[0] * mapping.mesh[1]
    pair = src_tile[off] * n_tiles + dest_tile[off]
    keys, inverse = np.unique(pair, return_inverse=True)
    spikes = np.bincount(inverse, weights=net.spikes[src[off]], minlength=keys.size)
    return Usage(
        crossbars=used,
        tile=mapping.crossbar_tile[used],
        columns=columns,
        rows=rows,
        crosspoints=crosspoints,
        traffic_src=keys // n_tiles,
        traffic_dst=keys % n_tiles,
        traffic_spikes=spikes,
    )
