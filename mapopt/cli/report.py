"""``mapopt report STORE --out DIR``: the bake-off report of a results store (Markdown, HTML, figures)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mapopt.cli.common import console
from mapopt.errors import InputError
from mapopt.reports.outdir import check_out_dir


def report(
    store: Annotated[Path, typer.Argument(help="A results store written by mapopt bakeoff.", show_default=False)],
    out: Annotated[Path, typer.Option("--out", help="Folder for report.md, report.html and figures/.")],
    study: Annotated[str | None, typer.Option("--study", help="Only this study of the store.")] = None,
) -> None:
    """Write the report of a bake-off store: tables per tier, performance profiles, anytime and scaling plots."""
    from mapopt.reports.study import write_report
    from mapopt.studies.store import Store

    check_out_dir(out)
    with Store(store, create=False) as results:
        if study is not None and study not in results.studies():
            known = ", ".join(results.studies()) or "none"
            raise InputError(f"no study {study!r} in the store (studies: {known})", source=str(store))
        rows = results.rows(study)
    if not rows:
        raise InputError("the store holds no runs", source=str(store))
    for path in write_report(rows, out, title=study or store.stem):
        console.print(f"wrote {path}")


def register(app: typer.Typer) -> None:
    app.command("report")(report)
