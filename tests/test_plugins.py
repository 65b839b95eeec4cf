"""Plugins by entry point: a solver package outside mapopt is found and run like a built-in one.

The test builds a tiny out-of-tree package (one solver module and a pyproject.toml that
declares it in the ``mapopt.solvers`` group), installs it with pip into a folder of its
own, and runs the real ``mapopt`` console script with that folder on ``PYTHONPATH``, so the
test venv itself is left as it was.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import MAPOPT

PYPROJECT = """
[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "mapopt-tiny-plugin"
version = "0.0.1"

[tool.setuptools]
py-modules = ["tiny_plugin"]

[project.entry-points."mapopt.solvers"]
one-per-crossbar = "tiny_plugin:OnePerCrossbar"
"""

MODULE = '''
"""A deliberately naive solver: every unit on a crossbar of its own, crossbars in slot order."""

import numpy as np

from mapopt.mapping import Mapping
from mapopt.solver import Outcome, Solver


class OnePerCrossbar(Solver):
    name = "one-per-crossbar"
    description = "every unit alone on a crossbar (plugin test)"

    def __init__(self, *, offset: int = 0):
        self.offset = offset

    def _solve(self, problem, ctx):
        dec = problem.decomposition
        unit_crossbar = np.full(dec.network.n_neurons, -1, dtype=np.int64)
        units = np.flatnonzero(dec.compute)
        unit_crossbar[units] = np.arange(units.size)
        hw = problem.hardware_for(units.size)
        return Outcome(Mapping(unit_crossbar, hw.crossbar_slots()[: units.size], hw.mesh))
'''


@pytest.fixture(scope="module")
def plugin_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("plugin")
    src, site = root / "src", root / "site"
    src.mkdir()
    (src / "pyproject.toml").write_text(PYPROJECT)
    (src / "tiny_plugin.py").write_text(textwrap.dedent(MODULE))
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(site), str(src)],
        check=True,
        capture_output=True,
    )
    return site


def _mapopt(site: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(site), "COLUMNS": "200"}
    return subprocess.run([MAPOPT, *args], capture_output=True, text=True, env=env, timeout=300, check=False)


def test_out_of_tree_solver_runs_through_mapopt_solve(plugin_path: Path) -> None:
    proc = _mapopt(plugin_path, "solve", "--net", "planted-toy-3", "--hw", "toy", "--mesh", "auto",
                   "--solver", "one-per-crossbar", "--json")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    row = json.loads(proc.stdout)
    assert row["solver"] == "one-per-crossbar"
    assert row["status"] == "feasible"
    assert row["crossbars"] == row["units"]  # re-scored by the validator: one unit per crossbar


def test_out_of_tree_solver_is_listed_and_absent_without_its_package(plugin_path: Path) -> None:
    listed = _mapopt(plugin_path, "list", "solvers", "--json")
    assert listed.returncode == 0, listed.stderr
    assert "one-per-crossbar" in listed.stdout
    without = subprocess.run(
        [MAPOPT, "solve", "--net", "planted-toy-3", "--hw", "toy", "--solver", "one-per-crossbar"],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert without.returncode == 2
    assert "unknown solver 'one-per-crossbar'" in without.stderr
