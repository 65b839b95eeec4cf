"""``mapopt decompose``: unroll a network with one or more strategies and write N'.

The written file is a ``mapopt-network`` file (readable anywhere a net is) holding N'
plus the provenance arrays ``origin``, ``position``, ``level`` and ``edge_origin``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from mapopt.cli.common import (
    CrossbarOpt,
    DtOpt,
    FaninOpt,
    HwOpt,
    JsonOpt,
    NetOpt,
    QuietOpt,
    SeedOpt,
    SpikesOpt,
    WideOpt,
    emit_json,
    load_hardware,
    load_net,
    log,
    print_table,
)

if TYPE_CHECKING:
    from mapopt.decompose import Decomposition

COLUMNS = ["strategy", "units", "extra_units", "depth", "synapses_kept", "synapses_pruned",
           "pruned_weight_fraction", "partial_edges"]  # fmt: skip
#: File types ``--out`` takes for one strategy.
SUFFIXES = (".json", ".npz")


def write_decomposed(path: Path, dec: Decomposition) -> None:
    """Write N' with its provenance arrays as a ``mapopt-network`` file."""
    from mapopt.io.container import write_container
    from mapopt.io.netfile import KIND, network_parts

    meta, arrays = network_parts(dec.network)
    meta.update(original=dec.original.name, strategy=dec.label, traffic=dec.traffic)
    arrays.update(origin=dec.origin, position=dec.position, level=dec.level, edge_origin=dec.edge_origin,
                  pruned=dec.pruned)  # fmt: skip
    write_container(path, KIND, meta, arrays)


def decompose_cmd(
    net: NetOpt = None,
    spikes: SpikesOpt = None,
    dt: DtOpt = None,
    hw: HwOpt = "dynapse-paper",
    crossbar: CrossbarOpt = None,
    fanin: FaninOpt = None,
    strategies: Annotated[
        list[str] | None,
        typer.Option(
            "--decompose",
            metavar="STRATEGY",
            help="Strategy STRATEGY[:K][,OPTION=VALUE] (repeatable). Default: chain:2, auto.",
        ),
    ] = None,
    out: Annotated[
        str | None,
        typer.Option(
            "--out", metavar="PATH", help="File for N' (.json/.npz) with one strategy; a folder with several."
        ),
    ] = None,
    seed: SeedOpt = 0,
    json_out: JsonOpt = False,
    wide: WideOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Decompose a network and print units added, depth and synapses kept/pruned per strategy."""
    from contextlib import nullcontext

    from mapopt.decompose import check_spec, decompose
    from mapopt.io.outdir import check_output_file, output_dir
    from mapopt.report import slug

    hardware = load_hardware(hw, crossbar, fanin)
    specs = list(strategies or ["chain:2", "auto"])
    for spec in specs:
        check_spec(spec, hardware)
    one_file = out is not None and len(specs) == 1
    if one_file:
        check_output_file(out, suffixes=SUFFIXES)
    with nullcontext(None) if one_file else output_dir(out) as target:  # checked (and locked) before any work
        network = load_net(net, spikes, seed, dt=dt)
        rows, decs = [], []
        for spec in specs:
            dec = decompose(network, hardware, spec)
            rows.append({**dec.summary(), "strategy": spec})
            decs.append(dec)
        if one_file:
            write_decomposed(Path(out), decs[0])
            rows[0]["file"] = str(out)
            log(f"wrote {out}", quiet=quiet)
        elif target is not None:
            with target.staging() as folder:
                for row, dec in zip(rows, decs, strict=True):
                    name = f"{slug(network.name)}-{slug(row['strategy'])}.npz"
                    write_decomposed(folder / name, dec)
                    row["file"] = str(target.path / name)
            log(f"wrote {target.path}: {len(decs)} files", quiet=quiet)
    if json_out:
        emit_json({"net": network.summary(), "hardware": hardware.to_dict(), "results": rows})
    else:
        print_table(f"{network.name} on {hardware.name} (F={hardware.fanin})", COLUMNS, rows, wide=wide)


def register(app: typer.Typer) -> None:
    app.command("decompose", short_help="Unroll a net into neural units (N') and write it.")(decompose_cmd)
