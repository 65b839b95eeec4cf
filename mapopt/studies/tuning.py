"""Tuning a solver's hyperparameters with Optuna: ``mapopt tune``.

One Optuna study (``optuna.create_study(storage=URL, load_if_exists=True)``, RDB storage:
``sqlite:///tune.db`` on one machine, any SQLAlchemy URL such as PostgreSQL for many)
samples configurations from the solver's declared search space
(:mod:`mapopt.space`). A trial runs the configuration on every training instance with
every seed, as isolated bake-off runs re-scored by the validator
(:mod:`mapopt.studies.isolation`), each stored in a bake-off results store, so a run is
never computed twice. Its value is the **mean normalised gap** over the training set:

    gap(run) = sum over the objective's keys k of (key_k - ref_k) / max(|ref_k|, 1)

where ``ref`` is the best known value of each key on that instance: for the first key of a
crossbar objective the validator's lower bound on crossbars (``lower_bound_crossbars``),
otherwise the best value the solver's default configuration reached over the seeds
(computed once, before the first trial, and stored like every other run). A run without a
valid mapping counts :data:`FAILED_GAP`. So 0 means "at the bound and as good as the best
default run"; a tuned configuration can go below 0 on the second key.

The trial reports the running mean after each instance (the same instances in the same
order for every trial), so Optuna's median pruner stops configurations that are worse than
the median of earlier trials at the same point. The default configuration is enqueued as
the first trial, so the best trial is never worse than the defaults on the training set.

Several ``mapopt tune`` processes (``--workers W`` starts W in one command; more commands
may join from other machines) share one study through its storage: each asks Optuna for
a trial only while the study has fewer than ``--trials`` finished or running trials, so
the study ends with exactly that many finished (complete or pruned) trials. A process
killed mid-trial leaves its trial RUNNING: the next ``mapopt tune`` on the same machine
marks it FAIL at once (its process is gone), other machines rely on Optuna's heartbeat
(``RDBStorage(heartbeat_interval=...)``), and the study goes on counting from where it was.
Sampling is seeded: trial ``n`` of the study is sampled by a TPE sampler seeded with
``(--seed, n)``, whichever process runs it.
"""

from __future__ import annotations

import math
import os
import socket
import sys
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from mapopt.errors import InputError
from mapopt.hardware import Hardware
from mapopt.io.outdir import pid_alive
from mapopt.registry import solver_class
from mapopt.reports.analysis import CROSSBAR_OBJECTIVES, VALID
from mapopt.studies.bakeoff import InstanceFacts, build_instances, make_row
from mapopt.studies.execute import run_local
from mapopt.studies.isolation import preload_also
from mapopt.studies.spec import Instance, Part, Study
from mapopt.studies.store import Store
from mapopt.studies.tasks import Task, study_tasks
from mapopt.studies.variants import SolverVariant, param_defaults

#: The gap counted for a run that found no valid mapping (error, timeout, crash...).
FAILED_GAP = 10.0
#: Trials the median pruner lets finish before it prunes, and instances before it judges.
PRUNER_STARTUP_TRIALS = 4
PRUNER_WARMUP_STEPS = 1
#: Optuna heartbeat: a RUNNING trial without a beat for GRACE seconds is failed by other processes.
HEARTBEAT_S = 20
GRACE_S = 60


@dataclass
class TuneSetup:
    """Everything a tuning worker needs (picklable: it is handed to worker processes)."""

    solver: str
    train: list[Instance]
    holdout: list[Instance]
    hardware: Hardware
    decomposition: str
    objective: str
    traffic: str
    seeds: tuple[int, ...]
    time_limit: float | None
    trials: int
    storage: str
    study_name: str
    store: Path
    sampler_seed: int = 0
    jobs: int = 1
    memory_limit_mb: int = 4096
    grace_s: float = 10.0
    base_params: dict[str, Any] = field(default_factory=dict)

    def part(self, variant: SolverVariant, instances: list[Instance]) -> Part:
        return Part(
            solvers=(variant,),
            instances=tuple(instances),
            hardware=(self.hardware,),
            decompositions=(self.decomposition,),
            seeds=self.seeds,
            time_limit=self.time_limit,
            objective=self.objective,
            traffic=self.traffic,
        )

    def variant(self, params: dict[str, Any], label: str) -> SolverVariant:
        return SolverVariant(label, self.solver, {**self.base_params, **params})


