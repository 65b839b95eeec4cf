"""Stopping a run on SIGINT (Ctrl-C) or SIGTERM: children stopped, temporary files removed, incumbent kept.

The CLI calls :func:`install`. A signal then works in one of two ways:

- **outside a solver run** (reading, decomposing, writing) it raises :class:`Interrupted`
  (a :class:`KeyboardInterrupt`) at once, so every ``with`` block and ``finally`` cleans
  up (temporary folders, lock files) on the way out;
- **inside a solver run** (:meth:`mapopt.solver.Solver.solve` enters :func:`solver_run`) it
  only sets a flag, which :meth:`~mapopt.solver.SolveContext.expired` reports: every solver
  already stops at its deadline with its best mapping, so an interrupt is a deadline that
  arrives now. Native back ends run in a worker thread while the main thread waits in
  :func:`run_stoppable`, which calls the back end's own stop (CP-SAT ``StopSearch``,
  HiGHS ``cancelSolve``, killing the CBC child). If the run has not returned
  :data:`HARD_AFTER` seconds later, or a second signal arrives, the interrupt is raised
  in the main thread as above.

The process then exits with 128 + the signal number (:func:`exit_code`): 130 for SIGINT,
143 for SIGTERM, after printing what it has (``solve``: the incumbent; ``run``: the
strategies done so far). Without :func:`install` (mapopt used as a library), Ctrl-C is a
plain KeyboardInterrupt; a waiter that catches it records it here the same way.
"""

from __future__ import annotations

import _thread
import contextlib
import signal
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

#: Seconds a solver run may take to return after a signal before the interrupt is raised in it.
HARD_AFTER = 1.5
#: Seconds between checks of a waiting main thread (signal handlers run between them).
POLL_S = 0.05

T = TypeVar("T")

_state: dict[str, Any] = {"signum": None, "depth": 0, "hard": False, "timer": None, "installed": False}
_lock = threading.Lock()


class Interrupted(KeyboardInterrupt):
    """Raised in the main thread by SIGINT or SIGTERM (a KeyboardInterrupt, so handlers of Ctrl-C see it)."""

    def __init__(self, signum: int = signal.SIGINT):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def requested() -> int | None:
    """The signal number of a stop request in this process (None: none)."""
    return _state["signum"]


def request(signum: int = signal.SIGINT) -> None:
    """Record a stop request (the first one wins) and arm the hard fallback inside a solver run."""
    with _lock:
        if _state["signum"] is None:
            _state["signum"] = signum
        if _state["depth"] > 0 and _state["timer"] is None:
            timer = threading.Timer(HARD_AFTER, _raise_in_main)
            timer.daemon = True
            _state["timer"] = timer
            timer.start()


def clear() -> None:
    """Forget a stop request (a new, independent run starts)."""
    with _lock:
        _state["signum"] = None
        _state["hard"] = False
        if _state["timer"] is not None:
            _state["timer"].cancel()
            _state["timer"] = None


def exit_code() -> int:
    """128 + the signal number (130 SIGINT, 143 SIGTERM); 130 when none was recorded."""
    return 128 + int(_state["signum"] or signal.SIGINT)


def name() -> str:
    """The name of the recorded signal (SIGINT when none)."""
    return signal.Signals(_state["signum"] or signal.SIGINT).name


def _raise_in_main() -> None:
    _state["hard"] = True
    _thread.interrupt_main(signal.SIGINT)


def _handler(signum: int, frame: Any) -> None:
    first = _state["signum"] is None
    soft = _state["depth"] > 0 and not _state["hard"] and first
    request(signum)
    if not soft:
        raise Interrupted(_state["signum"])


def install() -> None:
    """Handle SIGINT and SIGTERM as described in the module docstring (main thread only)."""
    clear()
    signal.signal(signal.SIGINT, _handler)
    signal.signal(signal.SIGTERM, _handler)
    _state["installed"] = True


@contextlib.contextmanager
def solver_run() -> Iterator[None]:
    """A region where a signal only requests a stop (see the module docstring); nests.

    Without :func:`install` (library use), the outermost region starts by forgetting an
    earlier request, so one Ctrl-C in an interactive session does not stop later runs;
    the CLI never forgets one: after a signal, everything stops.
    """
    if _state["depth"] == 0 and not _state["installed"]:
        clear()
    with _lock:
        _state["depth"] += 1
    try:
        yield
    finally:
        with _lock:
            _state["depth"] -= 1
            if _state["depth"] == 0 and _state["timer"] is not None:
                _state["timer"].cancel()
                _state["timer"] = None


def run_stoppable(
    target: Callable[[], T],
    stop: Callable[[], None],
    *,
    deadline: float | None = None,
    grace: float = 0.5,
) -> T:
    """Run ``target()`` in a worker thread and return its result, calling ``stop()`` when it must end.

    ``stop`` is called once, when a stop is requested (a signal, or a KeyboardInterrupt
    reaching this waiting thread) or ``grace`` seconds after ``deadline`` (a
    :func:`time.monotonic` value), for back ends whose own time limit does not hold. The
    main thread keeps waiting for ``target`` to return after ``stop`` (it should within
    milliseconds); a second interrupt is raised. Exceptions of ``target`` are re-raised here.
    """
    box: dict[str, Any] = {}

    def work() -> None:
        try:
            box["value"] = target()
        except BaseException as err:  # handed to the waiting thread
            box["error"] = err

    worker = threading.Thread(target=work, name="mapopt-solver", daemon=True)
    worker.start()
    stopped = False
    while worker.is_alive():
        try:
            worker.join(POLL_S)
        except KeyboardInterrupt as err:
            if stopped:
                raise
            request(getattr(err, "signum", signal.SIGINT))
        late = deadline is not None and time.monotonic() > deadline + grace
        if not stopped and (requested() is not None or late):
            stop()
            stopped = True
    if "error" in box:
        raise box["error"]
    return box["value"]
