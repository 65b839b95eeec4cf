"""``mapopt solve``: map one net with one solver (by default the exact ``cpsat``) and say how good it is.

Prints the validator's metrics (the keys of ``run --json``) plus ``status`` (optimal,
feasible, infeasible, timeout, error), ``objective``, ``bound``, ``gap`` and ``wall_s``;
``--out`` writes the mapping, which ``mapopt validate`` re-checks. ``--joint`` (solver
``cpsat-joint``, tiny nets) also chooses how unrolled neurons' inputs are grouped; the
decomposition it chose is the one reported and written.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Annotated

import typer

from mapopt.cli.common import (
    MAX_THREADS,
    CompressOpt,
    CrossbarOpt,
    DtOpt,
    FaninOpt,
    HwOpt,
    JsonOpt,
    MeshOpt,
    NetOpt,
    ObjectiveOpt,
    OutOpt,
    ParamsOpt,
    PerTileOpt,
    QuietOpt,
    SeedOpt,
    SpikesOpt,
    TimeLimitOpt,
    Traffic,
    TrafficOpt,
    check_objective,
    console,
    emit_json,
    key_values,
    load_hardware,
    load_net,
    log,
)

if TYPE_CHECKING:
    from mapopt.hardware import Hardware
    from mapopt.network import Network

DEFAULT_EXACT_SOLVER = "cpsat"
#: The solver ``--joint`` selects: grouping of unrolled neurons' inputs and crossbars in one model.
JOINT_SOLVER = "cpsat-joint"
#: The time limit of an exact solver when --time-limit is not given (heuristics get none: their budgets count work).
DEFAULT_TIME_LIMIT = 30.0


def machine_threads() -> int:
    """The cores this process may run on (the machine's, or its CPU affinity set's), at most the option's maximum."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return min(max(cores, 1), MAX_THREADS)


def default_decomposition(net: Network, hw: Hardware) -> str:
    """``none`` when every neuron fits the fan-in limit, else a chain of arity F (fewest extra units)."""
    return "none" if net.max_fanin <= hw.fanin else f"chain:{hw.fanin}"


def solve(
    net: NetOpt = None,
    spikes: SpikesOpt = None,
    dt: DtOpt = None,
    hw: HwOpt = "dynapse-paper",
    crossbar: CrossbarOpt = None,
    fanin: FaninOpt = None,
    crossbars_per_tile: PerTileOpt = None,
    mesh: MeshOpt = None,
    decompose: Annotated[
        str | None,
        typer.Option(
            "--decompose",
            metavar="STRATEGY",
            help="Decomposition STRATEGY[:K]. Default: none if the net fits F, else chain:F.",
        ),
    ] = None,
    solver: Annotated[
        str, typer.Option("--solver", metavar="NAME", help="Solver (mapopt list solvers).")
    ] = DEFAULT_EXACT_SOLVER,
    joint: Annotated[
        bool,
        typer.Option(
            "--joint",
            help=f"Choose the input grouping of unrolled neurons together with the crossbars ({JOINT_SOLVER}; "
            "tiny nets). The decomposition's arity is the leaf size.",
        ),
    ] = False,
    time_limit: TimeLimitOpt = None,
    threads: Annotated[
        int | None,
        typer.Option(
            "--threads", metavar="N", min=1, max=MAX_THREADS,
            help="Solver threads (CP-SAT, HiGHS, CBC). Default: all cores.",
        ),
    ] = None,
    seed: SeedOpt = 0,
    objective: ObjectiveOpt = "crossbars-hops",
    traffic: TrafficOpt = Traffic.upper,
    params: ParamsOpt = None,
    out: OutOpt = None,
    compress: CompressOpt = False,
    json_out: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Solve one mapping problem, exactly when the solver can: status, objective, bound and gap.

    Exact solvers stop after --time-limit seconds (default 30) with their incumbent and
    bound; Ctrl-C stops them the same way (exit 130) and prints the incumbent.
    """
    from mapopt import interrupt, progress
    from mapopt.decompose import check_spec
    from mapopt.errors import InputError
    from mapopt.io.outdir import output_dir
    from mapopt.pipeline import run_strategy
    from mapopt.registry import solver_class
    from mapopt.report import write_outputs
    from mapopt.solver import Budget
    from mapopt.studies.variants import read_params_files

    hardware = load_hardware(hw, crossbar, fanin, crossbars_per_tile, mesh)
    check_objective(objective)
    if decompose is not None:
        if "@" in decompose:
            raise InputError("give the solver with --solver, not in --decompose", source="--decompose")
        check_spec(decompose, hardware)
    if joint:
        if solver not in (DEFAULT_EXACT_SOLVER, JOINT_SOLVER):
            raise InputError(f"--joint uses the solver {JOINT_SOLVER}; drop --solver {solver}", source="--joint")
        solver = JOINT_SOLVER
    by_solver = read_params_files(params or [], solver)
    for name in sorted(set(by_solver) - {solver}):
        raise InputError(f"params for solver {name!r}, but --solver is {solver!r}", source="--params")
    exact = solver_class(solver).exact
    limit = time_limit if time_limit is not None else (DEFAULT_TIME_LIMIT if exact else None)
    with output_dir(out) as target:  # checked and locked before any work
        network = load_net(net, spikes, seed, dt=dt)
        decomposition = decompose or default_decomposition(network, hardware)
        budget = Budget(time_limit=limit, seed=seed, threads=threads or machine_threads())
        shown = "no time limit" if limit is None else f"limit {limit:g} s"
        log(f"{solver}: mapping {network.name} ({decomposition}) on {hardware.name}, {shown}", quiet=quiet)
        with progress.live(console, enabled=not quiet) as reporter:
            reporter.stage(f"{decomposition}@{solver} on {network.name}")
            run = run_strategy(
                network, hardware, f"{decomposition}@{solver}", budget=budget, objective=objective,
                traffic=str(traffic), solver_params=by_solver.get(solver),
            )  # fmt: skip
        row = run.row()
        stopped = interrupt.requested() is not None
        if target is not None and run.ok and not stopped:
            with target.staging() as folder:
                names = write_outputs(folder, network, hardware, [run], compress=compress)
            log(f"wrote {target.path}: {', '.join(names)}", quiet=quiet)
    if json_out:
        emit_json({**row, "history": [list(point) for point in run.result.history]})
    else:
        key_values(f"{network.name} on {hardware.name}", row, key="metric")
    if not run.ok and not stopped:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("solve", short_help="Solve one mapping (exactly): status, bound, gap.")(solve)
