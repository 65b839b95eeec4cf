"""``mapopt check-equivalence``: simulate N and its decomposition N' and compare their spikes.

Exit code 0 when the original neurons spike identically, 1 when they do not.
"""

from __future__ import annotations

from typing import Annotated

import typer

from mapopt.cli.common import (
    CrossbarOpt,
    DtOpt,
    FaninOpt,
    HwOpt,
    JsonOpt,
    NetOpt,
    SeedOpt,
    SpikesOpt,
    emit_json,
    key_values,
    load_hardware,
    load_net,
)
from mapopt.cli.simulate import InputRateOpt, Mode, ModeOpt, TimestepsOpt


def check_equivalence_cmd(
    net: NetOpt = None,
    spikes: SpikesOpt = None,
    dt: DtOpt = None,
    hw: HwOpt = "dynapse-paper",
    crossbar: CrossbarOpt = None,
    fanin: FaninOpt = None,
    decompose_spec: Annotated[
        str,
        typer.Option(
            "--decompose",
            metavar="STRATEGY",
            help="Decomposition STRATEGY[:K][,OPTION=VALUE] (chain:2, tree:16, auto).",
        ),
    ] = "auto",
    mode: ModeOpt = Mode.exact,
    timesteps: TimestepsOpt = None,
    input_rate: InputRateOpt = 0.2,
    seed: SeedOpt = 0,
    json_out: JsonOpt = False,
) -> None:
    """Check that a decomposition spikes exactly like the original network on the same inputs."""
    from mapopt.decompose import check_spec, decompose
    from mapopt.equivalence import check_equivalence

    hardware = load_hardware(hw, crossbar, fanin)
    check_spec(decompose_spec, hardware)
    network = load_net(net, spikes, seed, dt=dt)
    dec = decompose(network, hardware, decompose_spec)
    report = check_equivalence(dec, mode=str(mode), timesteps=timesteps, input_rate=input_rate, seed=seed)
    doc = {"net": network.name, **report.to_dict()}
    if json_out:
        emit_json(doc)
    else:
        key_values(f"equivalence of {network.name}", doc)
    if not report.equivalent:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("check-equivalence", short_help="Check that N and N' spike identically.")(
        check_equivalence_cmd
    )
