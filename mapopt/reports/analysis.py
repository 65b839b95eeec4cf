"""What a bake-off report says, computed from the stored rows (no plotting here).

A *problem* is one (instance content, hardware, decomposition, objective, traffic) point
of a study; solvers and seeds are compared on it. For every problem:

- the best known objective is the smallest objective (the objective's first key; the
  whole lexicographic key breaks ties) of any valid run;
- the best known bound is the largest proven lower bound on that key: solvers' bounds
  (exact solvers) and, for the crossbar objectives, the validator's
  ``lower_bound_crossbars``;
- a run's gap to the best known bound is ``(objective - bound) / objective``, the same
  convention as a solver's own gap (:class:`mapopt.solver.SolveResult`), so 0 means proven
  optimal.

Performance profiles follow Dolan and Moré, "Benchmarking optimization software with
performance profiles", Math. Programming 91 (2002): for each (problem, seed) the cost of a
solver is divided by the best cost of any solver there, a failed run costs infinity, and
rho_s(tau) is the fraction of (problem, seed) pairs on which solver s is within tau of the best.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

#: Statuses with a valid, validator-scored mapping.
VALID = ("optimal", "feasible")
#: Objectives whose first key is the crossbar count (the validator's bound applies).
CROSSBAR_OBJECTIVES = ("crossbars-hops", "crossbars-intercrossbar")
#: Tier order in reports; other tiers (files, generator specs) come last as "other".
TIER_ORDER = ("tiny", "small", "medium", "large", "huge", "other")


def is_valid(row: dict[str, Any]) -> bool:
    return row.get("status") in VALID and row.get("objective") is not None


@dataclass
class Problem:
    """The runs of one problem and what they establish."""

    ident: tuple[str, ...]
    name: str
    tier: str
    synapses: int
    runs: list[dict[str, Any]] = field(default_factory=list)

    @property
    def best_objective(self) -> float | None:
        valid = [r for r in self.runs if is_valid(r)]
        return min(r["objective"] for r in valid) if valid else None

    @property
    def best_key(self) -> tuple[float, ...] | None:
        keys = [tuple(r["objective_key"] or (r["objective"],)) for r in self.runs if is_valid(r)]
        return min(keys) if keys else None

    @property
    def best_bound(self) -> float | None:
        bounds = [r["bound"] for r in self.runs if r.get("bound") is not None]
        for r in self.runs:
            lb = (r.get("metrics") or {}).get("lower_bound_crossbars")
            if lb is not None and r.get("objective_name") in CROSSBAR_OBJECTIVES:
                bounds.append(float(lb))
        return max(bounds) if bounds else None

    def gap(self, row: dict[str, Any]) -> float | None:
        """The run's gap to the best known bound (None for a run without a valid mapping)."""
        bound = self.best_bound
        if not is_valid(row) or bound is None:
            return None
        obj = row["objective"]
        return 0.0 if obj <= bound else (obj - bound) / max(abs(obj), 1e-12)


def problems(rows: list[dict[str, Any]]) -> list[Problem]:
    """Rows grouped by problem, labelled for humans (hardware/decomposition added only when they vary)."""
    groups: dict[tuple[str, ...], Problem] = {}
    for row in rows:
        ident = (row["instance_hash"], row["hardware"], row["decomposition"], row["objective_name"], row["traffic"])
        if ident not in groups:
            tier = row.get("tier") or "other"
            spec = row["instance"]
            name = Path(spec).name if Path(spec).suffix else spec  # a file: its name; else the catalog name or spec
            groups[ident] = Problem(ident, name, tier, int(row.get("synapses") or 0))
        groups[ident].runs.append(row)
    out = list(groups.values())
    by_instance: dict[str, list[Problem]] = defaultdict(list)
    for p in out:
        by_instance[p.ident[0]].append(p)
    for same in by_instance.values():  # the same instance in several problems: say how they differ
        for pos, fmt in ((1, " @{}"), (2, " [{}]"), (3, " [{}]"), (4, " [{}]")):
            if len({p.ident[pos] for p in same}) > 1:
                for p in same:
                    p.name += fmt.format(p.ident[pos])
    return sorted(out, key=lambda p: (tier_rank(p.tier), p.synapses, p.name))


def tier_rank(tier: str) -> int:
    return TIER_ORDER.index(tier) if tier in TIER_ORDER else len(TIER_ORDER)


def solver_labels(rows: list[dict[str, Any]]) -> list[str]:
    """Solver variants in the order they first appear."""
    return list(dict.fromkeys(r["label"] for r in rows))


@dataclass
class Cell:
    """One solver on one problem, over its seeds."""

    runs: int
    valid: int
    best: float | None
    best_key: tuple[float, ...] | None
    gap: float | None  # of the best run
    mean_gap: float | None
    median_s: float | None
    statuses: dict[str, int]


