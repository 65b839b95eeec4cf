"""The CLI through the real console entry point: main job, validate, info, list, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

RUN_KEYS = {
    "crossbars", "tiles", "neuron_utilization", "synapse_utilization", "pruned_synapses", "deliveries",
    "intercrossbar_spikes", "intertile_spikes", "hop_spikes", "energy_dynamic_j", "energy_wasted_j",
    "energy_total_j", "depth", "lower_bound_crossbars", "solver", "status", "wall_s",
}  # fmt: skip


@pytest.fixture(scope="module")
def default_run(cli, tmp_path_factory: pytest.TempPathFactory):
    """``mapopt run --json --out DIR`` with no other argument (the README's main job)."""
    out = tmp_path_factory.mktemp("run")
    return cli("run", "--json", "--out", out), out


def test_default_run_compares_strategies(default_run) -> None:
    result, _ = default_run
    assert result.code == 0, result.stderr
    doc = result.json()
    assert doc["net"]["synapses"] >= 50_000 and doc["net"]["max_fanin"] > 128
    assert doc["hardware"]["name"] == "dynapse-paper"
    rows = {r["strategy"].split("@")[0]: r for r in doc["results"]}
    assert len(doc["results"]) == 5
    assert rows["pieces:2"]["crossbars"] == 333  # the authors' tool with --unroll-fanin 2 on this net
    for row in doc["results"]:
        assert set(row) >= RUN_KEYS, RUN_KEYS - set(row)
        assert row["status"] in ("optimal", "feasible")
    assert rows["chain:2"]["pruned_synapses"] == 0
    assert rows["prune-first"]["pruned_synapses"] > 0 and rows["prune-magnitude"]["pruned_synapses"] > 0
    best = doc["results"][-1]
    assert best["pruned_synapses"] == 0
    assert best["crossbars"] < rows["chain:2"]["crossbars"]


def test_validate_accepts_written_mapping_and_rejects_corruption(default_run, cli, tmp_path: Path) -> None:
    _, out = default_run
    files = sorted(out.glob("mapping-*"))
    assert len(files) == 5 and (out / "report.md").exists() and (out / "report.json").exists()
    chain = next(f for f in files if "chain-2" in f.name)
    ok = cli("validate", chain, "--json")
    assert ok.code == 0, ok.stderr
    assert ok.json()["valid"] is True and ok.json()["metrics"]["pruned_synapses"] == 0
    # corrupt it by hand: move every unit onto crossbar 0 (overflows columns and rows)
    doc = json.loads(chain.read_text())
    doc["arrays"]["unit_crossbar"] = [c if c < 0 else 0 for c in doc["arrays"]["unit_crossbar"]]
    bad = tmp_path / "corrupt.json"
    bad.write_text(json.dumps(doc))
    rejected = cli("validate", bad)
    assert rejected.code == 1
    assert "[columns] crossbar 0" in rejected.stdout and "limit 128" in rejected.stdout
    assert "[rows] crossbar 0" in rejected.stdout


def test_info_json(cli) -> None:
    result = cli("info", "mlp:784-100-10", "--json")
    assert result.code == 0
    info = result.json()
    assert (info["neurons"], info["inputs"], info["synapses"], info["max_fanin"]) == (894, 784, 79_400, 784)


def test_info_spinemap_with_spikes(cli, tmp_path: Path) -> None:
    (tmp_path / "conn.txt").write_text("0 2\n1 2\n2 3\n")
    (tmp_path / "spk.txt").write_text("0 1 2\n2 4\n")
    info = cli("info", tmp_path / "conn.txt", "--spikes", tmp_path / "spk.txt", "--json").json()
    assert info["synapses"] == 3 and info["inputs"] == 2 and info["total_spikes"] == 3


@pytest.mark.parametrize("what", ["presets", "nets", "solvers", "strategies", "generators"])
def test_list(cli, what: str) -> None:
    result = cli("list", what, "--json")
    assert result.code == 0, result.stderr
    rows = result.json()[what]
    names = {r["name"] for r in rows}
    expected = {"presets": "dynapse-paper", "nets": "mlp-784-64-10", "solvers": "paper", "strategies": "chain",
                "generators": "mlp"}[what]  # fmt: skip
    assert expected in names


def test_run_single_strategy_on_spinemap_file(cli, tmp_path: Path) -> None:
    (tmp_path / "conn.txt").write_text("0 3 4\n1 3 4\n2 3\n3 4\n")
    result = cli("run", "--net", tmp_path / "conn.txt", "--hw", "toy", "--decompose", "chain:2", "--json")
    assert result.code == 0, result.stderr
    (row,) = result.json()["results"]
    assert row["pruned_synapses"] == 0 and row["depth"] == 2


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["run", "--net", "no-such-net"], "unknown net 'no-such-net'"),
        (["run", "--hw", "nope"], "unknown hardware preset 'nope'"),
        (["run", "--crossbar", "0x8"], "crossbar size must be positive"),
        (["run", "--fanin", "-3"], "'--fanin'"),
        (["run", "--decompose", "chain:1"], "arity k=1 must be at least 2"),
        (["run", "--decompose", "chain:129"], "arity k=129 exceeds the fan-in limit F=128"),
        (["run", "--decompose", "spiral"], "unknown decomposition strategy 'spiral'"),
        (["run", "--solver", "nope", "--decompose", "chain:2"], "unknown solver 'nope'"),
        (["info", "mlp:5-x"], "mlp sizes must be integers"),
        (["validate", "missing.json"], "no such file"),
    ],
)
def test_bad_input_is_one_line_exit_2(cli, tmp_path: Path, args: list[str], needle: str) -> None:
    out = tmp_path / "out"
    result = cli(*args, "--out", out) if args[0] == "run" else cli(*args)
    assert result.code == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("mapopt: error:")]
    assert len(lines) == 1 and needle in lines[0], result.stderr
    assert "Traceback" not in result.stderr
    assert not out.exists(), "no partial output on error"


