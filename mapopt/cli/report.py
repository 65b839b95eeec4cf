"""``mapopt report STORE --out DIR``: the bake-off report of a results store (Markdown, HTML, figures)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mapopt.cli.common import QuietOpt, log
from mapopt.errors import InputError


def report(
    store: Annotated[
        Path, typer.Argument(help="A results store written by mapopt bakeoff.", show_default=False, metavar="STORE")
    ],
    out: Annotated[str, typer.Option("--out", help="Folder for report.md, report.html and figures/.", metavar="DIR")],
    study: Annotated[str | None, typer.Option("--study", help="Only this study of the store.", metavar="NAME")] = None,
    quiet: QuietOpt = False,
) -> None:
    """Write the report of a bake-off store: tables per tier, performance profiles, anytime and scaling plots."""
    from mapopt.io.outdir import output_dir
    from mapopt.reports.study import build_report
    from mapopt.studies.store import Store

    with output_dir(out) as target:  # --out checked before the store is read
        with Store(store, create=False) as results:
            if study is not None and study not in results.studies():
                known = ", ".join(results.studies()) or "none"
                raise InputError(f"no study {study!r} in the store (studies: {known})", source=str(store))
            rows = results.rows(study)
        if not rows:
            raise InputError("the store holds no runs", source=str(store))
        assert target is not None
        with target.staging() as folder:
            names = build_report(rows, folder, study or store.stem)
        log(f"wrote {target.path}: {', '.join(names)}", quiet=quiet)


def register(app: typer.Typer) -> None:
    app.command("report", short_help="Write the report of a bake-off store (Markdown, HTML).")(report)
