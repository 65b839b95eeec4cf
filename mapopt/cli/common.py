"""Options and helpers shared by the CLI commands (one definition per option).

Conventions every command follows (docs/reliability.md):

- results on **stdout** (:func:`print_table`, :func:`emit_json`), logs and progress on
  **stderr** (:func:`log`, :data:`console`, :func:`mapopt.progress.live`);
- terminal tables fit 80 columns: a command passes its compact column set to
  :func:`print_table`, which drops the last ones until the table fits and says so;
  ``--wide`` shows every column;
- every option is range-checked when it is parsed (the ``*Opt`` types below: seeds,
  time limits, threads, crossbar and mesh sizes) and ``--out`` is checked before any work
  (:func:`mapopt.io.outdir.output_dir`, :func:`mapopt.io.outdir.check_output_file`).

Heavy modules (numpy, the framework) are imported inside the functions that need them,
so ``mapopt --help`` and option errors stay fast.
"""

from __future__ import annotations

import io
import json
import math
import shutil
import sys
from collections.abc import Sequence
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.cells import cell_len
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from mapopt.formatting import HEADINGS, fmt

if TYPE_CHECKING:
    from mapopt.hardware import Hardware
    from mapopt.network import Network

#: Logs and live progress go to stderr, so results on stdout stay clean.
console = Console(stderr=True, highlight=False, soft_wrap=True)
#: Width a terminal table must fit by default.
TABLE_WIDTH = 80
#: Seeds accepted by every command: CBC's seeds are seed + 1, a signed 32-bit integer.
SEED_MAX = 2**31 - 2
#: Longest --time-limit accepted (seconds; about 115 days).
MAX_TIME_LIMIT = 1e7
#: Most solver threads accepted.
MAX_THREADS = 256
#: Options whose values must be between these bounds (checked at parse time).
MAX_FANIN = 1 << 20
MAX_PER_TILE = 1 << 16


def _time_limit(value: float | None) -> float | None:
    if value is not None and not (math.isfinite(value) and 0 < value <= MAX_TIME_LIMIT):
        raise typer.BadParameter(f"{value} is not a number of seconds in (0, {MAX_TIME_LIMIT:g}]")
    return value


def _crossbar(value: str | None) -> str | None:
    if value is not None:
        from mapopt.errors import InputError
        from mapopt.hardware import parse_crossbar

        try:
            parse_crossbar(value)
        except InputError as err:
            raise typer.BadParameter(err.message) from None
    return value


def _mesh(value: str | None) -> str | None:
    if value is not None:
        from mapopt.errors import InputError
        from mapopt.hardware import parse_mesh

        try:
            parse_mesh(value)
        except InputError as err:
            raise typer.BadParameter(err.message) from None
    return value


