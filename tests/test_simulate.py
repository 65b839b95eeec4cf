"""The simulator: IF/LIF dynamics, exact and delayed modes, simulated traffic, structure checks."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mapopt.decompose import decompose
from mapopt.errors import InputError
from mapopt.hardware import Hardware
from mapopt.network import Network
from mapopt.simulate import (
    make_inputs,
    simulate,
    simulate_decomposition,
    with_simulated_spikes,
    with_simulated_traffic,
)


def hardware(f: int) -> Hardware:
    return Hardware(name="test", rows=f, columns=16, fanin=f, crossbars_per_tile=4, mesh=None)


def random_net(seed: int, n_in: int, hidden: int, out: int, recurrent: bool, leak: float) -> Network:
    """Inputs -> hidden -> outputs, dense with random weights (optionally hidden self-loops and recurrence)."""
    rng = np.random.default_rng(seed)
    ids_in, ids_h = np.arange(n_in), n_in + np.arange(hidden)
    ids_o = n_in + hidden + np.arange(out)
    pre = [np.tile(ids_in, hidden), np.tile(ids_h, out)]
    post = [np.repeat(ids_h, n_in), np.repeat(ids_o, hidden)]
    if recurrent:
        pre.append(np.tile(ids_h, hidden))
        post.append(np.repeat(ids_h, hidden))
    pre_a, post_a = np.concatenate(pre), np.concatenate(post)
    n = n_in + hidden + out
    return Network.build(
        name="rand", is_input=np.arange(n) < n_in, pre=pre_a, post=post_a,
        weight=rng.normal(0.3, 1.0, size=len(pre_a)) / np.sqrt(n_in) * 3,
        threshold=rng.uniform(0.5, 1.5, size=n), leak=np.full(n, leak), timesteps=30,
        layer=np.r_[np.zeros(n_in), np.ones(hidden), np.full(out, 2)].astype(int),
    )


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    n_in=st.integers(3, 40),
    f=st.integers(2, 12),
    k_frac=st.floats(0.0, 1.0),
    strategy=st.sampled_from(["chain", "tree", "tree-block", "auto"]),
    recurrent=st.booleans(),
    leak=st.sampled_from([0.0, 0.1, 0.5]),
)
def test_exact_mode_reproduces_the_original(seed, n_in, f, k_frac, strategy, recurrent, leak) -> None:
    net = random_net(seed, n_in, hidden=min(f, 6), out=2, recurrent=recurrent, leak=leak)
    k = 2 + round(k_frac * (f - 2))
    spec = {"chain": f"chain:{k}", "tree": f"tree:{k}", "tree-block": f"tree:{k},grouping=block,order=cooccurrence",
            "auto": "auto"}[strategy]
    dec = decompose(net, hardware(f), spec)
    original = simulate(net, seed=seed)
    prime = simulate_decomposition(dec, original.inputs, mode="exact")
    assert np.array_equal(prime.trains[:, : net.n_neurons], original.trains)


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10_000), n_in=st.integers(5, 60), k=st.integers(2, 6))
def test_delayed_mode_shifts_a_tree_layer_by_its_depth(seed: int, n_in: int, k: int) -> None:
    # one decomposed layer (outputs read inputs only): all raw inputs sit at the leaves of a balanced tree,
    # so delayed mode delivers each neuron's exact input depth-1 steps late
    rng = np.random.default_rng(seed)
    out = 3
    n = n_in + out
    net = Network.build(
        name="layer", is_input=np.arange(n) < n_in, pre=np.tile(np.arange(n_in), out),
        post=np.repeat(n_in + np.arange(out), n_in), weight=rng.normal(0.2, 1.0, n_in * out), timesteps=40,
    )
    dec = decompose(net, hardware(k), f"tree:{k}")
    exact = simulate_decomposition(dec, mode="exact", seed=seed).trains[:, n_in:n]
    delayed = simulate_decomposition(dec, mode="delayed", seed=seed).trains[:, n_in:n]
    shift = dec.depth - 1
    assert 0 <= shift <= dec.depth
    assert not delayed[:shift].any()
    assert np.array_equal(delayed[shift:], exact[: len(exact) - shift])


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10_000), f=st.integers(2, 10), spec=st.sampled_from(["chain:2", "tree:2", "auto"]))
def test_upper_traffic_is_never_below_simulated(seed: int, f: int, spec: str) -> None:
    net = with_simulated_spikes(random_net(seed, 20, 5, 2, recurrent=seed % 2 == 0, leak=0.0), seed=seed)
    dec = decompose(net, hardware(f), spec)
    simulated = with_simulated_traffic(dec, seed=seed)
    assert simulated.traffic == "simulated"
    assert (dec.network.spikes >= simulated.network.spikes).all()
    roots = dec.level == 0
    assert np.array_equal(simulated.network.spikes[roots], dec.network.spikes[roots])


def test_if_and_lif_closed_form() -> None:
    # one input spiking every step drives neuron 1 with weight 0.4 (threshold 1)
    def run(leak: float) -> np.ndarray:
        net = Network.build(name="one", is_input=np.array([True, False]), pre=[0], post=[1], weight=[0.4],
                            leak=np.array([0.0, leak]), timesteps=12)
        return simulate(net, np.ones((12, 1), dtype=bool)).trains[:, 1]

    # IF: input arrives from step 1 on: potentials 0.4, 0.8, 1.2 -> spikes at steps 3, 6, 9
    assert np.flatnonzero(run(0.0)).tolist() == [3, 6, 9]
    # LIF losing half per step: 0.4, 0.6, 0.7, 0.75, ... never reaches 1
    assert not run(0.5).any()


def test_inputs_are_seeded_and_checked() -> None:
    net = random_net(0, 10, 3, 1, recurrent=False, leak=0.0)
    a = make_inputs(net, timesteps=50, input_rate=0.3, seed=4)
    assert a.shape == (50, 10)
    assert np.array_equal(a, make_inputs(net, timesteps=50, input_rate=0.3, seed=4))
    assert abs(a.mean() - 0.3) < 0.1
    with pytest.raises(InputError, match="shape"):
        simulate(net, np.zeros((5, 3), dtype=bool))
    with pytest.raises(InputError, match=r"\[0, 1\]"):
        simulate(net, input_rate=1.5)


def test_a_loop_inside_a_neurons_units_is_rejected() -> None:
    net = random_net(1, 12, 2, 1, recurrent=False, leak=0.0)
    dec = decompose(net, hardware(4), "chain:4")
    part = np.flatnonzero(dec.edge_origin < 0)
    prime = dec.network
    post = prime.post.copy()
    post[part[0]] = prime.pre[part[0]]  # a unit feeding its own partial sum back to itself
    broken = replace(dec, network=replace(prime, post=post))
    owner = int(dec.origin[prime.pre[part[0]]])
    with pytest.raises(InputError, match=f"neuron {owner}: partial-sum edge"):
        simulate_decomposition(broken)
