"""The one solver interface, for exact solvers and heuristics alike.

Modelled on pymoo's template method: :meth:`Solver.solve` handles timing, seeding, the
time limit, errors, re-evaluation and status once; each method implements only
:meth:`Solver._solve`. Hyperparameters are keyword-only constructor arguments stored as
given (as in scikit-learn and benchopt), so Optuna can set them and :meth:`get_params`
can report them. Solvers never score themselves: the template re-scores every returned
mapping with :func:`mapopt.evaluation.assess`.
"""

from __future__ import annotations

import inspect
import signal
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar

import numpy as np

from mapopt import interrupt, progress
from mapopt.decompose.base import Decomposition
from mapopt.errors import InputError
from mapopt.evaluation import assess, objective_bound
from mapopt.mapping import Mapping
from mapopt.problem import OBJECTIVES, MappingProblem
from mapopt.space import SearchSpace


class Status(StrEnum):
    OPTIMAL = "optimal"
    FEASIBLE = "feasible"
    INFEASIBLE = "infeasible"
    TIMEOUT = "timeout"
    ERROR = "error"
    INTERRUPTED = "interrupted"  # stopped by SIGINT/SIGTERM: the incumbent, if any, is the mapping


@dataclass(frozen=True)
class Budget:
    """What a run may spend: wall-clock seconds (None: no limit), the seed, threads."""

    time_limit: float | None = None
    seed: int = 0
    threads: int = 1


@dataclass
class Outcome:
    """What :meth:`Solver._solve` returns: a mapping (or none) and what the solver proved.

    ``status`` may be left None: the template then says ``feasible`` for a mapping and
    ``timeout`` for none. ``bound`` is a proven lower bound on the objective's first key.
    ``decomposition`` is set only by a solver that chose N' itself (``cpsat-joint``; ``paper``
    for ``pieces`` and when it adds connector units): the mapping is then for that N' of the
    same original network, and is validated against it.
    """

    mapping: Mapping | None
    status: Status | None = None
    bound: float | None = None
    message: str = ""
    info: dict[str, Any] = field(default_factory=dict)
    decomposition: Decomposition | None = None


@dataclass
class SolveResult:
    """A solver run, re-scored by the validator."""

    solver: str
    params: dict[str, Any]
    status: Status
    mapping: Mapping | None
    metrics: dict[str, Any] | None
    objective: float | None
    bound: float | None
    gap: float | None
    history: list[tuple[float, float | None, float | None]]
    wall_s: float
    message: str = ""
    work: dict[str, int] = field(default_factory=dict)  # work done, by unit (moves, evaluations...)
    info: dict[str, Any] = field(default_factory=dict)
    decomposition: Decomposition | None = None  # the N' the solver chose (None: the problem's own)


class SolveContext:
    """Per-run services for ``_solve``: the seeded generator, the deadline, the history, the work done.

    A stop request (SIGINT/SIGTERM, :mod:`mapopt.interrupt`) counts as a deadline reached
    now: :meth:`expired` is True and :meth:`remaining` 0, so every solver ends as at its time
    limit, with its best mapping. ``report`` receives the anytime points (live progress).
    """

    def __init__(self, budget: Budget, report: progress.Reporter | None = None):
        self.budget = budget
        self.seed = int(budget.seed)
        self.rng = np.random.default_rng(self.seed)
        self.start = time.perf_counter()
        self.deadline = None if budget.time_limit is None else self.start + float(budget.time_limit)
        self.history: list[tuple[float, float | None, float | None]] = []
        self.report = report or progress.Reporter()
        self.work: dict[str, int] = {}
        self.kept: Mapping | None = None

    def keep(self, mapping: Mapping) -> None:
        """Remember ``mapping`` as the run's incumbent, returned if the run is stopped abruptly.

        Solvers that hold a complete mapping long before they return (a warm start before an
        exact search) call this, so that an interrupt raised inside them (see
        :mod:`mapopt.interrupt`) still yields that mapping.
        """
        self.kept = mapping

    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def remaining(self) -> float | None:
        """Seconds left, or None without a limit (never negative; 0 once a stop is requested)."""
        if interrupt.requested() is not None:
            return 0.0
        if self.deadline is None:
            return None
        return max(0.0, self.deadline - time.perf_counter())

    def expired(self) -> bool:
        """The time limit has passed or a stop was requested."""
        if interrupt.requested() is not None:
            return True
        return self.deadline is not None and time.perf_counter() >= self.deadline

    def record(self, incumbent: float | None, bound: float | None = None) -> None:
        """Append an anytime point (elapsed s, incumbent objective, best bound)."""
        self.history.append((self.elapsed(), incumbent, bound))
        self.report.incumbent(incumbent, bound)

    def count(self, unit: str, n: int = 1) -> None:
        """Add ``n`` units of work done (annealing moves, swarm evaluations...): what a study records
        beside the budget it gave, since a time limit may stop a solver before its work budget."""
        self.work[unit] = self.work.get(unit, 0) + int(n)


