"""One bake-off run, inside its own process: build the net, decompose, solve, re-score, report.

:func:`execute` is what a run process calls (see :mod:`mapopt.studies.isolation`); it never
raises for a problem of the run itself: a net that does not fit, a solver error or an
out-of-memory becomes the row's ``status`` and ``error``. The net is rebuilt from its spec
in the run process and its content hash compared with the driver's, so a worker whose
files or code differ cannot store a result for another net.

``python -m mapopt.studies.child FD MEMORY_MB`` runs one task read as JSON from stdin and
writes the result as JSON to file descriptor FD: the launcher used where the calling
process may not fork children through :mod:`multiprocessing` (a daemonic Dask worker).
"""

from __future__ import annotations

import ctypes
import json
import os
import platform
import resource
import signal
import socket
import sys
import time
import traceback
from datetime import UTC, datetime
from functools import cache
from importlib.metadata import PackageNotFoundError, version
from typing import Any

#: Distributions whose versions every row records.
VERSIONED = ("mapopt", "numpy", "scipy", "networkx", "ortools", "pulp", "highspy", "pymetis")
#: Status of a run that ran out of memory (Python's MemoryError, or killed over its limit).
OUT_OF_MEMORY = "out-of-memory"


@cache
def versions() -> dict[str, str]:
    """Python and the versions of :data:`VERSIONED` here."""
    out = {"python": platform.python_version()}
    for dist in VERSIONED:
        try:
            out[dist] = version(dist)
        except PackageNotFoundError:
            out[dist] = "not installed"
    return out


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def peak_mb() -> float:
    """This process's peak resident memory (``ru_maxrss``, kB on Linux) in MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def execute(task: dict[str, Any]) -> dict[str, Any]:
    """Run ``task`` (a :class:`~mapopt.studies.tasks.Task` as a dict) here; the row fields it yields."""
    from mapopt.errors import InputError
    from mapopt.hardware import Hardware
    from mapopt.io import resolve_net
    from mapopt.pipeline import run_strategy
    from mapopt.solver import Budget

    row: dict[str, Any] = {"started_at": now(), "host": socket.gethostname(), "versions": versions()}
    t0 = time.perf_counter()
    try:
        net = resolve_net(task["instance"])
        row.update(instance_name=net.name, neurons=net.n_neurons, synapses=net.n_synapses, max_fanin=net.max_fanin)
        if net.content_hash() != task["instance_hash"]:
            raise InputError("the net built here differs from the driver's (content hash); same code and files?")
        hw = Hardware.from_dict(task["hardware"])
        budget = Budget(time_limit=task["time_limit"], seed=task["seed"], threads=task["threads"])
        run = run_strategy(
            net,
            hw,
            f"{task['decomposition']}@{task['solver']}",
            budget=budget,
            objective=task["objective"],
            solver_params=task["params"],
            traffic=task["traffic"],
        )
        r = run.result
        row.update(
            units=run.decomposition.n_units,
            status=str(r.status),
            error=r.message or None,
            objective=r.objective,
            objective_key=list(run.problem.key(r.metrics)) if r.metrics else None,
            bound=r.bound,
            gap=r.gap,
            metrics=r.metrics,
            history=[list(point) for point in r.history],
            info=r.info,
            work=r.work,
            wall_s=r.wall_s,
        )
    except MemoryError:
        row.update(status=OUT_OF_MEMORY, error="MemoryError: the run exceeded its memory limit")
    except InputError as err:
        row.update(status="error", error=str(err))
    except Exception as err:  # a bug in a solver or generator: this run's row, never the study's end
        where = traceback.extract_tb(err.__traceback__)[-1]
        row.update(status="error", error=f"{type(err).__name__}: {err} ({where.filename}:{where.lineno})")
    row.update(run_s=time.perf_counter() - t0, peak_mb=peak_mb(), ended_at=now())
    return row


def die_with_parent() -> None:
    """Ask Linux to SIGKILL this process when its parent dies (a ``kill -9`` of the driver).

    Without it, runs of a killed driver would go on computing results nobody stores. On
    other systems this does nothing (the run then ends by its own time limit). A run also
    ignores Ctrl-C (SIGINT goes to the whole terminal process group): the driver decides,
    kills its runs and stores none of them, so an interrupted run is never recorded as crashed.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if sys.platform.startswith("linux"):
        pr_set_pdeathsig = 1
        ctypes.CDLL(None).prctl(pr_set_pdeathsig, signal.SIGKILL)


def quiet_stdout() -> None:
    """Send this process's standard output to /dev/null: solver libraries print banners and logs
    (HiGHS, CBC), and the driver's stdout carries its results (``--json``)."""
    sys.stdout.flush()
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.close(devnull)


def limit_memory(memory_mb: int) -> None:
    """Cap the address space so that a runaway allocation raises MemoryError.

    The cap is the limit plus what the process already maps (imported libraries reserve
    address space they never touch); the supervisor also watches the resident size, which is
    what the limit means.
    """
    with open("/proc/self/statm") if os.path.exists("/proc/self/statm") else open(os.devnull) as f:
        fields = f.read().split()
    mapped = int(fields[0]) * os.sysconf("SC_PAGE_SIZE") if fields else 0
    cap = mapped + 2 * memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))


def main() -> None:
    fd, memory_mb = int(sys.argv[1]), int(sys.argv[2])
    die_with_parent()
    limit_memory(memory_mb)
    task = json.loads(sys.stdin.read())
    row = execute(task)
    with os.fdopen(fd, "w") as out:
        out.write(json.dumps(row, default=str))


if __name__ == "__main__":
    main()
