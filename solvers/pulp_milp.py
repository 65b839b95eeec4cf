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

Time limits and interrupts (:mod:`mapopt.interrupt`): a phase's limit is a deadline fixed
when the phase starts, so the time PuLP spends handing the model over counts. HiGHS gets
the time left as its ``time_limit`` and runs in a worker thread; at a signal, or
:data:`HIGHS_GRACE_S` after the deadline, it is stopped through highspy's own interrupt
callbacks (``HandleUserInterrupt`` + ``cancelSolve``) and returns its incumbent. CBC is a
child process: it is killed at a signal or :data:`CBC_GRACE_S` after the deadline, it dies
with mapopt even on ``kill -9`` (``PR_SET_PDEATHSIG``), and its model files live in a
``mapopt-cbc-PID-*`` temporary folder, removed on the way out (or by the next CBC run, if
the process that made it was killed). A CBC that crashes (segfaults under very short
limits occur) yields no solution: the incumbent found before it (the warm start) is
returned with a message saying so; only without any incumbent is the status ``error``.
"""

from __future__ import annotations

import ctypes
import math
import os
import re
import shutil
import signal
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

from mapopt import interrupt
from mapopt.problem import MappingProblem
from mapopt.solver import Outcome, SolveContext, Solver, Status
from mapopt.space import Categorical, SearchSpace
from solvers.common.lexicographic import OnImprove, Run, solve_lexicographic, warm_start

#: Seconds CBC may run past its time limit (its own ``-sec`` stop writes the incumbent) before it is killed.
CBC_GRACE_S = 0.5
#: Seconds HiGHS may run past its time limit before it is cancelled through highspy.
HIGHS_GRACE_S = 0.5
#: Prefix of CBC's temporary folders (followed by the owner's pid).
CBC_TMP_PREFIX = "mapopt-cbc-"
#: prctl option: the signal a child gets when its parent dies (linux/prctl.h).
_PR_SET_PDEATHSIG = 1
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


class HandOverExpired(Exception):
    """The deadline passed while the model was being handed to HiGHS: nothing is solved."""


#: Rows handed to HiGHS between two deadline checks.
HAND_OVER_CHUNK = 20_000

if pulp.HiGHS().available():
    import highspy

    class _HighsWithStart(pulp.HiGHS):
        """PuLP's highspy interface with a hand-over that keeps the time limit, and a MIP start.

        PuLP's own ``buildSolverModel`` adds the model one ``addCol``/``addRow`` call at a
        time and ``findSolutionValues`` walks every row and variable again: on
        ``synfire:8-12`` (237k rows) that took 8 s of a 20 s limit after HiGHS had stopped on
        time (measured). :meth:`actualSolve` instead hands the columns and rows over in bulk
        (``addCols``/``addRows`` on numpy arrays, the deadline checked between chunks),
        passes the variables' initial values as a MIP start (``setSolution``), runs HiGHS with
        the time that is left (see the module docstring) and reads back only the column
        values. An interrupted or timed-out HiGHS counts as integer-feasible only when it
        holds a feasible solution (PuLP assumes it always does).

        HiGHS prints a banner on stdout when the first ``Highs`` object of a process is
        made, before any option can silence it; it is sent to stderr so that ``--json``
        output on stdout stays clean.
        """

        #: When the phase must end (time.monotonic()), set by :class:`PulpBackend`; None: no limit.
        deadline: float | None = None

        def createAndConfigureSolver(self, lp: pulp.LpProblem) -> None:
            with _stdout_to_stderr():
                super().createAndConfigureSolver(lp)

        def _expired(self) -> bool:
            return interrupt.requested() is not None or (self.deadline is not None and time.monotonic() > self.deadline)

        def buildSolverModel(self, lp: pulp.LpProblem) -> None:
            h = lp.solverModel
            inf = highspy.kHighsInf
            variables = lp.variables()
            for i, var in enumerate(variables):
                var.index = i
            n = len(variables)
            lower = np.array([-inf if v.lowBound is None else v.lowBound for v in variables], np.float64)
            upper = np.array([inf if v.upBound is None else v.upBound for v in variables], np.float64)
            cost = np.zeros(n)
            for var, coef in lp.objective.items():
                cost[var.index] = -coef if lp.sense == pulp.LpMaximize else coef
            empty_i, empty_f = np.zeros(0, np.int32), np.zeros(0, np.float64)
            h.addCols(n, cost, lower, upper, 0, empty_i, empty_i, empty_f)
            integer = np.flatnonzero([v.cat == pulp.LpInteger for v in variables]).astype(np.int32)
            if integer.size:
                kinds = np.full(integer.size, int(highspy.HighsVarType.kInteger), np.uint8)
                h.changeColsIntegrality(integer.size, integer, kinds)
            constraints = list(lp._constraints.values())
            for lo in range(0, len(constraints), HAND_OVER_CHUNK):
                if self._expired():
                    raise HandOverExpired
                chunk = constraints[lo : lo + HAND_OVER_CHUNK]
                starts, index, value = [0], [], []
                for c in chunk:
                    items = [(v.index, a) for v, a in c.items() if a != 0]
                    index.extend(i for i, _ in items)
                    value.extend(a for _, a in items)
                    starts.append(len(index))
                row_lo = np.array([-inf if c.getLb() is None else c.getLb() for c in chunk], np.float64)
                row_up = np.array([inf if c.getUb() is None else c.getUb() for c in chunk], np.float64)
                h.addRows(len(chunk), row_lo, row_up, len(index), np.array(starts[:-1], np.int32),
                          np.array(index, np.int32), np.array(value, np.float64))  # fmt: skip
            self._variables = variables

        def callSolver(self, lp: pulp.LpProblem) -> None:
            h = lp.solverModel
            start = [(v.index, v.varValue) for v in self._variables if v.varValue is not None]
            if start:
                index, value = zip(*start, strict=True)
                h.setSolution(len(index), np.array(index, np.int32), np.array(value, np.float64))
            if self._expired():
                raise HandOverExpired
            if self.deadline is not None:  # the hand-over took time: HiGHS gets what is left
                h.setOptionValue("time_limit", max(self.deadline - time.monotonic(), 0.01))
            h.HandleUserInterrupt = True  # cancelSolve() then interrupts simplex, IPM and MIP
            interrupt.run_stoppable(h.run, h.cancelSolve, deadline=self.deadline, grace=HIGHS_GRACE_S)

        def actualSolve(self, lp: pulp.LpProblem) -> int:
            self.createAndConfigureSolver(lp)
            self.buildSolverModel(lp)
            self.callSolver(lp)
            h = lp.solverModel
            model_status = h.getModelStatus()
            feasible = h.getInfo().primal_solution_status == FEASIBLE_SOLUTION
            if model_status == HighsModelStatus.kOptimal:
                status, sol_status = pulp.LpStatusOptimal, pulp.LpSolutionOptimal
            elif model_status in (HighsModelStatus.kInfeasible, HighsModelStatus.kUnboundedOrInfeasible):
                status, sol_status = pulp.LpStatusInfeasible, pulp.LpSolutionInfeasible
            elif feasible:
                status, sol_status = pulp.LpStatusOptimal, pulp.LpSolutionIntegerFeasible
            else:
                status, sol_status = pulp.LpStatusNotSolved, pulp.LpSolutionNoSolutionFound
            if feasible:
                values = np.asarray(h.getSolution().col_value)
                for var in self._variables:
                    var.varValue = float(values[var.index])
            lp.assignStatus(status, sol_status)
            return status

    HighsModelStatus = highspy.HighsModelStatus
    #: highspy's kSolutionStatusFeasible.
    FEASIBLE_SOLUTION = 2

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
    """Solves :class:`PulpBuilder` models with one PuLP solver (``"cbc"`` or ``"highs"``).

    ``crashes`` collects the reasons of CBC runs that ended without a solution because CBC
    itself failed (a signal or an error exit), for :class:`_PulpSolver` to report.
    """

    def __init__(self, engine: str, *, seed: int, threads: int):
        self.engine, self.seed, self.threads = engine, seed, threads
        self.crashes: list[str] = []

    def new(self) -> PulpBuilder:
        return PulpBuilder()

    def run(self, model: PulpBuilder, time_limit: float | None, on_improve: OnImprove) -> Run:
        prob = model.prob
        limit = None if time_limit is None else max(time_limit, 0.01)
        deadline = None if limit is None else time.monotonic() + limit
        bound: float | None = None
        if self.engine == "cbc":
            bound = _run_cbc(prob, deadline, threads=self.threads, seed=self.seed, crashes=self.crashes)
        else:
            solver = _HighsWithStart(msg=False, timeLimit=limit, threads=self.threads, random_seed=self.seed)
            solver.deadline = deadline
            try:
                prob.solve(solver)
            except HandOverExpired:
                return Run("unknown", None, None, None)
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


def _die_with_parent() -> None:
    """In the CBC child, before exec: get SIGKILL when mapopt dies, even by ``kill -9`` (Linux)."""
    parent = os.getppid()
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)


def _sweep_cbc_temps() -> None:
    """Remove the CBC folders of mapopt processes that were killed before they could (see the docstring)."""
    for path in Path(tempfile.gettempdir()).glob(f"{CBC_TMP_PREFIX}*"):
        pid = path.name[len(CBC_TMP_PREFIX) :].split("-")[0]
        if not pid.isdigit():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            shutil.rmtree(path, ignore_errors=True)
        except PermissionError:  # another user's live process
            continue


def _wait_cbc(proc: subprocess.Popen[bytes], kill_at: float | None) -> int | None:
    """Wait for CBC; kill it at ``kill_at`` (time.monotonic()) or on a stop request. Its exit code, None if killed."""
    try:
        while True:
            try:
                return proc.wait(timeout=interrupt.POLL_S)
            except subprocess.TimeoutExpired:
                pass
            if interrupt.requested() is not None or (kill_at is not None and time.monotonic() > kill_at):
                proc.kill()
                proc.wait()
                return None
    except BaseException:  # an interrupt raised here: never leave CBC running
        proc.kill()
        proc.wait()
        raise


def _run_cbc(
    prob: pulp.LpProblem, deadline: float | None, *, threads: int, seed: int, crashes: list[str]
) -> float | None:
    """Solve ``prob`` with PuLP's bundled CBC under a wall-clock limit that holds; return CBC's bound or None.

    ``PULP_CBC_CMD`` passes ``-sec`` and then waits for CBC without a timeout, but CBC only
    checks its limit between search nodes: on models above ~100k rows its root LP ran
    65 s for ``-sec 15`` (docs/exact.md), and it ignores SIGINT there. So CBC is started
    here as a child process with PuLP's own file handling (``writeMPS``, ``writesol`` for
    the ``-mips`` start, ``readsol_MPS``) and killed :data:`CBC_GRACE_S` after the deadline
    (or at once on a stop request). A killed or crashed run has no solution
    (``prob.status`` stays "Not Solved"): the caller keeps its incumbent; a crash's reason
    is appended to ``crashes``. ``timeMode elapsed`` makes ``-sec`` count wall-clock, not
    CPU, seconds.
    """
    _sweep_cbc_temps()
    with tempfile.TemporaryDirectory(prefix=f"{CBC_TMP_PREFIX}{os.getpid()}-") as folder:
        tmp = Path(folder)
        with warnings.catch_warnings():  # PuLP 3.x flags PULP_CBC_CMD for its 4.0 API move
            warnings.simplefilter("ignore", DeprecationWarning)
            cbc = pulp.PULP_CBC_CMD(msg=False)
        mps, mst, sol, log = (tmp / f"model.{ext}" for ext in ("mps", "mst", "sol", "log"))
        variables, var_names, row_names, _ = prob.writeMPS(str(mps), rename=1)
        cbc.writesol(str(mst), prob, variables, var_names, row_names)
        if interrupt.requested() is not None:
            return None
        args = [cbc.path, str(mps), "-mips", str(mst)]
        left = None if deadline is None else max(deadline - time.monotonic(), 0.01)
        if left is not None:
            args += ["-sec", f"{left:.3f}", "-timeMode", "elapsed"]
        args += ["-threads", str(threads), "-randomSeed", str(seed + 1), "-randomCbcSeed", str(seed + 1)]
        args += ["-solve", "-printingOptions", "all", "-solution", str(sol)]
        with open(log, "w") as out:
            proc = subprocess.Popen(
                args, stdout=out, stderr=out, stdin=subprocess.DEVNULL, preexec_fn=_die_with_parent
            )
            code = _wait_cbc(proc, None if left is None else time.monotonic() + left + CBC_GRACE_S)
        text = log.read_text(errors="replace")
        found = CBC_BOUND.findall(text)
        bound = float(found[-1]) if found else None
        if code is None:
            return bound
        if code != 0 or not sol.exists():
            how = f"signal {signal.Signals(-code).name}" if code < 0 else f"exit code {code}"
            crashes.append(f"CBC crashed ({how}) without a solution")
            return bound
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
        out = solve_lexicographic(problem, ctx, backend, warm=warm, symmetry=self.symmetry_breaking)
        if not backend.crashes:
            return out
        crash = "; ".join(dict.fromkeys(backend.crashes))
        if out.mapping is None:
            return Outcome(None, Status.ERROR, bound=out.bound, message=crash, info=out.info)
        out.message = f"{crash}: returning the incumbent found before it" + (f"; {out.message}" if out.message else "")
        return out


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