# ---------------------------------------------------------------------------- runs and gaps
class Evaluator:
    """Runs configurations on instances through the bake-off machinery and scores them."""

    def __init__(self, setup: TuneSetup, store: Store, facts: dict[Instance, InstanceFacts]):
        self.setup = setup
        self.store = store
        self.facts = facts
        self.by_hash = {f.hash: f for f in facts.values()}
        self.study = Study(setup.study_name, [], setup.store, jobs=setup.jobs, memory_limit_mb=setup.memory_limit_mb)
        self._refs: dict[Instance, tuple[float | None, ...]] = {}

    def tasks(self, variant: SolverVariant, instances: list[Instance]) -> list[Task]:
        hashes = {i: self.facts[i].hash for i in instances}
        return study_tasks(replace(self.study, parts=[self.setup.part(variant, instances)]), hashes)

    def rows(self, variant: SolverVariant, instances: list[Instance]) -> list[dict[str, Any]]:
        """The stored rows of ``variant`` on ``instances`` x seeds, running the missing ones first."""
        tasks = self.tasks(variant, instances)
        have = self.store.keys_among([t.key for t in tasks])
        missing = [t for t in tasks if t.key not in have]
        if missing:
            limit = self.setup.grace_s + (self.setup.time_limit or 3600.0)

            def on_row(task: Task, fields: dict[str, Any], worker: str) -> None:
                self.store.add(make_row(self.study, task, self.by_hash[task.instance_hash], fields, worker))

            run_local(
                missing, jobs=self.setup.jobs, memory_mb=self.setup.memory_limit_mb, kill_after=lambda t: limit,
                on_row=on_row,
            )  # fmt: skip
        return self.store.rows_for([t.key for t in tasks])

    def default(self) -> SolverVariant:
        return self.setup.variant({}, self.setup.solver)

    def reference(self, instance: Instance) -> tuple[float | None, ...]:
        """The best known value of each objective key on ``instance`` (see the module docstring)."""
        if instance not in self._refs:
            rows = self.rows(self.default(), [instance])
            keys = [tuple(r["objective_key"]) for r in rows if r["status"] in VALID and r.get("objective_key")]
            n_keys = max((len(k) for k in keys), default=1)
            ref: list[float | None] = [min(k[i] for k in keys) if keys else None for i in range(n_keys)]
            bounds = [(r.get("metrics") or {}).get("lower_bound_crossbars") for r in rows]
            bounds = [b for b in bounds if b is not None]
            if self.setup.objective in CROSSBAR_OBJECTIVES and bounds:
                ref[0] = float(max(bounds))
            self._refs[instance] = tuple(ref)
        return self._refs[instance]

    def gap(self, row: dict[str, Any], ref: tuple[float | None, ...]) -> float:
        """The normalised gap of one run to ``ref`` (:data:`FAILED_GAP` without a valid mapping)."""
        if row["status"] not in VALID or not row.get("objective_key"):
            return FAILED_GAP
        return float(
            sum((k - r) / max(abs(r), 1.0) for k, r in zip(row["objective_key"], ref, strict=False) if r is not None)
        )

    def instance_gap(self, variant: SolverVariant, instance: Instance) -> tuple[float, float]:
        """Mean gap and mean solve time of ``variant`` over the seeds on ``instance``."""
        ref = self.reference(instance)
        rows = self.rows(variant, [instance])
        gaps = [self.gap(r, ref) for r in rows]
        times = [r["wall_s"] for r in rows if r.get("wall_s") is not None]
        return float(np.mean(gaps)), float(np.mean(times)) if times else math.nan


