"""Chain decomposition (Balaji et al., IEEE ESL 2020, arXiv 2009.09298), any arity k >= 2.

A compute neuron with fan-in m > k becomes ceil((m-1)/(k-1)) units: the first takes k raw
inputs, each next one takes the previous unit's partial sum plus k-1 raw inputs, and the
last (the root) keeps the neuron's identity. k = 2 is the paper's two-input chain; the
authors' public code generalises it to any max fan-in k, as here.
"""

from __future__ import annotations

import numpy as np

from mapopt.decompose.base import Decomposition, assemble, unit_slots
from mapopt.network import Network


def chain_units(fanin: np.ndarray, k: int) -> np.ndarray:
    """Units per neuron for a k-ary chain: 1 when m <= k, else ceil((m-1)/(k-1))."""
    fanin = np.asarray(fanin, dtype=np.int64)
    return np.where(fanin <= k, 1, -(-(fanin - 1) // (k - 1)))


def chain(net: Network, k: int, *, edge_rank: np.ndarray | None = None, strategy: str = "chain") -> Decomposition:
    """Unroll every compute neuron with fan-in above ``k`` into a k-ary chain.

    ``edge_rank`` (``int[E]``, optional) is the unroll ordering: the position of each
    synapse among its post-synaptic neuron's inputs (0 = first unit). By default the
    inputs are taken in the network's input order (:attr:`~mapopt.network.Network.input_rank`:
    ascending pre-synaptic id, or a SpiNeMap file's line order). ``strategy`` names the result.
    """
    fanin = net.fanin
    compute = ~net.is_input
    units = np.where(compute, chain_units(fanin, k), 0)
    rank = net.input_rank if edge_rank is None else edge_rank
    m = fanin[net.post]
    decomposed = m > k
    # unit 0 takes ranks [0, k); unit j >= 1 takes ranks [k + (j-1)(k-1), k + j(k-1)).
    edge_unit = np.where(decomposed & (rank >= k), 1 + (rank - k) // (k - 1), 0)
    start = unit_slots(units)
    owners = np.flatnonzero(units > 1)
    counts = units[owners] - 1
    owner_of_edge = np.repeat(owners, counts)
    local = np.arange(int(counts.sum())) - np.repeat(unit_slots(counts), counts)
    partial_src = start[owner_of_edge] + local
    partial_dst = partial_src + 1
    slot_owner = np.repeat(np.arange(net.n_neurons), units)
    slot_local = np.arange(int(units.sum())) - start[slot_owner]
    unit_level = units[slot_owner] - 1 - slot_local
    return assemble(
        net,
        keep=np.ones(net.n_synapses, dtype=bool),
        edge_unit=edge_unit,
        units_per_neuron=units,
        partial_src=partial_src,
        partial_dst=partial_dst,
        unit_level=unit_level,
        strategy=strategy,
        arity=k,
    )
