"""A bake-off end to end: check the study, build and hash its instances, run the missing runs, store rows.

Solvers never score themselves: every run's mapping is re-scored by the validator inside
:meth:`mapopt.solver.Solver.solve` (in the run process), and the row stores the
validator's metrics, objective and the solver's proven bound. The driver alone writes
the store, one row per run as it finishes (see :mod:`mapopt.studies.store`).
"""

from __future__ import annotations

import sys
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console

from mapopt.errors import InputError
from mapopt.io import resolve_net
from mapopt.studies.child import now
from mapopt.studies.execute import run_dask, run_local
from mapopt.studies.isolation import preload_also
from mapopt.studies.progress import StudyProgress
from mapopt.studies.spec import Instance, Study
from mapopt.studies.store import Store
from mapopt.studies.tasks import Task, study_tasks


@dataclass
class InstanceFacts:
    """What the driver learns by building an instance once: its content hash and size."""

    hash: str
    name: str
    neurons: int
    synapses: int
    max_fanin: int


@dataclass
class Outcome:
    """What a bake-off did: the cross product's size, what was stored before, what ran now."""

    total: int
    stored_before: int
    ran: int = 0
    statuses: Counter[str] = field(default_factory=Counter)


def build_instances(study: Study, console: Console | None = None) -> dict[Instance, InstanceFacts]:
    """Build every instance once (before any run) for its content hash; a failure names the instance."""
    facts: dict[Instance, InstanceFacts] = {}
    for inst in dict.fromkeys(i for part in study.parts for i in part.instances):
        if console:
            console.log(f"building {inst.spec}")
        try:
            net = resolve_net(inst.spec)
        except InputError as err:
            raise err.with_source(f"instance {inst.spec}") from None
        facts[inst] = InstanceFacts(net.content_hash(), net.name, net.n_neurons, net.n_synapses, net.max_fanin)
    return facts


def definition(study: Study) -> dict[str, Any]:
    """The study as JSON (stored with it, for the record)."""
    return {
        "name": study.name,
        "parts": [
            {
                "solvers": [v.label for v in p.solvers],
                "instances": [i.spec for i in p.instances],
                "hardware": [hw.name for hw in p.hardware],
                "decompositions": list(p.decompositions),
                "seeds": list(p.seeds),
                "time_limit": p.time_limit,
                "objective": p.objective,
                "traffic": p.traffic,
            }
            for p in study.parts
        ],
        "memory_limit_mb": study.memory_limit_mb,
        "grace_s": study.grace_s,
    }


def make_row(study: Study, task: Task, facts: InstanceFacts, fields: dict[str, Any], worker: str) -> dict[str, Any]:
    """The stored row: the task's identity, the driver's instance facts, the run's own fields."""
    row: dict[str, Any] = {
        "instance_name": facts.name,
        "neurons": facts.neurons,
        "synapses": facts.synapses,
        "max_fanin": facts.max_fanin,
        **fields,
        "key": task.key,
        "study": study.name,
        "instance": task.instance,
        "tier": task.tier,
        "instance_hash": task.instance_hash,
        "hardware": task.hardware["name"],
        "hardware_spec": task.hardware,
        "decomposition": task.decomposition,
        "objective_name": task.objective,
        "traffic": task.traffic,
        "solver": task.solver,
        "label": task.label,
        "params": task.params,
        "seed": task.seed,
        "time_limit": task.time_limit,
        "threads": task.threads,
        "memory_limit_mb": study.memory_limit_mb,
        "worker": worker,
    }
    return row


def plan(study: Study, store: Store, console: Console | None = None) -> tuple[list[Task], dict[str, InstanceFacts]]:
    """The study's runs (registered with the store) and the instance facts by content hash."""
    facts = build_instances(study, console)
    tasks = study_tasks(study, {inst: f.hash for inst, f in facts.items()})
    store.register_study(study.name, definition(study), (t.key for t in tasks), now())
    return tasks, {f.hash: f for f in facts.values()}


def run_study(study: Study, *, console: Console, live: bool, client: Any = None) -> Outcome:
    """Run every run of ``study`` that its store does not hold yet; return what happened."""
    with Store(study.store) as store:
        imported = set(sys.modules)
        tasks, facts = plan(study, store, console if live else None)
        preload_also(sorted(set(sys.modules) - imported))
        stored = store.keys()
        missing = [t for t in tasks if t.key not in stored]
        outcome = Outcome(total=len(tasks), stored_before=len(tasks) - len(missing))
        if not missing:
            return outcome

        def kill_after(task: Task) -> float:
            return study.run_timeout_s if task.time_limit is None else task.time_limit + study.grace_s

        dask = bool(study.scheduler or client is not None)
        with StudyProgress(console, len(missing), live=live, running="in flight" if dask else "running") as progress:

            def on_row(task: Task, fields: dict[str, Any], worker: str) -> None:
                row = make_row(study, task, facts[task.instance_hash], fields, worker)
                store.add(row)
                outcome.ran += 1
                outcome.statuses[row["status"]] += 1
                progress.finished(row["status"], f"{task.instance} {task.label} seed {task.seed}", row.get("error"))

            def on_start(task: Task) -> None:
                progress.started()

            common = {"memory_mb": study.memory_limit_mb, "kill_after": kill_after, "on_row": on_row}
            if dask:
                run_dask(missing, address=study.scheduler or "", client=client, on_start=on_start, **common)
            else:
                run_local(missing, jobs=study.jobs, on_start=on_start, **common)
        return outcome