# ---------------------------------------------------------------------------- Optuna
def _storage(url: str) -> Any:
    import optuna

    kwargs = {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else {}
    return optuna.storages.RDBStorage(url, engine_kwargs=kwargs, heartbeat_interval=HEARTBEAT_S, grace_period=GRACE_S)


def _sampler(seed: int, n: int) -> Any:
    import optuna

    mixed = int(np.random.SeedSequence([seed, n]).generate_state(1)[0])
    return optuna.samplers.TPESampler(seed=mixed, n_startup_trials=PRUNER_STARTUP_TRIALS + 2)


#: Attempts at opening the study: processes starting together race to create its tables.
OPEN_ATTEMPTS = 5


def open_study(setup: TuneSetup) -> Any:
    """The study (created if new, ``load_if_exists=True``), with the default configuration enqueued once."""
    import warnings

    import optuna
    import sqlalchemy.exc

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)  # the heartbeat options
    warnings.filterwarnings("ignore", message="Heartbeat of storage is supposed to be used with Study.optimize")
    for attempt in range(OPEN_ATTEMPTS):
        try:
            study = optuna.create_study(
                study_name=setup.study_name,
                storage=_storage(setup.storage),
                sampler=_sampler(setup.sampler_seed, 0),
                pruner=optuna.pruners.MedianPruner(
                    n_startup_trials=PRUNER_STARTUP_TRIALS, n_warmup_steps=PRUNER_WARMUP_STEPS
                ),
                direction="minimize",
                load_if_exists=True,
            )
            break
        except (sqlalchemy.exc.OperationalError, sqlalchemy.exc.IntegrityError):
            if attempt == OPEN_ATTEMPTS - 1:
                raise
            time.sleep(0.5 * (attempt + 1))  # another process is creating the tables or the study
    for key, value in {"solver": setup.solver, "objective": "mean normalised gap"}.items():
        known = study.user_attrs.get(key)
        if known is not None and known != value:
            raise InputError(f"study {setup.study_name!r} tunes {known!r}, not {value!r}", source=setup.storage)
    if not study.trials:
        study.set_user_attr("solver", setup.solver)
        study.set_user_attr("objective", "mean normalised gap")
        defaults = param_defaults(solver_class(setup.solver))
        start: dict[str, Any] = {}
        for p in solver_class(setup.solver).space:
            if p.active(start):
                start[p.name] = setup.base_params.get(p.name, defaults[p.name])
        study.enqueue_trial(start, user_attrs={"enqueued": "defaults"}, skip_if_exists=True)
    return study


def fail_dead_trials(study: Any) -> list[int]:
    """Mark FAIL the RUNNING trials of processes of this machine that no longer exist."""
    import optuna

    host = socket.gethostname()
    failed = []
    for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
        pid = t.user_attrs.get("pid")
        if t.user_attrs.get("host") == host and isinstance(pid, int) and not pid_alive(pid):
            study._storage.set_trial_state_values(t._trial_id, optuna.trial.TrialState.FAIL)
            failed.append(t.number)
    optuna.storages.fail_stale_trials(study)
    return failed


def _counts(study: Any) -> tuple[int, int]:
    import optuna

    states = optuna.trial.TrialState
    finished = len(study.get_trials(deepcopy=False, states=(states.COMPLETE, states.PRUNED)))
    busy = len(study.get_trials(deepcopy=False, states=(states.RUNNING, states.WAITING)))
    return finished, busy


def _surplus(study: Any, trial: Any, trials: int) -> bool:
    """Whether ``trial``, just asked, is one too many: other processes may have asked at the same moment.

    Of the trials running at once, those with the lowest numbers take the slots left, so
    when several processes ask for the last slot together exactly one of them keeps it.
    """
    import optuna

    states = optuna.trial.TrialState
    finished = len(study.get_trials(deepcopy=False, states=(states.COMPLETE, states.PRUNED)))
    busy = study.get_trials(deepcopy=False, states=(states.RUNNING, states.WAITING))
    ahead = sum(t.number < trial.number for t in busy)
    return finished + ahead >= trials


def work(setup: TuneSetup, worker: int = 0, on_trial: Any = None) -> int:
    """Run trials until the study holds ``setup.trials`` finished or running ones; returns trials run here."""
    import optuna

    preload = set(sys.modules)
    store = Store(setup.store)
    facts = build_instances(
        Study(setup.study_name, [setup.part(SolverVariant(setup.solver, setup.solver, {}), setup.train)], setup.store)
    )
    preload_also(sorted(set(sys.modules) - preload))
    evaluator = Evaluator(setup, store, facts)
    study = open_study(setup)
    fail_dead_trials(study)
    space = solver_class(setup.solver).space
    done_here = 0
    try:
        while True:
            finished, busy = _counts(study)
            if finished + busy >= setup.trials and not study.get_trials(
                deepcopy=False, states=(optuna.trial.TrialState.WAITING,)
            ):
                break
            study.sampler = _sampler(setup.sampler_seed, len(study.get_trials(deepcopy=False)))
            trial = study.ask()
            trial.set_user_attr("host", socket.gethostname())
            trial.set_user_attr("pid", os.getpid())
            trial.set_user_attr("worker", worker)
            if _surplus(study, trial, setup.trials):
                study.tell(trial, state=optuna.trial.TrialState.FAIL)
                break
            _run_trial(study, trial, space.suggest(trial), evaluator)
            done_here += 1
            if on_trial is not None:
                on_trial(study, trial)
    finally:
        store.close()
    return done_here


