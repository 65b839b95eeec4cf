"""``mapopt decompose``: unroll a network with one or more strategies and write N'.

The written file is a ``mapopt-network`` file (readable anywhere a net is) holding N'
plus the provenance arrays ``origin``, ``position``, ``level`` and ``edge_origin``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mapopt.cli.common import (
    CrossbarOpt,
    FaninOpt,
    HwOpt,
    JsonOpt,
    NetOpt,
    SeedOpt,
    SpikesOpt,
    console,
    emit_json,
    load_hardware,
    load_net,
    table,
)
from mapopt.decompose import Decomposition, decompose
from mapopt.io.container import write_container
from mapopt.io.netfile import KIND, network_parts
from mapopt.report import slug

COLUMNS = ["strategy", "units", "extra_units", "depth", "synapses_kept", "synapses_pruned",
           "pruned_weight_fraction", "partial_edges"]


def write_decomposed(path: Path, dec: Decomposition) -> None:
    """Write N' with its provenance arrays as a ``mapopt-network`` file."""
    meta, arrays = network_parts(dec.network)
    meta.update(original=dec.original.name, strategy=dec.label, traffic=dec.traffic)
    arrays.update(origin=dec.origin, position=dec.position, level=dec.level, edge_origin=dec.edge_origin,
                  pruned=dec.pruned)
    write_container(path, KIND, meta, arrays)


def decompose_cmd(
    net: NetOpt = None,
    spikes: SpikesOpt = None,
    hw: HwOpt = "dynapse-paper",
    crossbar: CrossbarOpt = None,
    fanin: FaninOpt = None,
    strategies: Annotated[
        list[str] | None,
        typer.Option("--decompose", help="Strategy STRATEGY[:K][,OPTION=VALUE] (repeatable). Default: chain:2, auto."),
    ] = None,
    out: Annotated[
        str | None,
        typer.Option("--out", help="File for N' (.json/.npz) with one strategy; a folder with several."),
    ] = None,
    seed: SeedOpt = 0,
    json_out: JsonOpt = False,
) -> None:
    """Decompose a network and print units added, depth and synapses kept/pruned per strategy."""
    network = load_net(net, spikes, seed)
    hardware = load_hardware(hw, crossbar, fanin)
    specs = list(strategies or ["chain:2", "auto"])
    rows = []
    for spec in specs:
        dec = decompose(network, hardware, spec)
        row = {**dec.summary(), "strategy": spec}
        if out is not None:
            path = Path(out) if len(specs) == 1 else Path(out) / f"{slug(network.name)}-{slug(spec)}.npz"
            path.parent.mkdir(parents=True, exist_ok=True)
            write_decomposed(path, dec)
            row["file"] = str(path)
            console.log(f"wrote {path}")
        rows.append(row)
    if json_out:
        emit_json({"net": network.summary(), "hardware": hardware.to_dict(), "results": rows})
    else:
        console.print(table(f"{network.name} on {hardware.name} (F={hardware.fanin})", COLUMNS, rows))


def register(app: typer.Typer) -> None:
    app.command("decompose")(decompose_cmd)
