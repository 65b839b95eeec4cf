"""``mapopt plot MAPPING --out DIR``: the floorplan and utilization histogram of a mapping file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mapopt.cli.common import console
from mapopt.errors import InputError
from mapopt.reports.outdir import check_out_dir


def plot(
    mapping_file: Annotated[Path, typer.Argument(help="A mapping file (.json/.npz) from run/solve --out.")],
    out: Annotated[Path, typer.Option("--out", help="Folder for floorplan.png and utilization.png.")],
) -> None:
    """Draw a mapping: tiles with crossbars coloured by synapse utilization, inter-tile traffic, I/O tile."""
    from mapopt.evaluation import check
    from mapopt.io import read_mapping
    from mapopt.reports.mapping_plot import plot_mapping
    from mapopt.reports.outdir import write_folder

    check_out_dir(out)
    dec, hw, mapping, _ = read_mapping(mapping_file)
    violations = check(dec, hw, mapping)
    if violations:
        raise InputError(
            f"the mapping breaks {len(violations)} constraint(s), e.g. {violations[0]}; mapopt validate lists them",
            source=str(mapping_file),
        )
    for path in write_folder(out, lambda tmp: plot_mapping(dec, hw, mapping, tmp)):
        console.print(f"wrote {path}")


def register(app: typer.Typer) -> None:
    app.command("plot")(plot)
