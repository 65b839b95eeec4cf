"""Exact mapping with MILP solvers through PuLP: CBC (``pulp-cbc``) and HiGHS (``pulp-highs``).

The same formulations and lexicographic phases as ``cpsat`` (:mod:`solvers.common.lexicographic`), built
as linear programs: the hop linearisation uses a big-M row (the largest hop count of the
mesh), absolute values two rows. ``pulp.listSolvers(onlyAvailable=True)`` lists
``PULP_CBC_CMD`` and ``HiGHS`` (highspy) on this machine; both are registered (``pulp-highs`` only
where highspy is installed, see :meth:`PulpHighs.available`).

Warm start: CBC reads the greedy start as a MIP start (``-mips``); for HiGHS, which PuLP
does not warm-start, :class:`_HighsWithStart` passes it with ``Highs.setSolution``. Bound:
HiGHS reports its MIP dual bound; CBC prints it ("best possible") in its log, which is
read back. Both are seeded (CBC ``randomSeed``/``randomCbcSeed``, HiGHS ``random_seed``).
"""

from __future__ import annotations

import ctypes
import math
import os
import re
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pulp

from mapopt.problem import MappingProblem
from mapopt.solver import Outcome, SolveContext, Solver
from mapopt.space import Categorical, SearchSpace
from solvers.common.lexicographic import OnImprove, Run, solve_lexicographic, warm_start

#: Seconds CBC may run past its time limit (its own ``-sec`` stop writes the incumbent) before it is killed.
CBC_GRACE_S = 0.5
#: CBC log lines that carry the best bound when a search stops early.
CBC_BOUND = re.compile(r"best possible (-?[0-9.]+(?:[eE][-+]?[0-9]+)?)")


class PulpBuilder:
    """A :class:`problems.formulations.assignment.Builder` over a ``pulp.LpProblem``."""

    native = False

    def __init__(self) -> None:
        self.prob = pulp.LpProblem("mapopt", pulp.LpMinimize)

    def bool_var(self, name: str) -> Any:
        return self.prob.add_variable(name, cat=pulp.LpBinary)

    def int_var(self, lb: int, ub: int, name: str) -> Any:
        return self.prob.add_variable(name, lowBound=lb, upBound=ub, cat=pulp.LpInteger)

    def add(self, constraint: Any, name: str) -> None:
        self.prob += constraint, name

    def add_implied_ge(self, target: Any, expr: Any, literal: Any, big_m: float, name: str) -> None:
        self.prob += target >= expr - big_m * (1 - literal), name

    def abs_ge(self, target: Any, expr: Any, name: str) -> None:
        self.prob += target >= expr, f"{name}_pos"
        self.prob += target >= -expr, f"{name}_neg"

    def total(self, terms: Iterable[Any]) -> Any:
        return pulp.lpSum(terms)

    def minimize(self, expr: Any) -> None:
        self.prob.setObjective(expr)

    def hint(self, var: Any, value: float) -> None:
        var.setInitialValue(value)


if pulp.HiGHS().available():

    class _HighsWithStart(pulp.HiGHS):
        """PuLP's highspy interface, plus the variables' initial values as a MIP start.

        HiGHS prints a banner on stdout when the first ``Highs`` object of a process is
        made, before any option can silence it; it is sent to stderr so that ``--json``
        output on stdout stays clean.
        """

        def createAndConfigureSolver(self, lp: pulp.LpProblem) -> None:
            with _stdout_to_stderr():
                super().createAndConfigureSolver(lp)

        def callSolver(self, lp: pulp.LpProblem) -> None:
            start = [(v.index, v.varValue) for v in lp.variables() if v.varValue is not None]
            if start:
                index, value = zip(*start, strict=True)
                lp.solverModel.setSolution(len(index), np.array(index, np.int32), np.array(value, np.float64))
            lp.solverModel.run()


@contextmanager
def _stdout_to_stderr() -> Iterator[None]:
    """Point file descriptor 1 at stderr (C-level writes included) for the duration."""
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        yield
    finally:
        ctypes.CDLL(None).fflush(None)
        os.dup2(saved, 1)
        os.close(saved)


class PulpBackend:
    """Solves :class:`PulpBuilder` models with one PuLP solver (``"cbc"`` or ``"highs"``)."""

    def __init__(self, engine: str, *, seed: int, threads: int):
        self.engine, self.seed, self.threads = engine, seed, threads

    def new(self) -> PulpBuilder:
        return PulpBuilder()

    def run(self, model: PulpBuilder, time_limit: float | None, on_improve: OnImprove) -> Run:
        prob = model.prob
        limit = None if time_limit is None else max(time_limit, 0.01)
        bound: float | None = None
        if self.engine == "cbc":
            with tempfile.TemporaryDirectory() as tmp:
                bound = _run_cbc(prob, Path(tmp), limit, threads=self.threads, seed=self.seed)
        else:
            solver = _HighsWithStart(msg=False, timeLimit=limit, threads=self.threads, random_seed=self.seed)
            prob.solve(solver)
            if prob.sol_status in (pulp.LpSolutionOptimal, pulp.LpSolutionIntegerFeasible):
                bound = float(prob.solverModel.getInfo().mip_dual_bound)
        bound = bound if bound is not None and math.isfinite(bound) else None
        objective = pulp.value(prob.objective) if prob.sol_status in (1, 2) else None
        objective = None if objective is None else float(objective)
        if prob.sol_status == pulp.LpSolutionOptimal:
            return Run("optimal", _value, objective, objective)
        if prob.sol_status == pulp.LpSolutionIntegerFeasible:
            return Run("feasible", _value, objective, bound)
        if prob.sol_status == pulp.LpSolutionInfeasible:
            return Run("infeasible", None, None, None)
        return Run("unknown", None, None, bound)


