"""Bake-off execution benchmark: one study under --jobs 1, --jobs 2 and a two-worker Dask LocalCluster,
and the per-run overhead that the store and the scheduler add.

Usage::

    python benchmarks/bakeoff_timing.py study benchmarks/bakeoff-example.toml --modes jobs1 jobs2 dask2
    python benchmarks/bakeoff_timing.py overhead --runs 200

``study`` runs the whole study once per mode into a fresh store (in a temporary folder)
and prints the wall time, the runs, their summed run-process time and the statuses.

``overhead`` measures what a run costs beyond its own work, on a study of ``--runs``
trivial runs (``paper`` on ``planted-toy-2``, one seed each): with one run at a time,

    overhead per run = (wall time of the study - wall time of the same command once
                        everything is stored - sum of the runs' own time) / runs

i.e. forking the run process, shipping the task and its row, the scheduler's round trip
and the store's insert; the second term removes the fixed start-up (imports, building
instances, registering the study). It also times ``Store.add`` alone. The Dask modes start
a LocalCluster of non-daemonic workers (``distributed.worker.daemon: False``), as
docs/bakeoff.md says to start ``dask worker``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MAPOPT = shutil.which("mapopt", path=str(Path(sys.executable).parent)) or "mapopt"


def run_mode(mode: str, args: list[str], store: Path) -> dict[str, object]:
    """Run ``mapopt bakeoff ARGS --store STORE`` in ``mode`` (jobsN or daskN); wall time and store totals."""
    cmd = [MAPOPT, "bakeoff", *args, "--store", str(store), "--quiet", "--json"]
    if mode.startswith("jobs"):
        cmd += ["--jobs", mode[4:]]
        start = time.perf_counter()
        out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
        wall = time.perf_counter() - start
    else:
        import dask
        from distributed import LocalCluster

        workers = int(mode[4:])
        with (
            dask.config.set({"distributed.worker.daemon": False}),
            LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None) as cluster,
        ):
            start = time.perf_counter()
            out = subprocess.run(
                [*cmd, "--scheduler", cluster.scheduler_address], capture_output=True, text=True, check=True
            ).stdout
            wall = time.perf_counter() - start
    with sqlite3.connect(store) as db:
        runs, run_s = db.execute("SELECT count(*), coalesce(sum(run_s), 0) FROM runs").fetchone()
    return {"mode": mode, "wall_s": wall, "runs": runs, "sum_run_s": run_s, "summary": json.loads(out)}


def study(args: argparse.Namespace) -> list[dict[str, object]]:
    results = []
    for mode in args.modes:
        with tempfile.TemporaryDirectory(prefix="mapopt-bakeoff-") as tmp:
            r = run_mode(mode, [str(args.study)], Path(tmp) / "s.db")
        results.append(r)
        statuses = r["summary"]["statuses"]  # type: ignore[index]
        print(
            f"| {mode} | {r['runs']} | {r['wall_s']:.0f} | {r['sum_run_s']:.0f} | "
            f"{', '.join(f'{n} {s}' for s, n in sorted(statuses.items()))} |",
            flush=True,
        )
    return results


def overhead(args: argparse.Namespace) -> list[dict[str, object]]:
    spec = ["--solvers", "paper", "--instances", "planted-toy-2", "--hw", "toy", "--mesh", "auto"]
    spec += ["--decompose", "none", "--seeds", str(args.runs)]
    results = []
    for mode in ("jobs1", "dask1"):
        with tempfile.TemporaryDirectory(prefix="mapopt-overhead-") as tmp:
            store = Path(tmp) / "o.db"
            full = run_mode(mode, spec, store)
            noop = run_mode(mode, spec, store)
            per_run = (float(full["wall_s"]) - float(noop["wall_s"]) - float(full["sum_run_s"])) / args.runs
            results.append({"mode": mode, "full": full, "noop": noop, "overhead_ms_per_run": 1000 * per_run})
            print(
                f"| {mode} | {args.runs} | {full['wall_s']:.2f} | {noop['wall_s']:.2f} | {full['sum_run_s']:.2f} | "
                f"{1000 * per_run:.1f} |",
                flush=True,
            )
    from mapopt.studies.store import Store

    rows = _sample_rows(args.runs)
    with tempfile.TemporaryDirectory(prefix="mapopt-store-") as tmp, Store(Path(tmp) / "t.db") as s:
        start = time.perf_counter()
        for row in rows:
            s.add(row)
        per_row = (time.perf_counter() - start) / len(rows)
    print(f"Store.add: {1000 * per_row:.2f} ms per row ({len(rows)} rows, one transaction each)")
    results.append({"store_add_ms_per_row": 1000 * per_row})
    return results


def _sample_rows(n: int) -> list[dict[str, object]]:
    """``n`` realistic rows: a real run's fields with distinct keys."""
    from mapopt.hardware import customise, load_preset
    from mapopt.io import resolve_net
    from mapopt.studies.child import execute

    hw = customise(load_preset("toy"), mesh="auto")
    task = {
        "key": "k", "instance": "planted-toy-6", "tier": "tiny", "hardware": hw.to_dict(), "decomposition": "none",
        "instance_hash": resolve_net("planted-toy-6").content_hash(), "objective": "crossbars-hops",
        "traffic": "upper", "solver": "anneal", "label": "anneal", "params": {}, "seed": 0, "time_limit": None,
        "threads": 1,
    }  # fmt: skip
    fields = execute(task)
    return [
        {**fields, **task, "key": f"{i:064x}", "hardware": "toy", "hardware_spec": task["hardware"]} for i in range(n)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="what", required=True)
    p = sub.add_parser("study")
    p.add_argument("study", type=Path)
    p.add_argument("--modes", nargs="+", default=["jobs1", "jobs2", "dask2"])
    p.add_argument("--out", type=Path)
    o = sub.add_parser("overhead")
    o.add_argument("--runs", type=int, default=200)
    o.add_argument("--out", type=Path)
    args = parser.parse_args()
    print(
        f"# {platform.node()} {platform.python_version()} nproc={os.cpu_count()} {time.strftime('%Y-%m-%d %H:%M %Z')}"
    )
    if args.what == "study":
        print("| mode | runs | wall s | sum of run s | statuses |\n|---|---|---|---|---|")
        results = study(args)
    else:
        print("| mode | runs | wall s | wall s, all stored | sum of run s | overhead ms per run |\n" + "|---" * 6 + "|")
        results = overhead(args)
    if args.out:
        args.out.write_text(json.dumps(results, indent=2, default=str))


if __name__ == "__main__":
    main()
