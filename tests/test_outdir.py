"""Output folders and files written as one unit (mapopt/io/outdir.py), on the real file system."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from mapopt.errors import InputError
from mapopt.io.outdir import MARKER, atomic_write, check_output_file, output_dir

LOCK_HOLDER = """
import sys, time
from mapopt.io.outdir import OutputDir
target = OutputDir(sys.argv[1])
with target.staging() as folder:
    (folder / "report.json").write_text("{}")
    print("writing", flush=True)
    time.sleep(600)
"""


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def siblings(path: Path) -> list[str]:
    return sorted(p.name for p in path.parent.glob(f".{path.name}.*"))


def test_folder_appears_whole_with_normal_permissions_and_replaces_an_older_one(tmp_path: Path, umask_022) -> None:
    out = tmp_path / "results"
    with output_dir(out) as target:
        assert target is not None and not out.exists()
        with target.staging() as folder:
            (folder / "a.json").write_text("1")
            assert not out.exists()  # nothing at the target until the block ends
        assert (out / "a.json").read_text() == "1" and (out / MARKER).exists()
    assert stat.S_IMODE(out.stat().st_mode) == 0o755
    assert stat.S_IMODE((out / "a.json").stat().st_mode) == 0o644
    with output_dir(out) as target, target.staging() as folder:
        (folder / "b.json").write_text("2")
    assert sorted(p.name for p in out.iterdir()) == [MARKER, "b.json"]  # the older run's files are gone
    assert siblings(out) == []  # no lock, temporary or old folder left


def test_a_failed_write_leaves_the_target_as_it_was(tmp_path: Path) -> None:
    out = tmp_path / "results"
    with output_dir(out) as target, target.staging() as folder:
        (folder / "first.json").write_text("1")
    with pytest.raises(RuntimeError), output_dir(out) as target, target.staging() as folder:
        (folder / "half.json").write_text("2")
        raise RuntimeError("disk full")
    assert sorted(p.name for p in out.iterdir()) == [MARKER, "first.json"] and siblings(out) == []
    fresh = tmp_path / "fresh"
    with pytest.raises(KeyboardInterrupt), output_dir(fresh) as target, target.staging():
        raise KeyboardInterrupt
    assert not fresh.exists() and siblings(fresh) == []


@pytest.mark.parametrize(
    ("make", "target", "needle"),
    [
        (lambda d: (d / "f").write_text("x"), "f", "existing file"),
        (lambda d: None, "no/such/out", "does not exist"),
        (lambda d: ((d / "mine").mkdir(), (d / "mine" / "thesis.tex").write_text("x")), "mine", "did not write"),
        (lambda d: os.symlink(d, d / "link"), "link", "symbolic link"),
        (lambda d: (d / "f").write_text("x"), "f/out", "is not a folder"),
    ],
)
def test_bad_targets_are_refused_before_any_work(tmp_path: Path, make, target: str, needle: str) -> None:
    make(tmp_path)
    before = sorted(p.name for p in tmp_path.rglob("*"))
    with pytest.raises(InputError, match=needle) as err, output_dir(tmp_path / target):
        pass
    assert str(err.value).startswith("--out:")
    assert sorted(p.name for p in tmp_path.rglob("*")) == before  # not even a lock file


def test_the_current_folder_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "report.json").write_text("{}")
    with pytest.raises(InputError, match="current folder"), output_dir("."):
        pass


def test_a_second_writer_is_refused_with_the_owners_pid_and_a_killed_writer_leaves_nothing_stuck(
    tmp_path: Path,
) -> None:
    out = tmp_path / "results"
    holder = subprocess.Popen([sys.executable, "-c", LOCK_HOLDER, str(out)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "writing"
        with pytest.raises(InputError, match=f"another mapopt process \\(pid {holder.pid}\\)"), output_dir(out):
            pass
        assert [s for s in siblings(out) if ".tmp-" in s]  # the holder's staging folder
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    assert not out.exists()  # killed while writing: the folder is absent, not half-written
    with output_dir(out) as target, target.staging() as folder:  # the kernel dropped the dead writer's lock
        (folder / "report.json").write_text("{}")
    assert siblings(out) == [] and json.loads((out / "report.json").read_text()) == {}


def test_atomic_write_respects_the_umask_and_sweeps_stale_temporaries(tmp_path: Path, umask_022) -> None:
    path = tmp_path / "net.json"
    dead = tmp_path / ".net.json.tmp-999999999-abcd"  # no such pid
    dead.write_text("half")
    atomic_write(path, lambda f: f.write("{}"), binary=False)
    assert path.read_text() == "{}" and not dead.exists()
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    with pytest.raises(ValueError):
        atomic_write(path, lambda f: (f.write("{broken"), (_ for _ in ()).throw(ValueError("boom"))), binary=False)
    assert path.read_text() == "{}" and sorted(p.name for p in tmp_path.iterdir()) == ["net.json"]


def test_check_output_file(tmp_path: Path) -> None:
    (tmp_path / "d.json").mkdir()
    assert check_output_file(tmp_path / "n.json", suffixes=(".json",)) == tmp_path / "n.json"
    for target, needle in (("d.json", "is a folder"), ("n.csv", "unknown file type"), ("x/n.json", "does not exist")):
        with pytest.raises(InputError, match=needle):
            check_output_file(tmp_path / target, suffixes=(".json", ".npz"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.json"]  # the probe file is gone