def _run_cbc(prob: pulp.LpProblem, tmp: Path, limit: float | None, *, threads: int, seed: int) -> float | None:
    """Solve ``prob`` with PuLP's bundled CBC under a wall-clock limit that holds; return CBC's bound or None.

    ``PULP_CBC_CMD`` passes ``-sec`` and then waits for CBC without a timeout, but CBC only
    checks its limit between search nodes: on models above ~100k rows its root LP ran
    65 s for ``-sec 15`` (docs/exact.md), and it ignores SIGINT there. So CBC is started
    here as a child process with PuLP's own file handling (``writeMPS``, ``writesol`` for
    the ``-mips`` start, ``readsol_MPS``) and killed :data:`CBC_GRACE_S` after the limit.
    A killed run has no solution (``prob.status`` stays "Not Solved"): the caller keeps its
    incumbent. ``timeMode elapsed`` makes ``-sec`` count wall-clock, not CPU, seconds.
    """
    deadline = None if limit is None else time.monotonic() + limit  # writing the files counts too
    with warnings.catch_warnings():  # PuLP 3.x flags PULP_CBC_CMD for its 4.0 API move
        warnings.simplefilter("ignore", DeprecationWarning)
        cbc = pulp.PULP_CBC_CMD(msg=False)
    mps, mst, sol, log = (tmp / f"model.{ext}" for ext in ("mps", "mst", "sol", "log"))
    variables, var_names, row_names, _ = prob.writeMPS(str(mps), rename=1)
    cbc.writesol(str(mst), prob, variables, var_names, row_names)
    args = [cbc.path, str(mps), "-mips", str(mst)]
    left = None if deadline is None else max(deadline - time.monotonic(), 0.01)
    if left is not None:
        args += ["-sec", f"{left:.3f}", "-timeMode", "elapsed"]
    args += ["-threads", str(threads), "-randomSeed", str(seed + 1), "-randomCbcSeed", str(seed + 1)]
    args += ["-solve", "-printingOptions", "all", "-solution", str(sol)]
    with open(log, "w") as out:
        proc = subprocess.Popen(args, stdout=out, stderr=out, stdin=subprocess.DEVNULL)
        try:
            code = proc.wait(timeout=None if left is None else left + CBC_GRACE_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            code = None
    found = CBC_BOUND.findall(log.read_text())
    bound = float(found[-1]) if found else None
    if code is None:
        return bound
    if code != 0 or not sol.exists():
        raise RuntimeError(f"CBC exited with code {code}: {log.read_text()[-500:]}")
    status, values, _, _, _, sol_status = cbc.readsol_MPS(str(sol), prob, variables, var_names, row_names)
    prob.assignVarsVals(values)
    prob.assignStatus(status, sol_status)
    return bound


def _value(var: Any) -> float:
    return float(var.varValue or 0.0)


class _PulpSolver(Solver):
    """The MILP solvers: the lexicographic phases of :mod:`solvers.common.lexicographic` on one PuLP engine."""

    engine: ClassVar[str] = ""
    exact = True

    space = SearchSpace(Categorical("warm_start", (True, False)), Categorical("symmetry_breaking", (True, False)))

    def __init__(self, *, warm_start: bool = True, symmetry_breaking: bool = True):
        self.warm_start = warm_start
        self.symmetry_breaking = symmetry_breaking

    def _solve(self, problem: MappingProblem, ctx: SolveContext) -> Outcome:
        warm = warm_start(problem, ctx) if self.warm_start else None
        backend = PulpBackend(self.engine, seed=ctx.seed, threads=ctx.budget.threads)
        return solve_lexicographic(problem, ctx, backend, warm=warm, symmetry=self.symmetry_breaking)


class PulpCbc(_PulpSolver):
    """CBC (COIN-OR branch and cut, bundled with PuLP) on the MILP formulation."""

    name = "pulp-cbc"
    engine = "cbc"
    description = "exact: COIN-OR CBC through PuLP, MILP of the lexicographic assignment + placement models"


class PulpHighs(_PulpSolver):
    """HiGHS (highspy) on the MILP formulation."""

    name = "pulp-highs"
    engine = "highs"
    description = "exact: HiGHS (highspy) through PuLP, MILP of the lexicographic assignment + placement models"

    @classmethod
    def available(cls) -> bool:
        """PuLP's HiGHS interface needs the highspy package."""
        return bool(pulp.HiGHS().available())
