"""Spatial decomposition strategies, selectable as ``STRATEGY[:K]`` (docs/model.md, section 3).

Each strategy is a function ``(network, hardware, k) -> Decomposition`` registered under a
stable name in :data:`STRATEGIES`; :func:`decompose` parses a spec, checks the arity
against the hardware, runs the strategy and checks the result against the fan-in limit.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import numpy as np

from mapopt.decompose.base import Decomposition, assemble
from mapopt.decompose.chain import chain
from mapopt.decompose.prune import no_decomposition, prune_first, prune_magnitude
from mapopt.errors import InputError
from mapopt.hardware import Hardware
from mapopt.network import Network

Strategy = Callable[[Network, Hardware, "int | None"], Decomposition]

#: name -> (function, takes an arity, default arity or None, one-line description)
STRATEGIES: dict[str, tuple[Strategy, bool, int | None, str]] = {
    "none": (lambda net, hw, k: no_decomposition(net), False, None, "map as is; fan-in above F is an error"),
    "prune-first": (
        lambda net, hw, k: prune_first(net, hw.fanin), False, None, "keep each neuron's first F inputs"
    ),
    "prune-magnitude": (
        lambda net, hw, k: prune_magnitude(net, hw.fanin), False, None, "keep each neuron's F largest |w|"
    ),
    "chain": (lambda net, hw, k: chain(net, k), True, 2, "k-ary chain of units (k=2: the paper)"),
}


def register_strategy(
    name: str, func: Strategy, *, takes_arity: bool, default_arity: int | None, description: str
) -> None:
    """Add a decomposition strategy under a stable lowercase name."""
    STRATEGIES[name] = (func, takes_arity, default_arity, description)


def parse_strategy(spec: str) -> tuple[str, int | None]:
    """Split ``"chain:4"`` into ``("chain", 4)``; unknown names and bad arities are errors."""
    m = re.fullmatch(r"\s*([a-z][a-z0-9-]*)\s*(?::\s*(-?\d+)\s*)?", spec or "")
    if not m:
        raise InputError(f"decomposition must be STRATEGY[:K], got {spec!r}", source="--decompose")
    name, k = m.group(1), m.group(2)
    if name not in STRATEGIES:
        raise InputError(
            f"unknown decomposition strategy {name!r}; known: {', '.join(sorted(STRATEGIES))}",
            source="--decompose",
        )
    _, takes_arity, default, _ = STRATEGIES[name]
    if k is not None and not takes_arity:
        raise InputError(f"strategy {name!r} takes no arity, got {spec!r}", source="--decompose")
    return name, int(k) if k is not None else default


def decompose(net: Network, hw: Hardware, spec: str) -> Decomposition:
    """Decompose ``net`` for ``hw`` with the strategy ``spec`` (``"chain:2"``, ``"prune-first"``...).

    Raises :class:`InputError` for k < 2 or k > F, and (strategy ``none``) for a neuron
    whose fan-in exceeds F, naming the neuron, the limit and the actual fan-in.
    """
    name, k = parse_strategy(spec)
    if k is not None:
        if k < 2:
            raise InputError(f"arity k={k} must be at least 2", source="--decompose", constraint="fanin")
        if k > hw.fanin:
            raise InputError(
                f"arity k={k} exceeds the fan-in limit F={hw.fanin} of {hw.name}",
                source="--decompose",
                constraint="fanin",
            )
    func = STRATEGIES[name][0]
    dec = func(net, hw, k)
    over = np.flatnonzero(dec.network.fanin > hw.fanin)
    if over.size:
        unit = int(over[0])
        neuron = int(dec.origin[unit])
        raise InputError(
            f"neuron {neuron} has fan-in {int(dec.network.fanin[unit])} above the limit F={hw.fanin} "
            f"of {hw.name} with decomposition {dec.label!r}; choose a decomposition such as chain:2",
            constraint="fanin",
        )
    return dec


__all__ = [
    "STRATEGIES",
    "Decomposition",
    "assemble",
    "decompose",
    "parse_strategy",
    "register_strategy",
]
