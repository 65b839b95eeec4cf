"""``mapopt quality``: test accuracy of trained nets, decomposed (kept) and pruned (lost), per fan-in limit.

Prints one row per measurement (ANN, SNN, each prune baseline and each decomposition
strategy at each fan-in limit) and the gain of decomposition over pruning next to the
paper's +0.8% to +4.6% (docs/quality.md); ``--out DIR`` writes ``quality.json``,
``quality.md`` and the plot ``quality.png``, as one unit.

Exit code: 0; 1 if a decomposition does not spike exactly like its net (exact mode) on
some test image, or a strategy failed (its row says why; the others are computed); 2 for
bad input (before any work); 130/143 when interrupted (the rows measured so far are
shown, ``--out`` is not written).
"""

from __future__ import annotations

from typing import Annotated

import typer

from mapopt.cli.common import HwOpt, JsonOpt, QuietOpt, WideOpt, console, emit_json, load_hardware, log, print_table

#: Written out so that ``mapopt --help`` need not import the study (a test checks they agree).
DEFAULT_FANINS_TEXT = "8, 16, 32, 64"
DEFAULT_STRATEGIES_TEXT = "chain:2, tree, auto"


def quality(
    net: Annotated[
        list[str] | None,
        typer.Option("--net", metavar="NAME", help="Trained catalog net (repeatable). Default: every trained net."),
    ] = None,
    fanin: Annotated[
        list[int] | None,
        typer.Option("--fanin", metavar="F", min=2, help=f"Fan-in limit (repeatable). Default: {DEFAULT_FANINS_TEXT}."),
    ] = None,
    decompose: Annotated[
        list[str] | None,
        typer.Option(
            "--decompose",
            metavar="SPEC",
            help=f"Decomposition strategy (repeatable; tree means tree:F). Default: {DEFAULT_STRATEGIES_TEXT}.",
        ),
    ] = None,
    hw: HwOpt = "dynapse-paper",
    out: Annotated[
        str | None, typer.Option("--out", metavar="DIR", help="Folder for quality.json, .md, .png (written whole).")
    ] = None,
    wide: WideOpt = False,
    quiet: QuietOpt = False,
    json_out: JsonOpt = False,
) -> None:
    """Accuracy of trained nets when decomposed (kept) or pruned (lost) to fit a fan-in limit."""
    from mapopt import interrupt, progress
    from mapopt.io.outdir import output_dir
    from mapopt.quality.report import COLUMNS, HEADINGS, WIDE_COLUMNS, document, table_rows, write_files
    from mapopt.quality.study import FANINS, PAPER_GAIN, PRUNES, STRATEGIES, check_request, gains, run_study
    from mapopt.quality.task import TASKS

    hardware = load_hardware(hw)
    nets = list(net or [])
    fanins = list(fanin or FANINS)
    strategies = list(decompose or STRATEGIES)
    if not nets:
        from mapopt.quality.study import trained_nets

        nets = trained_nets()
    check_request(nets, fanins, strategies, hardware)
    rows: list[dict] = []
    with output_dir(out) as target:  # checked and locked before any work
        try:
            with progress.live(console, enabled=not quiet) as reporter:
                rows.extend(run_study(nets, hardware, fanins=fanins, strategies=strategies, progress=reporter.stage))
        except interrupt.Interrupted:
            pass  # the CLI exits 130/143 after showing the rows measured so far
        stopped = interrupt.requested() is not None
        meta = {
            "nets": nets,
            "hardware": hardware.name,
            "fanins": fanins,
            "strategies": [*PRUNES, *strategies],
            "setup": f"Test accuracy on the {TASKS['digits'].describe()}; decompositions simulated in exact mode "
            "and checked spike for spike against the SNN on every test image.",
        }
        doc = document(rows, meta)
        if target is not None and not stopped:
            with target.staging() as folder:
                names = write_files(folder, doc)
            log(f"wrote {target.path}: {', '.join(names)}", quiet=quiet)
    if json_out:
        emit_json(doc)
    else:
        columns = WIDE_COLUMNS if wide else COLUMNS
        shown = [{HEADINGS.get(c, c): v for c, v in r.items()} for r in table_rows(rows, columns)]
        print_table("model quality (test accuracy)", [HEADINGS.get(c, c) for c in columns], shown, wide=wide, keep=4)
        for g in gains(rows):
            parts = [f"{p} {g[f'gain_vs_{p}']:+.1f}" for p in PRUNES if g.get(f"gain_vs_{p}") is not None]
            if parts:
                print(f"{g['net']} F={g['fanin']}: decomposition over " + ", ".join(parts) + " pp")
        print(f"(the paper: +{PAPER_GAIN[0]} to +{PAPER_GAIN[1]} pp over pruning)")
    bad = [r for r in rows if r["status"] != "ok" or r.get("equivalent") is False]
    for r in bad:
        log(f"{r['net']} F={r['fanin']} {r['strategy']}: {r.get('message') or 'N prime does not spike like N'}",
            quiet=quiet)  # fmt: skip
    if stopped:
        log(f"stopped after {len(rows)} measurements; --out not written", quiet=quiet)
    elif bad:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("quality", short_help="Test accuracy of trained nets, decomposed or pruned.")(quality)