def cell(problem: Problem, label: str) -> Cell | None:
    runs = [r for r in problem.runs if r["label"] == label]
    if not runs:
        return None
    valid = [r for r in runs if is_valid(r)]
    gaps = [g for g in (problem.gap(r) for r in valid) if g is not None]
    best = min(valid, key=lambda r: tuple(r["objective_key"] or (r["objective"],))) if valid else None
    times = [r["wall_s"] for r in valid if r.get("wall_s") is not None]
    statuses: dict[str, int] = defaultdict(int)
    for r in runs:
        statuses[r["status"]] += 1
    return Cell(
        runs=len(runs),
        valid=len(valid),
        best=best["objective"] if best else None,
        best_key=tuple(best["objective_key"] or (best["objective"],)) if best else None,
        gap=problem.gap(best) if best else None,
        mean_gap=float(np.mean(gaps)) if gaps else None,
        median_s=float(np.median(times)) if times else None,
        statuses=dict(statuses),
    )


def tiers(items: list[Problem]) -> dict[str, list[Problem]]:
    out: dict[str, list[Problem]] = {}
    for p in items:
        out.setdefault(p.tier, []).append(p)
    return dict(sorted(out.items(), key=lambda kv: tier_rank(kv[0])))


def summary(items: list[Problem], labels: list[str]) -> list[dict[str, Any]]:
    """One record per solver over ``items``: runs, valid, failed, wins, mean gap, median time."""
    out = []
    for label in labels:
        runs = [r for p in items for r in p.runs if r["label"] == label]
        if not runs:
            continue
        valid = [r for r in runs if is_valid(r)]
        gaps = [g for p in items for r in p.runs if r["label"] == label for g in [p.gap(r)] if g is not None]
        wins = 0
        for p in items:
            c = cell(p, label)
            if c and c.best_key is not None and c.best_key == p.best_key:
                wins += 1
        times = [r["wall_s"] for r in valid if r.get("wall_s") is not None]
        out.append(
            {
                "solver": label,
                "runs": len(runs),
                "valid": len(valid),
                "failed": sum(r["status"] in ("error", "crashed", "hung", "out-of-memory") for r in runs),
                "best_on": wins,
                "problems": sum(1 for p in items if any(r["label"] == label for r in p.runs)),
                "mean_gap": float(np.mean(gaps)) if gaps else None,
                "median_s": float(np.median(times)) if times else None,
            }
        )
    return out


def performance_ratios(items: list[Problem], labels: list[str], measure: str) -> dict[str, np.ndarray]:
    """Dolan-Moré ratios per solver over (problem, seed) pairs; ``measure`` is ``time`` or ``objective``.

    Only pairs that every solver of ``labels`` ran are used (a profile compares like with like).
    """
    ratios: dict[str, list[float]] = {label: [] for label in labels}
    for p in items:
        by_seed: dict[int, dict[str, dict[str, Any]]] = defaultdict(dict)
        for r in p.runs:
            by_seed[r["seed"]][r["label"]] = r
        for runs in by_seed.values():
            if set(runs) != set(labels):
                continue
            cost = {}
            for label, r in runs.items():
                if not is_valid(r):
                    cost[label] = math.inf
                elif measure == "time":
                    cost[label] = max(float(r.get("wall_s") or 0.0), 1e-3)
                else:
                    cost[label] = max(float(r["objective"]), 1e-12)
            best = min(cost.values())
            if not math.isfinite(best):
                continue
            for label, c in cost.items():
                ratios[label].append(c / best)
    return {k: np.asarray(v) for k, v in ratios.items()}


def fit_exponent(x: list[float], y: list[float]) -> float | None:
    """Least-squares slope of log y over log x (None with fewer than two distinct positive x)."""
    pts = [(a, b) for a, b in zip(x, y, strict=True) if a > 0 and b > 0]
    if len({a for a, _ in pts}) < 2:
        return None
    lx, ly = np.log([a for a, _ in pts]), np.log([b for _, b in pts])
    return float(np.polyfit(lx, ly, 1)[0])


def scaling(items: list[Problem], labels: list[str]) -> dict[str, dict[str, list[float]]]:
    """Per solver: synapses, median time and median objective/bound ratio of each problem it solved."""
    out: dict[str, dict[str, list[float]]] = {}
    for label in labels:
        xs, ts, qs = [], [], []
        for p in items:
            c = cell(p, label)
            if c is None or c.valid == 0 or not p.synapses:
                continue
            valid = [r for r in p.runs if r["label"] == label and is_valid(r)]
            bound = p.best_bound
            xs.append(float(p.synapses))
            ts.append(max(float(np.median([r["wall_s"] for r in valid])), 1e-4))
            ratio = [r["objective"] / bound for r in valid] if bound else []
            qs.append(float(np.median(ratio)) if ratio else math.nan)
        if xs:
            out[label] = {"synapses": xs, "time": ts, "quality": qs}
    return out
