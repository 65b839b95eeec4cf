"""``mapopt run``: the main job. Map a net with several strategies and compare them.

Exit code: 0 when every strategy produced a valid mapping, 1 when at least one did not
(its row says why: status ``infeasible`` or ``error`` and the reason; the others are
computed, shown and written), 2 for bad input (before any work), 130/143 when
interrupted (the strategies done so far are shown, ``--out`` is not written).
"""

from __future__ import annotations

from typing import Annotated

import typer

from mapopt.cli.common import (
    CompressOpt,
    CrossbarOpt,
    DtOpt,
    FaninOpt,
    HwOpt,
    JsonOpt,
    MergeOpt,
    MeshOpt,
    NetOpt,
    ObjectiveOpt,
    OutOpt,
    ParamsOpt,
    PerTileOpt,
    QuietOpt,
    SeedOpt,
    SolverOpt,
    SpikesOpt,
    TimeLimitOpt,
    Traffic,
    TrafficOpt,
    WideOpt,
    check_objective,
    console,
    emit_json,
    load_hardware,
    load_net,
    log,
    print_table,
)

DEFAULT_NET = "mlp-784-64-10"
#: The strategies compared by default (the same as mapopt.pipeline.DEFAULT_STRATEGIES, which a
#: test checks; written out here so that ``mapopt --help`` need not import the pipeline).
DEFAULT_STRATEGIES_TEXT = "prune-first, prune-magnitude, chain:2, pieces:2, best"


def run(
    net: NetOpt = None,
    spikes: SpikesOpt = None,
    dt: DtOpt = None,
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
            metavar="STRATEGY",
            help="DECOMPOSITION[@SOLVER], repeatable: prune-first, chain:2, chain:8@paper, best, ... "
            f"Default: {DEFAULT_STRATEGIES_TEXT}.",
        ),
    ] = None,
    solver: SolverOpt = None,
    time_limit: TimeLimitOpt = None,
    seed: SeedOpt = 0,
    objective: ObjectiveOpt = "crossbars-hops",
    traffic: TrafficOpt = Traffic.upper,
    params: ParamsOpt = None,
    out: OutOpt = None,
    compress: CompressOpt = False,
    sanafe: Annotated[
        str | None,
        typer.Option("--sanafe", metavar="DIR", help="Also export each valid mapping for SANA-FE into DIR/STRATEGY/."),
    ] = None,
    json_out: JsonOpt = False,
    wide: WideOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Map a network with each strategy and compare crossbars, traffic and energy.

    With no arguments: the built-in 784-64-10 MLP (50,816 synapses, fan-in 784) on the
    paper's DYNAP-SE model: the prune baselines, the paper's unrolling as its text says
    (chain:2) and as its code does (pieces:2), and the best mapopt has.
    A strategy that cannot map the net is a row with its reason (exit code 1).
    """
    from mapopt import interrupt, progress
    from mapopt.errors import InputError
    from mapopt.io.outdir import output_dir
    from mapopt.pipeline import DEFAULT_STRATEGIES, check_strategies, run_strategies, split_strategy
    from mapopt.report import COMPACT_COLUMNS, TABLE_COLUMNS, run_document, write_outputs
    from mapopt.solver import Budget
    from mapopt.studies.variants import read_params_files

    hardware = load_hardware(hw, crossbar, fanin, crossbars_per_tile, mesh)
    check_objective(objective)
    strategies = list(decompose or DEFAULT_STRATEGIES)
    check_strategies(strategies, hardware, solver)
    by_solver = read_params_files(params or [], solver)
    used = {split_strategy(spec, hardware, solver)[1] for spec in strategies}
    for name in sorted(set(by_solver) - used):
        raise InputError(f"params for solver {name!r}, which no strategy uses", source="--params")
    if sanafe is not None:
        from mapopt.io.sanafe import check_exports, check_hardware, require_sanafe, write_exports

        require_sanafe()
        check_hardware(hardware)
    with output_dir(out) as target, output_dir(sanafe, option="--sanafe") as sanafe_target:  # checked before work
        network = load_net(net, spikes, seed, default=DEFAULT_NET, merge_duplicates=merge_duplicates, dt=dt)
        budget = Budget(time_limit=time_limit, seed=seed)
        with progress.live(console, enabled=not quiet):
            runs = run_strategies(
                network, hardware, strategies, budget=budget, default_solver=solver, objective=objective,
                traffic=str(traffic), solver_params=by_solver,
            )  # fmt: skip
        doc = run_document(network, hardware, runs)
        stopped = interrupt.requested() is not None
        exports = [(r.strategy, r.decomposition, r.problem.hardware, r.result.mapping) for r in runs if r.ok]
        if sanafe_target is not None and not stopped:
            check_exports(exports)  # refuse what SANA-FE cannot hold before anything is written
        if target is not None and not stopped:
            with target.staging() as folder:
                names = write_outputs(folder, network, hardware, runs, compress=compress)
            log(f"wrote {target.path}: {', '.join(names)}", quiet=quiet)
        if sanafe_target is not None and not stopped:
            with sanafe_target.staging() as folder:
                names = write_exports(folder, exports, steps=None, input_rate=0.2, seed=seed, nested=True)
            log(f"wrote {sanafe_target.path}: {', '.join(names)}", quiet=quiet)
    if json_out:
        emit_json(doc)
    else:
        s = network.summary()
        title = (
            f"{s['name']}: {s['neurons']} neurons, {s['synapses']} synapses, max fan-in {s['max_fanin']} "
            f"on {hardware.name} ({hardware.rows}x{hardware.columns}, F={hardware.fanin})"
        )
        print_table(title, TABLE_COLUMNS if wide else COMPACT_COLUMNS, doc["results"], wide=wide)
    failed = [r for r in runs if not r.ok]
    for r in failed:
        log(f"{r.strategy}: {r.result.status}: {r.result.message}", quiet=quiet)
    if stopped:
        log(f"stopped after {len(runs)} of {len(strategies)} strategies; --out/--sanafe not written", quiet=quiet)
    elif failed:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("run", short_help="Map a net with several strategies and compare them.")(run)
