"""The end-to-end path: decompose a network, solve the mapping, re-score, report.

A *strategy* is ``DECOMPOSITION[@SOLVER]`` (``chain:2@paper``); without a solver the
default one is used. ``best`` names the strongest combination mapopt has registered.
:func:`run_strategies` runs several for one comparison: a strategy that cannot map the
net (a fan-in it cannot meet, a mesh too small, a solver failure) becomes a row with its
status and reason, and the others still run.
"""

from __future__ import annotations

import signal
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from mapopt import interrupt, progress
from mapopt.decompose import SOLVER_DECIDED, STRATEGIES, Decomposition, check_spec, decompose
from mapopt.decompose.base import TRAFFIC_MODES
from mapopt.errors import InputError
from mapopt.hardware import Hardware
from mapopt.network import Network
from mapopt.problem import DEFAULT_OBJECTIVE, MappingProblem
from mapopt.quality import with_task_traffic
from mapopt.registry import make_solver, solver_class, solver_names
from mapopt.simulate import with_simulated_traffic
from mapopt.solver import Budget, SolveResult, Status

#: The solver a strategy without ``@SOLVER`` uses: the authors' partitioner (``solvers/paper.py``).
DEFAULT_SOLVER = "paper"
#: What ``mapopt run`` compares when given no ``--decompose``: the prune baselines (prune-first
#: is the authors' tool without unrolling), the paper's unrolling in both readings (chain:2,
#: 2-input units as its text says; pieces:2, the tool with unroll fan-in 2), and the best
#: mapopt has.
DEFAULT_STRATEGIES = ("prune-first", "prune-magnitude", "chain:2", "pieces:2", "best")


def best_strategy(hw: Hardware) -> str:
    """The strongest registered decomposition + solver combination for ``hw``."""
    decomposition = "auto" if "auto" in STRATEGIES else f"chain:{hw.fanin}"
    solver = "auto" if _installed("auto") else DEFAULT_SOLVER
    return f"{decomposition}@{solver}"


def _installed(solver: str) -> bool:
    """Whether ``solver`` is registered and available (imports only that plugin, not every solver)."""
    try:
        solver_class(solver)
    except InputError:
        return False
    return True


def split_strategy(spec: str, hw: Hardware, default_solver: str | None = None) -> tuple[str, str]:
    """``"chain:2@paper"`` -> ``("chain:2", "paper")``; ``best`` is expanded."""
    spec = spec.strip()
    if spec == "best":
        spec = best_strategy(hw)
    decomposition, _, solver = spec.partition("@")
    if not decomposition:
        raise InputError(f"strategy must be DECOMPOSITION[@SOLVER], got {spec!r}", source="--decompose")
    return decomposition, solver or default_solver or DEFAULT_SOLVER


def check_strategies(specs: list[str], hw: Hardware, default_solver: str | None = None) -> None:
    """Reject a bad strategy, arity or solver name before any (possibly large) net is loaded."""
    for spec in specs:
        decomposition, solver = split_strategy(spec, hw, default_solver)
        name = check_spec(decomposition, hw)[0]
        cls = solver_class(solver)
        if name in SOLVER_DECIDED and name not in cls.decides:
            able = ", ".join(sorted(s for s in solver_names() if name in solver_class(s).decides))
            raise InputError(
                f"strategy {spec!r}: {name} is decided while packing, which solver {solver!r} does not do "
                f"(use {name}:K@{able})",
                source="--decompose",
            )


@dataclass
class StrategyRun:
    """One strategy's decomposition, problem and re-scored solver result.

    ``decomposition`` and ``problem`` are None for a strategy that failed before its solver
    ran (see :func:`failed_run`); ``result`` then says why.
    """

    strategy: str
    decomposition: Decomposition | None
    problem: MappingProblem | None
    result: SolveResult

    @property
    def ok(self) -> bool:
        """Whether the strategy produced a valid mapping."""
        return self.result.metrics is not None

    def row(self) -> dict[str, Any]:
        """The flat record ``--json`` prints and reports tabulate (validator metrics + status)."""
        r = self.result
        dec = self.decomposition
        row: dict[str, Any] = {"strategy": self.strategy,
                               "decomposition": dec.label if dec else self.strategy.partition("@")[0]}  # fmt: skip
        row.update(r.metrics or {})
        row.update(
            {
                "extra_units": dec.extra_units if dec else None,
                "solver": r.solver,
                "params": r.params,
                "status": str(r.status),
                "objective": r.objective,
                "bound": r.bound,
                "gap": r.gap,
                "wall_s": r.wall_s,
            }
        )
        if r.message:
            row["message"] = r.message
        return row


