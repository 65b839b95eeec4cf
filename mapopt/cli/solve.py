"""``mapopt solve``: map one net with one solver (by default the exact ``cpsat``) and say how good it is.

Prints the validator's metrics (the keys of ``run --json``) plus ``status`` (optimal,
feasible, infeasible, timeout, error), ``objective``, ``bound``, ``gap`` and ``wall_s``;
``--out`` writes the mapping, which ``mapopt validate`` re-checks. ``--joint`` (solver
``cpsat-joint``, tiny nets) also chooses how unrolled neurons' inputs are grouped; the
decomposition it chose is the one reported and written.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from mapopt.cli.common import (
    CompressOpt,
    CrossbarOpt,
    FaninOpt,
    HwOpt,
    JsonOpt,
    MeshOpt,
    NetOpt,
    ObjectiveOpt,
    OutOpt,
    PerTileOpt,
    SeedOpt,
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
from mapopt.errors import InputError
from mapopt.hardware import Hardware
from mapopt.network import Network
from mapopt.pipeline import run_strategy
from mapopt.problem import DEFAULT_OBJECTIVE
from mapopt.report import write_outputs
from mapopt.solver import Budget

DEFAULT_EXACT_SOLVER = "cpsat"
#: The solver ``--joint`` selects: grouping of unrolled neurons' inputs and crossbars in one model.
JOINT_SOLVER = "cpsat-joint"
DEFAULT_TIME_LIMIT = 30.0


def machine_threads() -> int:
    """The cores this process may run on (the machine's, or its CPU affinity set's)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def default_decomposition(net: Network, hw: Hardware) -> str:
    """``none`` when every neuron fits the fan-in limit, else a chain of arity F (fewest extra units)."""
    return "none" if net.max_fanin <= hw.fanin else f"chain:{hw.fanin}"


def solve(
    net: NetOpt = None,
    spikes: SpikesOpt = None,
    hw: HwOpt = "dynapse-paper",
    crossbar: CrossbarOpt = None,
    fanin: FaninOpt = None,
    crossbars_per_tile: PerTileOpt = None,
    mesh: MeshOpt = None,
    decompose: Annotated[
        str | None,
        typer.Option("--decompose", help="Decomposition STRATEGY[:K]. Default: none if the net fits F, else chain:F."),
    ] = None,
    solver: Annotated[str, typer.Option("--solver", help="Solver (mapopt list solvers).")] = DEFAULT_EXACT_SOLVER,
    joint: Annotated[
        bool,
        typer.Option(
            "--joint",
            help=f"Choose the input grouping of unrolled neurons together with the crossbars ({JOINT_SOLVER}; "
            "tiny nets). The decomposition's arity is the leaf size.",
        ),
    ] = False,
    time_limit: TimeLimitOpt = DEFAULT_TIME_LIMIT,
    threads: Annotated[
        int | None,
        typer.Option("--threads", help="Solver threads (CP-SAT workers, CBC/HiGHS). Default: all cores.", min=1),
    ] = None,
    seed: SeedOpt = 0,
    objective: ObjectiveOpt = DEFAULT_OBJECTIVE,
    traffic: TrafficOpt = Traffic.upper,
    out: OutOpt = None,
    compress: CompressOpt = False,
    json_out: JsonOpt = False,
) -> None:
    """Solve one mapping problem, exactly when the solver can: status, objective, bound and gap."""
    hardware = load_hardware(hw, crossbar, fanin, crossbars_per_tile, mesh)
    network = load_net(net, spikes, seed)
    decomposition = decompose or default_decomposition(network, hardware)
    if "@" in decomposition:
        raise InputError("give the solver with --solver, not in --decompose", source="--decompose")
    if joint:
        if solver not in (DEFAULT_EXACT_SOLVER, JOINT_SOLVER):
            raise InputError(f"--joint uses the solver {JOINT_SOLVER}; drop --solver {solver}", source="--joint")
        solver = JOINT_SOLVER
    budget = Budget(time_limit=time_limit, seed=seed, threads=threads or machine_threads())
    console.log(f"{solver}: mapping {network.name} ({decomposition}) on {hardware.name}, limit {time_limit} s")
    run = run_strategy(
        network, hardware, f"{decomposition}@{solver}", budget=budget, objective=objective, traffic=str(traffic)
    )
    row = run.row()
    if out is not None:
        for path in write_outputs(Path(out), network, hardware, [run], compress=compress):
            console.log(f"wrote {path}")
    if json_out:
        emit_json({**row, "history": [list(point) for point in run.result.history]})
    else:
        console.print(
            table(
                f"{network.name} on {hardware.name}",
                ["metric", "value"],
                [{"metric": k, "value": v} for k, v in row.items()],
            )
        )
    if run.result.metrics is None:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("solve")(solve)
