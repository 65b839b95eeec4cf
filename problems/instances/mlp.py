"""Net generators usable as ``--net PREFIX:ARGS``.

``mlp:784-100-10`` is a fully connected multilayer perceptron (layer sizes separated by
``-``; the first layer is the inputs), with Gaussian weights scaled by 2/sqrt(fan-in)
and spike counts simulated on a rate-coded scikit-learn digits image (:mod:`problems.instances.spikes`).
"""

from __future__ import annotations

from itertools import pairwise

import numpy as np

from mapopt.errors import InputError
from mapopt.network import DEFAULT_TIMESTEPS, Network
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
    pre_parts, post_parts, w_parts = [], [], []
    for i in range(len(sizes) - 1):
        src = np.arange(offsets[i], offsets[i + 1])
        dst = np.arange(offsets[i + 1], offsets[i + 2])
        pre_parts.append(np.tile(src, len(dst)))
        post_parts.append(np.repeat(dst, len(src)))
        w_parts.append(rng.normal(0.0, 2.0 / np.sqrt(len(src)), size=len(src) * len(dst)))
    n = int(offsets[-1])
    net = Network.build(
        name="mlp-" + "-".join(map(str, sizes)),
        is_input=np.arange(n) < sizes[0],
        pre=np.concatenate(pre_parts),
        post=np.concatenate(post_parts),
        weight=np.concatenate(w_parts),
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
