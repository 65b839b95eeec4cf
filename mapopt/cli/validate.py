"""``mapopt validate``: re-check a mapping file on its own (exit 0 valid, 1 invalid, 2 bad file)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mapopt.cli.common import JsonOpt, emit_json, key_values


def validate(
    mapping: Annotated[str, typer.Argument(metavar="FILE", help="A mapping file written by mapopt (.json or .npz).")],
    json_out: JsonOpt = False,
) -> None:
    """Check every constraint of a mapping file and recompute its metrics.

    Exit code 0: valid; 1: a readable mapping that breaks constraints (one line each,
    on stdout); 2: a file that is not a readable mapping file.
    """
    from mapopt.evaluation import assess
    from mapopt.io import read_mapping

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
        key_values(f"{mapping}: valid", verdict.metrics or {}, key="metric")
    else:
        for v in verdict.violations:
            print(f"{mapping}: {v}")
    if not verdict.valid:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("validate", short_help="Re-check a mapping file: constraints and metrics.")(validate)
