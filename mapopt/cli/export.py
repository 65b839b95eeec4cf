"""``mapopt export``: hand a mapping (or a net) to another tool.

Each target format is one option of this command: ``--sanafe DIR MAPPING`` writes a
mapping file's decomposed network, the architecture and the placement of every unit for
SANA-FE (docs/sanafe.md). Options are checked, and the output folder with them, before
anything is computed; the folder is written as one unit.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mapopt.cli.common import SeedOpt, console
from mapopt.errors import InputError
from mapopt.io import read_mapping
from mapopt.io.sanafe import check_hardware, check_output_dir, export_folder, require_sanafe

StepsOpt = Annotated[
    int | None, typer.Option("--steps", min=1, help="Timesteps of the input spike trains (default: the net's window).")
]
InputRateOpt = Annotated[
    float, typer.Option("--input-rate", min=0.0, max=1.0, help="Input spike probability per step (rate coding).")
]


def export(
    mapping: Annotated[
        Path | None, typer.Argument(help="A mapping file written by mapopt (run/solve --out), for --sanafe.")
    ] = None,
    sanafe: Annotated[
        Path | None,
        typer.Option("--sanafe", help="Write the mapping for SANA-FE into this folder (arch, network, manifest)."),
    ] = None,
    steps: StepsOpt = None,
    input_rate: InputRateOpt = 0.2,
    seed: SeedOpt = 0,
) -> None:
    """Export a mapping for another tool: --sanafe DIR MAPPING (SANA-FE architecture simulator)."""
    if sanafe is None:
        raise InputError("give an export target: --sanafe DIR MAPPING", source="export")
    if mapping is None:
        raise InputError("--sanafe DIR needs a MAPPING file argument", source="--sanafe")
    require_sanafe()
    check_output_dir(sanafe)
    dec, hw, mp, report = read_mapping(mapping)
    check_hardware(hw)
    label = str(report.get("strategy") or Path(mapping).stem)
    written = export_folder(sanafe, [(label, dec, hw, mp)], steps=steps, input_rate=input_rate, seed=seed, nested=False)
    for path in written:
        console.print(f"wrote {path}")


def register(app: typer.Typer) -> None:
    app.command("export")(export)
