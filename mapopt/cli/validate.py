"""``mapopt validate``: re-check a mapping file on its own (exit 0 valid, 1 invalid, 2 bad file)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mapopt.cli.common import JsonOpt, console, emit_json, table
from mapopt.evaluation import assess
from mapopt.io import read_mapping


def validate(
    mapping: Annotated[str, typer.Argument(help="A mapping file written by mapopt (.json or .npz).")],
    json_out: JsonOpt = False,
) -> None:
    """Check every constraint of a mapping file and recompute its metrics."""
    dec, hw, mp, _ = read_mapping(Path(mapping))
    verdict = assess(dec, hw, mp)
    if json_out:
        emit_json(
            {
                "file": mapping,
                "valid": verdict.valid,
                "violations": [
                    {
                        "constraint": v.constraint,
                        "item": v.item,
                        "limit": str(v.limit),
                        "actual": str(v.actual),
                        "detail": v.detail,
                    }
                    for v in verdict.violations
                ],
                "metrics": verdict.metrics,
            }
        )
    elif verdict.valid:
        rows = [{"metric": k, "value": v} for k, v in (verdict.metrics or {}).items()]
        console.print(table(f"{mapping}: valid", ["metric", "value"], rows))
    else:
        for v in verdict.violations:
            print(f"{mapping}: {v}")
    if not verdict.valid:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("validate")(validate)
