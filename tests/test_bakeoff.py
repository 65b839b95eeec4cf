"""Bake-off studies end to end: the real CLI, a real SQLite store, real process kills, a real Dask LocalCluster.

Instances are tiny (planted nets on the ``toy`` preset), so each run takes well under a
second; the slow parts are process start-up and the cluster.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import MAPOPT

from mapopt.studies.store import Store

ENV = {**os.environ, "COLUMNS": "200"}


def write_study(path: Path, body: str) -> Path:
    path.write_text(body)
    return path


def children(pid: int) -> set[int]:
    """Every descendant of ``pid`` (from /proc)."""
    parent: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            parent[int(entry.name)] = int(fields[1])
    out: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {p for p, pp in parent.items() if pp in frontier} - out
        out |= frontier
    return out


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def wait_for_rows(store: Path, n: int, proc: subprocess.Popen, timeout: float = 120) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the study ended before it could be interrupted"
        if store.exists():
            try:
                with sqlite3.connect(store) as db:
                    count = db.execute("SELECT count(*) FROM runs").fetchone()[0]
            except sqlite3.OperationalError:  # tables not created yet
                count = 0
            if count >= n:
                return count
        time.sleep(0.05)
    raise TimeoutError(f"fewer than {n} rows after {timeout} s")


STUDY = """
name = "resume"
store = "resume.db"
hw = "toy"
mesh = "auto"
decompose = "none"
seeds = 2
jobs = 2
time_limit = 20
solvers = ["anneal:moves=20000", "pso:iterations=30", "greedy"]
instances = ["planted-toy-2", "planted-toy-3", "planted-toy-6", "planted-toy-8"]
"""
EXPECTED = {
    (inst, solver, seed)
    for inst in ("planted-toy-2", "planted-toy-3", "planted-toy-6", "planted-toy-8")
    for solver in ("anneal:moves=20000", "pso:iterations=30", "greedy")
    for seed in (0, 1)
}


def test_kill_9_of_the_driver_then_resume_gives_exactly_the_cross_product(tmp_path: Path, cli) -> None:
    study = write_study(tmp_path / "resume.toml", STUDY)
    store = tmp_path / "resume.db"
    proc = subprocess.Popen([MAPOPT, "bakeoff", str(study), "--quiet"], env=ENV, stdout=subprocess.PIPE)
    try:
        before = wait_for_rows(store, 4, proc)
        runs = children(proc.pid)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
    assert before < len(EXPECTED)
    deadline = time.monotonic() + 10
    while any(alive(p) for p in runs) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [p for p in runs if alive(p)], "run processes outlived the killed driver"
    with Store(store, create=False) as s:
        stored = s.count()
    assert stored < len(EXPECTED)
    resumed = cli("bakeoff", study, "--quiet", "--json")
    assert resumed.code == 0, resumed.stderr
    summary = resumed.json()
    assert summary["runs"] == len(EXPECTED)
    assert summary["stored_before"] == stored
    assert summary["ran"] == len(EXPECTED) - stored
    with Store(store, create=False) as s:
        rows = s.rows()
    assert len(rows) == len(EXPECTED)
    assert {(r["instance"], r["label"], r["seed"]) for r in rows} == EXPECTED
    assert len({r["key"] for r in rows}) == len(rows)
    assert all(r["status"] == "feasible" for r in rows), [(r["label"], r["status"], r["error"]) for r in rows]
    again = cli("bakeoff", study, "--quiet", "--json")
    assert again.json()["ran"] == 0


def test_a_run_process_killed_mid_run_is_recorded_and_the_study_goes_on(tmp_path: Path) -> None:
    store = tmp_path / "crash.db"
    args = [MAPOPT, "bakeoff", "--solvers", "anneal:moves=1000000000,greedy", "--instances", "planted-toy-3"]
    args += ["--hw", "toy", "--mesh", "auto", "--decompose", "none", "--time-limit", "60", "--store", str(store)]
    proc = subprocess.Popen([*args, "--quiet", "--json"], env=ENV, stdout=subprocess.PIPE, text=True)
    try:
        victim = None
        deadline = time.monotonic() + 60
        while victim is None and time.monotonic() < deadline:
            # the forkserver is the driver's child; the run is the forkserver's child
            for pid in children(proc.pid):
                if children(pid) == set() and Path(f"/proc/{pid}/stat").exists() and _parent(pid) != proc.pid:
                    victim = pid
            time.sleep(0.1)
        assert victim is not None, "no run process appeared"
        time.sleep(0.5)
        os.kill(victim, signal.SIGKILL)
        out, _ = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0
    assert json.loads(out)["statuses"] == {"crashed": 1, "feasible": 1}
    with Store(store, create=False) as s:
        rows = {r["label"]: r for r in s.rows()}
    assert rows["anneal:moves=1000000000"]["status"] == "crashed"
    assert "SIGKILL" in rows["anneal:moves=1000000000"]["error"]
    assert rows["greedy"]["status"] == "feasible"


def _parent(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def test_hung_and_out_of_memory_runs_are_recorded_with_their_status(tmp_path: Path, cli) -> None:
    hung = write_study(
        tmp_path / "hung.toml",
        'hw = "toy"\nmesh = "auto"\ndecompose = "none"\nrun_timeout = 1.5\n'
        'solvers = ["anneal:moves=1000000000", "greedy"]\ninstances = ["planted-toy-2"]\n',
    )
    result = cli("bakeoff", hung, "--quiet", "--json")
    assert result.code == 0, result.stderr
    assert result.json()["statuses"] == {"hung": 1, "feasible": 1}
    with Store(tmp_path / "hung.db", create=False) as s:
        (row,) = (r for r in s.rows() if r["status"] == "hung")
    assert "killed" in row["error"] and row["run_s"] >= 1.5
    store = tmp_path / "oom.db"
    result = cli(
        "bakeoff", "--solvers", "anneal:moves=1000000000", "--instances", "planted-toy-2", "--hw", "toy",
        "--mesh", "auto", "--time-limit", "30", "--store", store, "--memory-limit", "1", "--quiet", "--json",
    )  # fmt: skip
    assert result.code == 0, result.stderr
    assert result.json()["statuses"] == {"out-of-memory": 1}
    with Store(store, create=False) as s:
        (row,) = s.rows()
    assert "over the limit of 1 MB" in row["error"]


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ("solvers = [greedy\n", "not a valid TOML study file"),
        ('solvers = "greedy"\ninstances = "tiny"\ntime_limt = 3\n', "unknown key(s) time_limt"),
        ('solvers = "gredy"\ninstances = "tiny"\n', "unknown solver 'gredy'"),
        ('solvers = "pso:particle=3"\ninstances = "tiny"\n', "solver 'pso' has no parameter 'particle'"),
        ('solvers = "pso:particles=2.5"\ninstances = "tiny"\n', "parameter 'particles' must be int"),
        ('solvers = "pso@nope"\ninstances = "tiny"\n', "no named variant pso@nope"),
        ('solvers = "greedy"\ninstances = "tiyn"\n', "unknown instance 'tiyn'"),
        ('solvers = "greedy"\ninstances = "tiny"\nhw = "nohw"\n', "nohw"),
        ('solvers = "greedy"\ninstances = "tiny"\nseeds = 0\n', "'seeds' must be at least 1"),
        ('solvers = "greedy"\ninstances = "tiny"\ndecompose = "chain:1"\n', "decompose 'chain:1' on dynapse-paper"),
        ('solvers = "greedy,greedy:pool=512"\ninstances = "tiny"\n', "are the same configuration"),
    ],
)
def test_a_bad_study_file_fails_before_anything_runs(tmp_path: Path, cli, body: str, needle: str) -> None:
    study = write_study(tmp_path / "bad.toml", body)
    result = cli("bakeoff", study)
    assert result.code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mapopt: error:"), result.stderr
    assert needle in lines[0]
    assert not (tmp_path / "bad.db").exists()


def test_an_unknown_solver_on_the_command_line_fails_before_anything_runs(tmp_path: Path, cli) -> None:
    store = tmp_path / "s.db"
    result = cli("bakeoff", "--solvers", "greedy,nosuch", "--instances", "tiny", "--store", store)
    assert result.code == 2
    assert result.stderr.strip().count("\n") == 0 and "unknown solver 'nosuch'" in result.stderr
    assert not store.exists()


def test_variants_with_commas_named_variants_and_params_files(tmp_path: Path, cli) -> None:
    (tmp_path / "wide.toml").write_text('solver = "pso"\n[params]\nparticles = 3\niterations = 2\n')
    study = write_study(
        tmp_path / "v.toml",
        'hw = "toy"\nmesh = "auto"\ndecompose = "none"\n'
        '[variants]\n"pso@wide" = "wide.toml"\n"pso@tiny" = { particles = 2, iterations = 1 }\n'
        '[[runs]]\nsolvers = "pso:particles=4,iterations=3,pso@wide,pso@tiny,pso:params=wide.toml,place_iterations=5"\n'
        'instances = "planted-toy-2"\n',
    )
    result = cli("bakeoff", study, "--quiet", "--json")
    assert result.code == 0, result.stderr
    with Store(tmp_path / "v.db", create=False) as s:
        params = {r["label"]: r["params"] for r in s.rows()}
    assert params["pso:particles=4,iterations=3"]["particles"] == 4
    assert params["pso@wide"]["particles"] == 3 and params["pso@wide"]["iterations"] == 2
    assert params["pso@tiny"]["iterations"] == 1
    assert params["pso:params=wide.toml,place_iterations=5"]["place_iterations"] == 5
    assert set(params["pso@wide"]) == set(params["pso@tiny"])  # every hyperparameter, defaults filled in


def test_export_csv_and_parquet_one_tidy_row_per_run(tmp_path: Path, cli) -> None:
    store = tmp_path / "e.db"
    run = cli(
        "bakeoff", "--solvers", "greedy,layered", "--instances", "planted-toy-2,planted-toy-3", "--hw", "toy",
        "--mesh", "auto", "--seeds", "2", "--store", store, "--quiet", "--export", tmp_path / "r.csv",
    )  # fmt: skip
    assert run.code == 0, run.stderr
    import csv

    with open(tmp_path / "r.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 8
    for column in ("key", "instance_hash", "label", "seed", "status", "crossbars", "hop_spikes", "gap", "versions"):
        assert column in rows[0]
    assert {r["crossbars"] for r in rows if r["instance"] == "planted-toy-3"} == {"3"}
    exported = cli("bakeoff", "--store", store, "--export", tmp_path / "r.parquet")
    assert exported.code == 0, exported.stderr
    import pyarrow.parquet as pq

    table = pq.read_table(tmp_path / "r.parquet")
    assert table.num_rows == 8 and "energy_total_j" in table.column_names
    bad = cli("bakeoff", "--store", store, "--export", tmp_path / "r.xlsx")
    assert bad.code == 2 and "export to .csv or .parquet" in bad.stderr


DETERMINISTIC = """
name = "same"
hw = "toy"
mesh = "auto"
decompose = "auto"
seeds = 2
solvers = ["greedy", "paper", "anneal:moves=3000", "pso:iterations=5"]
instances = ["planted-toy-6", "mlp-16-8-4"]
"""
#: Fields that depend on when, where and how fast a run went, not on what it computed.
CIRCUMSTANTIAL = {"wall_s", "run_s", "peak_mb", "host", "worker", "started_at", "ended_at", "history", "info"}


@pytest.fixture(scope="module")
def dask_and_local(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The same deterministic study through the local pool and through a real Dask LocalCluster.

    Workers are started non-daemonic (as docs/bakeoff.md says to start ``dask worker``), so
    their runs are forked from a preloaded forkserver like the local pool's.
    """
    import dask
    from distributed import LocalCluster

    folder = tmp_path_factory.mktemp("dask")
    study = write_study(folder / "same.toml", DETERMINISTIC)
    local = subprocess.run(
        [MAPOPT, "bakeoff", study, "--store", folder / "local.db", "--jobs", "2", "--quiet"], env=ENV, check=False
    )
    assert local.returncode == 0
    config = dask.config.set({"distributed.worker.daemon": False})
    with config, LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        remote = subprocess.run(
            [MAPOPT, "bakeoff", study, "--store", folder / "dask.db", "--scheduler", cluster.scheduler_address],
            env=ENV,
            check=False,
            capture_output=True,
            text=True,
        )
    assert remote.returncode == 0, remote.stderr
    return folder / "local.db", folder / "dask.db"


