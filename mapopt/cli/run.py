"""``mapopt run``: the main job. Map a net with several strategies and compare them."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mapopt.cli.common import (
    CompressOpt,
    CrossbarOpt,
    FaninOpt,
    HwOpt,
    JsonOpt,
    MergeOpt,
    MeshOpt,
    NetOpt,
    ObjectiveOpt,
    OutOpt,
    PerTileOpt,
    SeedOpt,
    SolverOpt,
    SpikesOpt,
    TimeLimitOpt,
    Traffic,
    TrafficOpt,
    console,
    emit_json,
    load_hardware,
    load_net,
    table,
)
from mapopt.pipeline import DEFAULT_STRATEGIES, check_strategies, run_strategy
from mapopt.problem import DEFAULT_OBJECTIVE
from mapopt.report import TABLE_COLUMNS, run_document, write_outputs
from mapopt.solver import Budget

DEFAULT_NET = "mlp-784-64-10"


def run(
    net: NetOpt = None,
    spikes: SpikesOpt = None,
    merge_duplicates: MergeOpt = False,
    hw: HwOpt = "dynapse-paper",
    crossbar: CrossbarOpt = None,
    fanin: FaninOpt = None,
    crossbars_per_tile: PerTileOpt = None,
    mesh: MeshOpt = None,
    decompose: Annotated[
        list[str] | None,
        typer.Option(
            "--decompose",
            help="Strategy DECOMPOSITION[@SOLVER] (repeatable), e.g. prune-first, chain:2, chain:8@paper, best. "
            f"Default: {', '.join(DEFAULT_STRATEGIES)}.",
        ),
    ] = None,
    solver: SolverOpt = None,
    time_limit: TimeLimitOpt = None,
    seed: SeedOpt = 0,
    objective: ObjectiveOpt = DEFAULT_OBJECTIVE,
    traffic: TrafficOpt = Traffic.upper,
    out: OutOpt = None,
    compress: CompressOpt = False,
    json_out: JsonOpt = False,
) -> None:
    """Map a network with each strategy and compare crossbars, traffic and energy.

    With no arguments: the built-in 784-64-10 MLP (50,816 synapses, fan-in 784) on the
    paper's DYNAP-SE model, prune baselines vs the paper's chain-2 vs the best mapopt has.
    """
    hardware = load_hardware(hw, crossbar, fanin, crossbars_per_tile, mesh)
    strategies = list(decompose or DEFAULT_STRATEGIES)
    check_strategies(strategies, hardware, solver)
    network = load_net(net, spikes, seed, default=DEFAULT_NET, merge_duplicates=merge_duplicates)
    budget = Budget(time_limit=time_limit, seed=seed)
    runs = []
    for i, spec in enumerate(strategies, start=1):
        console.print(f"[{i}/{len(strategies)}] {spec}: decomposing and mapping {network.name} on {hardware.name}")
        runs.append(
            run_strategy(
                network, hardware, spec, budget=budget, default_solver=solver, objective=objective, traffic=str(traffic)
            )
        )
    doc = run_document(network, hardware, runs)
    if out is not None:
        for path in write_outputs(Path(out), network, hardware, runs, compress=compress):
            console.print(f"wrote {path}")
    if json_out:
        emit_json(doc)
    else:
        s = network.summary()
        title = (
            f"{s['name']}: {s['neurons']} neurons, {s['synapses']} synapses, max fan-in {s['max_fanin']} "
            f"on {hardware.name} ({hardware.rows}x{hardware.columns}, F={hardware.fanin})"
        )
        console.print(table(title, TABLE_COLUMNS, doc["results"]))
    if any(r.result.metrics is None for r in runs):
        bad = [f"{r.strategy}: {r.result.status} {r.result.message}".strip() for r in runs if r.result.metrics is None]
        console.print("[red]no valid mapping for: " + "; ".join(bad))
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("run")(run)
