"""``mapopt reproduce [--out DIR]``: the paper's experiment in one command (docs/reproduction.md).

Maps apps like the paper's (MLP digit recognition, LeNet, trained MLP and CNN digit
classifiers, EdgeDet, ImgSmooth, a recurrent classifier) on ``dynapse-paper`` by pruning,
by both readings of the paper's unrolling and by mapopt's best, prints the averages next
to the paper's claims and the per-app table, and with ``--out`` writes reproduction.md,
reproduction.json and PNG plots. Exit 1 when a
strategy failed on some app (its row says why).
"""

from __future__ import annotations

import shlex
import sys
from typing import Annotated

import typer

from mapopt.cli.common import JsonOpt, OutOpt, QuietOpt, SeedOpt, WideOpt, console, emit_json, log, print_table


def reproduce(
    app: Annotated[
        list[str] | None,
        typer.Option(
            "--app",
            metavar="NET",
            help="Catalog net or spec to run instead of the default apps (repeatable): mlp-784-64-10, "
            "digits-mlp, lenet5, digits-cnn, edgedet-64x64, imgsmooth-64x64, rnn-64-128-10.",
        ),
    ] = None,
    seed: SeedOpt = 0,
    out: OutOpt = None,
    json_out: JsonOpt = False,
    wide: WideOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Run the paper's experiment: pruning vs its unrolling (text and code) vs mapopt's best."""
    from mapopt import interrupt, progress
    from mapopt.io import resolve_net
    from mapopt.io.outdir import output_dir
    from mapopt.reports import reproduction as report
    from mapopt.studies.reproduction import check_apps, claims, reproduce

    apps = check_apps(app)
    for a in apps:  # unknown names fail now, before any long work
        if a.net not in {x.net for x in check_apps(None)}:
            resolve_net(a.net, seed=seed)
    command = "mapopt " + " ".join(shlex.quote(x) for x in sys.argv[1:]) if sys.argv[1:] else "mapopt reproduce"
    with output_dir(out) as target:
        with progress.live(console, enabled=not quiet):
            rows = reproduce(apps, seed=seed)
        averages = claims(rows)
        stopped = interrupt.requested() is not None
        if target is not None and not stopped:
            with target.staging() as folder:
                names = report.write(folder, rows, averages, command=command)
            log(f"wrote {target.path}: {', '.join(names)}", quiet=quiet)
    if json_out:
        emit_json({"hardware": report.HARDWARE, "rows": rows, "averages": averages})
    else:
        print_table("averages over the apps, against pruning", [h for _, h in report.CLAIM_COLUMNS],
                    report.table_rows(averages, report.CLAIM_COLUMNS), wide=wide)  # fmt: skip
        columns = report.APP_COLUMNS if wide else report.TERMINAL_COLUMNS
        print_table(f"per app on {report.HARDWARE}", [h for _, h in columns], report.table_rows(rows, columns),
                    wide=wide, keep=3)  # fmt: skip
    failed = [r for r in rows if r.get("message")]
    for r in failed:
        log(f"{r['app']}, {r['reading']}: {r['status']}: {r['message']}", quiet=quiet)
    if stopped:
        log("stopped; --out not written", quiet=quiet)
    elif failed:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("reproduce", short_help="Run the paper's experiment: pruning vs unrolling.")(reproduce)
