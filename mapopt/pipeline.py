"""The end-to-end path: decompose a network, solve the mapping, re-score, report.

A *strategy* is ``DECOMPOSITION[@SOLVER]`` (``chain:2@paper``); without a solver the
default one is used. ``best`` names the strongest combination mapopt has registered.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from mapopt.decompose import STRATEGIES, Decomposition, check_spec, decompose
from mapopt.decompose.base import TRAFFIC_MODES
from mapopt.errors import InputError
from mapopt.hardware import Hardware
from mapopt.network import Network
from mapopt.problem import DEFAULT_OBJECTIVE, MappingProblem
from mapopt.registry import make_solver, solver_class
from mapopt.simulate import with_simulated_traffic
from mapopt.solver import Budget, SolveResult

#: The solver a strategy without ``@SOLVER`` uses: the paper's baseline packer.
DEFAULT_SOLVER = "paper"
#: What ``mapopt run`` compares when given no ``--decompose``: prune baselines, the
#: paper's chain-2, and the best mapopt has.
DEFAULT_STRATEGIES = ("prune-first", "prune-magnitude", "chain:2", "best")


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
        check_spec(decomposition, hw)
        solver_class(solver)


@dataclass
class StrategyRun:
    """One strategy's decomposition, problem and re-scored solver result."""

    strategy: str
    decomposition: Decomposition
    problem: MappingProblem
    result: SolveResult

    def row(self) -> dict[str, Any]:
        """The flat record ``--json`` prints and reports tabulate (validator metrics + status)."""
        r = self.result
        row: dict[str, Any] = {"strategy": self.strategy, "decomposition": self.decomposition.label}
        row.update(r.metrics or {})
        row.update(
            {
                "extra_units": self.decomposition.extra_units,
                "solver": r.solver,
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
) -> StrategyRun:
    """Decompose ``net`` for ``hw`` and map it with the strategy's solver.

    ``traffic`` is how non-root units' spikes are counted (docs/model.md, section 3):
    ``upper`` (the paper's sum of input spikes, on the network's own spike counts) or
    ``simulated``: N' is simulated in exact mode on inputs firing with probability 0.2 per
    step (seeded by the budget), and every spike count, inputs' and roots' included, comes
    from that run (recorded in the spike provenance); non-root units count the steps in
    which they send a nonzero partial sum.
    """
    if traffic not in TRAFFIC_MODES:
        raise InputError(f"traffic must be one of {', '.join(TRAFFIC_MODES)}, got {traffic!r}", source="--traffic")
    decomposition_spec, solver_name = split_strategy(spec, hw, default_solver)
    dec = decompose(net, hw, decomposition_spec)
    if traffic == "simulated":
        dec = with_simulated_traffic(dec, seed=budget.seed)
    problem = MappingProblem(dec, hw, objective)
    solver = make_solver(solver_name, **(solver_params or {}))
    result = solver.solve(problem, budget)
    if result.decomposition is not None:  # the solver chose N' itself (cpsat-joint): report that one
        dec = result.decomposition
        problem = replace(problem, decomposition=dec)
    return StrategyRun(f"{decomposition_spec}@{solver_name}", dec, problem, result)
