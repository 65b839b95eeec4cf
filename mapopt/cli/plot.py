"""``mapopt plot MAPPING --out DIR``: the floorplan and utilization histogram of a mapping file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mapopt.cli.common import QuietOpt, log
from mapopt.errors import InputError


def plot(
    mapping_file: Annotated[
        Path, typer.Argument(help="A mapping file (.json/.npz) from run/solve --out.", metavar="MAPPING")
    ],
    out: Annotated[str, typer.Option("--out", help="Folder for floorplan.png and utilization.png.", metavar="DIR")],
    quiet: QuietOpt = False,
) -> None:
    """Draw a mapping: tiles with crossbars coloured by synapse utilization, inter-tile traffic, I/O tile."""
    from mapopt.evaluation import check
    from mapopt.io import read_mapping
    from mapopt.io.outdir import output_dir
    from mapopt.reports.mapping_plot import plot_mapping

    with output_dir(out) as target:
        dec, hw, mapping, _ = read_mapping(mapping_file)
        violations = check(dec, hw, mapping)
        if violations:
            raise InputError(
                f"the mapping breaks {len(violations)} constraint(s), e.g. {violations[0]}; mapopt validate lists them",
                source=str(mapping_file),
            )
        assert target is not None
        with target.staging() as folder:
            names = plot_mapping(dec, hw, mapping, folder)
        log(f"wrote {target.path}: {', '.join(names)}", quiet=quiet)


def register(app: typer.Typer) -> None:
    app.command("plot", short_help="Draw a mapping: floorplan and utilization plots.")(plot)
