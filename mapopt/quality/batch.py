"""Simulating many input samples at once: B copies of a net side by side, one simulator run.

The simulator (:mod:`mapopt.simulate`) runs one net on one set of input trains; a Python
loop over its T steps costs the same for 60 neurons as for 60,000. A test set of B images
is therefore simulated as the *disjoint union* of B copies of the net, copy j fed image
j: the copies share no synapse, so each spikes exactly as the net alone would on its
image (the fixed-point scale depends only on the largest drive, which every copy has), and
one run of T steps simulates them all. A decomposition N' is tiled the same way, keeping
the :class:`~mapopt.decompose.base.Decomposition` contract (the neurons of the tiled N are
the first neurons of the tiled N'), so :mod:`mapopt.equivalence` checks all copies at once.

The copies are made in chunks of at most :data:`NEURONS_PER_RUN` neurons, which bounds the
memory of the spike trains (T steps x neurons, one byte each).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from mapopt.decompose.base import Decomposition
from mapopt.equivalence import EquivalenceReport, compare_runs
from mapopt.network import Network
from mapopt.simulate import simulate, simulate_decomposition

#: Upper bound on the neurons of one tiled run (100 steps of 2M neurons: 200 MB of trains per net).
NEURONS_PER_RUN = 2_000_000


def tile_network(net: Network, copies: int) -> Network:
    """``copies`` disjoint copies of ``net``: neuron v of copy j is ``j * n + v``."""
    n, e = net.n_neurons, net.n_synapses
    shift = np.repeat(np.arange(copies, dtype=np.int64) * n, e)
    return Network(
        name=f"{net.name} x{copies}",
        is_input=np.tile(net.is_input, copies),
        pre=np.tile(net.pre, copies) + shift,
        post=np.tile(net.post, copies) + shift,  # copy by copy, each sorted by (post, pre): sorted overall
        weight=np.tile(net.weight, copies),
        spikes=np.tile(net.spikes, copies),
        spike_source=net.spike_source,
        timesteps=net.timesteps,
        threshold=np.tile(net.threshold, copies),
        leak=np.tile(net.leak, copies),
        layer=np.tile(net.layer, copies),
        bias=np.tile(net.bias, copies),
        reset=np.tile(net.reset, copies),
        task=net.task,
    )


def _prime_ids(n: int, n_prime: int, copies: int) -> np.ndarray:
    """``ids[j, u]``: the id in the tiled N' of neuron u of copy j (original neurons of all copies first)."""
    u = np.arange(n_prime, dtype=np.int64)
    j = np.arange(copies, dtype=np.int64)[:, None]
    return np.where(u < n, j * n + u, copies * n + j * (n_prime - n) + (u - n))


def tile_decomposition(dec: Decomposition, copies: int) -> Decomposition:
    """``copies`` disjoint copies of N and N': N tiled by :func:`tile_network`, N' so that its first
    neurons are the tiled N's (copy j's original neuron v is ``j * n + v``, its extra units follow all
    copies' original neurons)."""
    net, prime = dec.original, dec.network
    n, n_prime, e = net.n_neurons, prime.n_neurons, net.n_synapses
    ids = _prime_ids(n, n_prime, copies)
    where = np.empty(copies * n_prime, dtype=np.int64)  # tiled id -> flat (copy, unit) index
    where[ids.ravel()] = np.arange(copies * n_prime)
    unit = where % n_prime
    pre, post = ids[:, prime.pre].ravel(), ids[:, prime.post].ravel()
    order = np.lexsort((pre, post))
    edge_copy = np.repeat(np.arange(copies, dtype=np.int64), prime.n_synapses)
    edge_origin = np.where(np.tile(dec.edge_origin, copies) >= 0, np.tile(dec.edge_origin, copies) + edge_copy * e, -1)
    tiled = Network(
        name=f"{prime.name} x{copies}",
        is_input=prime.is_input[unit],
        pre=pre[order],
        post=post[order],
        weight=np.tile(prime.weight, copies)[order],
        spikes=prime.spikes[unit],
        spike_source=prime.spike_source,
        timesteps=prime.timesteps,
        threshold=prime.threshold[unit],
        leak=prime.leak[unit],
        layer=prime.layer[unit],
        bias=prime.bias[unit],
        reset=prime.reset[unit],
        task=prime.task,
    )
    origin_copy = where // n_prime
    pruned_copy = np.repeat(np.arange(copies, dtype=np.int64), len(dec.pruned))
    return Decomposition(
        original=tile_network(net, copies),
        network=tiled,
        origin=dec.origin[unit] + origin_copy * n,
        position=dec.position[unit],
        level=dec.level[unit],
        edge_origin=edge_origin[order],
        pruned=np.tile(dec.pruned, copies) + pruned_copy * e,
        strategy=dec.strategy,
        arity=dec.arity,
        traffic=dec.traffic,
    )