def test_run_keeps_going_when_a_strategy_fails(cli, tmp_path: Path) -> None:
    """A strategy that cannot map the net is a row with its status and reason; the others are written."""
    out = tmp_path / "out"
    args = ["run", "--net", "mlp:16-8-4", "--hw", "toy", "--mesh", "4x4"]
    result = cli(*args, "--decompose", "none", "--decompose", "chain:2", "--decompose", "tree:4@greedy",
                 "--out", out, "--json")  # fmt: skip
    assert result.code == 1, result.stderr
    rows = {r["strategy"]: r for r in result.json()["results"]}
    assert rows["none@paper"]["status"] == "infeasible" and "[fanin]" in rows["none@paper"]["message"]
    assert rows["chain:2@paper"]["status"] == "infeasible" and "[tile-capacity]" in rows["chain:2@paper"]["message"]
    assert rows["tree:4@greedy"]["status"] in ("feasible", "optimal")
    report = json.loads((out / "report.json").read_text())
    assert [r["status"] for r in report["results"]] == [rows[s]["status"] for s in rows]
    assert sorted(p.name for p in out.glob("mapping-*")) == ["mapping-tree-4-greedy.json"]
    assert "[fanin]" in result.stderr and "[tile-capacity]" in result.stderr  # the reasons, on stderr too


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        ('{"format": "mapopt-mapping", "version": 1, "arr', "malformed JSON"),
        ('{"format": "mapopt-network", "version": 1, "arrays": {}}', "expected a 'mapopt-mapping' file"),
        ("[1, 2]", "not a mapopt file"),
    ],
)
def test_validate_bad_files(cli, tmp_path: Path, content: str, needle: str) -> None:
    path = tmp_path / "m.json"
    path.write_text(content)
    result = cli("validate", path)
    assert result.code == 2 and needle in result.stderr and str(path) in result.stderr
    assert "Traceback" not in result.stderr


def test_run_with_simulated_traffic(cli) -> None:
    args = ["run", "--net", "mlp:30-12-4", "--hw", "toy", "--mesh", "auto", "--decompose", "chain:3", "--json"]
    upper = cli(*args)
    simulated = cli(*args, "--traffic", "simulated")
    assert upper.code == 0 and simulated.code == 0, simulated.stderr
    (u,), (s,) = upper.json()["results"], simulated.json()["results"]
    assert u["crossbars"] == s["crossbars"] and s["pruned_synapses"] == 0
    assert s["deliveries"] != u["deliveries"]  # unit traffic now counts steps with a nonzero partial
    bad = cli("run", "--traffic", "guess")
    assert bad.code == 2 and "guess" in bad.stderr