def test_dask_localcluster_and_local_pool_give_identical_rows(dask_and_local: tuple[Path, Path]) -> None:
    local_db, dask_db = dask_and_local
    with Store(local_db, create=False) as a, Store(dask_db, create=False) as b:
        local = {r["key"]: r for r in a.rows()}
        remote = {r["key"]: r for r in b.rows()}
    assert len(local) == 4 * 2 * 2
    assert local.keys() == remote.keys()
    assert {r["worker"] for r in remote.values()} - {"dask"} and all(
        r["worker"].startswith("tcp://") for r in remote.values()
    )
    for key, row in local.items():
        other = remote[key]
        assert row["status"] in ("feasible", "optimal"), row["error"]
        same = {k: v for k, v in row.items() if k not in CIRCUMSTANTIAL}
        assert same == {k: v for k, v in other.items() if k not in CIRCUMSTANTIAL}, key
        assert [p[1:] for p in row["history"]] == [p[1:] for p in other["history"]]


def test_report_from_a_stored_study_opens_in_headless_chromium(dask_and_local: tuple[Path, Path], cli) -> None:
    from chromium import Chromium, executable
    from matplotlib.image import imread

    if executable() is None:
        pytest.fail("headless Chromium is needed: apt-get install -y chromium")
    store = dask_and_local[0]
    out = store.parent / "report"
    result = cli("report", store, "--out", out)
    assert result.code == 0, result.stderr
    md = (out / "report.md").read_text()
    assert "## Tier tiny" in md and "| instance | synapses | best known | bound |" in md
    for label in ("greedy", "anneal:moves=3000", "pso:iterations=5"):
        assert label in md
    pngs = sorted(p.name for p in (out / "figures").glob("*.png"))
    assert {"profiles.png", "scaling.png", "anytime-tiny.png"} <= set(pngs)
    with Chromium() as browser:
        browser.open((out / "report.html").resolve().as_uri())
        images = browser.evaluate(
            "Array.from(document.images).map(i => [i.getAttribute('src'), i.complete, i.naturalWidth, i.naturalHeight])"
        )
        tables = browser.evaluate("document.querySelectorAll('table').length")
    assert sorted(Path(src).name for src, *_ in images) == pngs
    for src, complete, width, height in images:
        assert complete and width > 300 and height > 200, src
        pixels = imread(out / src)
        assert float(np.std(pixels[..., :3])) > 0.01, f"{src} is blank"
    assert tables >= 3
    again = cli("report", store, "--out", out)  # an existing report folder is replaced as a whole
    assert again.code == 0 and not list(out.parent.glob(".report.*"))


