"""A rate model for spike counts when no simulation is wanted (huge nets, quick defaults).

Inputs fire with a fixed probability per timestep (seeded Poisson counts); a compute
neuron's count is that of a non-leaky integrate-and-fire neuron driven by its inputs'
mean rates: floor(sum_u w_uv * s_u / theta_v), clipped to [0, T]. Layers are evaluated in
order (``Network.layer``), so the model needs a feed-forward net with known layers.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from mapopt.network import Network


def if_rate_counts(net: Network, *, input_rate: float, seed: int) -> tuple[np.ndarray, str]:
    """Spike counts for a layered feed-forward net, and their provenance string."""
    rng = np.random.default_rng(seed)
    T = net.timesteps
    spikes = np.zeros(net.n_neurons)
    spikes[net.is_input] = rng.poisson(input_rate * T, size=net.n_inputs).clip(0, T)
    adj = sp.csr_matrix((net.weight, (net.post, net.pre)), shape=(net.n_neurons,) * 2)
    for layer in np.unique(net.layer[~net.is_input]):
        members = np.flatnonzero((net.layer == layer) & ~net.is_input)
        drive = adj[members] @ spikes
        spikes[members] = np.floor(np.clip(drive / net.threshold[members], 0, T))
    source = f"rate: inputs Poisson p={input_rate}/step seed {seed}, IF rate model, T={T}"
    return spikes, source
