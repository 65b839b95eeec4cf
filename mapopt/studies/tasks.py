"""The runs of a study: one :class:`Task` per point of each cross product, each with its run key.

A run key identifies what a run computes, nothing about how or where it ran:
(instance content hash, hardware, decomposition, objective, traffic mode, solver, every
hyperparameter with defaults filled in, seed, budget). The store keeps one row per key, so
rerunning a study runs exactly the keys it does not have yet.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from typing import Any

from mapopt.hardware import Hardware
from mapopt.studies.spec import Instance, Study


def hardware_key(hw: Hardware) -> dict[str, Any]:
    """The hardware as the run key sees it: every number, not its description or sources."""
    d = hw.to_dict()
    d.pop("description", None)
    d.pop("sources", None)
    return d


def canonical(obj: Any) -> str:
    """JSON with sorted keys and no spaces: equal objects give equal strings."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)


@dataclass(frozen=True)
class Task:
    """One run of a study, everything a worker needs to do it (plain data, picklable)."""

    key: str
    instance: str
    tier: str | None
    instance_hash: str
    hardware: dict[str, Any]
    decomposition: str
    objective: str
    traffic: str
    solver: str
    label: str
    params: dict[str, Any]
    seed: int
    time_limit: float | None
    threads: int = 1

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def run_key(
    *,
    instance_hash: str,
    hardware: dict[str, Any],
    decomposition: str,
    objective: str,
    traffic: str,
    solver: str,
    params: dict[str, Any],
    seed: int,
    time_limit: float | None,
    threads: int,
) -> str:
    """The run key (hex SHA-256 of the canonical JSON of what the run computes)."""
    ident = {
        "instance": instance_hash,
        "hardware": hardware,
        "decomposition": decomposition,
        "objective": objective,
        "traffic": traffic,
        "solver": solver,
        "params": params,
        "seed": seed,
        "budget": {"time_limit": time_limit, "threads": threads},
    }
    return hashlib.sha256(canonical(ident).encode()).hexdigest()


def study_tasks(study: Study, hashes: dict[Instance, str]) -> list[Task]:
    """The union of the study's cross products, in order, each key once."""
    tasks: dict[str, Task] = {}
    for part in study.parts:
        for inst in part.instances:
            for hw in part.hardware:
                hw_key = hardware_key(hw)
                for dec in part.decompositions:
                    for variant in part.solvers:
                        params = variant.resolved()
                        for seed in part.seeds:
                            key = run_key(
                                instance_hash=hashes[inst],
                                hardware=hw_key,
                                decomposition=dec,
                                objective=part.objective,
                                traffic=part.traffic,
                                solver=variant.solver,
                                params=params,
                                seed=seed,
                                time_limit=part.time_limit,
                                threads=1,
                            )
                            tasks.setdefault(
                                key,
                                Task(
                                    key=key,
                                    instance=inst.spec,
                                    tier=inst.tier,
                                    instance_hash=hashes[inst],
                                    hardware=hw.to_dict(),
                                    decomposition=dec,
                                    objective=part.objective,
                                    traffic=part.traffic,
                                    solver=variant.solver,
                                    label=variant.label,
                                    params=params,
                                    seed=seed,
                                    time_limit=part.time_limit,
                                ),
                            )
    return list(tasks.values())
