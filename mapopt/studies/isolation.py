"""Each bake-off run in its own process, with its own time and memory limit.

A run that crashes (killed by a signal, a segfault in a native library), hangs past its
time limit plus a grace period, or grows past its memory limit is stopped and recorded
with status ``crashed``, ``hung`` or ``out-of-memory``; it never takes the study down.

Processes come from a ``forkserver`` that has imported mapopt and every plugin once
(:mod:`mapopt.studies.preload`), so starting a run costs a fork (milliseconds), not an
interpreter start and imports (about 0.6 s). Where :mod:`multiprocessing` may not start
children (a daemonic process, such as a Dask worker under its nanny), a run is started as
``python -m mapopt.studies.child`` instead. Either way the run process is killed when its
parent dies (``prctl(PR_SET_PDEATHSIG)`` on Linux).

The supervisor samples the run's resident size at every poll (``/proc/PID/statm``) and
kills it past the limit; the run process also caps its address space, so a fast runaway
allocation raises ``MemoryError`` (reported as ``out-of-memory``) between two samples.
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from multiprocessing.connection import Connection, wait
from typing import Any

from mapopt.studies.child import OUT_OF_MEMORY, die_with_parent, execute, limit_memory, now, quiet_stdout, versions

CRASHED = "crashed"
HUNG = "hung"
#: Runner statuses (beside the solver statuses optimal/feasible/infeasible/timeout/error).
RUNNER_STATUSES = (CRASHED, HUNG, OUT_OF_MEMORY)
#: Seconds between two looks at a running process (resident size, deadline).
POLL_S = 0.05
#: Modules the forkserver imports once, before it forks any run (``freeze`` stays last).
PRELOAD = ["__main__", "mapopt.studies.preload", "mapopt.studies.freeze"]
#: Native thread pools are held to one thread per run: runs are single-threaded, and
#: several runs share the cores.
SINGLE_THREAD_ENV = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}

_context: multiprocessing.context.BaseContext | None = None


def _forkserver() -> multiprocessing.context.BaseContext:
    global _context
    if _context is None:
        for k, v in SINGLE_THREAD_ENV.items():
            os.environ.setdefault(k, v)
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(PRELOAD)
        _context = ctx
    return _context


def preload_also(modules: list[str]) -> None:
    """Have the forkserver import ``modules`` too (before it starts; later calls change nothing).

    The driver passes the modules that building the study's instances imported (a
    generator's dependencies, e.g. scikit-learn for rate-coded digits), so that rebuilding an
    instance in a run does not import them again in every run.
    """
    if _context is None:
        extra = [m for m in modules if m not in PRELOAD and not m.startswith("__")]
        PRELOAD[-1:-1] = extra  # before the freeze


def can_fork_children() -> bool:
    """Whether :mod:`multiprocessing` may start children here (it refuses in daemonic processes)."""
    return not multiprocessing.current_process().daemon


def _run_in_child(task: dict[str, Any], conn: Connection, memory_mb: int) -> None:
    """Body of a forkserver run process: limits, the run, the result down the pipe."""
    quiet_stdout()
    die_with_parent()
    limit_memory(memory_mb)
    try:
        row = execute(task)
    except MemoryError:  # even building the error row failed
        row = {"status": OUT_OF_MEMORY, "error": "MemoryError", "ended_at": now()}
    conn.send(row)
    conn.close()


def _resident_mb(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, IndexError, ValueError):
        return None


def _signal_name(code: int) -> str:
    try:
        return signal.Signals(-code).name
    except ValueError:
        return f"signal {-code}"


class RunProcess:
    """A run in its own process: start it, :meth:`poll` it until it returns its row fields."""

    def __init__(self, task: dict[str, Any], *, memory_mb: int, kill_after_s: float):
        self.task = task
        self.memory_mb = memory_mb
        self.started = time.monotonic()
        self.started_at = now()
        self.kill_at = self.started + kill_after_s
        self.kill_after_s = kill_after_s
        self.peak_seen_mb = 0.0
        self._row: dict[str, Any] | None = None
        self._payload = b""
        if can_fork_children():
            ctx = _forkserver()
            self._conn, child_conn = ctx.Pipe(duplex=False)
            self._proc: Any = ctx.Process(target=_run_in_child, args=(task, child_conn, memory_mb), daemon=True)
            self._proc.start()
            child_conn.close()
            self.pid = self._proc.pid
            self._popen: subprocess.Popen[bytes] | None = None
        else:
            read_fd, write_fd = os.pipe()
            env = {**os.environ, **SINGLE_THREAD_ENV}
            self._popen = subprocess.Popen(
                [sys.executable, "-m", "mapopt.studies.child", str(write_fd), str(memory_mb)],
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                pass_fds=(write_fd,),
                env=env,
            )
            os.close(write_fd)
            assert self._popen.stdin is not None
            self._popen.stdin.write(json.dumps(task).encode())
            self._popen.stdin.close()
            self._reader = os.fdopen(read_fd, "rb")
            self.pid = self._popen.pid

    def waitables(self) -> list[Any]:
        """What :func:`multiprocessing.connection.wait` can block on for this run."""
        if self._popen is None:
            return [self._conn, self._proc.sentinel]
        return [self._reader]

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)

    def _exit_code(self, block: bool) -> int | None:
        if self._popen is None:
            if block:
                self._proc.join()
            return self._proc.exitcode
        return self._popen.wait() if block else self._popen.poll()

    def _failure(self, status: str, error: str) -> dict[str, Any]:
        return {
            "status": status,
            "error": error,
            "started_at": self.started_at,
            "ended_at": now(),
            "run_s": time.monotonic() - self.started,
            "peak_mb": self.peak_seen_mb or None,
            "versions": versions(),
        }

    def _finish(self, status: str | None = None, error: str = "") -> dict[str, Any]:
        code = self._exit_code(block=True)
        if self._popen is not None:
            self._reader.close()
        if status is not None:
            return self._failure(status, error)
        if self._row is not None:
            return self._row
        if code is not None and code < 0:
            return self._failure(CRASHED, f"run process killed by {_signal_name(code)}")
        return self._failure(CRASHED, f"run process exited with code {code} without a result")

    def poll(self) -> dict[str, Any] | None:
        """The run's row fields once it has ended (or been stopped), else None."""
        if self._popen is None:
            if self._conn.poll():
                with contextlib.suppress(EOFError, OSError):  # died mid-send: judged by its exit code
                    self._row = self._conn.recv()
                return self._finish()
            if self._proc.exitcode is not None:
                return self._finish()
        else:
            chunk = os.read(self._reader.fileno(), 1 << 20) if wait([self._reader], 0) else None
            if chunk:
                self._payload += chunk
                return None
            if chunk == b"":  # writer closed: the run ended
                if self._payload:
                    try:
                        self._row = json.loads(self._payload)
                    except json.JSONDecodeError:
                        self._row = None
                return self._finish()
        rss = _resident_mb(self.pid)
        if rss is not None:
            self.peak_seen_mb = max(self.peak_seen_mb, rss)
            if rss > self.memory_mb:
                self.kill()
                return self._finish(OUT_OF_MEMORY, f"resident size {rss:.0f} MB over the limit of {self.memory_mb} MB")
        if time.monotonic() > self.kill_at:
            self.kill()
            return self._finish(
                HUNG, f"still running {self.kill_after_s:.1f} s after start (time limit + grace); killed"
            )
        return None


def run_isolated(task: dict[str, Any], *, memory_mb: int, kill_after_s: float) -> dict[str, Any]:
    """Run ``task`` in its own process and wait for its row fields (what a Dask task calls)."""
    proc = RunProcess(task, memory_mb=memory_mb, kill_after_s=kill_after_s)
    while True:
        row = proc.poll()
        if row is not None:
            return row
        wait(proc.waitables(), POLL_S)
