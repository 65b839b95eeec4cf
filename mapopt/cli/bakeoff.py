"""``mapopt bakeoff``: run a solver bake-off study into a resumable SQLite store.

The study is given by options (``--solvers``, ``--instances``, ...) or as a TOML file
(``mapopt bakeoff study.toml``; schema in :mod:`mapopt.studies.spec`). Rerunning the same
command runs only the runs the store does not hold yet. ``--export FILE`` writes the
store as one tidy table; ``--out DIR`` writes the report (``mapopt report``) afterwards.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from mapopt.cli.common import (
    CrossbarOpt,
    FaninOpt,
    JsonOpt,
    MeshOpt,
    ObjectiveOpt,
    PerTileOpt,
    QuietOpt,
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

Repeatable = list[str] | None


def bakeoff(
    study_file: Annotated[
        Path | None,
        typer.Argument(
            metavar="STUDY", help="A TOML study file (instead of --solvers/--instances).", show_default=False
        ),
    ] = None,
    solvers: Annotated[
        Repeatable,
        typer.Option(
            "--solvers",
            metavar="SOLVERS",
            help="Solvers or variants, comma-separated or repeated: all, heuristics, exact, pso, "
            "pso:particles=32, anneal@tuned, pso:params=FILE.",
        ),
    ] = None,
    instances: Annotated[
        Repeatable,
        typer.Option(
            "--instances", metavar="NETS", help="Tiers (tiny, small, ...), catalog names, generator specs or files."
        ),
    ] = None,
    hw: Annotated[
        Repeatable, typer.Option("--hw", metavar="PRESET", help="Hardware preset(s) (default dynapse-paper).")
    ] = None,
    crossbar: CrossbarOpt = None,
    fanin: FaninOpt = None,
    crossbars_per_tile: PerTileOpt = None,
    mesh: MeshOpt = None,
    decompose: Annotated[
        Repeatable, typer.Option("--decompose", metavar="STRATEGY", help="Decomposition(s), repeatable (default auto).")
    ] = None,
    seeds: Annotated[int, typer.Option("--seeds", metavar="N", help="Seeds 0..N-1 per run.", min=1, max=10_000)] = 1,
    time_limit: TimeLimitOpt = None,
    objective: ObjectiveOpt = "crossbars-hops",
    traffic: TrafficOpt = Traffic.upper,
    variant: Annotated[
        Repeatable,
        typer.Option("--variant", metavar="SPEC", help="Named variant NAME@VARIANT=PARAMS_FILE, repeatable."),
    ] = None,
    params: Annotated[
        list[Path] | None,
        typer.Option(
            "--params",
            metavar="FILE",
            help="Params file(s) (mapopt tune's best-params.toml) for the solvers they name.",
        ),
    ] = None,
    name: Annotated[
        str | None, typer.Option("--name", metavar="NAME", help="Study name (default: the store's file name).")
    ] = None,
    store: Annotated[Path | None, typer.Option("--store", metavar="FILE", help="Results store (SQLite file).")] = None,
    jobs: Annotated[
        int | None,
        typer.Option("--jobs", metavar="N", help="Local run processes at a time (default 1).", min=1, max=256),
    ] = None,
    scheduler: Annotated[
        str | None,
        typer.Option(
            "--scheduler", metavar="ADDRESS", help="Dask scheduler address tcp://HOST:PORT instead of local jobs."
        ),
    ] = None,
    memory_limit: Annotated[
        int | None,
        typer.Option(
            "--memory-limit", metavar="MB", help="MB of resident memory per run (default 4096).", min=1,
            max=1 << 24,
        ),
    ] = None,
    grace: Annotated[
        float | None,
        typer.Option(
            "--grace", metavar="SECONDS", min=0.0, max=3600.0,
            help="Seconds past the time limit before a run is killed (default 10).",
        ),
    ] = None,
    export: Annotated[
        Path | None, typer.Option("--export", metavar="FILE", help="Write the store as results.csv or .parquet.")
    ] = None,
    out: Annotated[
        str | None, typer.Option("--out", help="Write the report (Markdown, HTML, figures) here.", metavar="DIR")
    ] = None,
    quiet: QuietOpt = False,
    json_out: JsonOpt = False,
) -> None:
    """Run every solver on every instance (x hardware x decomposition x seed) and store one row per run.

    Resumable: the same command after Ctrl-C or a crash runs exactly the missing runs.
    """
    from mapopt.io.outdir import output_dir
    from mapopt.studies.export import check_export_path

    if export is not None:
        check_export_path(export)
    with output_dir(out) as target:  # --out checked (and locked) before anything runs
        _bakeoff(study_file, solvers, instances, hw, crossbar, fanin, crossbars_per_tile, mesh, decompose, seeds,
                 time_limit, objective, traffic, variant, params, name, store, jobs, scheduler, memory_limit, grace,
                 export, target, quiet, json_out)  # fmt: skip


def _bakeoff(
    study_file: Path | None,
    solvers: Repeatable,
    instances: Repeatable,
    hw: Repeatable,
    crossbar: str | None,
    fanin: int | None,
    crossbars_per_tile: int | None,
    mesh: str | None,
    decompose: Repeatable,
    seeds: int,
    time_limit: float | None,
    objective: str,
    traffic: Traffic,
    variant: Repeatable,
    params: list[Path] | None,
    name: str | None,
    store: Path | None,
    jobs: int | None,
    scheduler: str | None,
    memory_limit: int | None,
    grace: float | None,
    export: Path | None,
    target: OutputDir | None,
    quiet: bool,
    json_out: bool,
) -> None:
    from mapopt.studies.spec import Study, load_study, make_part
    from mapopt.studies.store import Store
    from mapopt.studies.variants import read_params_files

    defines = solvers or instances
    if study_file is not None and (defines or params):
        raise InputError(
            "give the study as a TOML file or as --solvers/--instances/--params, not both (use [variants] in the file)",
            source=str(study_file),
        )
    study: Study | None = None
    if study_file is not None:
        study = load_study(study_file)
        if store is not None:
            study.store = store
    elif defines:
        if store is None:
            raise InputError("--store PATH is required (the SQLite file the runs go to)", source="--store")
        variants = {}
        for item in variant or []:
            key, eq, path = item.partition("=")
            if not eq or "@" not in key:
                raise InputError(f"expected NAME@VARIANT=PARAMS_FILE, got {item!r}", source="--variant")
            variants[key.strip()] = path.strip()
        options = {
            "solvers": solvers or [],
            "instances": instances or [],
            "hw": hw or ["dynapse-paper"],
            "crossbar": crossbar,
            "fanin": fanin,
            "crossbars_per_tile": crossbars_per_tile,
            "mesh": mesh,
            "decompose": decompose or ["auto"],
            "seeds": seeds,
            "time_limit": time_limit,
            "objective": objective,
            "traffic": str(traffic),
        }
        overrides: dict[str, tuple[str, dict]] = {}
        for path in params or []:
            solver = _named(path)
            if solver in overrides:
                raise InputError(f"a second params file for solver {solver!r}", source=str(path))
            overrides[solver] = (str(path), read_params_files([path], solver)[solver])
        part = make_part(options, variants, base=None, source=None, overrides=overrides)
        study = Study(name=name or store.stem, parts=[part], store=store, variants=variants)
    elif store is None:
        raise InputError("nothing to do: give a study file, or --solvers and --instances, or --store with --export")
    if study is not None:
        if name is not None:
            study.name = name
        study.jobs = jobs or study.jobs
        study.scheduler = scheduler or study.scheduler
        study.memory_limit_mb = memory_limit or study.memory_limit_mb
        study.grace_s = study.grace_s if grace is None else grace
        Store(study.store).close()  # a bad store path or foreign file fails here, before any net is built
        _run(study, quiet=quiet, json_out=json_out)
        store = study.store
    assert store is not None
    if export is not None or target is not None:
        from mapopt.studies.export import export as write_export

        with Store(store, create=False) as results:
            rows = results.rows(study.name if study else None)
        if export is not None:
            write_export(rows, export)
            log(f"wrote {len(rows)} rows to {export}", quiet=quiet)
        if target is not None:
            from mapopt.reports.study import build_report

            with target.staging() as folder:
                names = build_report(rows, folder, study.name if study else store.stem)
            log(f"wrote {target.path}: {', '.join(names)}", quiet=quiet)


def _named(path: Path) -> str:
    """The solver a params file names (``--params`` in a bake-off must name it)."""
    from mapopt.studies.variants import read_params_doc

    solver, _ = read_params_doc(path)
    if solver is None:
        raise InputError('params file names no solver: add solver = "NAME"', source=str(path))
    return solver


def _run(study: object, *, quiet: bool, json_out: bool) -> None:
    from rich.console import Console

    from mapopt.studies.bakeoff import run_study
    from mapopt.studies.spec import Study

    assert isinstance(study, Study)
    live = not quiet and sys.stderr.isatty()
    try:
        outcome = run_study(study, console=Console(stderr=True, quiet=quiet), live=live)
    except KeyboardInterrupt:
        log(f"interrupted; finished runs are stored in {study.store}: rerun the same command to resume")
        raise
    summary = {
        "study": study.name,
        "store": str(study.store),
        "runs": outcome.total,
        "stored_before": outcome.stored_before,
        "ran": outcome.ran,
        "statuses": dict(outcome.statuses),
    }
    if json_out:
        emit_json(summary)
        return
    rows = [{"status": s, "runs": n} for s, n in sorted(outcome.statuses.items())]
    title = f"{study.name}: {outcome.total} runs, {outcome.stored_before} already stored, {outcome.ran} run now"
    typer.echo(title)
    if rows:
        print_table("statuses", ["status", "runs"], rows)


def register(app: typer.Typer) -> None:
    app.command("bakeoff", short_help="Run a solver bake-off study into a resumable store.")(bakeoff)
