"""``mapopt list presets|nets|solvers|strategies|generators``.

Names (what a user types after ``--hw``, ``--net``, ``--solver``...) are never wrapped or
cut; at 80 columns the table shows a compact set of columns, ``--wide`` all of them.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from mapopt.cli.common import JsonOpt, WideOpt, emit_json, print_table
from mapopt.errors import InputError


class What(StrEnum):
    presets = "presets"
    nets = "nets"
    solvers = "solvers"
    strategies = "strategies"
    generators = "generators"


def _rows(what: What) -> tuple[list[str], list[str], list[dict[str, object]]]:
    """(all columns, compact columns, rows) of one listing."""
    from mapopt.decompose import STRATEGIES
    from mapopt.hardware import load_preset, preset_names
    from mapopt.registry import catalog, generators, solver_class, solver_names

    if what is What.presets:
        rows = []
        for name in preset_names():
            hw = load_preset(name)
            assumed = sorted(k for k, v in hw.sources.items() if v.startswith("assumed"))
            rows.append(
                {
                    "name": name,
                    "crossbar": f"{hw.rows}x{hw.columns}",
                    "fanin": hw.fanin,
                    "per_tile": hw.crossbars_per_tile,
                    "mesh": "auto" if hw.mesh is None else f"{hw.mesh[0]}x{hw.mesh[1]}",
                    "assumed": ", ".join(assumed) or "-",
                    "description": hw.description,
                }
            )
        full = ["name", "crossbar", "fanin", "per_tile", "mesh", "assumed", "description"]
        return full, ["name", "crossbar", "fanin", "per_tile", "mesh", "description"], rows
    if what is What.nets:
        rows = [{"name": e.name, "tier": e.tier, **e.facts, "description": e.description} for e in catalog().values()]
        full = ["name", "tier", "neurons", "synapses", "max_fanin", "spikes", "description"]
        return full, ["name", "tier", "neurons", "synapses", "max_fanin", "description"], rows
    if what is What.solvers:
        rows = []
        for name in solver_names():
            cls = solver_class(name)
            rows.append({"name": name, "exact": cls.exact, "params": repr(cls()), "description": cls.description})
        return ["name", "exact", "params", "description"], ["name", "exact", "description"], rows
    if what is What.strategies:
        rows = [
            {"name": name, "arity": "k" if takes else "-", "default": default, "description": desc}
            for name, (_, takes, default, desc) in sorted(STRATEGIES.items())
        ]
        return ["name", "arity", "default", "description"], ["name", "arity", "default", "description"], rows
    rows = [{"name": g.prefix, "syntax": g.syntax, "description": g.description} for g in generators().values()]
    return ["name", "syntax", "description"], ["name", "syntax"], rows


def _param_rows() -> tuple[list[str], list[str], list[dict[str, object]]]:
    """One row per hyperparameter of every solver: its default and its declared search space."""
    from mapopt.registry import solver_class, solver_names
    from mapopt.studies.variants import param_defaults

    rows: list[dict[str, object]] = []
    for name in solver_names():
        cls = solver_class(name)
        space = {p.name: p.describe().split(": ", 1)[1] for p in cls.space}
        for param, default in param_defaults(cls).items():
            rows.append({"solver": name, "param": param, "default": repr(default), "space": space.get(param, "-")})
    columns = ["solver", "param", "default", "space"]
    return columns, columns, rows


def list_(
    what: Annotated[What, typer.Argument(help="What to list.")],
    params: Annotated[
        bool, typer.Option("--params", help="With solvers: every hyperparameter, its default and search space.")
    ] = False,
    json_out: JsonOpt = False,
    wide: WideOpt = False,
) -> None:
    """List hardware presets, catalog nets, solvers, decomposition strategies or generators."""
    if params and what is not What.solvers:
        raise InputError("--params goes with 'mapopt list solvers'", source="--params")
    full, compact, rows = _param_rows() if params else _rows(what)
    if json_out:
        emit_json({str(what): rows})
    else:
        print_table(str(what), full if wide else compact, rows, wide=wide)


def register(app: typer.Typer) -> None:
    app.command("list", short_help="List presets, nets, solvers, strategies, generators.")(list_)
