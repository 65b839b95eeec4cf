"""``mapopt simulate``: run the spiking simulator on a network or its decomposition."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

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
    emit_json,
    key_values,
    load_hardware,
    load_net,
    log,
)

#: Longest window --timesteps accepts (mapopt.network.MAX_TIMESTEPS, which a test checks).
MAX_STEPS = 1_000_000


class Mode(StrEnum):
    exact = "exact"
    delayed = "delayed"


ModeOpt = Annotated[Mode, typer.Option("--mode", help="exact: partial sums within the step; delayed: one step/level.")]
TimestepsOpt = Annotated[
    int | None,
    typer.Option(
        "--timesteps", metavar="T", min=1, max=MAX_STEPS, help="Steps to simulate (default: the net's window)."
    ),
]
InputRateOpt = Annotated[
    float,
    typer.Option("--input-rate", metavar="P", min=0.0, max=1.0, help="Input spike probability per step (rate coding)."),
]
DecomposeOpt = Annotated[
    str | None,
    typer.Option(
        "--decompose", metavar="STRATEGY", help="Simulate N' of this decomposition (chain:2, tree:16, auto, ...)."
    ),
]


def simulate_cmd(
    net: NetOpt = None,
    spikes: SpikesOpt = None,
    dt: DtOpt = None,
    hw: HwOpt = "dynapse-paper",
    crossbar: CrossbarOpt = None,
    fanin: FaninOpt = None,
    decompose_spec: DecomposeOpt = None,
    mode: ModeOpt = Mode.exact,
    timesteps: TimestepsOpt = None,
    input_rate: InputRateOpt = 0.2,
    seed: SeedOpt = 0,
    out: Annotated[
        str | None,
        typer.Option(
            "--out", metavar="FILE", help="Write the network with the simulated spike counts (.json/.npz)."
        ),
    ] = None,
    json_out: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Simulate a network (IF/LIF, rate-coded inputs, fixed seed) and report its spike counts."""
    import numpy as np

    from mapopt.decompose import check_spec, decompose
    from mapopt.io import write_network
    from mapopt.io.outdir import check_output_file
    from mapopt.simulate import simulate, simulate_decomposition

    hardware = load_hardware(hw, crossbar, fanin)
    if decompose_spec is not None:
        check_spec(decompose_spec, hardware)
    if out is not None:
        check_output_file(out, suffixes=(".json", ".npz"))
    network = load_net(net, spikes, seed, dt=dt)
    if decompose_spec is None:
        result = simulate(network, timesteps=timesteps, input_rate=input_rate, seed=seed)
        strategy = None
    else:
        dec = decompose(network, hardware, decompose_spec)
        result = simulate_decomposition(dec, timesteps=timesteps, input_rate=input_rate, seed=seed, mode=str(mode))
        strategy = dec.label
    n = network.n_neurons
    counts = result.counts[:n]
    compute = ~network.is_input
    outputs = np.flatnonzero(compute & (network.fanout == 0))
    doc = {
        "net": network.name,
        "decomposition": strategy,
        "mode": str(mode) if strategy else None,
        "timesteps": result.timesteps,
        "fraction_bits": result.fraction_bits,
        "input_spikes": float(counts[network.is_input].sum()),
        "compute_spikes": float(counts[compute].sum()),
        "unit_partial_messages": float(result.counts[n:].sum()),
        "output_neurons": outputs.tolist(),
        "output_counts": counts[outputs].tolist(),
        "source": result.source,
    }
    if out is not None:
        write_network(Path(out), network.with_spikes(counts, result.source, timesteps=result.timesteps))
        log(f"wrote {out}", quiet=quiet)
    if json_out:
        emit_json(doc)
    else:
        pairs = {k: v for k, v in doc.items() if k not in ("output_neurons", "output_counts")}
        pairs.update({f"output {o}": c for o, c in zip(doc["output_neurons"], doc["output_counts"], strict=True)})
        key_values(f"simulation of {network.name}", pairs)


def register(app: typer.Typer) -> None:
    app.command("simulate", short_help="Simulate a net or its decomposition: spike counts.")(simulate_cmd)
