"""``mapopt tune`` on a real SQLite Optuna storage: killed and resumed, two processes on one study,
best parameters round-tripped into ``--params``, bad params files rejected."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import optuna
import pytest
from conftest import MAPOPT
from matplotlib.image import imread

from mapopt.studies.store import Store

ENV = {**os.environ, "COLUMNS": "200"}
#: A cheap study: paper's packer on two planted nets, one seed; each trial is two runs of milliseconds.
TUNE = ["tune", "--solver", "paper", "--instances", "planted-toy-6,planted-toy-8", "--hw", "toy", "--mesh", "auto"]
TUNE += ["--decompose", "none", "--seeds", "1", "--time-limit", "20"]
#: The same with pso (seven parameters) for the round trip.
TUNE_PSO = [*TUNE[:2], "pso", *TUNE[3:]]

FINISHED = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)


def trials(url: str, name: str = "paper-tune") -> list[optuna.trial.FrozenTrial]:
    return optuna.load_study(study_name=name, storage=url).get_trials(deepcopy=False)


def finished(url: str) -> int:
    return sum(t.state in FINISHED for t in trials(url))


def test_a_killed_study_resumes_and_continues_its_trial_count(tmp_path: Path, cli) -> None:
    url = f"sqlite:///{tmp_path / 'tune.db'}"
    args = [MAPOPT, *TUNE, "--storage", url, "--trials", "20", "--quiet"]
    proc = subprocess.Popen(args, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            if (tmp_path / "tune.db").exists():
                try:
                    if finished(url) >= 3:
                        break
                except Exception:  # the study or its tables are not created yet
                    pass
            assert proc.poll() is None, "the study ended before it could be killed"
            time.sleep(0.1)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
    before = trials(url)
    done_before = sum(t.state in FINISHED for t in before)
    assert 3 <= done_before < 20
    resumed = cli(*TUNE, "--storage", url, "--trials", "20", "--quiet", "--json")
    assert resumed.code == 0, resumed.stderr
    after = trials(url)
    assert sum(t.state in FINISHED for t in after) == 20
    assert [t.number for t in after] == list(range(len(after)))  # numbers continue, none repeated
    assert {t.number: t.state for t in before if t.state in FINISHED}.items() <= {
        t.number: t.state for t in after
    }.items()  # finished trials are kept as they were
    assert not [t for t in after if t.state == optuna.trial.TrialState.RUNNING]
    assert resumed.json()["trials_run_here"] == 20 - done_before


def test_two_processes_on_one_storage_finish_n_trials_in_all(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    args = [MAPOPT, *TUNE, "--storage", url, "--trials", "24", "--quiet", "--json"]
    first = subprocess.Popen(args, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    second = subprocess.Popen(args, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    outs = [p.communicate(timeout=600) for p in (first, second)]
    assert first.returncode == 0 and second.returncode == 0, [o[1] for o in outs]
    ran = [json.loads(o[0])["trials_run_here"] for o in outs]
    all_trials = trials(url)
    assert sum(t.state in FINISHED for t in all_trials) == 24
    assert sum(ran) == 24
    assert len({t.number for t in all_trials}) == len(all_trials)
    pids = {t.user_attrs["pid"] for t in all_trials if t.state in FINISHED}
    assert len(pids) == 2, "both processes ran trials"


def test_best_params_round_trip_into_params_and_variants(tmp_path: Path, cli) -> None:
    url = f"sqlite:///{tmp_path / 'rt.db'}"
    out = tmp_path / "tuned"
    result = cli(*TUNE_PSO, "--storage", url, "--trials", "4", "--holdout", "planted-toy-3", "--out", out, "--quiet")
    assert result.code == 0, result.stderr
    for name in (
        "best-params.toml",
        "history.png",
        "importance.png",
        "holdout.md",
        "holdout.json",
        "report/report.html",
    ):
        assert (out / name).is_file(), name
    for png in ("history.png", "importance.png"):
        assert float(np.std(imread(out / png)[..., :3])) > 0.01
    best = json.loads((out / "holdout.json").read_text())["params"]
    assert "pso@tuned" in (out / "holdout.md").read_text()
    solved = cli(
        "solve",
        "--net",
        "planted-toy-3",
        "--hw",
        "toy",
        "--solver",
        "pso",
        "--params",
        out / "best-params.toml",
        "--json",
    )
    assert solved.code == 0, solved.stderr
    assert {k: solved.json()["params"][k] for k in best} == best
    ran = cli(
        "run", "--net", "planted-toy-3", "--hw", "toy", "--decompose", "none@pso", "--params", out / "best-params.toml",
        "--json",
    )  # fmt: skip
    assert ran.code == 0, ran.stderr
    assert {k: ran.json()["results"][0]["params"][k] for k in best} == best
    store = tmp_path / "b.db"
    baked = cli(
        "bakeoff", "--solvers", f"greedy,pso:params={out / 'best-params.toml'}", "--instances", "planted-toy-3",
        "--hw", "toy", "--mesh", "auto", "--store", store, "--quiet",
    )  # fmt: skip
    assert baked.code == 0, baked.stderr
    with Store(store, create=False) as s:
        rows = {r["label"]: r for r in s.rows()}
    assert {k: rows[f"pso:params={out / 'best-params.toml'}"]["params"][k] for k in best} == best
    also = cli(
        "bakeoff", "--solvers", "pso", "--params", out / "best-params.toml", "--instances", "planted-toy-3",
        "--hw", "toy", "--mesh", "auto", "--store", tmp_path / "c.db", "--quiet",
    )  # fmt: skip
    assert also.code == 0, also.stderr
    with Store(tmp_path / "c.db", create=False) as s:
        (row,) = s.rows()
    assert {k: row["params"][k] for k in best} == best


@pytest.mark.parametrize("command", ["run", "solve", "bakeoff"])
def test_an_unknown_parameter_in_a_params_file_fails_with_one_line(tmp_path: Path, cli, command: str) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('solver = "pso"\n[params]\nparticles = 4\nparticels = 5\n')
    args = {
        "run": ["run", "--net", "planted-toy-3", "--hw", "toy", "--decompose", "none@pso", "--params", bad],
        "solve": ["solve", "--net", "planted-toy-3", "--hw", "toy", "--solver", "pso", "--params", bad],
        "bakeoff": [
            "bakeoff",
            "--solvers",
            "pso",
            "--instances",
            "planted-toy-3",
            "--params",
            bad,
            "--store",
            tmp_path / "s.db",
        ],
    }[command]
    result = cli(*args)
    assert result.code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "particels" in lines[0] and str(bad) in lines[0], result.stderr
    assert not (tmp_path / "s.db").exists()


def test_tune_rejects_bad_input_before_running(tmp_path: Path, cli) -> None:
    url = f"sqlite:///{tmp_path / 'x.db'}"
    cases = [
        (["--solver", "nosuch"], "unknown solver 'nosuch'"),
        (["--storage", "tune.db"], "expected a database URL"),
        (["--holdout", "planted-toy-6"], "both in training and held out"),
        (["--storage", f"sqlite:///{tmp_path / 'no' / 'x.db'}"], "does not exist"),
    ]
    for extra, needle in cases:
        args = [*TUNE, "--storage", url, "--trials", "2", *extra]
        result = cli(*args)
        assert result.code == 2 and needle in result.stderr, (extra, result.stderr)
        assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "x.db").exists()