class _Heartbeat:
    """Beats for a running trial every :data:`HEARTBEAT_S` s, so that other machines can tell a dead
    process's trial from a live one (``RDBStorage.record_heartbeat``; Optuna only beats by itself
    inside ``Study.optimize``, and trials here are run with ask and tell)."""

    def __init__(self, study: Any, trial: Any):
        self.storage, self.trial_id = study._storage, trial._trial_id
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._beat, name="mapopt-tune-heartbeat", daemon=True)

    def _beat(self) -> None:
        while True:
            self.storage.record_heartbeat(self.trial_id)
            if self.stop.wait(HEARTBEAT_S):
                return

    def __enter__(self) -> _Heartbeat:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()


def _run_trial(study: Any, trial: Any, params: dict[str, Any], evaluator: Evaluator) -> None:
    with _Heartbeat(study, trial):
        _evaluate_trial(study, trial, params, evaluator)


def _evaluate_trial(study: Any, trial: Any, params: dict[str, Any], evaluator: Evaluator) -> None:
    import optuna

    setup = evaluator.setup
    variant = setup.variant(params, f"{setup.solver}#trial{trial.number}")
    gaps, times = [], []
    try:
        for step, instance in enumerate(setup.train):
            gap, seconds = evaluator.instance_gap(variant, instance)
            gaps.append(gap)
            times.append(seconds)
            trial.report(float(np.mean(gaps)), step)
            if trial.should_prune():
                trial.set_user_attr("mean_s", float(np.nanmean(times)))
                study.tell(trial, state=optuna.trial.TrialState.PRUNED)
                return
    except BaseException:
        study.tell(trial, state=optuna.trial.TrialState.FAIL)
        raise
    trial.set_user_attr("mean_s", float(np.nanmean(times)))
    study.tell(trial, float(np.mean(gaps)))


def _worker_entry(setup: TuneSetup, worker: int) -> None:
    work(setup, worker)


def run_workers(setup: TuneSetup, workers: int, on_trial: Any = None) -> int:
    """``workers`` tuning processes on the study (this one and ``workers - 1`` started here); trials run here."""
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    others = [ctx.Process(target=_worker_entry, args=(setup, k), name=f"mapopt-tune-{k}") for k in range(1, workers)]
    for p in others:
        p.start()
    try:
        done = work(setup, 0, on_trial)
        for p in others:
            p.join()
    finally:
        for p in others:  # Ctrl-C or an error here: stop the other workers too
            if p.is_alive():
                p.terminate()
                p.join()
    bad = [p.exitcode for p in others if p.exitcode]
    if bad:
        raise RuntimeError(f"{len(bad)} tuning worker(s) failed (exit codes {bad})")
    return done


# ---------------------------------------------------------------------------- results
def best_params(setup: TuneSetup, study: Any) -> dict[str, Any]:
    """The best trial's configuration: its sampled parameters over the base parameters."""
    return {**setup.base_params, **study.best_trial.params}


@dataclass
class Comparison:
    """Default vs tuned on one instance: mean gap and mean solve time over the seeds."""

    instance: str
    default_gap: float
    tuned_gap: float
    default_s: float
    tuned_s: float


def compare(setup: TuneSetup, tuned: dict[str, Any], instances: list[Instance]) -> tuple[list[Comparison], list[dict]]:
    """Default and tuned configurations on ``instances``; the comparisons and the runs (for a bake-off report)."""
    preload = set(sys.modules)
    facts = build_instances(
        Study(setup.study_name, [setup.part(SolverVariant(setup.solver, setup.solver, {}), instances)], setup.store)
    )
    preload_also(sorted(set(sys.modules) - preload))
    with Store(setup.store) as store:
        evaluator = Evaluator(setup, store, facts)
        default, variant = evaluator.default(), setup.variant(tuned, f"{setup.solver}@tuned")
        out, rows = [], []
        for inst in instances:
            d_gap, d_s = evaluator.instance_gap(default, inst)
            t_gap, t_s = evaluator.instance_gap(variant, inst)
            out.append(Comparison(inst.spec, d_gap, t_gap, d_s, t_s))
            rows += [{**r, "label": setup.solver} for r in evaluator.rows(default, [inst])]
            rows += [{**r, "label": f"{setup.solver}@tuned"} for r in evaluator.rows(variant, [inst])]
    return out, rows
