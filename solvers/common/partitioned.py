"""Mapping a net partition by partition: tasks that need only their own synapses, for Dask (docs/scale-out.md).

A net too large for one machine is cut into **partitions**: sets of post-synaptic
neurons with all their in-edges (never splitting one neuron's inputs), of about a target
number of synapses each, taken along the order in which the ``layered`` engine packs
(layer, then smallest input id: neurons that read the same inputs, e.g. every output
channel at one position of a convolution, stay together) and cut only at multiples of C
neurons inside a layer, so that fully connected layers fill whole crossbars on both sides
of a cut. One task per partition
(:func:`map_partition`) reads only that partition's synapses (and the per-neuron arrays,
O(neurons)), decomposes its neurons with a per-neuron strategy (``tree:K`` or
``chain:K``: a neuron's units depend on its own inputs only), packs their units onto
crossbars of its own with the ``layered`` engine (next-fit in layer order, then merging
under-filled crossbars, :mod:`solvers.common.packing`), checks the result with the
validator on its local view, and returns what the rest needs: where its units went, and
its distinct (source, crossbar) deliveries. The driver (:func:`combine`) numbers the
crossbars globally, turns the deliveries into the crossbar traffic graph (a source's
crossbar is known once every partition has reported its roots), places the crossbars
with :func:`solvers.common.traffic.place_traffic`'s algorithm on that graph, and computes
the objective from it: hop_spikes = sum over deliveries of spikes x hops, the
validator's definition.

The same functions run in one process (:func:`map_serial`) or as Dask tasks
(:func:`map_dask`, on a ``distributed.Client``): the result is identical, which the tests
check on a real ``LocalCluster``. Partitions live in files (one ``.npz`` of synapse
arrays each, plus one of per-neuron arrays), so tasks read their own data from shared
storage and nothing large travels through the scheduler.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, replace
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np

from mapopt.decompose import decompose
from mapopt.errors import InputError
from mapopt.evaluation import check, deliveries
from mapopt.hardware import Hardware
from mapopt.mapping import Mapping
from mapopt.network import Network, concat_ranges
from solvers.common.packing import merge_crossbars, pack_sequential
from solvers.common.traffic import TrafficGraph, place_waves, refine_swaps
from solvers.layered import layer_order

#: Per-neuron arrays every partition needs (O(neurons), written once).
NEURON_ARRAYS = ("is_input", "spikes", "threshold", "leak", "layer")


@dataclass(frozen=True)
class Partition:
    """Partition ``index`` of the files in ``folder`` (see :func:`write_partitions`); ``synapses`` it holds."""

    folder: str
    index: int
    synapses: int


def plan(net: Network, synapses_per_partition: int, align: int = 1) -> list[np.ndarray]:
    """The compute neurons of every partition (ascending ids), about ``synapses_per_partition`` synapses each.

    Neurons are taken in the order (layer, smallest input id, id) and cut into runs; inside
    a layer a cut falls on a multiple of ``align`` neurons from the layer's start (give the
    crossbar's column count C), and every layer change is a cut.
    """
    compute = np.flatnonzero(~net.is_input)
    if compute.size == 0:
        return []
    first_input = np.full(net.n_neurons, np.iinfo(np.int64).max)
    has = net.fanin > 0
    if net.n_synapses:
        first_input[has] = np.minimum.reduceat(net.pre.astype(np.int64), net.in_ptr[:-1][has])
    order = compute[np.lexsort((compute, first_input[compute], net.layer[compute]))]
    layer = net.layer[order]
    cum = np.cumsum(net.fanin[order])
    layer_start = np.concatenate(([0], np.flatnonzero(layer[1:] != layer[:-1]) + 1))
    cuts = set(layer_start.tolist()) | {order.size}
    for v in np.searchsorted(cum, np.arange(synapses_per_partition, int(cum[-1]), synapses_per_partition)).tolist():
        base = int(layer_start[np.searchsorted(layer_start, v, side="right") - 1])
        v = base + -(-(v - base) // align) * align
        if 0 < v < order.size:
            cuts.add(v)
    bounds = sorted(cuts)
    return [np.sort(order[a:b]) for a, b in pairwise(bounds) if b > a]


def write_partitions(net: Network, folder: Path, synapses_per_partition: int, *, align: int = 1) -> list[Partition]:
    """Write ``net`` as partition files into ``folder`` (created): ``neurons.npz``, ``part-<i>.npz``, ``meta.json``.

    ``align``: see :func:`plan`. A part file holds its neurons and their in-edges, in
    ``(post, pre)`` order.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    np.savez(folder / "neurons.npz", **{k: getattr(net, k) for k in NEURON_ARRAYS})
    parts = []
    for i, neurons in enumerate(plan(net, synapses_per_partition, align)):
        edges = concat_ranges(net.in_ptr[neurons], net.fanin[neurons])
        arrays = {"neurons": neurons, "pre": net.pre[edges], "post": net.post[edges], "weight": net.weight[edges]}
        np.savez(folder / f"part-{i}.npz", **arrays)
        parts.append(Partition(str(folder), i, int(edges.size)))
    meta = {"name": net.name, "neurons": net.n_neurons, "timesteps": net.timesteps, "spike_source": net.spike_source}
    (folder / "meta.json").write_text(json.dumps(meta))
    return parts