def run_strategy(
    net: Network,
    hw: Hardware,
    spec: str,
    *,
    budget: Budget,
    default_solver: str | None = None,
    objective: str = DEFAULT_OBJECTIVE,
    solver_params: dict[str, Any] | None = None,
    traffic: str = "upper",
    inputs: np.ndarray | None = None,
) -> StrategyRun:
    """Decompose ``net`` for ``hw`` and map it with the strategy's solver.

    ``traffic`` is how non-root units' spikes are counted (docs/model.md, section 3):
    ``upper`` (the paper's sum of input spikes, on the network's own spike counts) or
    ``simulated``: N' is simulated in exact mode and every spike count, inputs' and roots'
    included, comes from that run (recorded in the spike provenance); non-root units count
    the steps in which they send a nonzero partial sum. The inputs are ``inputs``
    (``bool[T, n_inputs]``) when given; else, for a net trained for a task (``digits-mlp``,
    ``digits-cnn``), its real inputs, the task's test images (counts are means per image
    window, :func:`mapopt.quality.with_task_traffic`); else inputs firing with probability
    0.2 per step, seeded by the budget.
    """
    if traffic not in TRAFFIC_MODES:
        raise InputError(f"traffic must be one of {', '.join(TRAFFIC_MODES)}, got {traffic!r}", source="--traffic")
    decomposition_spec, solver_name = split_strategy(spec, hw, default_solver)
    dec = decompose(net, hw, decomposition_spec)
    if traffic == "simulated":
        if inputs is None and net.task is not None:
            dec = with_task_traffic(dec)
        else:
            dec = with_simulated_traffic(dec, inputs, seed=budget.seed)
    problem = MappingProblem(dec, hw, objective)
    solver = make_solver(solver_name, **(solver_params or {}))
    result = solver.solve(problem, budget)
    if result.decomposition is not None:  # the solver chose N' itself (cpsat-joint): report that one
        dec = result.decomposition
        problem = replace(problem, decomposition=dec)
    return StrategyRun(f"{decomposition_spec}@{solver_name}", dec, problem, result)


def failed_run(spec: str, hw: Hardware, err: Exception, *, default_solver: str | None = None) -> StrategyRun:
    """A strategy that failed before or inside its solver, as a row: ``infeasible`` for a
    model constraint it cannot meet (an :class:`InputError` naming one), else ``error``."""
    decomposition, solver = split_strategy(spec, hw, default_solver)
    constraint = isinstance(err, InputError) and err.constraint is not None
    message = str(err) if isinstance(err, InputError) else f"{type(err).__name__}: {err}"
    result = SolveResult(
        solver=solver,
        params={},
        status=Status.INFEASIBLE if constraint else Status.ERROR,
        mapping=None,
        metrics=None,
        objective=None,
        bound=None,
        gap=None,
        history=[],
        wall_s=0.0,
        message=message,
    )
    return StrategyRun(f"{decomposition}@{solver}", None, None, result)


def run_strategies(
    net: Network,
    hw: Hardware,
    specs: list[str],
    *,
    budget: Budget,
    default_solver: str | None = None,
    objective: str = DEFAULT_OBJECTIVE,
    traffic: str = "upper",
    inputs: np.ndarray | None = None,
    solver_params: dict[str, dict[str, Any]] | None = None,
) -> list[StrategyRun]:
    """Run every strategy of a comparison; failures become rows (:func:`failed_run`).

    ``solver_params`` gives hyperparameters by solver name (``--params`` files), for every
    strategy that uses that solver.

    Progress goes to :func:`mapopt.progress.current`. After a SIGINT/SIGTERM the strategy
    that was running ends with its incumbent (status ``interrupted``) and the rest are not
    started; after one while decomposing, the runs done so far are returned. ``inputs`` is
    passed on to :func:`run_strategy`.
    """
    runs: list[StrategyRun] = []
    for i, spec in enumerate(specs, start=1):
        if interrupt.requested() is not None:
            break
        progress.current().stage(f"[{i}/{len(specs)}] {spec}: decomposing and mapping {net.name}")
        try:
            runs.append(
                run_strategy(
                    net,
                    hw,
                    spec,
                    budget=budget,
                    default_solver=default_solver,
                    objective=objective,
                    traffic=traffic,
                    inputs=inputs,
                    solver_params=(solver_params or {}).get(split_strategy(spec, hw, default_solver)[1]),
                )
            )
        except KeyboardInterrupt as err:  # stopped outside a solver run (decomposing): keep what is done
            interrupt.request(getattr(err, "signum", signal.SIGINT))
            break
        except Exception as err:  # the comparison goes on; the row says what went wrong
            runs.append(failed_run(spec, hw, err, default_solver=default_solver))
    return runs
