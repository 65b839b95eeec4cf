"""Solver variants: a registered solver plus hyperparameters, as a bake-off or ``--params`` names them.

Syntax (``mapopt bakeoff --solvers``, study files, ``--params``):

- ``pso``: the solver with its defaults;
- ``pso:particles=32,iterations=10``: parameters given inline (values are read as
  TOML scalars: ``32``, ``0.5``, ``true``, ``none``; anything else is a string);
- ``pso:params=best.toml``: parameters from a params file (below);
- ``pso@tuned``: a *named variant*: a params file found by name, first in the study's
  own ``[variants]`` table (or ``--variant NAME@VARIANT=FILE``), then shipped with the
  solver as ``variants/NAME@VARIANT.toml`` next to the solver's module;
- combinations apply left to right: ``pso@tuned:particles=64``.

A params file is TOML or JSON: either a table of parameters, or ``params = {...}`` with an
optional ``solver = "NAME"`` (checked) and an optional ``tuned`` table of metadata (what
``mapopt tune`` records: study, trials, objective). Every parameter name is checked
against the solver's keyword-only hyperparameters and every value coerced to the type
its annotation gives (``float`` accepts ``1``; ``int`` rejects ``1.5``), so a typo fails
with one line naming the file and the parameter, before anything runs.
"""

from __future__ import annotations

import inspect
import json
import tomllib
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mapopt.errors import InputError
from mapopt.registry import solver_class, solver_names
from mapopt.solver import Solver

#: Words that stand for a set of solvers in ``--solvers``.
SOLVER_SETS = ("all", "heuristics", "exact")


def _hints(cls: type[Solver]) -> dict[str, Any]:
    try:
        return typing.get_type_hints(cls.__init__)
    except (NameError, TypeError):  # an annotation that cannot be resolved: no coercion for it
        return {}


def param_defaults(cls: type[Solver]) -> dict[str, Any]:
    """The keyword-only hyperparameters of ``cls`` and their defaults."""
    sig = inspect.signature(cls.__init__)
    return {p.name: p.default for p in sig.parameters.values() if p.kind is inspect.Parameter.KEYWORD_ONLY}


def _coerce(value: Any, hint: Any, name: str, solver: str, source: str) -> Any:
    """``value`` as the annotated type ``hint`` (``int``, ``float``, ``bool``, ``str``, optional ones)."""
    options = (
        typing.get_args(hint)
        if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union
        else (hint,)
    )
    if value is None:
        if type(None) in options:
            return None
        raise InputError(f"solver {solver!r}: parameter {name!r} cannot be none", source=source)
    for option in options:
        if option is bool and isinstance(value, bool):
            return value
        if option is int and isinstance(value, int) and not isinstance(value, bool):
            return value
        if option is int and isinstance(value, float) and value.is_integer():
            return int(value)
        if option is float and isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if option is str and isinstance(value, str):
            return value
    if all(o in (bool, int, float, str, type(None)) for o in options):
        wanted = " or ".join("none" if o is type(None) else o.__name__ for o in options)
        raise InputError(f"solver {solver!r}: parameter {name!r} must be {wanted}, got {value!r}", source=source)
    return value


def check_params(cls: type[Solver], params: dict[str, Any], source: str) -> dict[str, Any]:
    """``params`` checked against ``cls``'s hyperparameters: known names, values of the right type."""
    defaults = param_defaults(cls)
    hints = _hints(cls)
    out: dict[str, Any] = {}
    for name, value in params.items():
        if name not in defaults:
            known = ", ".join(defaults) or "none"
            raise InputError(f"solver {cls.name!r} has no parameter {name!r} (known: {known})", source=source)
        out[name] = _coerce(value, hints.get(name, Any), name, cls.name, source) if name in hints else value
    return out