#: Solver runs in progress (nested ones: warm starts); only the outermost reports live progress.
_active = [0]


class Solver(ABC):
    """Base class of every registered solver. Subclasses set ``name`` and implement ``_solve``."""

    name: ClassVar[str] = ""
    exact: ClassVar[bool] = False
    description: ClassVar[str] = ""
    #: Decomposition strategies whose N' this solver decides while packing and returns in
    #: ``Outcome.decomposition`` (``paper``: ``pieces``); see ``mapopt.decompose.SOLVER_DECIDED``.
    decides: ClassVar[frozenset[str]] = frozenset()
    #: The hyperparameters a tuner may search (mapopt.space), declared right above ``__init__``;
    #: empty: nothing to tune.
    space: ClassVar[SearchSpace] = SearchSpace()

    @classmethod
    def available(cls) -> bool:
        """Whether the solver's back end is installed here (unavailable ones are not listed)."""
        return True

    def get_params(self) -> dict[str, Any]:
        """The keyword-only hyperparameters, as given."""
        sig = inspect.signature(type(self).__init__)
        return {
            p.name: getattr(self, p.name) for p in sig.parameters.values() if p.kind is inspect.Parameter.KEYWORD_ONLY
        }

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"

    def solve(self, problem: MappingProblem, budget: Budget | None = None) -> SolveResult:
        """Run the solver under ``budget`` and return its re-scored result.

        A signal during the run (:mod:`mapopt.interrupt`) ends it like its time limit; the
        result then has status ``interrupted`` and the best mapping found, if any.
        """
        budget = budget or Budget()
        outermost = not _active[0]
        ctx = SolveContext(budget, progress.current() if outermost else None)
        if outermost:
            ctx.report.solving(self.name, budget.time_limit)
        _active[0] += 1
        try:
            with interrupt.solver_run():
                out = self._solve(problem, ctx)
        except InputError:
            raise
        except KeyboardInterrupt as err:  # raised in the run when it did not stop in time (or no handler)
            interrupt.request(getattr(err, "signum", signal.SIGINT))
            found = "stopped abruptly: the last incumbent" if ctx.kept is not None else "stopped before a mapping"
            out = Outcome(ctx.kept, Status.INTERRUPTED, message=found)
        except Exception as err:  # a solver failure is reported as status "error", not a crash
            out = Outcome(None, Status.ERROR, message=f"{type(err).__name__}: {err}")
        finally:
            _active[0] -= 1
        wall = ctx.elapsed()
        if out.decomposition is not None and out.decomposition.original is not problem.decomposition.original:
            out = Outcome(None, Status.ERROR, message="solver returned a decomposition of another network")
        status = out.status
        metrics = objective = None
        message = out.message
        if out.mapping is not None:
            verdict = assess(out.decomposition or problem.decomposition, problem.hardware, out.mapping)
            if verdict.valid:
                metrics = verdict.metrics
                objective = problem.key(metrics)[0]
                if status is None:
                    status = Status.FEASIBLE
            else:
                status = Status.ERROR
                message = "solver returned an invalid mapping: " + "; ".join(map(str, verdict.violations[:3]))
        elif status is None:
            status = Status.TIMEOUT
        if interrupt.requested() is not None and status in (Status.FEASIBLE, Status.TIMEOUT, Status.INTERRUPTED):
            status = Status.INTERRUPTED  # a proof (optimal, infeasible) stands; an unfinished search is marked
            message = "; ".join(filter(None, [f"interrupted by {interrupt.name()}", message]))
        bound = out.bound
        if metrics is not None and out.decomposition is None:
            # the validator's bound for this N' holds for every solver, heuristics included; a solver that
            # chose its own N' (cpsat-joint) states a bound over its space of decompositions instead
            checked = objective_bound(metrics, OBJECTIVES[problem.objective][0])
            if checked is not None:
                bound = checked if bound is None else max(bound, checked)
        if status is Status.OPTIMAL and objective is not None:
            bound = objective if bound is None else bound
        gap = None
        if objective is not None and bound is not None:
            gap = 0.0 if objective == bound else (objective - bound) / max(abs(objective), 1e-12)
        return SolveResult(
            solver=self.name,
            params=self.get_params(),
            status=status,
            mapping=out.mapping if metrics is not None else None,
            metrics=metrics,
            objective=objective,
            bound=bound,
            gap=gap,
            history=ctx.history,
            work=dict(ctx.work),
            wall_s=wall,
            message=message,
            info=out.info,
            decomposition=out.decomposition if metrics is not None else None,
        )

    @abstractmethod
    def _solve(self, problem: MappingProblem, ctx: SolveContext) -> Outcome:
        """Find a mapping for ``problem`` within ``ctx``'s deadline, seeded by ``ctx.rng``."""
