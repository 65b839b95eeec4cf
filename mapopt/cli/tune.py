"""``mapopt tune``: tune a solver's hyperparameters with Optuna over a training set of instances.

Resumable and shareable: the same command with the same ``--storage`` continues the study
(it ends with ``--trials`` finished trials in all); several processes or machines on one
storage URL share it. See :mod:`mapopt.studies.tuning` for the objective and the rules.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from mapopt.cli.common import (
    CrossbarOpt,
    FaninOpt,
    HwOpt,
    JsonOpt,
    MeshOpt,
    ObjectiveOpt,
    PerTileOpt,
    QuietOpt,
    SeedOpt,
    TimeLimitOpt,
    Traffic,
    TrafficOpt,
    emit_json,
    log,
    print_table,
)
from mapopt.errors import InputError

if TYPE_CHECKING:
    from mapopt.io.outdir import OutputDir


def sqlite_path(url: str) -> Path | None:
    """The file of a ``sqlite:///PATH`` URL (None for other databases)."""
    if not url.startswith("sqlite:"):
        return None
    if not url.startswith("sqlite:///") or url == "sqlite:///":
        raise InputError("an SQLite storage URL is sqlite:///PATH (three slashes, then the file)", source="--storage")
    return Path(url[len("sqlite:///") :])


def tune(
    solver: Annotated[
        str, typer.Option("--solver", metavar="NAME", help="The solver to tune (mapopt list solvers --params).")
    ],
    instances: Annotated[
        list[str],
        typer.Option("--instances", metavar="NETS", help="Training instances: tiers, names, specs, files."),
    ],
    storage: Annotated[
        str, typer.Option("--storage", metavar="URL", help="Optuna storage URL, e.g. sqlite:///tune.db.")
    ],
    trials: Annotated[
        int,
        typer.Option(
            "--trials", metavar="N", help="Finished trials the study ends with (in all).", min=1, max=1_000_000
        ),
    ],
    holdout: Annotated[
        list[str] | None,
        typer.Option(
            "--holdout", metavar="NETS", help="Held-out instances for the final default-vs-tuned report."
        ),
    ] = None,
    hw: HwOpt = "dynapse-paper",
    crossbar: CrossbarOpt = None,
    fanin: FaninOpt = None,
    crossbars_per_tile: PerTileOpt = None,
    mesh: MeshOpt = None,
    decompose: Annotated[
        str, typer.Option("--decompose", metavar="STRATEGY", help="Decomposition of every instance.")
    ] = "auto",
    time_limit: TimeLimitOpt = None,
    objective: ObjectiveOpt = "crossbars-hops",
    traffic: TrafficOpt = Traffic.upper,
    seeds: Annotated[
        int,
        typer.Option("--seeds", metavar="K", help="Seeds 0..K-1 per instance in every trial.", min=1, max=10_000),
    ] = 3,
    seed: SeedOpt = 0,
    study: Annotated[
        str | None, typer.Option("--study", metavar="NAME", help="Study name (default: SOLVER-tune).")
    ] = None,
    workers: Annotated[
        int, typer.Option("--workers", metavar="N", help="Tuning processes started by this command.", min=1, max=256)
    ] = 1,
    jobs: Annotated[
        int, typer.Option("--jobs", metavar="N", help="Runs at a time within each worker.", min=1, max=256)
    ] = 1,
    params: Annotated[
        Path | None,
        typer.Option(
            "--params", metavar="FILE", help="Start from these parameters (a params file); tune the rest."
        ),
    ] = None,
    store: Annotated[
        Path | None,
        typer.Option(
            "--store", metavar="FILE", help="Bake-off store for the runs (default: next to an SQLite storage)."
        ),
    ] = None,
    memory_limit: Annotated[
        int,
        typer.Option("--memory-limit", metavar="MB", help="MB of resident memory per run.", min=1, max=1 << 24),
    ] = 4096,
    out: Annotated[
        Path | None,
        typer.Option("--out", metavar="DIR", help="Folder for best-params.toml, plots, held-out report."),
    ] = None,
    quiet: QuietOpt = False,
    json_out: JsonOpt = False,
) -> None:
    """Tune SOLVER on the training instances; report default vs tuned on the held-out ones."""
    from mapopt.io.outdir import output_dir

    with output_dir(out) as target:  # --out checked (and locked) before anything runs
        _check_and_tune(solver, instances, storage, trials, holdout, hw, crossbar, fanin, crossbars_per_tile, mesh,
                        decompose, time_limit, objective, traffic, seeds, seed, study, workers, jobs, params, store,
                        memory_limit, target, quiet, json_out)  # fmt: skip


