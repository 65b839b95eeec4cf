"""A rate model for spike counts when simulation would cost too much (huge nets).

Given the inputs' spike counts over the window (:mod:`problems.instances.spikes` draws them from
rate-coded images or fixed rates), a compute neuron's count is that of a non-leaky
integrate-and-fire neuron driven by its inputs' mean rates and its bias b_v (a constant
input every step): floor((sum_u w_uv * s_u + T b_v) / theta_v), clipped to [0, T]. Layers are
evaluated in order (``Network.layer``); an edge from the same or a later layer (a
recurrent edge) contributes the count its source has at that moment (0 if not yet
evaluated), so the model is exact only for feed-forward nets.

The drive is summed in float64 over the synapse arrays themselves, in chunks, without a
sparse-matrix copy of the net; a layer whose neurons are one id range (every generated
MLP and conv net) reads only its own synapses.
"""

from __future__ import annotations

import numpy as np

from mapopt.network import CHUNK, Network


def propagate_rates(net: Network, input_counts: np.ndarray) -> np.ndarray:
    """Spike counts of all neurons given the inputs' counts (IF rate model, layer by layer)."""
    T = net.timesteps
    spikes = np.zeros(net.n_neurons)
    spikes[net.is_input] = np.clip(input_counts, 0, T)
    for layer in np.unique(net.layer[~net.is_input]):
        members = np.flatnonzero((net.layer == layer) & ~net.is_input)
        one_range = members[-1] - members[0] + 1 == members.size
        lo, hi = (int(net.in_ptr[members[0]]), int(net.in_ptr[members[-1] + 1])) if one_range else (0, net.n_synapses)
        drive = np.zeros(net.n_neurons)
        for start in range(lo, hi, CHUNK):  # drive[v] = sum_u w_uv s_u, over v's in-edges
            end = min(start + CHUNK, hi)
            pre, post = net.pre[start:end], net.post[start:end]
            drive += np.bincount(post, weights=net.weight[start:end] * spikes[pre], minlength=net.n_neurons)
        drive = drive[members] + T * net.bias[members]
        spikes[members] = np.floor(np.clip(drive / net.threshold[members], 0, T))
    return spikes
