"""Synfire chains: groups of neurons, each group fully connected to the next.

A synfire chain (Abeles, "Corticonics", 1991; Diesmann, Gewaltig and Aertsen, Nature
1999) propagates a volley of synchronous spikes from group to group. ``synfire:G-W``
builds G groups of W neurons; group 0 are the inputs, and every neuron of group i + 1
reads all W neurons of group i with weight 2 / W (half the group firing together reaches
the threshold 1). ``synfire:G-W,ring`` also feeds the last group back into group 1,
closing a loop. Closed forms: G W neurons, (G - 1) W^2 synapses (plus W^2 for a ring),
fan-in W. Spike counts: simulated on Bernoulli(0.2) inputs.
"""

from __future__ import annotations

import numpy as np

from mapopt.errors import InputError
from mapopt.network import DEFAULT_TIMESTEPS, Network
from mapopt.registry import Generator
from mapopt.resources import Size
from problems.instances.specs import parse_sizes
from problems.instances.spikes import with_bernoulli_spikes


def synfire(
    groups: int,
    width: int,
    *,
    ring: bool = False,
    seed: int = 0,
    timesteps: int = DEFAULT_TIMESTEPS,
    spikes: str = "simulated",
) -> Network:
    """A synfire chain of ``groups`` groups of ``width`` neurons (see the module docstring)."""
    if groups < 2 or width < 1 or (ring and groups < 3):
        raise InputError(f"synfire needs >= 2 groups (3 for a ring) of >= 1 neuron, got {groups}-{width}")
    src_group = np.arange(groups - 1)
    dst_group = src_group + 1
    if ring:
        src_group, dst_group = np.append(src_group, groups - 1), np.append(dst_group, 1)
    within = np.arange(width * width)
    pre = (np.repeat(src_group, width * width) * width + np.tile(within % width, len(src_group))).astype(np.int64)
    post = (np.repeat(dst_group, width * width) * width + np.tile(within // width, len(dst_group))).astype(np.int64)
    net = Network.build(
        name=f"synfire-{groups}-{width}" + ("-ring" if ring else ""),
        is_input=np.arange(groups * width) < width,
        pre=pre,
        post=post,
        weight=np.full(len(pre), 2.0 / width),
        timesteps=timesteps,
        layer=np.repeat(np.arange(groups), width),
    )
    return with_bernoulli_spikes(net, seed=seed, model=spikes)


def _parse(args: str) -> tuple[int, int, bool]:
    head, *rest = args.split(",")
    if rest not in ([], ["ring"]):
        raise InputError(f"synfire takes G-W or G-W,ring, got {args!r}")
    groups, width = parse_sizes(head, prefix="synfire", count=2)
    return groups, width, bool(rest)


def _build(args: str, seed: int) -> Network:
    groups, width, ring = _parse(args)
    return synfire(groups, width, ring=ring, seed=seed)


def synfire_size(args: str) -> Size:
    """G W neurons and (G - 1) W^2 synapses (plus W^2 for a ring), in closed form."""
    groups, width, ring = _parse(args)
    return Size(groups * width, (groups - 1 + ring) * width * width)


#: ``--net synfire:ARGS`` (a ``mapopt.generators`` entry point in pyproject.toml).
SYNFIRE_GENERATOR = Generator(
    prefix="synfire",
    syntax="synfire:G-W[,ring]",
    description="synfire chain: G groups of W neurons, each group fully connected to the next",
    build=_build,
    size=synfire_size,
)
