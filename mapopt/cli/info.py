"""``mapopt info``: what a network is (neurons, inputs, synapses, fan-in, spikes)."""

from __future__ import annotations

from typing import Annotated

import typer

from mapopt.cli.common import DtOpt, JsonOpt, MergeOpt, SeedOpt, SpikesOpt, emit_json, key_values, load_net


def info(
    net: Annotated[str, typer.Argument(metavar="NET", help="Catalog name, generator spec or file.")],
    spikes: SpikesOpt = None,
    dt: DtOpt = None,
    merge_duplicates: MergeOpt = False,
    seed: SeedOpt = 0,
    json_out: JsonOpt = False,
) -> None:
    """Show the size, fan-in and spike provenance of a network."""
    summary = load_net(net, spikes, seed, merge_duplicates=merge_duplicates, dt=dt).summary()
    if json_out:
        emit_json(summary)
    else:
        key_values(net, summary)


def register(app: typer.Typer) -> None:
    app.command("info", short_help="Size, fan-in and spike provenance of a net.")(info)
