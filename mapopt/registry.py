"""Where mapopt finds its plugins: solvers, net generators, catalog nets and file readers.

Plugins are declared as Python entry points (the built-in ones in mapopt's own
pyproject.toml), so an installed package outside mapopt adds a solver by declaring one
entry point; mapopt never imports ``solvers`` or ``problems`` itself (dependencies point
one way). Groups:

- ``mapopt.solvers``: name -> a :class:`~mapopt.solver.Solver` subclass whose ``name`` is
  that name (a stable lowercase word, e.g. ``greedy``);
- ``mapopt.generators``: prefix -> a :class:`Generator` (``--net PREFIX:ARGS``);
- ``mapopt.nets``: provider -> a callable returning :class:`NetEntry` objects (the catalog);
- ``mapopt.readers``: name -> a :class:`FileReader` (network file formats by suffix).

Loading is lazy: listing the names of a group reads only the installed metadata, and a
plugin's module is imported when that plugin is first used, so ``mapopt --help`` imports
no solver library (OR-Tools, PuLP...).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cache
from importlib.metadata import EntryPoint, entry_points
from typing import TYPE_CHECKING, Any

from mapopt.errors import InputError

if TYPE_CHECKING:
    from mapopt.network import Network
    from mapopt.resources import Size
    from mapopt.solver import Solver

SOLVERS = "mapopt.solvers"
GENERATORS = "mapopt.generators"
NETS = "mapopt.nets"
READERS = "mapopt.readers"


@dataclass(frozen=True)
class Generator:
    """A parametrised net family usable as ``--net PREFIX:ARGS`` (e.g. ``mlp:784-100-10``).

    ``size`` states, without building anything, how large ``build(args, seed)`` would be
    (neurons and synapses, exact or an upper bound, see :mod:`mapopt.resources`), so that
    :func:`mapopt.io.resolve_net` refuses a spec that cannot fit in memory before building it.
    """

    prefix: str
    syntax: str
    description: str
    build: Callable[[str, int], Network]  # (args after the colon, seed) -> Network
    size: Callable[[str], Size] | None = None  # args -> estimated size (None: not known in advance)


@dataclass(frozen=True)
class NetEntry:
    """A named catalog net: its size tier, what it is, and how to build it."""

    name: str
    tier: str
    description: str
    build: Callable[[], Network]
    facts: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class FileReader:
    """A network file format: the suffixes it claims and the function that reads such a file.

    ``options`` names the keyword arguments ``read`` takes besides the path (NIR's ``dt``);
    :func:`mapopt.io.read_network` rejects an option given for a format without it.
    """

    name: str
    suffixes: tuple[str, ...]
    read: Callable[..., Network]
    options: tuple[str, ...] = ()


@cache
def _group(group: str) -> dict[str, EntryPoint]:
    """The entry points of ``group`` by name; a name declared twice is an error naming both."""
    found: dict[str, EntryPoint] = {}
    for ep in entry_points(group=group):
        if ep.name in found and found[ep.name].value != ep.value:
            raise RuntimeError(f"{group}: {ep.name!r} declared twice ({found[ep.name].value} and {ep.value})")
        found[ep.name] = ep
    return found


@cache
def _load(group: str, name: str) -> Any:
    ep = _group(group)[name]
    try:
        return ep.load()
    except (ImportError, AttributeError) as err:
        raise RuntimeError(f"{group} plugin {name!r} ({ep.value}) cannot be loaded: {err}") from err


# ---------------------------------------------------------------------- solvers
def _solver(name: str) -> type[Solver]:
    cls = _load(SOLVERS, name)
    if getattr(cls, "name", None) != name:
        raise RuntimeError(f"{SOLVERS} entry point {name!r} names a class whose name is {getattr(cls, 'name', None)!r}")
    if name != name.lower() or " " in name:
        raise RuntimeError(f"solver name must be a lowercase word, got {name!r}")
    return cls


@cache
def solver_names() -> list[str]:
    """The names of every installed solver whose back end is available here (imports them all)."""
    return sorted(name for name in _group(SOLVERS) if _solver(name).available())


def solver_class(name: str) -> type[Solver]:
    """The solver class registered as ``name`` (imports only that plugin's module)."""
    if name not in _group(SOLVERS) or not _solver(name).available():
        raise InputError(f"unknown solver {name!r}; known: {', '.join(solver_names())}", source="--solver")
    return _solver(name)


def make_solver(name: str, **params: Any) -> Solver:
    """Instantiate a registered solver with keyword hyperparameters."""
    cls = solver_class(name)
    try:
        return cls(**params)
    except TypeError as err:
        raise InputError(f"bad hyperparameters for solver {name!r}: {err}", source="--solver") from None


# ---------------------------------------------------------------------- nets
def generator_prefixes() -> list[str]:
    """The ``--net PREFIX:ARGS`` prefixes, from the installed metadata (nothing imported)."""
    return sorted(_group(GENERATORS))


def generator(prefix: str) -> Generator | None:
    """The generator of ``prefix`` (imports only its module), or None."""
    if prefix not in _group(GENERATORS):
        return None
    gen = _load(GENERATORS, prefix)
    if gen.prefix != prefix:
        raise RuntimeError(f"{GENERATORS} entry point {prefix!r} names a generator with prefix {gen.prefix!r}")
    return gen


def generators() -> dict[str, Generator]:
    """Every installed generator by prefix (imports them all)."""
    return {prefix: generator(prefix) for prefix in generator_prefixes()}  # type: ignore[misc]


@cache
def catalog() -> dict[str, NetEntry]:
    """Every catalog net by name, from every ``mapopt.nets`` provider (imports them all)."""
    nets: dict[str, NetEntry] = {}
    for provider in sorted(_group(NETS)):
        entries: Iterable[NetEntry] = _load(NETS, provider)()
        for entry in entries:
            if entry.name in nets:
                raise RuntimeError(f"catalog net {entry.name!r} registered twice (provider {provider!r})")
            nets[entry.name] = entry
    return nets


@cache
def readers() -> dict[str, FileReader]:
    """Every installed network file reader by suffix (lower case, with the dot)."""
    by_suffix: dict[str, FileReader] = {}
    for name in sorted(_group(READERS)):
        reader: FileReader = _load(READERS, name)
        for suffix in reader.suffixes:
            by_suffix[suffix.lower()] = reader
    return by_suffix
