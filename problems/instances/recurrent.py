"""Recurrent nets: a liquid state machine and a small recurrent classifier.

- ``lsm:IN-RES-OUT[,lambda=L,cscale=S,pin=P]``: a liquid state machine after Maass,
  Natschlaeger and Markram ("Real-time computing without stable states", Neural
  Computation 2002). RES reservoir neurons sit on a 3-D grid, 20 % of them inhibitory;
  neuron a connects to b (a != b) with probability ``C * exp(-(D(a, b) / lambda)^2)``
  where D is the grid distance and C is 0.3 (E->E), 0.2 (E->I), 0.4 (I->E), 0.1 (I->I),
  times ``cscale``. Each input connects to each reservoir neuron with probability
  ``pin`` (0.3). The OUT readout neurons read every reservoir neuron (fan-in RES).
  Excitatory weights are positive, inhibitory ones negative.
- ``rnn:IN-HID-OUT``: a recurrent classifier like snnTorch's RLeaky layer: inputs fully
  connected to HID hidden neurons, hidden neurons fully connected to each other
  (self-loops included, as a dense recurrent weight matrix has them), hidden fully
  connected to OUT outputs. Synapses IN*HID + HID^2 + HID*OUT, hidden fan-in IN + HID.

Spike counts: simulated on Bernoulli(0.2) inputs (:mod:`problems.instances.spikes`).
"""

from __future__ import annotations

import numpy as np

from mapopt.errors import InputError
from mapopt.network import DEFAULT_TIMESTEPS, Network
from mapopt.registry import Generator
from mapopt.resources import Size
from problems.instances.specs import parse_options, parse_sizes
from problems.instances.spikes import with_bernoulli_spikes

#: Maass et al. (2002) base connection probabilities C by (pre, post) type, E = 0, I = 1.
LSM_C = np.array([[0.3, 0.2], [0.4, 0.1]])
#: Rows of the reservoir distance matrix sampled at once (bounds memory at ~ROWS * RES floats).
_ROWS = 2048


