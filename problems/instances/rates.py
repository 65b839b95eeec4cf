"""A rate model for spike counts when simulation would cost too much (huge nets).

Given the inputs' spike counts over the window (:mod:`problems.instances.spikes` draws them from
rate-coded images or fixed rates), a compute neuron's count is that of a non-leaky
integrate-and-fire neuron driven by its inputs' mean rates and its bias b_v (a constant
input every step): floor((sum_u w_uv * s_u + T b_v) / theta_v), clipped to [0, T]. Layers are
evaluated in order (``Network.layer``); an edge from the same or a later layer (a
recurrent edge) contributes the count its source has at that moment (0 if not yet
evaluated), so the model is exact only for feed-forward nets.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from mapopt.network import Network


def propagate_rates(net: Network, input_counts: np.ndarray) -> np.ndarray:
    """Spike counts of all neurons given the inputs' counts (IF rate model, layer by layer)."""
    T = net.timesteps
    spikes = np.zeros(net.n_neurons)
    spikes[net.is_input] = np.clip(input_counts, 0, T)
    adj = sp.csr_matrix((net.weight, (net.post, net.pre)), shape=(net.n_neurons,) * 2)
    for layer in np.unique(net.layer[~net.is_input]):
        members = np.flatnonzero((net.layer == layer) & ~net.is_input)
        drive = adj[members] @ spikes + T * net.bias[members]
        spikes[members] = np.floor(np.clip(drive / net.threshold[members], 0, T))
    return spikes
