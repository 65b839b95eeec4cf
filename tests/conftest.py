"""Shared fixtures: the real ``mapopt`` console entry point and small hand-made nets."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from mapopt.network import Network

MAPOPT = shutil.which("mapopt", path=str(Path(sys.executable).parent)) or shutil.which("mapopt")


class CliResult:
    def __init__(self, proc: subprocess.CompletedProcess[str]):
        self.code = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr

    def json(self) -> dict:
        return json.loads(self.stdout)


@pytest.fixture(scope="session")
def cli() -> Callable[..., CliResult]:
    """Run the installed ``mapopt`` console script with arguments; returns code/stdout/stderr."""
    assert MAPOPT, "the mapopt console script is not installed (pip install -e .)"

    def run(*args: str, cwd: Path | None = None, timeout: float = 300) -> CliResult:
        env = {**os.environ, "COLUMNS": "200"}
        proc = subprocess.run(
            [MAPOPT, *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=timeout, env=env, check=False
        )
        return CliResult(proc)

    return run


@pytest.fixture
def tiny_net() -> Network:
    """Inputs 0,1,2; compute 3 <- {0,1,2}, 4 <- {1,3}. Spikes: 0:2, 1:3, 2:5, 3:4, 4:1."""
    return Network.build(
        name="tiny",
        is_input=np.array([True, True, True, False, False]),
        pre=np.array([0, 1, 2, 1, 3]),
        post=np.array([3, 3, 3, 4, 4]),
        weight=np.array([0.5, -1.0, 2.0, 1.5, 0.25]),
        spikes=np.array([2.0, 3.0, 5.0, 4.0, 1.0]),
        spike_source="hand-made",
        timesteps=10,
    )