def _dense_block(src: np.ndarray, dst: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """All synapses src x dst as (pre, post)."""
    return np.tile(src, len(dst)), np.repeat(dst, len(src))


def lsm(
    n_in: int,
    n_res: int,
    n_out: int,
    *,
    lam: float = 2.0,
    cscale: float = 1.0,
    p_in: float = 0.3,
    seed: int = 0,
    timesteps: int = DEFAULT_TIMESTEPS,
    spikes: str = "simulated",
) -> Network:
    """A liquid state machine (see the module docstring); ids: inputs, reservoir, readout."""
    if not (lam > 0 and cscale >= 0 and 0 <= p_in <= 1):
        raise InputError(f"lsm needs lambda > 0, cscale >= 0 and 0 <= pin <= 1, got {lam}, {cscale}, {p_in}")
    rng = np.random.default_rng(seed)
    res = n_in + np.arange(n_res)
    out = n_in + n_res + np.arange(n_out)
    side = int(np.ceil(n_res ** (1 / 3)))
    pos = np.stack(np.unravel_index(np.arange(n_res), (side, side, side)), axis=1).astype(np.float64)
    inhibitory = rng.random(n_res) < 0.2
    pre_parts, post_parts = [], []
    # Inputs -> reservoir: independent coins.
    hit = np.flatnonzero(rng.random(n_in * n_res) < p_in)
    pre_parts.append(hit // n_res)
    post_parts.append(res[hit % n_res])
    # Reservoir -> reservoir: distance-dependent coins, a block of source rows at a time.
    for lo in range(0, n_res, _ROWS):
        rows = np.arange(lo, min(lo + _ROWS, n_res))
        d2 = ((pos[rows, None, :] - pos[None, :, :]) ** 2).sum(axis=2)
        c = LSM_C[inhibitory[rows].astype(int)[:, None], inhibitory.astype(int)[None, :]]
        p = np.minimum(1.0, cscale * c * np.exp(-d2 / lam**2))
        p[np.arange(len(rows)), rows] = 0.0  # no self-loops in the liquid
        a, b = np.nonzero(rng.random(p.shape) < p)
        pre_parts.append(res[rows[a]])
        post_parts.append(res[b])
    # Reservoir -> readout: dense.
    pre, post = _dense_block(res, out)
    pre_parts.append(pre)
    post_parts.append(post)
    pre, post = np.concatenate(pre_parts), np.concatenate(post_parts)
    is_inh = np.zeros(n_in + n_res + n_out, dtype=bool)
    is_inh[res] = inhibitory
    magnitude = np.abs(rng.normal(0.0, 1.0, size=len(pre))) * 3.0 / np.sqrt(max(1.0, p_in * n_in))
    weight = np.where(is_inh[pre], -magnitude, magnitude)
    net = Network.build(
        name=f"lsm-{n_in}-{n_res}-{n_out}",
        is_input=np.arange(n_in + n_res + n_out) < n_in,
        pre=pre,
        post=post,
        weight=weight,
        timesteps=timesteps,
        layer=np.repeat([0, 1, 2], [n_in, n_res, n_out]),
    )
    return with_bernoulli_spikes(net, seed=seed, model=spikes)


def rnn(
    n_in: int, n_hid: int, n_out: int, *, seed: int = 0, timesteps: int = DEFAULT_TIMESTEPS, spikes: str = "simulated"
) -> Network:
    """A recurrent classifier (see the module docstring); ids: inputs, hidden, outputs."""
    rng = np.random.default_rng(seed)
    inp, hid, out = np.arange(n_in), n_in + np.arange(n_hid), n_in + n_hid + np.arange(n_out)
    blocks = [_dense_block(inp, hid), _dense_block(hid, hid), _dense_block(hid, out)]
    scales = [2.0 / np.sqrt(n_in), 1.0 / np.sqrt(n_hid), 2.0 / np.sqrt(n_hid)]
    net = Network.build(
        name=f"rnn-{n_in}-{n_hid}-{n_out}",
        is_input=np.arange(n_in + n_hid + n_out) < n_in,
        pre=np.concatenate([b[0] for b in blocks]),
        post=np.concatenate([b[1] for b in blocks]),
        weight=np.concatenate([rng.normal(0.0, s, size=len(b[0])) for b, s in zip(blocks, scales, strict=True)]),
        timesteps=timesteps,
        layer=np.repeat([0, 1, 2], [n_in, n_hid, n_out]),
    )
    return with_bernoulli_spikes(net, seed=seed, model=spikes)


def _lsm_args(args: str) -> tuple[int, int, int, dict[str, float]]:
    head, *rest = args.split(",")
    n_in, n_res, n_out = parse_sizes(head, prefix="lsm", count=3)
    return n_in, n_res, n_out, parse_options(rest, {"lambda": 2.0, "cscale": 1.0, "pin": 0.3}, prefix="lsm")


def _lsm(args: str, seed: int) -> Network:
    n_in, n_res, n_out, opts = _lsm_args(args)
    return lsm(n_in, n_res, n_out, lam=opts["lambda"], cscale=opts["cscale"], p_in=opts["pin"], seed=seed)


def lsm_size(args: str) -> Size:
    """An upper bound on the size of ``lsm:ARGS``, and the scratch memory of its sampling.

    Reservoir synapses: each neuron's expected out-degree is at most max(C) * cscale times
    sum over grid offsets d of exp(-|d|^2 / lambda^2) <= (1 + lambda sqrt(pi))^3 (and at
    most RES - 1). Scratch: the input coins (IN x RES floats) and one block of
    ``_ROWS`` x RES distances, probabilities and coins.
    """
    n_in, n_res, n_out, opts = _lsm_args(args)
    lam, cscale, p_in = opts["lambda"], opts["cscale"], opts["pin"]
    degree = min(n_res - 1, float(LSM_C.max()) * max(cscale, 0.0) * (1 + abs(lam) * np.sqrt(np.pi)) ** 3)
    synapses = n_in * n_res * min(max(p_in, 0.0), 1.0) + n_res * degree + n_res * n_out
    work = 9.0 * n_in * n_res + 40.0 * min(_ROWS, n_res) * n_res
    return Size(n_in + n_res + n_out, synapses, work)


def rnn_size(args: str) -> Size:
    """IN*HID + HID^2 + HID*OUT synapses, in closed form."""
    n_in, n_hid, n_out = parse_sizes(args, prefix="rnn", count=3)
    return Size(n_in + n_hid + n_out, n_in * n_hid + n_hid * n_hid + n_hid * n_out)


#: ``--net lsm:ARGS`` (a ``mapopt.generators`` entry point in pyproject.toml).
LSM_GENERATOR = Generator(
    prefix="lsm",
    syntax="lsm:IN-RES-OUT[,lambda=2,cscale=1,pin=0.3]",
    description="liquid state machine (Maass 2002): 3-D grid reservoir, distance-dependent recurrence",
    build=_lsm,
    size=lsm_size,
)
#: ``--net rnn:ARGS`` (a ``mapopt.generators`` entry point in pyproject.toml).
RNN_GENERATOR = Generator(
    prefix="rnn",
    syntax="rnn:IN-HID-OUT",
    description="recurrent classifier: dense input, dense recurrent hidden layer (self-loops), dense readout",
    build=lambda args, seed: rnn(*parse_sizes(args, prefix="rnn", count=3), seed=seed),
    size=rnn_size,
)