def _check_and_tune(  # the command's options, checked in order
    solver: str,
    instances: list[str],
    storage: str,
    trials: int,
    holdout: list[str] | None,
    hw: str,
    crossbar: str | None,
    fanin: int | None,
    crossbars_per_tile: int | None,
    mesh: str | None,
    decompose: str,
    time_limit: float | None,
    objective: str,
    traffic: Traffic,
    seeds: int,
    seed: int,
    study: str | None,
    workers: int,
    jobs: int,
    params: Path | None,
    store: Path | None,
    memory_limit: int,
    target: OutputDir | None,
    quiet: bool,
    json_out: bool,
) -> None:
    from mapopt.registry import solver_class
    from mapopt.studies.spec import expand_instances, make_part
    from mapopt.studies.store import Store
    from mapopt.studies.tuning import TuneSetup
    from mapopt.studies.variants import check_params, read_params_file

    cls = solver_class(solver)
    if not cls.space:
        raise InputError(f"solver {solver!r} declares no search space: nothing to tune", source="--solver")
    base = check_params(cls, read_params_file(params, solver), str(params)) if params else {}
    part = make_part(
        {
            "solvers": [solver], "instances": instances, "hw": hw, "crossbar": crossbar, "fanin": fanin,
            "crossbars_per_tile": crossbars_per_tile, "mesh": mesh, "decompose": decompose, "seeds": seeds,
            "time_limit": time_limit, "objective": objective, "traffic": str(traffic),
        },
        {},
        base=None,
        source="tune",
    )  # fmt: skip
    held = expand_instances(holdout, source="--holdout") if holdout else []
    overlap = {i.spec for i in held} & {i.spec for i in part.instances}
    if overlap:
        raise InputError(f"instances both in training and held out: {', '.join(sorted(overlap))}", source="--holdout")
    if "://" not in storage:
        raise InputError("expected a database URL such as sqlite:///tune.db", source="--storage")
    db = sqlite_path(storage)
    if db is not None and not db.resolve().parent.is_dir():
        raise InputError(f"folder {db.resolve().parent} does not exist", source="--storage")
    if store is None:
        if db is None:
            raise InputError("--store PATH is required with a non-SQLite storage", source="--store")
        store = db.with_name(db.stem + ".runs.db")
    Store(store).close()
    setup = TuneSetup(
        solver=solver,
        train=list(part.instances),
        holdout=held,
        hardware=part.hardware[0],
        decomposition=part.decompositions[0],
        objective=part.objective,
        traffic=part.traffic,
        seeds=part.seeds,
        time_limit=part.time_limit,
        trials=trials,
        storage=storage,
        study_name=study or f"{solver}-tune",
        store=store,
        sampler_seed=seed,
        jobs=jobs,
        memory_limit_mb=memory_limit,
        base_params=base,
    )
    _tune(setup, workers=workers, target=target, quiet=quiet, json_out=json_out)


def _tune(setup: object, *, workers: int, target: OutputDir | None, quiet: bool, json_out: bool) -> None:
    import optuna

    from mapopt.reports.tuning import now, write_tuning
    from mapopt.studies.tuning import TuneSetup, best_params, compare, open_study, run_workers

    assert isinstance(setup, TuneSetup)

    def on_trial(study: optuna.Study, trial: optuna.Trial) -> None:
        if quiet:
            return
        frozen = study.get_trials(deepcopy=False)[trial.number]
        value = "-" if frozen.value is None else f"{frozen.value:.4f}"
        log(f"trial {trial.number}: {frozen.state.name.lower()} {value} {frozen.params}")

    try:
        ran = run_workers(setup, workers, on_trial)
    except KeyboardInterrupt:
        log(f"interrupted; the study is in {setup.storage}: rerun the same command to continue")
        raise
    study = open_study(setup)
    complete = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    if not complete:
        raise InputError("no trial completed (every trial was pruned or failed)", source=setup.storage)
    best = study.best_trial
    params = best_params(setup, study)
    comparisons, rows = compare(setup, params, setup.holdout) if setup.holdout else ([], [])
    finished = sum(t.state in (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED) for t in study.trials)
    tuned = {
        "study": setup.study_name,
        "storage": setup.storage,
        "trials": finished,
        "best_trial": best.number,
        "value": best.value,
        "instances": [i.spec for i in setup.train],
        "hardware": setup.hardware.name,
        "decomposition": setup.decomposition,
        "objective": setup.objective,
        "time_limit": setup.time_limit,
        "seeds": list(setup.seeds),
        "sampler_seed": setup.sampler_seed,
        "date": now(),
    }
    if target is not None:
        with target.staging() as folder:
            names = write_tuning(
                folder, solver=setup.solver, params=params, tuned=tuned, study=study, comparisons=comparisons, rows=rows
            )
        log(f"wrote {target.path}: {', '.join(names)}", quiet=quiet)
    doc = {
        "solver": setup.solver,
        "trials_run_here": ran,
        **tuned,
        "params": params,
        "holdout": [c.__dict__ for c in comparisons],
    }
    if json_out:
        emit_json(doc)
        return
    typer.echo(
        f"{setup.solver}: best trial #{best.number} of {finished}, training gap {best.value:.4f}; params {params}"
    )
    if comparisons:
        cols = ["instance", "default_gap", "tuned_gap", "default_s", "tuned_s"]
        print_table("held out: default vs tuned", cols, [c.__dict__ for c in comparisons])


def register(app: typer.Typer) -> None:
    app.command("tune", short_help="Tune a solver's hyperparameters with Optuna.")(tune)
