"""Exact mapping with MILP solvers through PuLP: CBC (``pulp-cbc``) and HiGHS (``pulp-highs``).

The same formulations and lexicographic phases as ``cpsat`` (:mod:`solvers.common.lexicographic`), built
as linear programs: the hop linearisation uses a big-M row (the largest hop count of the
mesh), absolute values two rows. ``pulp.listSolvers(onlyAvailable=True)`` lists
``PULP_CBC_CMD`` and ``HiGHS`` (highspy) on this machine; both are registered (``pulp-highs`` only
where highspy is installed, see :meth:`PulpHighs.available`).

Warm start: CBC reads the greedy start as a MIP start (``-mips``); HiGHS gets it with
``Highs.setSolution``. Bound: HiGHS reports its MIP dual bound; CBC prints it ("best
possible") in its log, which is read back. Both are seeded (CBC
``randomSeed``/``randomCbcSeed``, HiGHS ``random_seed``).

Time limits and interrupts (:mod:`mapopt.interrupt`): a phase's limit is a deadline fixed
when the phase starts, so the time PuLP spends writing the model counts. Each solver runs
in a child process on the MPS file PuLP writes, in a ``mapopt-cbc-PID-*`` or
``mapopt-highs-PID-*`` temporary folder (removed on the way out, or by the next run if the
process that made it was killed); the child dies with mapopt even on ``kill -9``
(``PR_SET_PDEATHSIG``) and is killed at a signal or shortly after the deadline if its own
stop has not come. CBC checks ``-sec`` only between search nodes (:data:`CBC_GRACE_S`).
HiGHS is stopped through its own API (``time_limit``, and an interrupt callback that
checks the deadline and stop requests in every simplex, IPM and MIP interrupt), but can
still spend minutes in its root mod-k cut separator (``HighsModkSeparator``), which neither
checks the time nor calls back (seen on 3x3 convolutions: 121 s for a 60 s limit; a thread
cannot be stopped there, a process can), hence the kill :data:`HIGHS_GRACE_S` after the
deadline. The HiGHS child reports every improving solution and the dual bound as it goes,
so a killed run keeps its incumbent and bound. A CBC that crashes (segfaults under very
short limits occur) yields no solution: the incumbent found before it (the warm start) is
returned with a message saying so; only without any incumbent is the status ``error``.
"""

from __future__ import annotations

import ctypes
import json
import math
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import Any, ClassVar

import pulp

from mapopt import interrupt
from mapopt.problem import MappingProblem
from mapopt.solver import Outcome, SolveContext, Solver, Status
from mapopt.space import Categorical, SearchSpace
from solvers.common.lexicographic import OnImprove, Run, solve_lexicographic, warm_start

#: Seconds CBC may run past its time limit (its own ``-sec`` stop writes the incumbent) before it is killed.
CBC_GRACE_S = 0.5
#: Seconds HiGHS may run past its time limit (its own stop) before its process is killed.
HIGHS_GRACE_S = 1.0
#: Prefixes of the solvers' temporary folders (followed by the owner's pid).
CBC_TMP_PREFIX = "mapopt-cbc-"
HIGHS_TMP_PREFIX = "mapopt-highs-"
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
            bound = _run_highs(prob, deadline, threads=self.threads, seed=self.seed, on_improve=on_improve)
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
    """In a solver child, before exec: get SIGKILL when mapopt dies, even by ``kill -9`` (Linux)."""
    parent = os.getppid()
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)


def _sweep_cbc_temps() -> None:
    """Remove the CBC and HiGHS folders of mapopt processes that were killed before they could (see the docstring)."""
    for prefix in (CBC_TMP_PREFIX, HIGHS_TMP_PREFIX):
        _sweep(prefix)


def _sweep(prefix: str) -> None:
    for path in Path(tempfile.gettempdir()).glob(f"{prefix}*"):
        pid = path.name[len(prefix) :].split("-")[0]
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


