"""``mapopt info``: what a network is (neurons, inputs, synapses, fan-in, spikes)."""

from __future__ import annotations

from typing import Annotated

import typer

from mapopt.cli.common import JsonOpt, MergeOpt, SeedOpt, SpikesOpt, console, emit_json, load_net, table


def info(
    net: Annotated[str, typer.Argument(help="Catalog name, generator spec or file.")],
    spikes: SpikesOpt = None,
    merge_duplicates: MergeOpt = False,
    seed: SeedOpt = 0,
    json_out: JsonOpt = False,
) -> None:
    """Show the size, fan-in and spike provenance of a network."""
    summary = load_net(net, spikes, seed, merge_duplicates=merge_duplicates).summary()
    if json_out:
        emit_json(summary)
    else:
        console.print(table(net, ["field", "value"], [{"field": k, "value": v} for k, v in summary.items()]))


def register(app: typer.Typer) -> None:
    app.command("info")(info)
