"""Pictures of one mapping (``mapopt plot``, ``run/solve --out``) and the per-crossbar usage they draw."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.image import imread

from mapopt.decompose import decompose
from mapopt.evaluation import usage
from mapopt.hardware import customise, load_preset
from mapopt.io import resolve_net
from mapopt.problem import MappingProblem
from mapopt.registry import make_solver
from mapopt.reports.mapping_plot import MAX_CELLS, plot_mapping


def _not_blank(path: Path) -> None:
    pixels = imread(path)
    assert pixels.shape[0] > 300 and pixels.shape[1] > 300
    assert float(np.std(pixels[..., :3])) > 0.01, f"{path} is blank"


def test_usage_agrees_with_the_validator_metrics() -> None:
    hw = load_preset("dynapse-paper")
    dec = decompose(resolve_net("mlp-784-64-10"), hw, "auto")
    result = make_solver("greedy").solve(MappingProblem(dec, hw))
    u = usage(dec, hw, result.mapping)
    m = result.metrics
    assert len(u.crossbars) == m["crossbars"]
    assert int(u.columns.sum()) == m["units"]
    assert int(u.crosspoints.sum()) == m["used_crosspoints"]
    assert (u.rows <= hw.rows).all() and (u.columns <= hw.columns).all()
    assert float(u.traffic_spikes.sum()) == m["intertile_spikes"]
    assert (u.traffic_src != u.traffic_dst).all()


def test_plot_command_draws_a_solved_mapping(tmp_path: Path, cli) -> None:
    solved = cli("solve", "--net", "planted-toy-6", "--hw", "toy", "--solver", "greedy", "--out", tmp_path / "s")
    assert solved.code == 0, solved.stderr
    assert {"plot-none-greedy-floorplan.png", "plot-none-greedy-utilization.png"} <= {
        p.name for p in (tmp_path / "s").iterdir()
    }
    out = tmp_path / "pictures"
    result = cli("plot", tmp_path / "s" / "mapping-none-greedy.json", "--out", out)
    assert result.code == 0, result.stderr
    assert sorted(p.name for p in out.glob("*.png")) == ["floorplan.png", "utilization.png"]
    for png in out.glob("*.png"):
        _not_blank(png)
    (tmp_path / "file").write_text("x")
    bad = cli("plot", tmp_path / "s" / "mapping-none-greedy.json", "--out", tmp_path / "file")
    assert bad.code == 2 and "is an existing file, not a folder" in bad.stderr


def test_a_4096_tile_mesh_is_drawn_aggregated(tmp_path: Path) -> None:
    hw = customise(load_preset("dynapse-paper"), crossbar="128x4", fanin=64, crossbars_per_tile=1, mesh="auto")
    dec = decompose(resolve_net("er-20k-100k"), hw, "auto")
    result = make_solver("layered").solve(MappingProblem(dec, hw))
    assert result.mapping is not None, result.message
    w, h = result.mapping.mesh
    assert w * h >= 4096 and max(w, h) > MAX_CELLS
    names = plot_mapping(dec, hw, result.mapping, tmp_path)
    for name in names:
        _not_blank(tmp_path / name)