def _run_highs(
    prob: pulp.LpProblem, deadline: float | None, *, threads: int, seed: int, on_improve: OnImprove
) -> float | None:
    """Solve ``prob`` with HiGHS in a child process under a wall-clock limit that holds; return the bound or None.

    The child (:mod:`solvers.common.highs_child`) stops itself at the deadline through
    HiGHS's API and reports every improving solution and bound on its stdout, read here by
    a thread; it is killed :data:`HIGHS_GRACE_S` after the deadline if it has not finished,
    at once on a stop request (:mod:`mapopt.interrupt`), and whenever this function exits
    early. The best solution received is assigned to ``prob``'s variables with PuLP's
    status codes.
    """
    _sweep_cbc_temps()
    with tempfile.TemporaryDirectory(prefix=f"{HIGHS_TMP_PREFIX}{os.getpid()}-") as folder:
        return _run_highs_in(prob, Path(folder), deadline, threads=threads, seed=seed, on_improve=on_improve)


def _run_highs_in(
    prob: pulp.LpProblem, tmp: Path, deadline: float | None, *, threads: int, seed: int, on_improve: OnImprove
) -> float | None:
    """:func:`_run_highs` with its files in ``tmp``."""
    mps, start_file, log = tmp / "model.mps", tmp / "start.json", tmp / "highs.log"
    variables, var_names, _, _ = prob.writeMPS(str(mps), rename=1)
    by_name = {var_names[v.name]: v for v in variables}
    start_file.write_text(json.dumps({var_names[v.name]: v.varValue for v in variables if v.varValue is not None}))
    if interrupt.requested() is not None:
        return None
    left = None if deadline is None else max(deadline - time.monotonic(), 0.01)
    args = [sys.executable, "-m", "solvers.common.highs_child", str(mps), str(start_file)]
    args += ["-" if left is None else f"{left:.3f}", str(threads), str(seed)]
    messages: queue.Queue[list[Any] | None] = queue.Queue()
    columns: list[str] = []
    best: list[float] | None = None
    bound: float | None = None
    status = "stopped"
    with open(log, "w") as err:
        proc = subprocess.Popen(
            args, stdout=subprocess.PIPE, stderr=err, stdin=subprocess.DEVNULL, text=True, preexec_fn=_die_with_parent
        )
        reader = threading.Thread(target=_read_lines, args=(proc.stdout, messages), daemon=True)
        reader.start()
        try:
            while interrupt.requested() is None:  # a stop request (Ctrl-C, SIGTERM) ends the wait at once
                wait = None if deadline is None else deadline + HIGHS_GRACE_S - time.monotonic()
                if wait is not None and wait <= 0:
                    break
                try:
                    message = messages.get(timeout=interrupt.POLL_S if wait is None else min(wait, interrupt.POLL_S))
                except queue.Empty:
                    continue
                if message is None:  # the child's stdout closed: it ended, with or without "done"
                    break
                kind, *payload = message
                if kind == "columns":
                    columns = payload[0]
                elif kind == "bound":
                    bound = payload[0]
                elif kind == "solution":
                    objective, found_bound, best = payload
                    bound = found_bound if found_bound is not None else bound
                    on_improve(objective, bound)
                else:  # "done"
                    status, _, found_bound, values = payload
                    bound = found_bound if found_bound is not None else bound
                    best = values if values is not None else best
                    break
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
            reader.join()
    if status == "stopped" and best is None and proc.returncode not in (0, -9):
        raise RuntimeError(f"HiGHS exited with code {proc.returncode}: {log.read_text()[-500:]}")
    if status == "infeasible":
        prob.assignStatus(pulp.LpStatusInfeasible, pulp.LpSolutionInfeasible)
        return None
    if best is None:
        return bound  # "Not Solved": the caller keeps its incumbent
    for name, value in zip(columns, best, strict=True):
        by_name[name].varValue = value
    sol_status = pulp.LpSolutionOptimal if status == "optimal" else pulp.LpSolutionIntegerFeasible
    prob.assignStatus(pulp.LpStatusOptimal, sol_status)
    return bound


def _read_lines(stream: Any, messages: queue.Queue[list[Any] | None]) -> None:
    """Put every JSON line of ``stream`` on ``messages``, then None."""
    for line in stream:
        messages.put(json.loads(line))
    messages.put(None)


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
