"""``mapopt quality``: test accuracy of trained nets, decomposed (kept) and pruned (lost), per fan-in limit.

Prints one row per measurement (ANN, SNN, each prune baseline and each decomposition
strategy at each fan-in limit) and the gain of decomposition over pruning next to the
paper's +0.8% to +4.6%; ``--out DIR`` writes ``quality.json``, ``quality.md`` and the plot
``quality.png``. Exit code 1 if a decomposition does not spike exactly like its net
(exact mode) on some test image, or a strategy failed.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from mapopt.cli.common import HwOpt, JsonOpt, console, emit_json, load_hardware, table
from mapopt.quality.report import COLUMNS, HEADINGS, WIDE_COLUMNS, check_out, document, table_rows, write_report
from mapopt.quality.study import FANINS, PAPER_GAIN, PRUNES, STRATEGIES, check_request, gains, run_study, trained_nets
from mapopt.quality.task import TASKS


def quality(
    net: Annotated[
        list[str] | None, typer.Option("--net", help="Trained catalog net (repeatable). Default: every trained net.")
    ] = None,
    fanin: Annotated[
        list[int] | None, typer.Option("--fanin", help=f"Fan-in limit F (repeatable). Default: {FANINS}.")
    ] = None,
    decompose: Annotated[
        list[str] | None,
        typer.Option("--decompose", help=f"Decomposition strategy (repeatable). Default: {', '.join(STRATEGIES)}."),
    ] = None,
    hw: HwOpt = "dynapse-paper",
    out: Annotated[str | None, typer.Option("--out", help="Folder for quality.json, quality.md, quality.png.")] = None,
    wide: Annotated[bool, typer.Option("--wide", help="All columns (units, depth, spikes, ...).")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress on stderr.")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Accuracy of trained nets when decomposed (kept) or pruned (lost) to fit a fan-in limit."""
    hardware = load_hardware(hw)
    nets = list(net or trained_nets())
    fanins = list(fanin or FANINS)
    strategies = list(decompose or STRATEGIES)
    check_request(nets, fanins, strategies, hardware)
    if out is not None:
        check_out(out)
    with Progress(
        SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
        console=console, transient=True, disable=quiet or not sys.stderr.isatty(),
    ) as progress:
        step = progress.add_task("starting", total=None)
        rows = run_study(nets, hardware, fanins=fanins, strategies=strategies,
                         progress=lambda msg: progress.update(step, description=msg))
    task = TASKS["digits"]
    meta = {
        "nets": nets,
        "hardware": hardware.name,
        "fanins": fanins,
        "strategies": [*PRUNES, *strategies],
        "setup": f"Test accuracy on the {task.describe()}; decompositions simulated in exact mode and checked "
        "spike for spike against the SNN on every test image.",
    }
    doc = document(rows, meta)
    if out is not None:
        for path in write_report(out, doc):
            console.print(f"wrote {path}")
    if json_out:
        emit_json(doc)
    else:  # results on stdout, 80 columns unless --wide
        stdout = Console(width=None if sys.stdout.isatty() else (200 if wide else 80))
        columns = WIDE_COLUMNS if wide else COLUMNS
        shown = [{HEADINGS.get(c, c): v for c, v in r.items()} for r in table_rows(rows, columns)]
        stdout.print(table("model quality (test accuracy)", [HEADINGS.get(c, c) for c in columns], shown))
        for g in gains(rows):
            parts = [f"{p} {g[f'gain_vs_{p}']:+.1f}" for p in PRUNES if g.get(f"gain_vs_{p}") is not None]
            if parts:
                stdout.print(f"{g['net']} F={g['fanin']}: decomposition over " + ", ".join(parts) + " pp")
        stdout.print(f"(the paper: +{PAPER_GAIN[0]} to +{PAPER_GAIN[1]} pp over pruning)")
    bad = [r for r in rows if r["status"] != "ok" or r.get("equivalent") is False]
    if bad:
        console.print("[red]" + "; ".join(f"{r['net']} F={r['fanin']} {r['strategy']}: "
                                          f"{r.get('message') or 'N prime differs from N'}" for r in bad))
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("quality")(quality)