def parse_value(text: str) -> Any:
    """An inline parameter value as a TOML scalar (``32``, ``0.5``, ``true``), ``none``, or a string."""
    if text.lower() in ("none", "null"):
        return None
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def read_params_doc(path: Path | str) -> tuple[str | None, dict[str, Any]]:
    """The solver a params file names (None if it names none) and its parameters, unchecked."""
    path = Path(path)
    src = str(path)
    if not path.is_file():
        raise InputError("no such params file", source=src)
    try:
        text = path.read_text()
        doc = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
    except (json.JSONDecodeError, tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        kind = "JSON" if path.suffix == ".json" else "TOML"
        raise InputError(f"not a valid {kind} params file: {err}", source=src) from None
    if not isinstance(doc, dict):
        raise InputError("a params file must hold a table of parameters", source=src)
    if "params" not in doc:
        return None, doc
    extra = set(doc) - {"params", "solver", "tuned"}
    if extra:
        raise InputError(f"unknown key(s) beside 'params': {', '.join(sorted(extra))}", source=src)
    if not isinstance(doc["params"], dict):
        raise InputError("'params' must be a table", source=src)
    solver = doc.get("solver")
    if solver is not None and not isinstance(solver, str):
        raise InputError(f"'solver' must be a solver name, got {solver!r}", source=src)
    return solver, doc["params"]


def read_params_file(path: Path | str, solver: str | None = None) -> dict[str, Any]:
    """The parameters of a params file (TOML or JSON; see the module docstring), unchecked.

    A file that names another solver than ``solver`` is an error.
    """
    named, params = read_params_doc(path)
    if solver is not None and named is not None and named != solver:
        raise InputError(f"params file is for solver {named!r}, not {solver!r}", source=str(path))
    return params


def read_params_files(files: list[Path], default_solver: str | None) -> dict[str, dict[str, Any]]:
    """``--params FILE`` (repeatable): checked parameters by solver.

    A file names its solver (``solver = "pso"``, as ``mapopt tune`` writes it); one that
    does not applies to ``default_solver`` (``--solver``). Two files for one solver are an error.
    """
    out: dict[str, dict[str, Any]] = {}
    for path in files:
        named, params = read_params_doc(path)
        solver = named or default_solver
        if solver is None:
            raise InputError('params file names no solver: add solver = "NAME" or give --solver', source=str(path))
        if solver in out:
            raise InputError(f"a second params file for solver {solver!r}", source=str(path))
        try:
            cls = solver_class(solver)
        except InputError as err:
            raise InputError(err.message, source=str(path)) from None
        out[solver] = check_params(cls, params, str(path))
    return out


def shipped_variant(cls: type[Solver], variant: str) -> Path | None:
    """The params file ``variants/NAME@VARIANT.toml`` shipped next to the solver's module, if any."""
    path = Path(inspect.getfile(cls)).parent / "variants" / f"{cls.name}@{variant}.toml"
    return path if path.is_file() else None


@dataclass(frozen=True)
class SolverVariant:
    """A solver with hyperparameters: ``label`` as written, ``params`` as checked (not defaults-filled)."""

    label: str
    solver: str
    params: dict[str, Any]

    def resolved(self) -> dict[str, Any]:
        """Every hyperparameter of the configured solver (defaults filled in): what a run key holds."""
        return {**param_defaults(solver_class(self.solver)), **self.params}

    def make(self) -> Solver:
        return solver_class(self.solver)(**self.params)


def parse_variant(
    text: str, variants: dict[str, Any] | None = None, *, base: Path | None = None, source: str = "--solvers"
) -> SolverVariant:
    """Parse ``NAME[@VARIANT][:K=V,...|:params=FILE]`` into a checked :class:`SolverVariant`.

    ``variants`` maps ``NAME@VARIANT`` to a params file path or an inline table (a study's
    ``[variants]``); relative paths are taken from ``base``.
    """
    label = text.strip()
    head, _, args = label.partition(":")
    name, _, variant = head.partition("@")
    if not name:
        raise InputError(f"solver variant must be NAME[@VARIANT][:PARAM=VALUE,...], got {label!r}", source=source)
    try:
        cls = solver_class(name)
    except InputError as err:
        raise InputError(err.message, source=source) from None
    params: dict[str, Any] = {}
    if variant:
        given = (variants or {}).get(f"{name}@{variant}")
        if isinstance(given, dict):
            params.update(check_params(cls, given, f"variant {name}@{variant}"))
        else:
            path = _path(given, base) if given is not None else shipped_variant(cls, variant)
            if path is None:
                raise InputError(
                    f"no named variant {name}@{variant}: not in the study's [variants] and no "
                    f"variants/{name}@{variant}.toml shipped with solver {name!r}",
                    source=source,
                )
            params.update(check_params(cls, read_params_file(path, name), str(path)))
    for item in filter(None, (a.strip() for a in args.split(","))) if args else ():
        key, eq, value = item.partition("=")
        if not eq or not key.strip():
            raise InputError(f"{label!r}: expected PARAM=VALUE, got {item!r}", source=source)
        key = key.strip()
        if key == "params":
            path = _path(value.strip(), base)
            params.update(check_params(cls, read_params_file(path, name), str(path)))
        else:
            params.update(
                check_params(cls, {key: parse_value(value.strip())}, f"{source} {label}")
            )  # names the variant
    return SolverVariant(label, name, params)


def _path(value: Any, base: Path | None) -> Path:
    path = Path(str(value)).expanduser()
    return path if path.is_absolute() or base is None else base / path


def split_list(text: str, is_item: typing.Callable[[str], bool]) -> list[str]:
    """Split a comma-separated list whose items may contain commas themselves.

    A piece starts a new item when ``is_item`` says so; otherwise it belongs to the item
    before it (``pso:particles=32,iterations=10,anneal`` -> two items;
    ``conv:1x28x28,c8k3p1,p2,f10,tiny`` -> two items).
    """
    items: list[str] = []
    for piece in (p.strip() for p in text.split(",")):
        if not piece:
            continue
        if items and not is_item(piece):
            items[-1] += "," + piece
        else:
            items.append(piece)
    return items


def _starts_variant(piece: str) -> bool:
    head = piece.split(":", 1)[0].split("@", 1)[0]
    if "=" in head:
        return False
    return head in SOLVER_SETS or head in solver_names() or ":" not in piece


def expand_solvers(
    texts: list[str],
    variants: dict[str, Any] | None = None,
    *,
    base: Path | None = None,
    source: str = "--solvers",
    overrides: dict[str, tuple[str, dict[str, Any]]] | None = None,
) -> list[SolverVariant]:
    """Every solver variant named by ``texts`` (``all``, ``heuristics``, ``exact`` expand), checked.

    ``overrides`` maps a solver to (params file, checked parameters) given by ``--params``:
    every variant of that solver starts from them (its own inline parameters still win), and
    its label says so. Two variants that configure the same solver identically would share
    every run key, so they are an error naming both.
    """
    out: list[SolverVariant] = []
    for text in texts:
        for item in split_list(text, _starts_variant):
            if item in SOLVER_SETS:
                for name in solver_names():
                    exact = solver_class(name).exact
                    if item == "all" or (item == "exact") == exact:
                        out.append(SolverVariant(name, name, {}))
            else:
                out.append(parse_variant(item, variants, base=base, source=source))
    if not out:
        raise InputError("no solver given", source=source)
    for solver, (path, params) in (overrides or {}).items():
        if not any(v.solver == solver for v in out):
            raise InputError(f"params file is for solver {solver!r}, which is not among the solvers", source=path)
        out = [
            SolverVariant(f"{v.label}:params={path}", v.solver, {**params, **v.params}) if v.solver == solver else v
            for v in out
        ]
    seen: dict[str, str] = {}
    unique: list[SolverVariant] = []
    for v in out:
        ident = json.dumps([v.solver, v.resolved()], sort_keys=True, default=str)
        if ident in seen:
            if seen[ident] == v.label:
                continue  # the same label twice (e.g. 'all,greedy'): once is enough
            raise InputError(
                f"solver variants {seen[ident]!r} and {v.label!r} are the same configuration", source=source
            )
        seen[ident] = v.label
        unique.append(v)
    return unique
