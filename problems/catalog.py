"""The named instance catalog (``mapopt list nets``)."""

from __future__ import annotations

from mapopt.registry import NetEntry, register_net
from problems.generators import mlp

#: The net ``mapopt run`` maps when given none: 784-64-10 MLP, 50,816 synapses, fan-in 784.
DEFAULT_NET = "mlp-784-64-10"

register_net(
    NetEntry(
        name=DEFAULT_NET,
        tier="small",
        description="784-64-10 MLP (MNIST-sized input layer, fan-in 784); IF rate-model spikes",
        build=lambda: mlp([784, 64, 10], seed=0),
        facts={"neurons": 858, "synapses": 50816, "max_fanin": 784, "spikes": "rate model, seed 0"},
    )
)
