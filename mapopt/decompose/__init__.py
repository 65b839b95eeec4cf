"""Spatial decomposition strategies, selectable as ``STRATEGY[:K][,OPTION=VALUE...]`` (docs/model.md, section 3).

Each strategy is a function ``(network, hardware, k, **options) -> Decomposition``
registered under a stable name in :data:`STRATEGIES` (the options it accepts in
:data:`STRATEGY_OPTIONS`); :func:`decompose` parses a spec, checks the arity against the
hardware, runs the strategy and checks the result against the fan-in limit and the
optional maximum depth. Examples: ``chain:2`` (the paper), ``tree:16``,
``tree:64,order=cooccurrence,grouping=block``, ``auto``, ``auto,depth=2``.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import numpy as np

from mapopt.decompose.auto import auto, check_depth
from mapopt.decompose.base import Decomposition, assemble
from mapopt.decompose.chain import chain
from mapopt.decompose.ordering import GROUPINGS, ORDERS, edge_rank, group_inputs, source_keys
from mapopt.decompose.prune import no_decomposition, prune_first, prune_magnitude
from mapopt.decompose.tree import grouped_tree
from mapopt.errors import InputError
from mapopt.hardware import Hardware
from mapopt.network import Network

Strategy = Callable[..., Decomposition]

#: name -> (function, takes an arity, default arity or None, one-line description)
STRATEGIES: dict[str, tuple[Strategy, bool, int | None, str]] = {
    "none": (lambda net, hw, k: no_decomposition(net), False, None, "map as is; fan-in above F is an error"),
    "prune-first": (
        lambda net, hw, k: prune_first(net, hw.fanin), False, None, "keep each neuron's first F inputs"
    ),
    "prune-magnitude": (
        lambda net, hw, k: prune_magnitude(net, hw.fanin), False, None, "keep each neuron's F largest |w|"
    ),
    "chain": (
        lambda net, hw, k, order="id": chain(
            net, k, edge_rank=None if order == "id" else edge_rank(net, source_keys(net, order))
        ),
        True,
        2,
        "k-ary chain of units, each a column (k=2: the paper's text); option order=id|position|cooccurrence",
    ),
    "pieces": (
        lambda net, hw, k: chain(net, k, strategy="pieces"),
        True,
        2,
        "the authors' code: the k-chain cut while packing into pieces as long as a crossbar's free rows (@paper)",
    ),
    "tree": (
        lambda net, hw, k, order="id", grouping="chunk": grouped_tree(
            net, *group_inputs(net, k, order=order, grouping=grouping), k, strategy="tree", label_arity=k
        ),
        True,
        None,
        "balanced k-ary tree (default k=F); options order=id|position|cooccurrence, grouping=chunk|strip|block",
    ),
    "auto": (
        lambda net, hw, k, depth=None: auto(net, hw, max_depth=depth),
        False,
        None,
        "per layer, the unrolling (below F too; tree or chain) that packs into the fewest crossbars; option depth=D",
    ),
}

#: Strategies whose N' a solver decides while packing (``Solver.decides``): what the strategy
#: itself returns is only the start (``pieces``: the authors' k-chain, before cutting).
SOLVER_DECIDED = frozenset({"pieces"})

#: Options each strategy accepts after its arity (``depth`` is checked for every unrolling strategy).
STRATEGY_OPTIONS: dict[str, dict[str, tuple[str, ...] | type]] = {
    "chain": {"order": ORDERS, "depth": int},
    "tree": {"order": ORDERS, "grouping": GROUPINGS, "depth": int},
    "auto": {"depth": int},
}


def register_strategy(
    name: str, func: Strategy, *, takes_arity: bool, default_arity: int | None, description: str
) -> None:
    """Add a decomposition strategy under a stable lowercase name."""
    STRATEGIES[name] = (func, takes_arity, default_arity, description)


def parse_spec(spec: str) -> tuple[str, int | None, dict[str, object]]:
    """Split ``"tree:8,order=cooccurrence"`` into ``("tree", 8, {"order": "cooccurrence"})``.

    Unknown strategies, arities given to a strategy without one, unknown options and
    option values outside their allowed set are input errors.
    """
    m = re.fullmatch(r"\s*([a-z][a-z0-9-]*)\s*(?::\s*(-?\d+)\s*)?((?:,\s*[a-z-]+\s*=\s*[A-Za-z0-9-]+\s*)*)", spec or "")
    if not m:
        raise InputError(f"decomposition must be STRATEGY[:K][,OPTION=VALUE...], got {spec!r}", source="--decompose")
    name, k, tail = m.group(1), m.group(2), m.group(3)
    if name not in STRATEGIES:
        raise InputError(
            f"unknown decomposition strategy {name!r}; known: {', '.join(sorted(STRATEGIES))}",
            source="--decompose",
        )
    _, takes_arity, default, _ = STRATEGIES[name]
    if k is not None and not takes_arity:
        raise InputError(f"strategy {name!r} takes no arity, got {spec!r}", source="--decompose")
    allowed = STRATEGY_OPTIONS.get(name, {})
    options: dict[str, object] = {}
    for item in filter(None, (part.strip() for part in tail.split(","))):
        key, _, value = (x.strip() for x in item.partition("="))
        if key not in allowed:
            known = ", ".join(sorted(allowed)) or "none"
            raise InputError(f"strategy {name!r} has no option {key!r} (options: {known})", source="--decompose")
        kind = allowed[key]
        if kind is int:
            if not re.fullmatch(r"-?\d+", value):
                raise InputError(f"option {key} must be an integer, got {value!r}", source="--decompose")
            options[key] = int(value)
        elif value not in kind:  # type: ignore[operator]
            raise InputError(
                f"option {key} must be one of {', '.join(kind)}, got {value!r}",  # type: ignore[arg-type]
                source="--decompose",
            )
        else:
            options[key] = value
    return name, int(k) if k is not None else default, options


def check_spec(spec: str, hw: Hardware) -> tuple[str, int | None, dict[str, object]]:
    """Parse ``spec`` and check its arity against ``hw`` (2 <= k <= F), before any net is loaded.

    A strategy that takes an arity and is given none uses k = F.
    """
    name, k, options = parse_spec(spec)
    takes_arity = STRATEGIES[name][1]
    if takes_arity and k is None:
        k = hw.fanin
    if k is not None:
        if k < 2:
            raise InputError(f"arity k={k} must be at least 2", source="--decompose", constraint="fanin")
        if k > hw.fanin:
            raise InputError(
                f"arity k={k} exceeds the fan-in limit F={hw.fanin} of {hw.name}",
                source="--decompose",
                constraint="fanin",
            )
    return name, k, options


def decompose(net: Network, hw: Hardware, spec: str) -> Decomposition:
    """Decompose ``net`` for ``hw`` with the strategy ``spec`` (``"chain:2"``, ``"tree:16"``, ``"auto"``...).

    Raises :class:`InputError` for k < 2 or k > F, for a maximum depth (option ``depth``)
    that some neuron cannot meet, and (strategy ``none``) for a neuron whose fan-in exceeds
    F, naming the neuron, the limit and the actual value.
    """
    name, k, options = check_spec(spec, hw)
    depth = options.get("depth")
    max_depth = depth if isinstance(depth, int) else None
    if name != "auto":  # auto optimises under the limit; the others are only checked against it
        options.pop("depth", None)
    if max_depth is not None:
        check_depth(net, hw, max_depth)
    func = STRATEGIES[name][0]
    dec = func(net, hw, k, **options)
    over = np.flatnonzero(dec.network.fanin > hw.fanin)
    if over.size:
        unit = int(over[0])
        neuron = int(dec.origin[unit])
        raise InputError(
            f"neuron {neuron} has fan-in {int(dec.network.fanin[unit])} above the limit F={hw.fanin} "
            f"of {hw.name} with decomposition {dec.label!r}; choose a decomposition such as chain:2",
            constraint="fanin",
        )
    if max_depth is not None and dec.depth > max_depth:
        deepest = int(dec.origin[int(np.argmax(dec.level))])
        raise InputError(
            f"neuron {deepest} unrolls to depth {dec.depth} with {dec.label!r}, above the limit depth={max_depth}; "
            "use a larger arity, a tree or auto",
            source="--decompose",
        )
    return dec


__all__ = [
    "SOLVER_DECIDED",
    "STRATEGIES",
    "STRATEGY_OPTIONS",
    "Decomposition",
    "assemble",
    "check_spec",
    "decompose",
    "parse_spec",
    "register_strategy",
]