def test_report_of_a_missing_or_empty_store_is_one_line(tmp_path: Path, cli) -> None:
    missing = cli("report", tmp_path / "none.db", "--out", tmp_path / "r")
    assert missing.code == 2 and "no such results store" in missing.stderr
    Store(tmp_path / "empty.db").close()
    empty = cli("report", tmp_path / "empty.db", "--out", tmp_path / "r")
    assert empty.code == 2 and "holds no runs" in empty.stderr
    assert not (tmp_path / "r").exists()


def _isolated_from_a_daemon(queue: object) -> None:
    from mapopt.hardware import customise, load_preset
    from mapopt.io import resolve_net
    from mapopt.studies.isolation import can_fork_children, run_isolated

    hw = customise(load_preset("toy"), mesh="auto")
    task = {
        "key": "k", "instance": "planted-toy-3", "tier": "tiny", "hardware": hw.to_dict(), "decomposition": "none",
        "instance_hash": resolve_net("planted-toy-3").content_hash(), "objective": "crossbars-hops",
        "traffic": "upper", "solver": "greedy", "label": "greedy", "params": {}, "seed": 0, "time_limit": None,
        "threads": 1,
    }  # fmt: skip
    queue.put((can_fork_children(), run_isolated(task, memory_mb=2048, kill_after_s=60)))  # type: ignore[attr-defined]


def test_a_daemonic_worker_runs_each_task_as_a_fresh_interpreter() -> None:
    """Where multiprocessing may not fork (a daemonic Dask worker), runs start as python -m mapopt.studies.child."""
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_isolated_from_a_daemon, args=(queue,), daemon=True)
    proc.start()
    could_fork, row = queue.get(timeout=120)
    proc.join(timeout=30)
    assert could_fork is False
    assert row["status"] == "feasible" and row["objective"] == 3.0
    assert row["metrics"]["crossbars"] == 3
