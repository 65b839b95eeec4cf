"""Where mapopt finds solvers, net generators and catalog nets.

The ``solvers`` and ``problems`` packages register themselves here when imported;
mapopt never imports them at module level (dependencies point one way: they use mapopt's
model, mapopt finds them through this registry). :func:`load_plugins` imports them on
first use, and every ``solvers/*.py`` / ``problems/*.py`` module is discovered
automatically, so adding a method means adding one module.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from mapopt.errors import InputError
from mapopt.io import read_network
from mapopt.network import Network
from mapopt.solver import Solver

PLUGIN_PACKAGES = ("solvers", "problems")

_SOLVERS: dict[str, type[Solver]] = {}
_GENERATORS: dict[str, Generator] = {}
_NETS: dict[str, NetEntry] = {}
_loaded = False

S = TypeVar("S", bound=type[Solver])


@dataclass(frozen=True)
class Generator:
    """A parametrised net family usable as ``--net PREFIX:ARGS`` (e.g. ``mlp:784-100-10``)."""

    prefix: str
    syntax: str
    description: str
    build: Callable[[str, int], Network]  # (args after the colon, seed) -> Network


@dataclass(frozen=True)
class NetEntry:
    """A named catalog net: its size tier, what it is, and how to build it."""

    name: str
    tier: str
    description: str
    build: Callable[[], Network]
    facts: dict[str, Any] = field(default_factory=dict)


def load_plugins() -> None:
    """Import every module of the plugin packages once, so that they register."""
    global _loaded
    if _loaded:
        return
    _loaded = True
    for package_name in PLUGIN_PACKAGES:
        package = importlib.import_module(package_name)
        for info in pkgutil.iter_modules(package.__path__):
            importlib.import_module(f"{package_name}.{info.name}")


# ---------------------------------------------------------------------- solvers
def register_solver(cls: S) -> S:
    """Class decorator: register a :class:`Solver` under its stable lowercase ``name``."""
    name = cls.name
    if not name or name != name.lower() or " " in name:
        raise ValueError(f"solver name must be a non-empty lowercase word, got {name!r}")
    if name in _SOLVERS and _SOLVERS[name] is not cls:
        raise ValueError(f"solver name {name!r} registered twice")
    _SOLVERS[name] = cls
    return cls


def solver_names() -> list[str]:
    load_plugins()
    return sorted(_SOLVERS)


def solver_class(name: str) -> type[Solver]:
    load_plugins()
    if name not in _SOLVERS:
        raise InputError(f"unknown solver {name!r}; known: {', '.join(sorted(_SOLVERS))}", source="--solver")
    return _SOLVERS[name]


def make_solver(name: str, **params: Any) -> Solver:
    """Instantiate a registered solver with keyword hyperparameters."""
    cls = solver_class(name)
    try:
        return cls(**params)
    except TypeError as err:
        raise InputError(f"bad hyperparameters for solver {name!r}: {err}", source="--solver") from None


# ---------------------------------------------------------------------- nets
def register_generator(gen: Generator) -> Generator:
    _GENERATORS[gen.prefix] = gen
    return gen


def register_net(entry: NetEntry) -> NetEntry:
    if entry.name in _NETS:
        raise ValueError(f"catalog net {entry.name!r} registered twice")
    _NETS[entry.name] = entry
    return entry


def generators() -> dict[str, Generator]:
    load_plugins()
    return dict(_GENERATORS)


def catalog() -> dict[str, NetEntry]:
    load_plugins()
    return dict(_NETS)


def resolve_net(spec: str, *, spikes: str | None = None, seed: int = 0, merge_duplicates: bool = False) -> Network:
    """Turn a ``--net`` value into a network: a file path, a catalog name or ``PREFIX:ARGS``.

    ``spikes`` is an optional spike file for formats that keep spikes apart (SpiNeMap);
    ``merge_duplicates`` sums the weights of repeated synapses instead of rejecting them.
    """
    load_plugins()
    path = Path(spec)
    if path.exists():
        return read_network(path, spikes=spikes, merge_duplicates=merge_duplicates)
    if spikes is not None:
        raise InputError(
            f"only a SpiNeMap connection file takes a spike file; --net {spec} is not a file", source="--spikes"
        )
    if spec in _NETS:
        return _NETS[spec].build()
    prefix, sep, args = spec.partition(":")
    if sep and prefix in _GENERATORS:
        try:
            return _GENERATORS[prefix].build(args, seed)
        except InputError as err:
            raise err.with_source(f"--net {spec}") from None
    if sep or "." in spec or "/" in spec:
        hint = f"no such file, and no generator {prefix!r}" if sep else "no such file"
        raise InputError(f"{hint}; generators: {', '.join(sorted(_GENERATORS))}", source=spec)
    raise InputError(
        f"unknown net {spec!r}: not a file, a catalog name ({', '.join(sorted(_NETS))}) "
        f"or PREFIX:ARGS ({', '.join(sorted(_GENERATORS))})",
        source="--net",
    )
