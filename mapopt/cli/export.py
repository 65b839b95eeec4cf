"""``mapopt export``: hand a mapping (or a net) to another tool; one option per target.

- ``--sanafe DIR MAPPING`` writes a mapping file's decomposed network, the architecture and
  the placement of every unit for SANA-FE (docs/sanafe.md).
- ``--spinemap NET|MAPPING DIR`` writes ``DIR/connection_info.txt`` and ``DIR/spike_info.txt``
  (the names the authors' NeuroXplore.py uses) for any net (catalog name, generator spec,
  mapopt/NIR/SpiNeMap file), ready for ``SNNPartitioning/ext --conn-file ... --spike-file
  ...`` of drexel-DISCO/SpiNeMap; for a mapping file, the original net's files plus
  ``DIR/cluster.ir``, the mapping in that tool's ``--cluster-ir-out`` format
  (docs/formats.md).

The command dispatches on the target option given (exactly one). Options, and the output
folder with them, are checked before anything is computed; the folder is written as one
unit (mapopt.io.outdir).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mapopt.cli.common import MergeOpt, QuietOpt, SeedOpt, SpikesOpt, log
from mapopt.errors import InputError

StepsOpt = Annotated[
    int | None,
    typer.Option(
        "--steps", metavar="T", min=1, max=100_000, help="Steps of the input spike trains (default: the net's window)."
    ),
]
InputRateOpt = Annotated[
    float,
    typer.Option("--input-rate", metavar="P", min=0.0, max=1.0, help="Input spike probability per step (rate coding)."),
]
#: How each target is written, for the error message when none or several are given.
USAGE = ("--sanafe DIR MAPPING", "--spinemap NET|MAPPING DIR")


def export(
    paths: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="MAPPING | NET|MAPPING DIR",
            help="--sanafe: a mapping file written by mapopt (run/solve --out); "
            "--spinemap: a net (name, spec, file) or mapping file, then the output folder.",
        ),
    ] = None,
    sanafe: Annotated[
        str | None,
        typer.Option("--sanafe", metavar="DIR", help="Write the mapping for SANA-FE into DIR (architecture, network)."),
    ] = None,
    spinemap: Annotated[
        bool,
        typer.Option(
            "--spinemap",
            help="Write connection_info.txt + spike_info.txt for the authors' SNNPartitioning "
            "(and cluster.ir for a mapping) into DIR.",
        ),
    ] = False,
    spikes: SpikesOpt = None,
    merge_duplicates: MergeOpt = False,
    steps: StepsOpt = None,
    input_rate: InputRateOpt = 0.2,
    seed: SeedOpt = 0,
    quiet: QuietOpt = False,
) -> None:
    """Export for another tool: --sanafe DIR MAPPING (SANA-FE), --spinemap NET|MAPPING DIR (authors' SpiNeMap)."""
    args = list(paths or [])
    if (sanafe is not None) == spinemap:
        raise InputError(f"give exactly one export target: {' or '.join(USAGE)}", source="export")
    if spinemap:
        if len(args) != 2:
            raise InputError(f"--spinemap takes NET|MAPPING DIR, got {len(args)} argument(s)", source="--spinemap")
        _spinemap(args[0], args[1], spikes=spikes, merge_duplicates=merge_duplicates, seed=seed, quiet=quiet)
        return
    if len(args) != 1:
        raise InputError("--sanafe DIR needs one MAPPING file argument", source="--sanafe")
    _sanafe(Path(args[0]), sanafe, steps=steps, input_rate=input_rate, seed=seed, quiet=quiet)  # type: ignore[arg-type]


def _sanafe(mapping: Path, out: str, *, steps: int | None, input_rate: float, seed: int, quiet: bool) -> None:
    from mapopt.io import read_mapping
    from mapopt.io.outdir import output_dir
    from mapopt.io.sanafe import check_exports, check_hardware, require_sanafe, write_exports

    require_sanafe()
    with output_dir(out, option="--sanafe") as target:  # checked and locked before any work
        dec, hw, mp, report = read_mapping(mapping)
        check_hardware(hw)
        items = [(str(report.get("strategy") or Path(mapping).stem), dec, hw, mp)]
        check_exports(items)
        assert target is not None
        with target.staging() as folder:
            names = write_exports(folder, items, steps=steps, input_rate=input_rate, seed=seed, nested=False)
        log(f"wrote {target.path}: {', '.join(names)}", quiet=quiet)


def _is_mapping(path: Path) -> bool:
    from mapopt.io.container import read_container
    from mapopt.io.mapfile import KIND as MAPPING_KIND

    if path.suffix.lower() not in (".json", ".npz") or not path.is_file():
        return False
    try:
        read_container(path, MAPPING_KIND)
    except InputError:
        return False
    return True


def _spinemap(source: str, out: str, *, spikes: str | None, merge_duplicates: bool, seed: int, quiet: bool) -> None:
    from mapopt.io import read_mapping, resolve_net, write_spinemap
    from mapopt.io.outdir import output_dir
    from mapopt.io.spinemap import write_cluster_ir

    with output_dir(out, option="DIR") as target:  # checked and locked before the net is loaded
        assert target is not None
        path = Path(source)
        if _is_mapping(path):
            dec, _, mapping, _ = read_mapping(path)
            net = dec.original
        else:
            dec = mapping = None
            net = resolve_net(source, spikes=spikes, seed=seed, merge_duplicates=merge_duplicates)
        with target.staging() as folder:
            write_spinemap(net, folder / "connection_info.txt", folder / "spike_info.txt")
            names = ["connection_info.txt", "spike_info.txt"]
            if dec is not None and mapping is not None:
                write_cluster_ir(folder / "cluster.ir", dec, mapping)
                names.append("cluster.ir")
        log(f"wrote {target.path}: {', '.join(names)}", quiet=quiet)


def register(app: typer.Typer) -> None:
    app.command("export", short_help="Export a mapping for another tool (SANA-FE).")(export)
