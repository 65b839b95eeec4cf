"""A bake-off study: what to run (solvers x instances x hardware x decompositions x seeds) and how.

The same study comes from the command line (``mapopt bakeoff --solvers ... --instances ...``)
or from a small TOML file (``mapopt bakeoff study.toml``), so that it can be committed and
rerun. A study file holds top-level defaults and one or more ``[[runs]]`` blocks, each
one cross product; the study is their union::

    name = "example"
    store = "example.db"          # relative to the study file
    hw = "dynapse-paper"          # or a list; crossbar/fanin/crossbars_per_tile/mesh override it
    decompose = "auto"            # or a list
    seeds = 3                     # seeds 0..2, or an explicit list [0, 7]
    time_limit = 5.0              # seconds per run; leave out for work budgets only
    jobs = 2                      # local worker processes
    memory_limit_mb = 4096
    grace = 10.0                  # seconds past the time limit before a run is killed as hung

    [variants]                    # named variants, NAME@VARIANT = params file or inline table
    "pso@wide" = { particles = 32 }

    [[runs]]
    solvers = "all"               # "all", "heuristics", "exact" or a list of variants
    instances = ["tiny", "small"] # tiers, catalog names, generator specs, files

    [[runs]]
    solvers = "heuristics"
    instances = ["medium"]
    time_limit = 10.0

Everything is checked when the study is loaded (:func:`load_study`, :func:`study_from_options`),
before any net is built or any run starts: unknown keys, solvers, parameters, presets,
decompositions and instances are one :class:`~mapopt.errors.InputError` each.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mapopt.decompose import check_spec
from mapopt.errors import InputError
from mapopt.hardware import Hardware, customise, load_preset
from mapopt.problem import DEFAULT_OBJECTIVE, OBJECTIVES
from mapopt.registry import catalog, generator_prefixes
from mapopt.studies.variants import SolverVariant, expand_solvers, split_list

TRAFFIC = ("upper", "simulated")
DEFAULT_DECOMPOSITION = "auto"
DEFAULT_MEMORY_MB = 4096
DEFAULT_GRACE_S = 10.0
#: Seconds a run without a time limit may take before it is killed as hung.
DEFAULT_RUN_TIMEOUT_S = 3600.0

#: Keys of a ``[[runs]]`` block (also allowed at the top level, as defaults).
PART_KEYS = (
    "solvers",
    "instances",
    "hw",
    "crossbar",
    "fanin",
    "crossbars_per_tile",
    "mesh",
    "decompose",
    "seeds",
    "time_limit",
    "objective",
    "traffic",
)
#: Top-level-only keys.
STUDY_KEYS = ("name", "store", "jobs", "scheduler", "memory_limit_mb", "grace", "run_timeout", "variants", "runs")


@dataclass(frozen=True)
class Instance:
    """One instance of a study: ``spec`` is what :func:`mapopt.io.resolve_net` takes."""

    spec: str
    tier: str | None = None


@dataclass(frozen=True)
class Part:
    """One cross product of a study."""

    solvers: tuple[SolverVariant, ...]
    instances: tuple[Instance, ...]
    hardware: tuple[Hardware, ...]
    decompositions: tuple[str, ...]
    seeds: tuple[int, ...]
    time_limit: float | None
    objective: str = DEFAULT_OBJECTIVE
    traffic: str = "upper"


@dataclass
class Study:
    """A whole study: its parts and how to execute them (not part of any run key)."""

    name: str
    parts: list[Part]
    store: Path
    jobs: int = 1
    scheduler: str | None = None
    memory_limit_mb: int = DEFAULT_MEMORY_MB
    grace_s: float = DEFAULT_GRACE_S
    run_timeout_s: float = DEFAULT_RUN_TIMEOUT_S
    variants: dict[str, Any] = field(default_factory=dict)


def tiers() -> dict[str, list[str]]:
    """Catalog net names by tier."""
    out: dict[str, list[str]] = {}
    for entry in catalog().values():
        out.setdefault(entry.tier, []).append(entry.name)
    return out


def _starts_instance(piece: str) -> bool:
    if piece in tiers() or piece in catalog() or Path(piece).exists():
        return True
    prefix, sep, _ = piece.partition(":")
    return bool(sep) and prefix in generator_prefixes()


def expand_instances(texts: list[str], *, base: Path | None = None, source: str = "--instances") -> list[Instance]:
    """Tiers, catalog names, generator specs and files, in order, without duplicates.

    Nothing is built here; a spec that is none of these is an error naming it. Relative
    file paths are taken from ``base`` (a study file's folder).
    """
    by_tier = tiers()
    names = catalog()
    out: list[Instance] = []
    for text in texts:
        for item in split_list(text, _starts_instance):
            if item in by_tier:
                out += [Instance(name, item) for name in by_tier[item]]
            elif item in names:
                out.append(Instance(item, names[item].tier))
            elif base is not None and (base / item).is_file():
                out.append(Instance(str(base / item)))
            elif Path(item).is_file() or (item.partition(":")[1] and item.partition(":")[0] in generator_prefixes()):
                out.append(Instance(item))
            else:
                raise InputError(
                    f"unknown instance {item!r}: not a tier ({', '.join(sorted(by_tier))}), a catalog name, "
                    f"a file or PREFIX:ARGS ({', '.join(generator_prefixes())})",
                    source=source,
                )
    if not out:
        raise InputError("no instance given", source=source)
    return list(dict.fromkeys(out))


def _as_list(value: Any, key: str, source: str) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return value
    raise InputError(f"{key!r} must be a string or a non-empty list of strings, got {value!r}", source=source)


def _seeds(value: Any, source: str) -> tuple[int, ...]:
    if isinstance(value, bool):
        raise InputError(f"'seeds' must be a count or a list of integers, got {value!r}", source=source)
    if isinstance(value, int):
        if value < 1:
            raise InputError(f"'seeds' must be at least 1, got {value}", source=source)
        return tuple(range(value))
    if isinstance(value, list) and value and all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        return tuple(dict.fromkeys(value))
    raise InputError(f"'seeds' must be a count or a list of integers, got {value!r}", source=source)


def _time_limit(value: Any, source: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise InputError(f"'time_limit' must be a positive number of seconds, got {value!r}", source=source)
    return float(value)


def make_part(
    options: dict[str, Any],
    variants: dict[str, Any],
    *,
    base: Path | None,
    source: str | None,
    overrides: dict[str, tuple[str, dict[str, Any]]] | None = None,
) -> Part:
    """One cross product from ``options`` (the :data:`PART_KEYS`), every item checked.

    Errors name ``source`` (a study file and block), or the command-line option when it is None.
    """

    def where(option: str) -> str:
        return source or f"--{option.replace('_', '-')}"

    for key in ("solvers", "instances"):
        if key not in options:
            raise InputError(f"missing {key!r}", source=where(key))
    hardware = []
    for preset in _as_list(options.get("hw", "dynapse-paper"), "hw", where("hw")):
        try:
            hw = customise(
                load_preset(preset),
                crossbar=options.get("crossbar"),
                fanin=options.get("fanin"),
                crossbars_per_tile=options.get("crossbars_per_tile"),
                mesh=options.get("mesh"),
            )
        except InputError as err:
            raise InputError(f"hw {preset!r}: {err.message}", source=where("hw"), constraint=err.constraint) from None
        hardware.append(hw)
    decompositions = _as_list(options.get("decompose", DEFAULT_DECOMPOSITION), "decompose", where("decompose"))
    for spec in decompositions:
        if "@" in spec:
            raise InputError(f"give solvers with 'solvers', not in decompose {spec!r}", source=where("decompose"))
        for hw in hardware:
            try:
                check_spec(spec, hw)
            except InputError as err:
                message = f"decompose {spec!r} on {hw.name}: {err.message}"
                raise InputError(message, source=where("decompose"), constraint=err.constraint) from None
    objective = options.get("objective", DEFAULT_OBJECTIVE)
    if objective not in OBJECTIVES:
        raise InputError(f"unknown objective {objective!r}; known: {', '.join(OBJECTIVES)}", source=where("objective"))
    traffic = options.get("traffic", "upper")
    if traffic not in TRAFFIC:
        raise InputError(f"traffic must be one of {', '.join(TRAFFIC)}, got {traffic!r}", source=where("traffic"))
    return Part(
        solvers=tuple(
            expand_solvers(
                _as_list(options["solvers"], "solvers", where("solvers")),
                variants,
                base=base,
                source=where("solvers"),
                overrides=overrides,
            )
        ),
        instances=tuple(
            expand_instances(
                _as_list(options["instances"], "instances", where("instances")), base=base, source=where("instances")
            )
        ),
        hardware=tuple(hardware),
        decompositions=tuple(decompositions),
        seeds=_seeds(options.get("seeds", 1), where("seeds")),
        time_limit=_time_limit(options.get("time_limit"), where("time_limit")),
        objective=objective,
        traffic=traffic,
    )


def _positive(value: Any, key: str, source: str, kind: type = float) -> Any:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0 and math.isfinite(value)
    if not ok or (kind is int and not float(value).is_integer()):
        raise InputError(
            f"{key!r} must be a positive {'integer' if kind is int else 'number'}, got {value!r}", source=source
        )
    return kind(value)


def load_study(path: Path | str) -> Study:
    """Read and check a TOML study file (see the module docstring)."""
    path = Path(path)
    src = str(path)
    if not path.is_file():
        raise InputError("no such study file", source=src)
    try:
        doc = tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise InputError(f"not a valid TOML study file: {err}", source=src) from None
    unknown = set(doc) - set(PART_KEYS) - set(STUDY_KEYS)
    if unknown:
        raise InputError(
            f"unknown key(s) {', '.join(sorted(unknown))}; known: {', '.join(STUDY_KEYS + PART_KEYS)}", source=src
        )
    base = path.parent
    variants = doc.get("variants", {})
    if not isinstance(variants, dict):
        raise InputError("'variants' must be a table of NAME@VARIANT = file or table", source=src)
    defaults = {k: doc[k] for k in PART_KEYS if k in doc}
    blocks = doc.get("runs", [{}])
    if not isinstance(blocks, list) or not all(isinstance(b, dict) for b in blocks):
        raise InputError("'runs' must be an array of tables ([[runs]])", source=src)
    parts = []
    for i, block in enumerate(blocks, start=1):
        where = f"{src} [[runs]] #{i}" if "runs" in doc else src
        bad = set(block) - set(PART_KEYS)
        if bad:
            raise InputError(f"unknown key(s) {', '.join(sorted(bad))}; known: {', '.join(PART_KEYS)}", source=where)
        parts.append(make_part({**defaults, **block}, variants, base=base, source=where))
    store = doc.get("store", path.with_suffix(".db").name)
    if not isinstance(store, str):
        raise InputError(f"'store' must be a path, got {store!r}", source=src)
    name = doc.get("name", path.stem)
    if not isinstance(name, str) or not name:
        raise InputError(f"'name' must be a non-empty string, got {name!r}", source=src)
    scheduler = doc.get("scheduler")
    if scheduler is not None and not isinstance(scheduler, str):
        raise InputError(f"'scheduler' must be an address such as tcp://HOST:PORT, got {scheduler!r}", source=src)
    return Study(
        name=name,
        parts=parts,
        store=base / store,
        jobs=_positive(doc.get("jobs", 1), "jobs", src, int),
        scheduler=scheduler,
        memory_limit_mb=_positive(doc.get("memory_limit_mb", DEFAULT_MEMORY_MB), "memory_limit_mb", src, int),
        grace_s=_positive(doc.get("grace", DEFAULT_GRACE_S), "grace", src),
        run_timeout_s=_positive(doc.get("run_timeout", DEFAULT_RUN_TIMEOUT_S), "run_timeout", src),
        variants=variants,
    )
