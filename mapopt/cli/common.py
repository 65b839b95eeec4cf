"""Options and helpers shared by the CLI commands (one definition per option)."""

from __future__ import annotations

import json
import math
import sys
from enum import StrEnum
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from mapopt.hardware import Hardware, customise, load_preset
from mapopt.io import resolve_net
from mapopt.network import Network
from mapopt.report import HEADINGS, fmt

#: Progress and tables go to stderr, so ``--json`` output on stdout stays clean.
console = Console(stderr=True, width=None if sys.stderr.isatty() else 200)

NetOpt = Annotated[
    str | None,
    typer.Option("--net", help="Catalog name, generator spec (mlp:784-100-10) or file (.json/.npz/SpiNeMap/...)."),
]
MergeOpt = Annotated[
    bool, typer.Option("--merge-duplicates", help="Sum the weights of repeated synapses instead of rejecting them.")
]
SpikesOpt = Annotated[str | None, typer.Option("--spikes", help="SpiNeMap spike file for a SpiNeMap connection file.")]
HwOpt = Annotated[str, typer.Option("--hw", help="Hardware preset (mapopt list presets).")]
CrossbarOpt = Annotated[str | None, typer.Option("--crossbar", help="Override crossbar size RxC (rows x columns).")]
FaninOpt = Annotated[int | None, typer.Option("--fanin", help="Override the per-unit fan-in limit F.")]
PerTileOpt = Annotated[int | None, typer.Option("--crossbars-per-tile", help="Override crossbars per tile K.")]
MeshOpt = Annotated[str | None, typer.Option("--mesh", help="Override the mesh: WxH or auto.")]
SolverOpt = Annotated[str | None, typer.Option("--solver", help="Solver (mapopt list solvers).")]
TimeLimitOpt = Annotated[float | None, typer.Option("--time-limit", help="Seconds per solver run.", min=0.0)]
SeedOpt = Annotated[int, typer.Option("--seed", help="Seed for generators and solvers.")]
OutOpt = Annotated[str | None, typer.Option("--out", help="Folder for the mapping file(s) and report.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")]
CompressOpt = Annotated[
    bool,
    typer.Option("--compress", help="Deflate .npz mapping files (zlib level 1); default: stored, at disk speed."),
]


class Traffic(StrEnum):
    """How non-root units' spikes are counted (docs/model.md, section 3)."""

    upper = "upper"
    simulated = "simulated"


TrafficOpt = Annotated[
    Traffic,
    typer.Option(
        "--traffic",
        help="Non-root unit traffic: upper (the paper's sum of input spikes) or simulated "
        "(re-simulate N' on seeded random inputs; all spike counts then come from that run).",
    ),
]
ObjectiveOpt = Annotated[
    str, typer.Option("--objective", help="crossbars-hops (default), crossbars-intercrossbar or energy.")
]


def load_hardware(
    hw: str,
    crossbar: str | None = None,
    fanin: int | None = None,
    crossbars_per_tile: int | None = None,
    mesh: str | None = None,
) -> Hardware:
    """The preset ``hw`` with the command line's overrides applied."""
    return customise(load_preset(hw), crossbar=crossbar, fanin=fanin, crossbars_per_tile=crossbars_per_tile, mesh=mesh)


def load_net(
    net: str | None,
    spikes: str | None = None,
    seed: int = 0,
    default: str | None = None,
    merge_duplicates: bool = False,
) -> Network:
    """The ``--net`` value (or ``default``) as a network."""
    if net is None:
        if default is None:
            raise typer.BadParameter("--net is required")
        net = default
    return resolve_net(net, spikes=spikes, seed=seed, merge_duplicates=merge_duplicates)


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if hasattr(value, "item"):  # numpy scalars
        return _clean(value.item())
    return value


def emit_json(obj: dict[str, Any]) -> None:
    """Print ``obj`` as one JSON document on stdout."""
    sys.stdout.write(json.dumps(_clean(obj), indent=2) + "\n")
    sys.stdout.flush()


def table(title: str, columns: list[str], rows: list[dict[str, Any]]) -> Table:
    """A rich table with one row per record and the given columns."""
    t = Table(title=title, show_lines=False)
    for c in columns:
        left = c in ("strategy", "solver", "status", "name", "field", "metric", "description")
        t.add_column(HEADINGS.get(c, c), justify="left" if left else "right", no_wrap=c == "strategy")
    for r in rows:
        t.add_row(*(escape(fmt(r.get(c))) for c in columns))  # cells are literal text, not rich markup
    return t
