"""``mapopt reproduce``: the paper's experiment, its report and plots (one app here; all with -m slow)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from mapopt.studies.reproduction import APPS, READINGS, claims

PNG = b"\x89PNG\r\n\x1a\n"


def check_report(doc: dict, apps: int) -> None:
    rows = doc["rows"]
    assert len(rows) == apps * len(READINGS)
    assert {r["reading"] for r in rows} == {r.label for r in READINGS}
    for row in rows:
        assert row["status"] in ("feasible", "optimal"), row
        assert row["crossbars"] >= 1 and 0 < row["synapse_utilization"] <= 1
        if importlib.util.find_spec("mapopt.quality") is None:
            assert row["accuracy"] is None and row["accuracy_note"] == "not trained"
        else:
            assert row["accuracy_note"] == ("not trained" if row["accuracy"] is None else "")
    prune = [r for r in rows if r["reading"] == "pruning"]
    assert all(r["pruned_synapses"] > 0 for r in prune if r["net"] in ("mlp-784-64-10", "rnn-64-128-10", "lenet5",
                                                                       "digits-cnn"))
    assert all(r["pruned_synapses"] == 0 for r in rows if r["reading"] != "pruning")
    averages = doc["averages"]
    assert [a["reading"] for a in averages][-1] == "paper's claim"
    assert all(a["apps"] == apps for a in averages[:-1])


def test_reproduce_one_app(cli, tmp_path: Path) -> None:
    out = tmp_path / "repro"
    result = cli("reproduce", "--app", "rnn-64-128-10", "--out", out, "--json")
    assert result.code == 0, result.stderr
    doc = result.json()
    check_report(doc, 1)
    pieces = next(r for r in doc["rows"] if r["reading"] == "pieces (code)")
    assert pieces["crossbars"] == 4  # the authors' tool with --unroll-fanin 2 on this net
    assert (out / "reproduction.md").read_text().count("| RNN classifier |") == len(READINGS)
    assert json.loads((out / "reproduction.json").read_text())["rows"] == doc["rows"]
    for name in ("crossbars.png", "synapse_utilization.png", "wasted_energy.png", "claims.png"):
        assert (out / name).read_bytes()[:8] == PNG


def test_averages_are_ratios_to_pruning() -> None:
    rows = []
    for net, scale in (("a", 2.0), ("b", 8.0)):
        for reading in READINGS:
            factor = 1.0 if reading.label == "pruning" else scale
            rows.append({"net": net, "reading": reading.label, "crossbars": 10 * factor,
                         "synapse_utilization": 0.5 / factor, "energy_wasted_j": 1.0 * factor,
                         "accuracy": None})  # fmt: skip
    units = claims(rows)[0]
    assert units["crossbars_ratio"] == pytest.approx(4.0)  # geometric mean of 2 and 8
    assert units["synapse_utilization_ratio"] == pytest.approx(0.25) and units["accuracy_gain"] is None


def test_unknown_app_is_refused_before_work(cli, tmp_path: Path) -> None:
    result = cli("reproduce", "--app", "no-such-net", "--out", tmp_path / "r")
    assert result.code == 2 and "no-such-net" in result.stderr and not (tmp_path / "r").exists()


@pytest.mark.slow
def test_reproduce_default_apps(cli, tmp_path: Path) -> None:
    result = cli("reproduce", "--out", tmp_path / "repro", "--json", timeout=900)
    assert result.code == 0, result.stderr
    doc = result.json()
    check_report(doc, len(APPS))
    trained = [r for r in doc["rows"] if r["net"] in ("digits-mlp", "digits-cnn")]
    assert trained and all(r["accuracy"] is not None for r in trained)
    cnn = {r["reading"]: r["accuracy"] for r in trained if r["net"] == "digits-cnn"}
    assert cnn["pruning"] < cnn["pieces (code)"] == cnn["units (text)"] == cnn["mapopt best"]
