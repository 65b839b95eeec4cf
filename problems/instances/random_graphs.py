"""Random sparse nets: Erdos-Renyi G(n, m) and heavy-tailed (power-law) fan-in.

- ``er:n=N,m=M[,inputs=K]``: the Erdos-Renyi G(n, m) model (exactly M synapses, so the
  count is a closed form): N neurons, the first K (default N/10) are inputs; M distinct
  pairs (pre, post) are drawn uniformly among all pairs with a compute post-synaptic
  neuron and pre != post (recurrence and cycles allowed, no self-loops).
- ``powerlaw:n=N[,inputs=K,alpha=A,kmin=KMIN,kmax=KMAX]``: each compute neuron draws its
  fan-in from a discrete Pareto law P(fan-in >= k) = (k / kmin)^-(A - 1), clipped to
  [kmin, kmax] (default kmin 2, kmax N - 1, A 2.2), then reads that many distinct sources
  drawn uniformly from the other neurons. A few neurons get a huge fan-in: the case
  spatial decomposition is for. Synapses = the sum of the drawn fan-ins.

Weights are Gaussian, standard deviation 2 / sqrt(fan-in). Spike counts: simulated on
Bernoulli(0.2) inputs; ``Network.layer`` is the hop distance from the inputs.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import dijkstra

from mapopt.errors import InputError
from mapopt.network import DEFAULT_TIMESTEPS, Network
from mapopt.registry import Generator
from mapopt.resources import Size
from problems.instances.specs import parse_options
from problems.instances.spikes import with_bernoulli_spikes


def _finish(
    name: str, n: int, n_in: int, pre: np.ndarray, post: np.ndarray, seed: int, timesteps: int, spikes: str
) -> Network:
    """Weights, layers (hop distance from the inputs) and spike counts for sampled synapses."""
    rng = np.random.default_rng([seed, 1])
    fanin = np.bincount(post, minlength=n)
    weight = rng.normal(0.0, 1.0, size=len(pre)) * 2.0 / np.sqrt(np.maximum(fanin[post], 1))
    adj = sp.csr_matrix((np.ones(len(pre)), (pre, post)), shape=(n, n))
    hops = dijkstra(adj, indices=np.arange(n_in), unweighted=True, min_only=True) if n_in else np.zeros(n)
    finite = np.isfinite(hops)
    layer = np.where(finite, hops, hops[finite].max(initial=0) + 1).astype(np.int32)
    net = Network.build(
        name=name,
        is_input=np.arange(n) < n_in,
        pre=pre,
        post=post,
        weight=weight,
        timesteps=timesteps,
        layer=layer,
    )
    return with_bernoulli_spikes(net, seed=seed, model=spikes)


def _pair_to_synapse(index: np.ndarray, n: int, n_in: int) -> tuple[np.ndarray, np.ndarray]:
    """Pair index in [0, (n - n_in) (n - 1)) -> (pre, post), post a compute neuron, pre != post."""
    post = n_in + index // (n - 1)
    pre = index % (n - 1)
    return pre + (pre >= post), post


def erdos_renyi(
    n: int,
    m: int,
    *,
    n_in: int | None = None,
    seed: int = 0,
    timesteps: int = DEFAULT_TIMESTEPS,
    spikes: str = "simulated",
) -> Network:
    """G(n, m): exactly ``m`` distinct synapses, uniformly drawn (see the module docstring)."""
    n_in = n // 10 if n_in is None else n_in
    pairs = (n - n_in) * (n - 1)
    if not (n >= 2 and 0 <= n_in < n and 0 <= m <= pairs):
        raise InputError(
            f"er needs n >= 2, 0 <= inputs < n and 0 <= m <= {pairs} pairs; got n={n}, inputs={n_in}, m={m}"
        )
    rng = np.random.default_rng(seed)
    # sorted pair indices come out in (post, pre) order, so Network.build need not sort them again
    pre, post = _pair_to_synapse(np.sort(rng.choice(pairs, size=m, replace=False)), n, n_in)
    return _finish(f"er-n{n}-m{m}", n, n_in, pre, post, seed, timesteps, spikes)


def powerlaw(
    n: int,
    *,
    n_in: int | None = None,
    alpha: float = 2.2,
    kmin: int = 2,
    kmax: int | None = None,
    seed: int = 0,
    timesteps: int = DEFAULT_TIMESTEPS,
    spikes: str = "simulated",
) -> Network:
    """Heavy-tailed fan-in (see the module docstring)."""
    n_in = n // 10 if n_in is None else n_in
    kmax = n - 1 if kmax is None else kmax
    if not (n >= 2 and 0 <= n_in < n and alpha > 1 and 1 <= kmin <= kmax <= n - 1):
        raise InputError(
            f"powerlaw needs n >= 2, 0 <= inputs < n, alpha > 1 and 1 <= kmin <= kmax <= n - 1; "
            f"got n={n}, inputs={n_in}, alpha={alpha}, kmin={kmin}, kmax={kmax}"
        )
    rng = np.random.default_rng(seed)
    n_comp = n - n_in
    fanin = np.floor(kmin * (1.0 - rng.random(n_comp)) ** (-1.0 / (alpha - 1.0)))
    fanin = np.clip(fanin, kmin, kmax).astype(np.int64)
    post = np.repeat(n_in + np.arange(n_comp), fanin)
    # Distinct sources per neuron: draw with replacement, then redraw the repeats until none
    # is left. A neuron reading more than half the others would need many rounds (coupon
    # collector), so those few neurons take a prefix of a random permutation instead.
    pre = rng.integers(0, n - 1, size=len(post))
    starts = np.concatenate(([0], np.cumsum(fanin)))
    for v in np.flatnonzero(fanin > (n - 1) // 2):  # a handful of neurons, not synapses
        pre[starts[v] : starts[v + 1]] = rng.permutation(n - 1)[: fanin[v]]
    while True:
        order = np.lexsort((pre, post))
        repeat = np.zeros(len(pre), dtype=bool)
        repeat[order[1:]] = (pre[order[1:]] == pre[order[:-1]]) & (post[order[1:]] == post[order[:-1]])
        if not repeat.any():
            break
        pre[repeat] = rng.integers(0, n - 1, size=int(repeat.sum()))
    pre = pre + (pre >= post)  # skip the neuron itself
    name = f"powerlaw-n{n}-a{alpha:g}-k{kmin}"
    return _finish(name, n, n_in, pre, post, seed, timesteps, spikes)


def _er_args(args: str) -> dict[str, float]:
    return parse_options(args.split(","), {"n": 0, "m": 0, "inputs": -1}, prefix="er")


def _er(args: str, seed: int) -> Network:
    o = _er_args(args)
    return erdos_renyi(o["n"], o["m"], n_in=None if o["inputs"] < 0 else o["inputs"], seed=seed)


def er_size(args: str) -> Size:
    """N neurons and exactly M synapses."""
    o = _er_args(args)
    return Size(max(o["n"], 0), max(o["m"], 0))


def _powerlaw_args(args: str) -> dict[str, float]:
    defaults = {"n": 0, "inputs": -1, "alpha": 2.2, "kmin": 2, "kmax": -1}
    return parse_options(args.split(","), defaults, prefix="powerlaw")


def _powerlaw(args: str, seed: int) -> Network:
    o = _powerlaw_args(args)
    return powerlaw(
        o["n"],
        n_in=None if o["inputs"] < 0 else o["inputs"],
        alpha=o["alpha"],
        kmin=o["kmin"],
        kmax=None if o["kmax"] < 0 else o["kmax"],
        seed=seed,
    )


def powerlaw_size(args: str) -> Size:
    """N neurons and the expected synapses: (N - inputs) E[min(X, kmax)] for the Pareto fan-in X.

    With P(X > x) = (x / kmin)^-(A - 1) for x >= kmin, E[min(X, kmax)] = kmin + the integral of
    P(X > x) from kmin to kmax (the floor in the generator only lowers it). Twice that is
    returned as the synapse estimate, a margin for the sampling spread and the redraws.
    """
    o = _powerlaw_args(args)
    n = max(int(o["n"]), 0)
    n_in = n // 10 if o["inputs"] < 0 else int(o["inputs"])
    kmin, alpha = max(float(o["kmin"]), 1.0), float(o["alpha"])
    kmax = max(float(n - 1 if o["kmax"] < 0 else o["kmax"]), kmin)
    if alpha == 2.0:
        tail = kmin * np.log(kmax / kmin)
    elif alpha > 1:
        tail = kmin ** (alpha - 1) * (kmax ** (2 - alpha) - kmin ** (2 - alpha)) / (2 - alpha)
    else:
        tail = kmax - kmin  # no valid law: the generator refuses it; bound by kmax
    return Size(n, 2.0 * max(n - n_in, 0) * (kmin + tail))


#: ``--net er:ARGS`` (a ``mapopt.generators`` entry point in pyproject.toml).
ER_GENERATOR = Generator(
    prefix="er",
    syntax="er:n=N,m=M[,inputs=K]",
    description="Erdos-Renyi G(n, m): exactly M random synapses, first K (n/10) neurons are inputs",
    build=_er,
    size=er_size,
)
#: ``--net powerlaw:ARGS`` (a ``mapopt.generators`` entry point in pyproject.toml).
POWERLAW_GENERATOR = Generator(
    prefix="powerlaw",
    syntax="powerlaw:n=N[,inputs=K,alpha=2.2,kmin=2,kmax=N-1]",
    description="heavy-tailed (Pareto) fan-in, distinct uniform sources per neuron",
    build=_powerlaw,
    size=powerlaw_size,
)
