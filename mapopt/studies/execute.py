"""Where a study's runs execute: a local pool of run processes, or a Dask distributed cluster.

Both hand every finished run to one callback in the driver (``on_row``), which stores it:
workers never touch the store. Both run each task in its own process with the same
limits (:mod:`mapopt.studies.isolation`), so a run gives the same row either way.

- :func:`run_local`: at most ``jobs`` run processes at a time, forked from a preloaded
  forkserver; the driver waits on their pipes and process sentinels, so a finished run is
  noticed at once.
- :func:`run_dask`: ``client.submit`` of every task to the scheduler at ``address``
  (``tcp://HOST:PORT``; ``dask scheduler`` and ``dask worker ADDRESS`` start one), results
  taken with ``as_completed`` as they arrive. A Dask worker that dies mid-run makes Dask
  retry the task elsewhere (``distributed.scheduler.allowed-failures``); a task whose
  workers keep dying is recorded as ``crashed``.

Ctrl-C stops every running run (killed, its row not written) and propagates, so the
study can be resumed with the same command.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mapopt.studies.isolation import CRASHED, POLL_S, RunProcess, run_isolated
from mapopt.studies.tasks import Task

#: ``on_row(task, fields, worker)`` stores a finished run; ``on_start(task)`` says one started.
OnRow = Callable[[Task, dict[str, Any], str], None]
OnStart = Callable[[Task], None]


def run_local(
    tasks: list[Task],
    *,
    jobs: int,
    memory_mb: int,
    kill_after: Callable[[Task], float],
    on_row: OnRow,
    on_start: OnStart | None = None,
) -> None:
    """Run ``tasks`` with at most ``jobs`` run processes at a time."""
    from multiprocessing.connection import wait

    pending = list(reversed(tasks))
    running: dict[str, tuple[Task, RunProcess, str]] = {}
    free_slots = list(range(jobs, 0, -1))
    try:
        while pending or running:
            while pending and free_slots:
                task = pending.pop()
                slot = free_slots.pop()
                proc = RunProcess(task.to_dict(), memory_mb=memory_mb, kill_after_s=kill_after(task))
                running[task.key] = (task, proc, f"local-{slot}")
                if on_start:
                    on_start(task)
            wait([w for _, proc, _ in running.values() for w in proc.waitables()], POLL_S)
            for key, (task, proc, worker) in list(running.items()):
                fields = proc.poll()
                if fields is not None:
                    del running[key]
                    free_slots.append(int(worker.rsplit("-", 1)[1]))
                    on_row(task, fields, worker)
    finally:
        for _, proc, _ in running.values():  # Ctrl-C or an error in the driver: stop every run
            proc.kill()


def _dask_run(task: dict[str, Any], memory_mb: int, kill_after_s: float) -> tuple[dict[str, Any], str]:
    """The Dask task: one isolated run on the worker; returns its fields and the worker's address."""
    from distributed import get_worker

    return run_isolated(task, memory_mb=memory_mb, kill_after_s=kill_after_s), get_worker().address


def connect(address: str) -> Any:
    """A Dask client of the scheduler at ``address``; an unreachable one is an :class:`InputError`."""
    from distributed import Client

    from mapopt.errors import InputError

    try:
        return Client(address, timeout="10s", set_as_default=False)
    except (OSError, TimeoutError) as err:
        raise InputError(f"cannot reach the Dask scheduler: {err}", source=f"--scheduler {address}") from None


def run_dask(
    tasks: list[Task],
    *,
    address: str,
    memory_mb: int,
    kill_after: Callable[[Task], float],
    on_row: OnRow,
    on_start: OnStart | None = None,
    client: Any = None,
) -> None:
    """Run ``tasks`` on the Dask cluster whose scheduler is at ``address``."""
    from distributed import as_completed

    own = client is None
    client = client or connect(address)
    by_future: dict[Any, Task] = {}
    try:
        for task in tasks:
            future = client.submit(
                _dask_run, task.to_dict(), memory_mb, kill_after(task), key=f"mapopt-run-{task.key}", pure=False
            )
            by_future[future] = task
            if on_start:
                on_start(task)
        for future in as_completed(by_future, loop=client.loop):
            task = by_future.pop(future)
            try:
                fields, worker = future.result()
            except Exception as err:  # KilledWorker and its kind: the run could not complete anywhere
                fields, worker = {"status": CRASHED, "error": f"{type(err).__name__}: {err}"}, "dask"
            on_row(task, fields, worker)
    finally:
        if by_future:
            client.cancel(list(by_future))
        if own:
            client.close()
