"""The bake-off results store: one SQLite file, append-only and idempotent.

Table ``runs`` holds one row per run key (:mod:`mapopt.studies.tasks`); rows are only
ever inserted (``INSERT OR IGNORE``), never updated or deleted, so a rerun of a study
after Ctrl-C, a ``kill -9`` of the driver or a crashed worker adds exactly the rows that
are missing. Each row is written in its own transaction as its run ends, in WAL mode, so
a kill loses at most the runs still in flight and never leaves half a row. Table
``study_runs`` says which runs belong to which study (a run shared by two studies of one
store is stored once); ``studies`` keeps each study's definition as it was last run.

Scalar fields have their own columns (so ``sqlite3 STORE 'select solver, avg(gap) ...'``
works); metrics, parameters, history, info and versions are JSON text columns. Only the
driver writes (Dask workers return rows to it), so there is a single writer per study.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable, Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

from mapopt.errors import InputError

#: Column name -> SQLite type, in the order of a row. ``key`` is the run key.
COLUMNS: dict[str, str] = {
    "key": "TEXT PRIMARY KEY",
    "study": "TEXT",
    "instance": "TEXT",
    "instance_name": "TEXT",
    "tier": "TEXT",
    "instance_hash": "TEXT",
    "neurons": "INTEGER",
    "synapses": "INTEGER",
    "max_fanin": "INTEGER",
    "units": "INTEGER",
    "hardware": "TEXT",
    "hardware_spec": "TEXT",
    "decomposition": "TEXT",
    "objective_name": "TEXT",
    "traffic": "TEXT",
    "solver": "TEXT",
    "label": "TEXT",
    "params": "TEXT",
    "seed": "INTEGER",
    "time_limit": "REAL",
    "threads": "INTEGER",
    "memory_limit_mb": "INTEGER",
    "status": "TEXT",
    "objective": "REAL",
    "objective_key": "TEXT",
    "bound": "REAL",
    "gap": "REAL",
    "metrics": "TEXT",
    "history": "TEXT",
    "work": "TEXT",
    "info": "TEXT",
    "wall_s": "REAL",
    "run_s": "REAL",
    "peak_mb": "REAL",
    "versions": "TEXT",
    "host": "TEXT",
    "worker": "TEXT",
    "started_at": "TEXT",
    "ended_at": "TEXT",
    "error": "TEXT",
}
#: Columns stored as JSON text.
JSON_COLUMNS = ("hardware_spec", "params", "objective_key", "metrics", "history", "work", "info", "versions")
SCHEMA_VERSION = 1
#: Seconds a process waits for another one holding the store (SQLite busy timeout).
BUSY_TIMEOUT_S = 60


class Store:
    """A results store at ``path`` (created on first use)."""

    def __init__(self, path: Path | str, *, create: bool = True):
        self.path = Path(path)
        if not create and not self.path.is_file():
            raise InputError("no such results store", source=str(self.path))
        if self.path.is_dir():
            raise InputError("is a folder, not a results store file", source=str(self.path))
        if not self.path.parent.is_dir():
            raise InputError(f"folder {self.path.parent} does not exist", source=str(self.path))
        try:
            self.db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
            self._wal()
            self.db.execute("PRAGMA synchronous=NORMAL")
            self._create()
        except sqlite3.DatabaseError as err:
            raise InputError(f"not a mapopt results store: {err}", source=str(self.path)) from None

    def _wal(self) -> None:
        """Switch to WAL, waiting while another process creates the same new store.

        Changing the journal mode needs the file to itself, and SQLite reports "database is
        locked" at once instead of calling its busy handler, so two processes opening a new
        store together (two ``mapopt tune`` workers) retry here, as long as the busy timeout.
        """
        deadline = time.monotonic() + BUSY_TIMEOUT_S
        while True:
            try:
                self.db.execute("PRAGMA journal_mode=WAL")
                return
            except sqlite3.OperationalError as err:
                if "locked" not in str(err) or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def _create(self) -> None:
        cols = ", ".join(f"{name} {kind}" for name, kind in COLUMNS.items())
        with self.db:
            self.db.execute(f"CREATE TABLE IF NOT EXISTS runs ({cols})")
            self.db.execute("CREATE TABLE IF NOT EXISTS study_runs (study TEXT, key TEXT, PRIMARY KEY (study, key))")
            self.db.execute("CREATE TABLE IF NOT EXISTS studies (name TEXT PRIMARY KEY, definition TEXT, updated TEXT)")
            self.db.execute("CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT)")
            self.db.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
        have = {row[1] for row in self.db.execute("PRAGMA table_info(runs)")}
        missing = set(COLUMNS) - have
        if missing:
            raise InputError(
                f"results store lacks column(s) {', '.join(sorted(missing))}: written by another mapopt version",
                source=str(self.path),
            )

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ writing
    def register_study(self, name: str, definition: dict[str, Any], keys: Iterable[str], updated: str) -> None:
        """Record the study's definition and which run keys belong to it (idempotent)."""
        with self.db:
            self.db.execute(
                "INSERT OR REPLACE INTO studies VALUES (?, ?, ?)", (name, json.dumps(definition, default=str), updated)
            )
            self.db.executemany("INSERT OR IGNORE INTO study_runs VALUES (?, ?)", ((name, k) for k in keys))

    def add(self, row: dict[str, Any]) -> bool:
        """Insert ``row`` unless its key is stored already; True if it was inserted."""
        values = [json.dumps(row.get(c), default=str) if c in JSON_COLUMNS else row.get(c) for c in COLUMNS]
        marks = ", ".join("?" * len(COLUMNS))
        with self.db:
            cur = self.db.execute(f"INSERT OR IGNORE INTO runs VALUES ({marks})", values)
        return cur.rowcount == 1

    # ------------------------------------------------------------------ reading
    def keys(self) -> set[str]:
        return {k for (k,) in self.db.execute("SELECT key FROM runs")}

    def keys_among(self, keys: list[str]) -> set[str]:
        """Which of ``keys`` are stored."""
        found: set[str] = set()
        for i in range(0, len(keys), 500):  # SQLite's limit on bound parameters
            chunk = keys[i : i + 500]
            marks = ", ".join("?" * len(chunk))
            found |= {k for (k,) in self.db.execute(f"SELECT key FROM runs WHERE key IN ({marks})", chunk)}
        return found

    def rows_for(self, keys: list[str]) -> list[dict[str, Any]]:
        """The stored rows of ``keys``, in the order of ``keys`` (missing keys are skipped)."""
        cols = ", ".join(COLUMNS)
        by_key: dict[str, dict[str, Any]] = {}
        for i in range(0, len(keys), 500):
            chunk = keys[i : i + 500]
            marks = ", ".join("?" * len(chunk))
            for values in self.db.execute(f"SELECT {cols} FROM runs WHERE key IN ({marks})", chunk):
                row = self._decode(values)
                by_key[row["key"]] = row
        return [by_key[k] for k in keys if k in by_key]

    @staticmethod
    def _decode(values: tuple[Any, ...]) -> dict[str, Any]:
        row = dict(zip(COLUMNS, values, strict=True))
        for c in JSON_COLUMNS:
            if row[c] is not None:
                row[c] = json.loads(row[c])
        return row

    def studies(self) -> list[str]:
        return [n for (n,) in self.db.execute("SELECT name FROM studies ORDER BY name")]

    def count(self, study: str | None = None) -> int:
        if study is None:
            return self.db.execute("SELECT count(*) FROM runs").fetchone()[0]
        return self.db.execute("SELECT count(*) FROM study_runs WHERE study = ?", (study,)).fetchone()[0]

    def rows(self, study: str | None = None) -> list[dict[str, Any]]:
        """Every run (of ``study``, if given), JSON columns decoded, in insertion order."""
        return list(self.iter_rows(study))

    def iter_rows(self, study: str | None = None) -> Iterator[dict[str, Any]]:
        cols = ", ".join(f"r.{c}" for c in COLUMNS)
        if study is None:
            query, args = f"SELECT {cols} FROM runs r ORDER BY r.rowid", ()
        else:
            query = f"SELECT {cols} FROM runs r JOIN study_runs s ON s.key = r.key WHERE s.study = ? ORDER BY r.rowid"
            args = (study,)
        with closing(self.db.execute(query, args)) as cur:
            for values in cur:
                yield self._decode(values)
