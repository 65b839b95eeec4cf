"""Pruning baselines that spatial decomposition replaces (Balaji et al. 2020, section IV).

A compute neuron with fan-in above F keeps F inputs and drops the rest: ``prune-first``
keeps the inputs of the first F entries of its input list, as the authors' partitioner does
without unrolling (``Clusters::minClusters``, SNNPartitioning/include/cluster/cluster.cc,
stops at entry ``CROSSBAR_SIZE``): ascending pre-synaptic id, or for a net read from a
SpiNeMap connection file the order its lines list them, where a pair listed twice takes two
entries (:attr:`~mapopt.network.Network.input_listing`). ``prune-magnitude`` keeps the F
largest |w|. Pruned synapses are listed in the decomposition, never dropped
silently. ``none`` keeps every synapse and unrolls nothing.
"""

from __future__ import annotations

import numpy as np

from mapopt.decompose.base import Decomposition, assemble
from mapopt.network import Network


def _single_units(net: Network, keep: np.ndarray, strategy: str) -> Decomposition:
    units = np.where(net.is_input, 0, 1)
    return assemble(
        net,
        keep=keep,
        edge_unit=np.zeros(net.n_synapses, dtype=np.int64),
        units_per_neuron=units,
        partial_src=np.zeros(0, dtype=np.int64),
        partial_dst=np.zeros(0, dtype=np.int64),
        unit_level=np.zeros(int(units.sum()), dtype=np.int64),
        strategy=strategy,
        arity=None,
    )


def no_decomposition(net: Network) -> Decomposition:
    """Map the network as it is (fan-in above F then violates ``fanin``)."""
    return _single_units(net, np.ones(net.n_synapses, dtype=bool), "none")


def prune_first(net: Network, limit: int) -> Decomposition:
    """Keep the inputs in each neuron's first ``limit`` input-list entries (see the module docstring)."""
    return _single_units(net, net.first_entry < limit, "prune-first")


def prune_magnitude(net: Network, limit: int) -> Decomposition:
    """Keep each neuron's ``limit`` inputs of largest |w| (ties: lower pre-synaptic id)."""
    order = np.lexsort((net.pre, -np.abs(net.weight), net.post))
    rank = np.empty(net.n_synapses, dtype=np.int64)
    rank[order] = np.arange(net.n_synapses) - net.in_ptr[net.post[order]]
    return _single_units(net, rank < limit, "prune-magnitude")