@dataclass
class PartitionResult:
    """What one partition task returns (all ids global except crossbars, which are the partition's own 0..c-1)."""

    index: int
    neurons: np.ndarray  # the partition's compute neurons
    crossbars: int
    unit_origin: np.ndarray  # per unit: original neuron
    unit_position: np.ndarray  # per unit: position in its neuron's chain/tree
    unit_crossbar: np.ndarray  # per unit: local crossbar
    root_crossbar: np.ndarray  # per neuron of ``neurons``: local crossbar of its root unit
    source: np.ndarray  # deliveries: original source neuron, or -1 for one of this partition's non-root units...
    source_unit: np.ndarray  # ...whose index into the unit arrays is here (-1 otherwise)
    dest: np.ndarray  # deliveries: local crossbar
    spikes: np.ndarray  # deliveries: spikes of the source
    violations: list[str]


def map_partition(part: Partition, hw: Hardware, strategy: str) -> PartitionResult:
    """Decompose, pack and check one partition (a Dask task; reads only its own files)."""
    folder = Path(part.folder)
    meta = json.loads((folder / "meta.json").read_text())
    with np.load(folder / "neurons.npz") as z:
        neurons = {k: z[k] for k in NEURON_ARRAYS}
    with np.load(folder / f"part-{part.index}.npz") as z:
        own, pre, post, weight = z["neurons"], z["pre"], z["post"], z["weight"]
    n = int(meta["neurons"])
    inside = np.zeros(n, dtype=bool)
    inside[own] = True
    # the partition's view: its own neurons compute, every other neuron a source only (rows, no columns)
    view = Network(
        name=f"{meta['name']}#{part.index}",
        is_input=neurons["is_input"] | ~inside,
        pre=pre,
        post=post,
        weight=weight,
        spikes=neurons["spikes"],
        spike_source=meta["spike_source"],
        timesteps=int(meta["timesteps"]),
        threshold=neurons["threshold"],
        leak=neurons["leak"],
        layer=neurons["layer"],
    )
    dec = decompose(view, hw, strategy)
    unit_crossbar = pack_sequential(dec, hw, layer_order(dec))
    unit_crossbar = merge_crossbars(dec, hw, unit_crossbar)
    crossbars = int(unit_crossbar.max()) + 1 if (unit_crossbar >= 0).any() else 0
    local_hw = replace(hw, mesh=None).with_mesh_for(crossbars)  # tiles are placed globally: any mesh here
    violations = check(dec, local_hw, Mapping(unit_crossbar, local_hw.crossbar_slots()[:crossbars], local_hw.mesh))
    units = np.flatnonzero(dec.compute)
    src, dst = deliveries(dec.network, unit_crossbar, max(crossbars, 1))
    extra = src >= n  # a non-root unit of this partition: named by its place in the unit arrays
    unit_index = np.full(dec.network.n_neurons, -1, dtype=np.int64)
    unit_index[units] = np.arange(units.size)
    return PartitionResult(
        index=part.index,
        neurons=own,
        crossbars=crossbars,
        unit_origin=dec.origin[units],
        unit_position=dec.position[units].astype(np.int32),
        unit_crossbar=unit_crossbar[units],
        root_crossbar=unit_crossbar[own],
        source=np.where(extra, -1, src),
        source_unit=np.where(extra, unit_index[src], -1),
        dest=dst,
        spikes=dec.network.spikes[src],
        violations=[str(v) for v in violations],
    )