NetOpt = Annotated[
    str | None,
    typer.Option(
        "--net", metavar="NET", help="Catalog name, generator spec (mlp:784-100-10) or file (.json/.npz/.nir/SpiNeMap)."
    ),
]
MergeOpt = Annotated[
    bool, typer.Option("--merge-duplicates", help="Sum the weights of repeated synapses instead of rejecting them.")
]
SpikesOpt = Annotated[
    str | None, typer.Option("--spikes", metavar="FILE", help="SpiNeMap spike file for a SpiNeMap connection file.")
]
DtOpt = Annotated[
    float | None,
    typer.Option(
        "--dt", metavar="SECONDS", help="Time step for a NIR file's time constants (default 1e-4 s, snnTorch's)."
    ),
]
HwOpt = Annotated[str, typer.Option("--hw", metavar="PRESET", help="Hardware preset (mapopt list presets).")]
CrossbarOpt = Annotated[
    str | None,
    typer.Option("--crossbar", metavar="RxC", callback=_crossbar, help="Override crossbar size (rows x columns)."),
]
FaninOpt = Annotated[
    int | None,
    typer.Option("--fanin", metavar="F", min=1, max=MAX_FANIN, help="Override the per-unit fan-in limit F."),
]
PerTileOpt = Annotated[
    int | None,
    typer.Option("--crossbars-per-tile", metavar="K", min=1, max=MAX_PER_TILE, help="Override crossbars per tile K."),
]
MeshOpt = Annotated[
    str | None, typer.Option("--mesh", metavar="WxH", callback=_mesh, help="Override the mesh: WxH or auto.")
]
SolverOpt = Annotated[str | None, typer.Option("--solver", metavar="NAME", help="Solver (mapopt list solvers).")]
TimeLimitOpt = Annotated[
    float | None,
    typer.Option(
        "--time-limit",
        metavar="SECONDS",
        callback=_time_limit,
        help="Wall-clock seconds per solver run (default: budgets count work, not time).",
    ),
]
ThreadsOpt = Annotated[
    int, typer.Option("--threads", metavar="N", min=1, max=MAX_THREADS, help="Solver threads (CP-SAT, HiGHS, CBC).")
]
CompressOpt = Annotated[
    bool,
    typer.Option("--compress", help="Deflate .npz mapping files (zlib level 1); default: stored, at disk speed."),
]
SeedOpt = Annotated[
    int,
    typer.Option("--seed", metavar="SEED", min=0, max=SEED_MAX, help="Seed for generators and solvers."),
]
OutOpt = Annotated[
    str | None, typer.Option("--out", metavar="DIR", help="Folder for the mapping file(s) and report (written whole).")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")]
WideOpt = Annotated[bool, typer.Option("--wide", help="Show every table column (lines may exceed 80 characters).")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress or log lines on stderr.")]
ParamsOpt = Annotated[
    list[Path] | None,
    typer.Option(
        "--params",
        help="Params file(s) for the solver they name (mapopt tune's best-params.toml); repeatable.",
        metavar="FILE",
    ),
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
        "(re-simulate N' on seeded random inputs, or a trained net's test images; all spike counts "
        "then come from that run).",
    ),
]
ObjectiveOpt = Annotated[
    str,
    typer.Option(
        "--objective", metavar="NAME", help="crossbars-hops (default), crossbars-intercrossbar or energy."
    ),
]


def check_objective(objective: str) -> None:
    """Refuse an unknown ``--objective`` before any work."""
    from mapopt.problem import OBJECTIVES

    if objective not in OBJECTIVES:
        from mapopt.errors import InputError

        raise InputError(f"unknown objective {objective!r}; known: {', '.join(OBJECTIVES)}", source="--objective")


def load_hardware(
    hw: str,
    crossbar: str | None = None,
    fanin: int | None = None,
    crossbars_per_tile: int | None = None,
    mesh: str | None = None,
) -> Hardware:
    """The preset ``hw`` with the command line's overrides applied."""
    from mapopt.hardware import customise, load_preset

    return customise(load_preset(hw), crossbar=crossbar, fanin=fanin, crossbars_per_tile=crossbars_per_tile, mesh=mesh)


def load_net(
    net: str | None,
    spikes: str | None = None,
    seed: int = 0,
    default: str | None = None,
    merge_duplicates: bool = False,
    dt: float | None = None,
) -> Network:
    """The ``--net`` value (or ``default``) as a network (``dt``: the NIR time step, None for the default)."""
    from mapopt.errors import InputError
    from mapopt.io import resolve_net

    if net is None:
        if default is None:
            raise InputError("a network is required (--net NAME|SPEC|FILE; mapopt list nets)", source="--net")
        net = default
    return resolve_net(net, spikes=spikes, seed=seed, merge_duplicates=merge_duplicates, dt=dt)


def log(message: str, *, quiet: bool = False) -> None:
    """One log line on stderr, as is (no markup, no padding, no timestamp)."""
    if not quiet:
        console.print(message, markup=False, highlight=False, soft_wrap=True)


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


#: Columns shown left-aligned (text); the others are numbers, right-aligned.
TEXT_COLUMNS = ("net", "strategy", "solver", "status", "name", "field", "metric", "description", "syntax", "value",
                "message", "spikes", "assumed", "params", "tier", "mesh", "crossbar", "file", "mapping",
                "decomposition", "param", "space", "default", "instance")  # fmt: skip
#: Columns a user types (names): never wrapped or cut.
NAME_COLUMNS = ("name", "net", "strategy", "mapping")


def table(title: str, columns: Sequence[str], rows: list[dict[str, Any]], *, caption: str | None = None) -> Table:
    """A rich table with one row per record and the given columns (cells are literal text).

    Name columns never wrap; other text columns wrap onto more lines rather than being cut.
    """
    t = Table(title=title, caption=caption, box=None, header_style="bold", title_justify="left",
              caption_justify="left", collapse_padding=True, pad_edge=False)  # fmt: skip
    cells = [[fmt(r.get(c)) for c in columns] for r in rows]
    for i, c in enumerate(columns):
        left = c in TEXT_COLUMNS
        heading = HEADINGS.get(c, c)
        no_wrap = c in NAME_COLUMNS or not left
        # rich measures a column's minimum by its longest word, even when the column may not wrap;
        # a no-wrap column's minimum is its longest line, so a table that "fits" is never cut
        lines = [*heading.split("\n"), *(row[i] for row in cells)]
        least = max(cell_len(line) for line in lines) if no_wrap else None
        t.add_column(heading, justify="left" if left else "right", no_wrap=no_wrap, overflow="fold",
                     min_width=least)  # fmt: skip
    for row in cells:
        t.add_row(*(escape(cell) for cell in row))
    return t


def _emit(t: Table, width: int) -> None:
    """Print ``t`` on stdout at ``width``; off a terminal, lines carry no trailing padding or colour."""
    if sys.stdout.isatty():
        Console(file=sys.stdout, width=width, highlight=False).print(t)
        return
    buffer = io.StringIO()
    Console(file=buffer, width=width, highlight=False, color_system=None).print(t)
    sys.stdout.write("".join(line.rstrip() + "\n" for line in buffer.getvalue().splitlines()))
    sys.stdout.flush()


def _width(t: Table, *, natural: bool = False) -> int:
    """The width ``t`` needs: the least with its text columns wrapped (natural: with nothing wrapped)."""
    measure = Console(width=100_000, file=sys.stdout).measure(t)
    return measure.maximum if natural else measure.minimum


def print_table(
    title: str,
    columns: Sequence[str],
    rows: list[dict[str, Any]],
    *,
    wide: bool = False,
    keep: int = 2,
) -> None:
    """Print a table on stdout that fits :data:`TABLE_WIDTH` columns (or the terminal, if narrower).

    Text columns wrap (names never); ``columns`` are in order of importance: while the
    table cannot fit even wrapped, the last ones (beyond the first ``keep``) are dropped and
    the caption says how to see them (``--wide`` or ``--json``). With ``wide`` every column
    is shown at its natural width.
    """
    columns = list(columns)
    if wide:
        t = table(title, columns, rows)
        _emit(t, max(_width(t, natural=True), TABLE_WIDTH))
        return
    limit = TABLE_WIDTH
    if sys.stdout.isatty():
        limit = min(limit, shutil.get_terminal_size((TABLE_WIDTH, 24)).columns)
    shown = columns
    while len(shown) > keep and _width(table(title, shown, rows)) > limit:
        shown = shown[:-1]
    hidden = len(columns) - len(shown)
    caption = f"{hidden} more column(s): --wide or --json" if hidden else None
    _emit(table(title, shown, rows, caption=caption), limit)


def key_values(title: str, pairs: dict[str, Any], *, key: str = "field") -> None:
    """Print a two-column table (``key``, value) on stdout; long values wrap."""
    print_table(title, [key, "value"], [{key: k, "value": v} for k, v in pairs.items()], keep=2)