def chunks(samples: int, neurons_per_copy: int) -> Iterator[slice]:
    """Consecutive slices of ``range(samples)`` with at most :data:`NEURONS_PER_RUN` neurons per run."""
    size = max(1, NEURONS_PER_RUN // max(neurons_per_copy, 1))
    for start in range(0, samples, size):
        yield slice(start, min(samples, start + size))


def _flat_inputs(inputs: np.ndarray) -> np.ndarray:
    """``bool[B, T, n_in]`` -> the tiled net's ``bool[T, B * n_in]`` (copy by copy, as tiled ids are)."""
    return np.ascontiguousarray(np.transpose(inputs, (1, 0, 2)).reshape(inputs.shape[1], -1))


@dataclass(frozen=True)
class BatchRun:
    """Spike counts of B samples: ``counts[j, v]`` of neuron v (of N, or of N') on sample j.

    ``equivalence``: for a decomposition run with ``check``, the comparison of N and N' over
    all samples (``first_neuron`` is then a neuron id of N, ``first_timestep`` its step in
    the first chunk that differs, ``neurons_differing`` counts (sample, neuron) pairs);
    None otherwise. ``fraction_bits``: the simulator's fixed-point scale.
    """

    counts: np.ndarray
    equivalence: EquivalenceReport | None
    fraction_bits: int


def run_network(net: Network, inputs: np.ndarray) -> BatchRun:
    """Simulate ``net`` on every sample of ``inputs`` (``bool[B, T, n_inputs]``)."""
    parts, bits = [], 0
    for part in chunks(len(inputs), net.n_neurons):
        copies = part.stop - part.start
        result = simulate(tile_network(net, copies), _flat_inputs(inputs[part]))
        parts.append(result.counts.reshape(copies, net.n_neurons))
        bits = result.fraction_bits
    return BatchRun(np.concatenate(parts) if parts else np.zeros((0, net.n_neurons)), None, bits)


def run_decomposition(dec: Decomposition, inputs: np.ndarray, *, mode: str = "exact", check: bool = True) -> BatchRun:
    """Simulate N' of ``dec`` on every sample of ``inputs``; with ``check``, also N, comparing the two.

    The counts are N''s (``counts[j, u]`` for every unit u of N'). The check runs
    :func:`mapopt.equivalence.compare_runs` on each chunk and merges the reports.
    """
    n, n_prime = dec.original.n_neurons, dec.network.n_neurons
    parts, reports, bits = [], [], 0
    for part in chunks(len(inputs), n_prime + (n if check else 0)):
        copies = part.stop - part.start
        tiled = tile_decomposition(dec, copies)
        flat = _flat_inputs(inputs[part])
        prime = simulate_decomposition(tiled, flat, mode=mode)
        ids = _prime_ids(n, n_prime, copies)
        parts.append(prime.counts[ids])
        bits = prime.fraction_bits
        if check:
            report = compare_runs(tiled, simulate(tiled.original, flat), prime, mode=mode)
            reports.append((part.start, report))
    equivalence = _merge(reports, dec, n) if check else None
    counts = np.concatenate(parts) if parts else np.zeros((0, n_prime))
    return BatchRun(counts, equivalence, bits)


def _merge(reports: list[tuple[int, EquivalenceReport]], dec: Decomposition, n: int) -> EquivalenceReport:
    """One report over all chunks: neuron ids of the untiled N, counts summed over samples."""
    first = next(((start, r) for start, r in reports if not r.equivalent), None)
    first_neuron = None if first is None or first[1].first_neuron is None else first[1].first_neuron % n
    return EquivalenceReport(
        equivalent=first is None,
        max_spike_count_diff=max((r.max_spike_count_diff for _, r in reports), default=0.0),
        neurons_differing=sum(r.neurons_differing for _, r in reports),
        first_neuron=first_neuron,
        first_timestep=None if first is None else first[1].first_timestep,
        strategy=dec.label,
        mode=reports[0][1].mode if reports else "exact",
        units=dec.n_units,
        depth=dec.depth,
        synapses_pruned=dec.pruned_synapses,
        timesteps=reports[0][1].timesteps if reports else 0,
        original_spikes=sum(r.original_spikes for _, r in reports),
        decomposed_spikes=sum(r.decomposed_spikes for _, r in reports),
    )