@dataclass
class PartitionedMapping:
    """The combined result: units (origin, position) -> global crossbar, crossbar tiles, objective values."""

    unit_origin: np.ndarray
    unit_position: np.ndarray
    unit_crossbar: np.ndarray
    crossbar_tile: np.ndarray
    mesh: tuple[int, int]
    crossbars: int
    deliveries: float
    hop_spikes: float
    partitions: int
    violations: list[str]

    def same_as(self, other: PartitionedMapping) -> bool:
        """Identical units on identical crossbars and tiles (units compared by provenance)."""
        a = np.lexsort((self.unit_position, self.unit_origin))
        b = np.lexsort((other.unit_position, other.unit_origin))
        return (
            np.array_equal(self.unit_origin[a], other.unit_origin[b])
            and np.array_equal(self.unit_position[a], other.unit_position[b])
            and np.array_equal(self.unit_crossbar[a], other.unit_crossbar[b])
            and np.array_equal(self.crossbar_tile, other.crossbar_tile)
            and self.mesh == other.mesh
        )


def combine(results: list[PartitionResult], n_neurons: int, hw: Hardware) -> PartitionedMapping:
    """Number the partitions' crossbars globally, build the crossbar traffic graph and place it (module docstring)."""
    results = sorted(results, key=lambda r: r.index)
    offset = np.concatenate(([0], np.cumsum([r.crossbars for r in results])))
    n_cb = int(offset[-1])
    root = np.full(n_neurons, -1, dtype=np.int64)  # global crossbar of every compute neuron's root
    unit_base = np.concatenate(([0], np.cumsum([r.unit_crossbar.size for r in results])))
    unit_crossbar = np.concatenate([r.unit_crossbar + offset[i] for i, r in enumerate(results)])
    for i, r in enumerate(results):
        roots = r.root_crossbar >= 0
        root[r.neurons[roots]] = r.root_crossbar[roots] + offset[i]
    src_cb, dst_cb, w = [], [], []
    for i, r in enumerate(results):
        own = r.source < 0
        cb = np.where(own, unit_crossbar[unit_base[i] + np.maximum(r.source_unit, 0)], root[np.maximum(r.source, 0)])
        cb = np.where(cb >= 0, cb, n_cb)  # inputs (no crossbar): node n_cb, the I/O tile
        src_cb.append(cb)
        dst_cb.append(r.dest + offset[i])
        w.append(r.spikes)
    graph = _graph(n_cb, np.concatenate(src_cb), np.concatenate(dst_cb), np.concatenate(w))
    placed_hw = hw.with_mesh_for(n_cb)
    if math.ceil(n_cb / placed_hw.crossbars_per_tile) > placed_hw.n_tiles:
        raise InputError(
            f"{n_cb} crossbars do not fit the {placed_hw.mesh[0]}x{placed_hw.mesh[1]} mesh of {hw.name}",
            constraint="tile-capacity",
        )
    tiles = refine_swaps(graph, placed_hw, place_waves(graph, placed_hw))
    return PartitionedMapping(
        unit_origin=np.concatenate([r.unit_origin for r in results]),
        unit_position=np.concatenate([r.unit_position for r in results]),
        unit_crossbar=unit_crossbar,
        crossbar_tile=tiles,
        mesh=placed_hw.mesh,
        crossbars=n_cb,
        deliveries=float(graph.w.sum()),
        hop_spikes=graph.hop_spikes(placed_hw, tiles),
        partitions=len(results),
        violations=[f"partition {r.index}: {v}" for r in results for v in r.violations],
    )


def _graph(n_cb: int, src: np.ndarray, dst: np.ndarray, w: np.ndarray) -> TrafficGraph:
    """The crossbar traffic graph from per-delivery (source crossbar, destination crossbar, spikes)."""
    pair = src * (n_cb + 1) + dst
    pairs, inverse = np.unique(pair, return_inverse=True)
    return TrafficGraph(n_cb, pairs // (n_cb + 1), pairs % (n_cb + 1), np.bincount(inverse, weights=w))


def map_serial(parts: list[Partition], n_neurons: int, hw: Hardware, strategy: str) -> PartitionedMapping:
    """All partition tasks in this process, one after another, then :func:`combine`."""
    return combine([map_partition(p, hw, strategy) for p in parts], n_neurons, hw)


def map_dask(client: Any, parts: list[Partition], n_neurons: int, hw: Hardware, strategy: str) -> PartitionedMapping:
    """The partition tasks on a ``distributed.Client`` (results gathered as they finish), then :func:`combine`."""
    from distributed import as_completed

    futures = [client.submit(map_partition, p, hw, strategy, pure=False) for p in parts]
    results = [future.result() for future in as_completed(futures)]
    return combine(results, n_neurons, hw)


