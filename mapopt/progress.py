"""Live progress of long runs on stderr: the stage, the solver's incumbent and bound, the time.

The pipeline and the solver template report to :func:`current` (a no-op unless a command
opened :func:`live`): :meth:`Reporter.stage` names what is happening ("[2/4] chain:2@paper:
decomposing"), :meth:`Reporter.solving` starts a solver's clock (and its time limit), and
:meth:`Reporter.incumbent` is fed by :meth:`mapopt.solver.SolveContext.record` with every
anytime point. :func:`live` shows them as one line redrawn four times a second with rich
(``rich.live.Live``), removed when the block ends so that logs and results stay clean; it
shows nothing with ``--quiet`` or when stderr is not a terminal (pipes, CI, tests).
Updates may come from a back end's callback thread: they only assign fields, and the line
is drawn by rich's refresh thread.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

from rich.console import Console
from rich.live import Live
from rich.text import Text


class Reporter:
    """Where progress goes; this base class discards it (no terminal, ``--quiet``, library use)."""

    def stage(self, text: str) -> None:
        """What the run is doing now (replaces the previous stage)."""

    def solving(self, solver: str, time_limit: float | None) -> None:
        """A solver run starts (its incumbent and bound are reset)."""

    def incumbent(self, incumbent: float | None, bound: float | None) -> None:
        """The solver's best objective so far and its best proven bound (either may be None)."""


class LiveReporter(Reporter):
    """Keeps the latest stage, solver, incumbent and bound; rendered by rich on each refresh."""

    def __init__(self) -> None:
        self._stage = ""
        self._solver: str | None = None
        self._limit: float | None = None
        self._start = time.monotonic()
        self._incumbent: float | None = None
        self._bound: float | None = None

    def stage(self, text: str) -> None:
        self._stage = text
        self._solver = None

    def solving(self, solver: str, time_limit: float | None) -> None:
        self._solver, self._limit, self._start = solver, time_limit, time.monotonic()
        self._incumbent = self._bound = None

    def incumbent(self, incumbent: float | None, bound: float | None) -> None:
        if incumbent is not None:
            self._incumbent = incumbent
        if bound is not None:
            self._bound = bound

    def __rich__(self) -> Text:
        parts = [self._stage]
        if self._solver is not None:
            elapsed = time.monotonic() - self._start
            clock = f"{elapsed:.1f} s" + ("" if self._limit is None else f" of {self._limit:g} s")
            parts.append(f"{self._solver} {clock}")
            if self._incumbent is not None:
                parts.append(f"incumbent {self._incumbent:.6g}")
            if self._bound is not None:
                parts.append(f"bound {self._bound:.6g}")
            if self._incumbent and self._bound is not None:
                parts.append(f"gap {max(0.0, (self._incumbent - self._bound) / abs(self._incumbent)):.1%}")
        return Text(" | ".join(p for p in parts if p), no_wrap=True, overflow="ellipsis")


_current: list[Reporter] = [Reporter()]


def current() -> Reporter:
    """The reporter of the running command (a no-op one outside :func:`live`)."""
    return _current[-1]


@contextlib.contextmanager
def live(console: Console, *, enabled: bool = True) -> Iterator[Reporter]:
    """Show progress on ``console`` (stderr) for the block, when enabled and it is a terminal."""
    if not (enabled and console.is_terminal):
        yield current()
        return
    reporter = LiveReporter()
    _current.append(reporter)
    try:
        with Live(reporter, console=console, refresh_per_second=4, transient=True,
                  redirect_stdout=False, redirect_stderr=False):  # fmt: skip
            yield reporter
    finally:
        _current.pop()
