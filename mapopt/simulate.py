"""A vectorised spiking simulator for a network N and its decomposition N' (docs/model.md, sections 1 and 3).

API (stable; other modules call it for spike counts)::

    simulate(net, inputs=None, *, timesteps=None, input_rate=0.2, seed=0) -> SimResult
    simulate_decomposition(dec, inputs=None, *, mode="exact", timesteps=None, input_rate=0.2, seed=0) -> SimResult
    with_simulated_spikes(net, ...) -> Network          # N with simulated spike counts
    with_simulated_traffic(dec, ...) -> Decomposition   # N' with ``simulated`` unit traffic
    make_inputs(net, *, timesteps, input_rate, seed) -> bool[T, n_inputs]

``inputs`` is ``bool[T, n_inputs]``: the spike trains of the input neurons in id order.
Without it, inputs are rate coded: input i spikes in each step with probability
``input_rate`` (a number, or one rate per input, e.g. pixel intensities), drawn from
``numpy.random.default_rng(seed)`` (a Bernoulli approximation of a Poisson train with at
most one spike per step). :class:`SimResult` holds ``counts`` (``float64[n]``) and
``trains`` (``bool[T, n]``); for a decomposition, ``n`` is the size of N' and a non-root
unit's train marks the steps in which it sends a nonzero partial sum, so its count is
its ``simulated`` traffic (MODEL.md, section 3).

Dynamics, per step t: every synapse delivers the spikes of step t-1 (a one-step
synaptic delay, as on Loihi and in SANA-FE, so recurrent loops and self-loops need no
special case); a compute neuron's potential loses the fraction ``leak`` of itself
(``leak = 0``: integrate-and-fire), adds its weighted input and its constant ``bias``,
spikes when it reaches ``threshold`` and is then set to its ``reset`` potential (0 unless
the net says otherwise). This is the forward-Euler step of NIR's LIF/IF neurons, with a
nonzero ``v_leak`` carried as the bias ``leak * v_leak / gain`` (see :mod:`mapopt.io.nir`). In N',
only root units have this state (and the bias); a non-root
unit passes the sum of its weighted raw inputs and its children's partial sums to its
parent. Mode ``exact``: partial sums move within the step (the root sees exactly the
input of the original neuron). Mode ``delayed``: every partial-sum edge costs one step,
so a neuron unrolled into a tree of depth d sees its input d - 1 steps late.

Exactness: a floating-point sum depends on the order of its terms, and a decomposition
reorders them, which could flip a threshold crossing. The simulator therefore works in
fixed point: weights, thresholds, biases and reset potentials are rounded once to integer
multiples of 2^-b, with
b (:func:`fixed_point_bits`, about 45-55 for typical nets) the largest number of
fractional bits for which no potential can overflow int64 within T steps. Integer
addition is associative, so N and N' (which share the rounded weights of N) produce
identical spikes in exact mode, whatever the unroll ordering. The leak step is the same
deterministic operation on the same integer in both.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from mapopt.decompose.base import Decomposition, with_unit_spikes
from mapopt.errors import InputError
from mapopt.network import Network
from mapopt.resources import check_bytes

MODES = ("exact", "delayed")
#: Headroom below 2^63 kept by the fixed-point scale.
INT_BITS = 62
#: Never use more fractional bits than this (float64 weights have 53 significant bits).
MAX_FRACTION_BITS = 60


@dataclass(frozen=True, eq=False)
class SimResult:
    """Spike counts and trains of one simulation run.

    ``counts``: ``float64[n]`` spikes per neuron (for N', non-root units: steps with a
    nonzero partial sum). ``trains``: ``bool[T, n]``. ``inputs``: the ``bool[T, n_inputs]``
    input trains used. ``fraction_bits``: the fixed-point scale. ``source``: provenance.
    """

    counts: np.ndarray
    trains: np.ndarray
    inputs: np.ndarray
    timesteps: int
    fraction_bits: int
    source: str


def make_inputs(net: Network, *, timesteps: int, input_rate: float | np.ndarray = 0.2, seed: int = 0) -> np.ndarray:
    """Rate-coded input trains ``bool[T, n_inputs]``: input i spikes with probability ``rate[i]`` each step."""
    rate = np.asarray(input_rate, dtype=np.float64)
    if rate.ndim > 1 or (rate.ndim == 1 and len(rate) != net.n_inputs):
        raise InputError(f"need one input rate or one per input neuron ({net.n_inputs}), got shape {rate.shape}",
                         source="--input-rate")
    rate = np.broadcast_to(rate, (net.n_inputs,))
    if not np.all((rate >= 0) & (rate <= 1)):
        raise InputError("input rates must lie in [0, 1] (spike probability per step)", source="--input-rate")
    rng = np.random.default_rng(seed)
    return rng.random((timesteps, net.n_inputs)) < rate


def fixed_point_bits(net: Network, timesteps: int) -> int:
    """Fractional bits b such that |potential| * 2^b stays below 2^62 for ``timesteps`` steps.

    A potential is at most |reset_v| + (T + 1) * (sum_u |w_uv| + |bias_v|) in magnitude (the
    leak only shrinks it towards 0), a threshold |threshold_v|, and a partial sum at most
    sum_u |w_uv|; the bound below covers their sum.
    """
    drive = np.bincount(net.post, weights=np.abs(net.weight), minlength=net.n_neurons) + np.abs(net.bias)
    bound = float(((timesteps + 1) * drive + np.abs(net.threshold) + np.abs(net.reset)).max(initial=0.0))
    if bound <= 0.0:
        return MAX_FRACTION_BITS
    return min(MAX_FRACTION_BITS, INT_BITS - 1 - math.ceil(math.log2(bound)))


def _quantise(values: np.ndarray, bits: int) -> np.ndarray:
    return np.rint(np.ldexp(np.asarray(values, dtype=np.float64), bits)).astype(np.int64)


def _check_inputs(
    net: Network, inputs: np.ndarray | None, timesteps: int | None, input_rate: float | np.ndarray, seed: int
) -> tuple[np.ndarray, str]:
    """The input trains to use and a note on where they came from."""
    T = net.timesteps if timesteps is None else int(timesteps)
    if inputs is None:
        if T < 1:
            raise InputError(f"timesteps must be >= 1, got {T}", source="--timesteps")
        rate = np.asarray(input_rate)
        what = f"rate {float(rate)}/step" if rate.ndim == 0 else "per-input rates"
        return make_inputs(net, timesteps=T, input_rate=input_rate, seed=seed), f"{what}, seed {seed}"
    inputs = np.asarray(inputs)
    if inputs.ndim != 2 or inputs.shape[1] != net.n_inputs:
        raise InputError(
            f"input trains must have shape (T, {net.n_inputs}) (one column per input neuron), got {inputs.shape}",
            source="--inputs",
        )
    if timesteps is not None and inputs.shape[0] != T:
        raise InputError(f"input trains have {inputs.shape[0]} steps, but timesteps={T}", source="--inputs")
    inputs = inputs.astype(bool)
    return inputs, f"given trains (mean {inputs.mean() if inputs.size else 0.0:.3g} spikes/step)"


def _leak_step(potential: np.ndarray, leak: np.ndarray, leaky: np.ndarray) -> None:
    """Remove the fraction ``leak`` of each potential (rounded towards 0), in place, where ``leaky``."""
    if leaky.any():
        potential[leaky] -= np.trunc(potential[leaky] * leak[leaky]).astype(np.int64)


def _check_memory(net: Network, timesteps: int | None) -> None:
    """Refuse a run whose spike trains (a bool per neuron and step, float draws per input) cannot fit."""
    T = net.timesteps if timesteps is None else int(timesteps)
    need = T * (net.n_neurons + 9 * net.n_inputs) + 24 * net.n_synapses
    check_bytes(f"simulating {net.name} for {T} steps", need, source="--timesteps" if timesteps else None)


def simulate(
    net: Network,
    inputs: np.ndarray | None = None,
    *,
    timesteps: int | None = None,
    input_rate: float | np.ndarray = 0.2,
    seed: int = 0,
) -> SimResult:
    """Simulate ``net`` (IF/LIF per its ``threshold``, ``leak``, ``bias`` and ``reset``) on ``inputs``."""
    _check_memory(net, timesteps)
    inputs, note = _check_inputs(net, inputs, timesteps, input_rate, seed)
    T = inputs.shape[0]
    bits = fixed_point_bits(net, T)
    n = net.n_neurons
    weights = sp.csr_matrix((_quantise(net.weight, bits), (net.post, net.pre)), shape=(n, n), dtype=np.int64)
    threshold = _quantise(net.threshold, bits)
    compute = np.flatnonzero(~net.is_input)
    input_ids = np.flatnonzero(net.is_input)
    leaky = (net.leak > 0)[compute]
    leak = net.leak[compute]
    bias = _quantise(net.bias[compute], bits)
    reset = _quantise(net.reset[compute], bits)
    potential = np.zeros(len(compute), dtype=np.int64)
    trains = np.zeros((T, n), dtype=bool)
    prev = np.zeros(n, dtype=np.int64)
    w_compute = weights[compute]
    for t in range(T):
        current = w_compute @ prev
        _leak_step(potential, leak, leaky)
        potential += current
        potential += bias
        fired = potential >= threshold[compute]
        potential[fired] = reset[fired]
        trains[t, input_ids] = inputs[t]
        trains[t, compute] = fired
        prev = trains[t].astype(np.int64)
    return SimResult(
        counts=trains.sum(axis=0).astype(np.float64),
        trains=trains,
        inputs=inputs,
        timesteps=T,
        fraction_bits=bits,
        source=f"simulated: {T} steps, fixed point 2^-{bits}, inputs: {note}",
    )


def unit_parents(dec: Decomposition) -> np.ndarray:
    """The unit each non-root unit of N' sends its partial sum to (-1 for roots and inputs).

    Checks the unit structure first: a partial-sum edge must join two units of the same
    neuron, one level closer to the root, and every non-root unit must have exactly one
    (a unit listed in ``dec.dropped`` none: its partial sum is lost, parent -1). A loop
    among a neuron's units, or a unit feeding another neuron, is an :class:`InputError`
    naming the neuron. Edges into connector units (``dec.connectors``) are not partial sums.
    """
    net = dec.network
    part = np.flatnonzero((dec.edge_origin < 0) & ~dec.is_connector[net.post])
    src, dst = net.pre[part], net.post[part]
    bad = (dec.origin[src] != dec.origin[dst]) | (dec.level[src] != dec.level[dst] + 1)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError(
            f"neuron {int(dec.origin[dst[i]])}: partial-sum edge {int(src[i])}->{int(dst[i])} does not go one level "
            "towards its own root (a loop or a cross-neuron edge inside a decomposed neuron's units)",
            constraint="complete",
        )
    outdeg = np.bincount(src, minlength=net.n_neurons)
    non_root = dec.compute & (dec.level > 0)
    sends = np.ones(net.n_neurons, dtype=np.int64)
    sends[dec.dropped] = 0
    wrong = np.flatnonzero(non_root & (outdeg != sends))
    if wrong.size:
        u = int(wrong[0])
        raise InputError(
            f"neuron {int(dec.origin[u])}: unit {u} sends its partial sum to {int(outdeg[u])} units (limit 1)",
            constraint="complete",
        )
    parent = np.full(net.n_neurons, -1, dtype=np.int64)
    parent[src] = dst
    return parent


def simulate_decomposition(
    dec: Decomposition,
    inputs: np.ndarray | None = None,
    *,
    mode: str = "exact",
    timesteps: int | None = None,
    input_rate: float | np.ndarray = 0.2,
    seed: int = 0,
) -> SimResult:
    """Simulate N' in ``exact`` or ``delayed`` mode (see the module docstring).

    Uses the fixed-point scale of the original network, so exact mode reproduces
    :func:`simulate` of ``dec.original`` bit for bit on the same inputs. A connector unit
    (``dec.connectors``) spikes with the unit it relays; a dropped unit's partial sum is
    computed and lost.
    """
    if mode not in MODES:
        raise InputError(f"unknown simulation mode {mode!r}; known: {', '.join(MODES)}", source="--mode")
    net = dec.network
    _check_memory(net, timesteps)
    inputs, note = _check_inputs(net, inputs, timesteps, input_rate, seed)
    T = inputs.shape[0]
    bits = fixed_point_bits(dec.original, T)
    parent = unit_parents(dec)
    n = net.n_neurons
    raw = dec.edge_origin >= 0
    weights = sp.csr_matrix(
        (_quantise(net.weight[raw], bits), (net.post[raw], net.pre[raw])), shape=(n, n), dtype=np.int64
    )
    connector = dec.is_connector
    roots = np.flatnonzero(dec.compute & (dec.level == 0) & ~connector)
    non_root = np.flatnonzero(dec.compute & (dec.level > 0))
    relays = np.flatnonzero(connector)
    relayed = net.pre[np.isin(net.post, relays)] if relays.size else relays  # one in-edge each, in id order
    sending = non_root[parent[non_root] >= 0]  # dropped units send nothing
    input_ids = np.flatnonzero(net.is_input)
    threshold = _quantise(net.threshold[roots], bits)
    bias = _quantise(net.bias[roots], bits)
    reset = _quantise(net.reset[roots], bits)
    leak = net.leak[roots]
    leaky = leak > 0
    # exact mode: accumulate partial sums level by level, deepest first, within the step
    by_level = [sending[dec.level[sending] == lv] for lv in range(int(dec.level.max(initial=0)), 0, -1)]
    levels = [(u, parent[u]) for u in by_level if u.size]
    children = sp.csr_matrix(
        (np.ones(sending.size, dtype=np.int64), (parent[sending], sending)), shape=(n, n), dtype=np.int64
    )
    potential = np.zeros(roots.size, dtype=np.int64)
    trains = np.zeros((T, n), dtype=bool)
    prev_spikes = np.zeros(n, dtype=np.int64)
    prev_partial = np.zeros(n, dtype=np.int64)
    is_non_root = dec.compute & (dec.level > 0)
    for t in range(T):
        total = weights @ prev_spikes
        if mode == "exact":
            for units, parents in levels:
                np.add.at(total, parents, total[units])
        else:
            total += children @ prev_partial
        _leak_step(potential, leak, leaky)
        potential += total[roots]
        potential += bias
        fired = potential >= threshold
        potential[fired] = reset[fired]
        trains[t, input_ids] = inputs[t]
        trains[t, roots] = fired
        trains[t, non_root] = total[non_root] != 0
        for c, r in zip(relays.tolist(), relayed.tolist(), strict=True):  # a connector may relay a connector
            trains[t, c] = trains[t, r]
        prev_spikes = np.zeros(n, dtype=np.int64)
        prev_spikes[input_ids] = inputs[t]
        prev_spikes[roots] = fired
        prev_partial = np.where(is_non_root, total, 0)
    return SimResult(
        counts=trains.sum(axis=0).astype(np.float64),
        trains=trains,
        inputs=inputs,
        timesteps=T,
        fraction_bits=bits,
        source=f"simulated ({mode} mode): {T} steps, fixed point 2^-{bits}, inputs: {note}",
    )


def with_simulated_spikes(
    net: Network,
    inputs: np.ndarray | None = None,
    *,
    timesteps: int | None = None,
    input_rate: float | np.ndarray = 0.2,
    seed: int = 0,
) -> Network:
    """``net`` with its spike counts replaced by simulated ones (provenance recorded)."""
    result = simulate(net, inputs, timesteps=timesteps, input_rate=input_rate, seed=seed)
    return net.with_spikes(result.counts, result.source, timesteps=result.timesteps)


def with_simulated_traffic(
    dec: Decomposition,
    inputs: np.ndarray | None = None,
    *,
    mode: str = "exact",
    timesteps: int | None = None,
    input_rate: float | np.ndarray = 0.2,
    seed: int = 0,
) -> Decomposition:
    """``dec`` with every N' spike count simulated: non-root units send their ``simulated`` traffic.

    Inputs and roots get their simulated spike counts; a non-root unit gets the number of
    steps in which it sends a nonzero partial sum (MODEL.md, section 3).
    """
    result = simulate_decomposition(
        dec, inputs, mode=mode, timesteps=timesteps, input_rate=input_rate, seed=seed
    )
    source = f"{result.source}; non-root units: simulated (steps with a nonzero partial sum)"
    return with_unit_spikes(dec, result.counts, traffic="simulated", source=source, timesteps=result.timesteps)
