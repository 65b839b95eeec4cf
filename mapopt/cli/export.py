"""``mapopt export``: hand a mapping (or a net) to another tool.

Each target format is one option of this command: ``--sanafe DIR MAPPING`` writes a
mapping file's decomposed network, the architecture and the placement of every unit for
SANA-FE (docs/sanafe.md). Options, and the output folder with them, are checked before
anything is computed; the folder is written as one unit (mapopt.io.outdir).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mapopt.cli.common import QuietOpt, SeedOpt, log
from mapopt.errors import InputError

StepsOpt = Annotated[
    int | None,
    typer.Option("--steps", metavar="T", min=1, help="Steps of the input spike trains (default: the net's window)."),
]
InputRateOpt = Annotated[
    float,
    typer.Option("--input-rate", metavar="P", min=0.0, max=1.0, help="Input spike probability per step (rate coding)."),
]


def export(
    mapping: Annotated[
        Path | None, typer.Argument(metavar="MAPPING", help="A mapping file written by mapopt (run/solve --out).")
    ] = None,
    sanafe: Annotated[
        str | None,
        typer.Option("--sanafe", metavar="DIR", help="Write the mapping for SANA-FE into DIR (architecture, network)."),
    ] = None,
    steps: StepsOpt = None,
    input_rate: InputRateOpt = 0.2,
    seed: SeedOpt = 0,
    quiet: QuietOpt = False,
) -> None:
    """Export a mapping for another tool: --sanafe DIR MAPPING (the SANA-FE architecture simulator)."""
    if sanafe is None:
        raise InputError("give an export target: --sanafe DIR MAPPING", source="export")
    if mapping is None:
        raise InputError("--sanafe DIR needs a MAPPING file argument", source="--sanafe")
    from mapopt.io import read_mapping
    from mapopt.io.outdir import output_dir
    from mapopt.io.sanafe import check_exports, check_hardware, require_sanafe, write_exports

    require_sanafe()
    with output_dir(sanafe, option="--sanafe") as target:  # checked and locked before any work
        dec, hw, mp, report = read_mapping(mapping)
        check_hardware(hw)
        items = [(str(report.get("strategy") or Path(mapping).stem), dec, hw, mp)]
        check_exports(items)
        assert target is not None
        with target.staging() as folder:
            names = write_exports(folder, items, steps=steps, input_rate=input_rate, seed=seed, nested=False)
        log(f"wrote {target.path}: {', '.join(names)}", quiet=quiet)


def register(app: typer.Typer) -> None:
    app.command("export")(export)
