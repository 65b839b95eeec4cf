"""The bake-off progress bar on stderr (rich): done / running / failed and an ETA.

Shown only when stderr is a terminal and ``--quiet`` is not given; otherwise each finished
failure is still logged as one line, and a summary line is printed at the end.
"""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

#: Statuses that count as failed runs (a timeout or an infeasible instance is a result, not a failure).
FAILED = ("error", "crashed", "hung", "out-of-memory")


class StudyProgress:
    """Counts of a running study, drawn as a rich progress bar when ``live``.

    ``running`` names the in-flight count: ``running`` for the local pool, ``in flight`` on
    Dask, where a submitted run may still be queued at the scheduler.
    """

    def __init__(self, console: Console, total: int, *, live: bool, label: str = "runs", running: str = "running"):
        self.console = console
        self.total = total
        self.done = self.running = self.failed = 0
        self.live = live
        self._progress: Progress | None = None
        if live:
            self._progress = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn(running + " {task.fields[running]}  failed {task.fields[failed]}"),
                TimeElapsedColumn(),
                TextColumn("ETA"),
                TimeRemainingColumn(),
                console=console,
                transient=False,
            )
            self._task = self._progress.add_task(label, total=total, running=0, failed=0)

    def __enter__(self) -> StudyProgress:
        if self._progress:
            self._progress.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._progress:
            self._progress.stop()

    def _refresh(self) -> None:
        if self._progress:
            self._progress.update(self._task, completed=self.done, running=self.running, failed=self.failed)

    def started(self) -> None:
        self.running += 1
        self._refresh()

    def finished(self, status: str, what: str, error: str | None) -> None:
        self.done += 1
        self.running = max(0, self.running - 1)
        if status in FAILED:
            self.failed += 1
            line = f"{what}: {status}" + (f": {error}" if error else "")
            if self._progress:
                self._progress.console.print(line, markup=False, highlight=False, soft_wrap=True)
            else:
                self.console.print(line, markup=False, highlight=False, soft_wrap=True)
        self._refresh()
