"""Net generators usable as ``--net PREFIX:ARGS``.

``mlp:784-100-10`` is a fully connected multilayer perceptron (layer sizes separated by
``-``; the first layer is the inputs), with Gaussian weights scaled by 2/sqrt(fan-in)
and spike counts simulated on a rate-coded scikit-learn digits image (:mod:`problems.instances.spikes`).

The synapse arrays are written in place, already in the ``(post, pre)`` order of
:class:`~mapopt.network.Network` (so it does not sort them) and in their final types
(int32 ids; float32 weights for nets with rate-model spikes, the huge ones), with the
weights drawn in chunks: a 100M-synapse MLP costs its own arrays (1.2 GB) and little more.
Chunked draws give exactly the values of one draw of the whole layer.
"""

from __future__ import annotations

from itertools import pairwise

import numpy as np

from mapopt.errors import InputError
from mapopt.network import CHUNK, DEFAULT_TIMESTEPS, Network, index_dtype
from mapopt.registry import Generator
from mapopt.resources import Size
from problems.instances.spikes import with_image_spikes


def mlp(sizes: list[int], *, seed: int = 0, timesteps: int = DEFAULT_TIMESTEPS, spikes: str = "simulated") -> Network:
    """A fully connected feed-forward net with ``sizes[0]`` inputs, driven by a digit image.

    A square input layer (784 = 28 x 28) sees the image resized to that square; any other
    input layer sees the image's 64 pixels, row by row, stretched to its length.
    """
    if len(sizes) < 2 or any(s < 1 for s in sizes):
        raise InputError(f"mlp needs at least two positive layer sizes, got {sizes}")
    rng = np.random.default_rng(seed)
    offsets = np.concatenate(([0], np.cumsum(sizes)))
    n = int(offsets[-1])
    total = sum(a * b for a, b in pairwise(sizes))
    ids = index_dtype(n)
    pre, post = np.empty(total, dtype=ids), np.empty(total, dtype=ids)
    weight = np.empty(total, dtype=np.float32 if spikes == "rate" else np.float64)
    at = 0
    for i, (a, b) in enumerate(pairwise(sizes)):
        block = slice(at, at + a * b)  # destination-major: (post, pre) order
        pre[block].reshape(b, a)[:] = np.arange(offsets[i], offsets[i + 1], dtype=ids)
        post[block].reshape(b, a)[:] = np.arange(offsets[i + 1], offsets[i + 2], dtype=ids)[:, None]
        scale = 2.0 / np.sqrt(a)
        for lo in range(block.start, block.stop, CHUNK):
            hi = min(lo + CHUNK, block.stop)
            weight[lo:hi] = rng.normal(0.0, scale, size=hi - lo)
        at += a * b
    net = Network.build(
        name="mlp-" + "-".join(map(str, sizes)),
        is_input=np.arange(n) < sizes[0],
        pre=pre,
        post=post,
        weight=weight,
        timesteps=timesteps,
        layer=np.repeat(np.arange(len(sizes)), sizes),
    )
    side = round(float(np.sqrt(sizes[0])))
    return with_image_spikes(net, (1, side, side) if side * side == sizes[0] else (sizes[0],), seed=seed, model=spikes)


def _parse_sizes(args: str) -> list[int]:
    try:
        sizes = [int(x) for x in args.split("-")]
    except ValueError:
        raise InputError(f"mlp sizes must be integers separated by '-', got {args!r}") from None
    if len(sizes) < 2 or any(s < 1 for s in sizes):
        raise InputError(f"mlp needs at least two positive layer sizes, got {args!r}")
    return sizes


def mlp_size(args: str) -> Size:
    """Neurons and synapses of ``mlp:ARGS`` in closed form (every neuron reads the whole previous layer)."""
    sizes = _parse_sizes(args)
    return Size(sum(sizes), sum(a * b for a, b in pairwise(sizes)))


#: ``--net mlp:ARGS`` (a ``mapopt.generators`` entry point in pyproject.toml).
MLP_GENERATOR = Generator(
    prefix="mlp",
    syntax="mlp:N0-N1-...-Nk",
    description="fully connected MLP, N0 inputs; spikes simulated on a digits image",
    build=lambda args, seed: mlp(_parse_sizes(args), seed=seed),
    size=mlp_size,
)
