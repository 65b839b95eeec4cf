"""Round trips of every file format, and clear errors for malformed files."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from mapopt.decompose import decompose
from mapopt.errors import InputError
from mapopt.evaluation import assess
from mapopt.hardware import load_preset
from mapopt.io import (
    read_mapping,
    read_network,
    read_spinemap,
    resolve_net,
    write_mapping,
    write_network,
    write_spinemap,
)
from mapopt.network import Network
from mapopt.problem import MappingProblem
from mapopt.registry import make_solver
from mapopt.solver import Budget

TOY = replace(load_preset("toy"), mesh=None)  # auto mesh: test nets need more than 2x2 tiles


def same_network(a: Network, b: Network) -> None:
    for field in ("is_input", "pre", "post", "weight", "spikes", "threshold", "leak", "layer"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field), err_msg=field)
    assert (a.name, a.timesteps, a.spike_source) == (b.name, b.timesteps, b.spike_source)


@pytest.mark.parametrize("suffix", [".json", ".npz"])
def test_network_round_trip(tmp_path: Path, suffix: str) -> None:
    net = resolve_net("mlp:20-8-3", seed=3)
    path = tmp_path / f"net{suffix}"
    write_network(path, net)
    same_network(net, read_network(path))
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary file left


@pytest.mark.parametrize("suffix", [".json", ".npz"])
def test_mapping_round_trip_revalidates(tmp_path: Path, suffix: str) -> None:
    net = resolve_net("mlp:30-6-2", seed=1)
    dec = decompose(net, TOY, "chain:3")
    hw = TOY
    result = make_solver("paper").solve(MappingProblem(dec, hw), Budget(seed=0))
    path = tmp_path / f"mapping{suffix}"
    write_mapping(path, dec, hw, result.mapping, report={"solver": "paper"})
    dec2, hw2, mapping2, report = read_mapping(path)
    same_network(dec.original, dec2.original)
    same_network(dec.network, dec2.network)
    assert hw2 == hw and report == {"solver": "paper"}
    verdict = assess(dec2, hw2, mapping2)
    assert verdict.valid and verdict.metrics == result.metrics
    assert read_network(path).n_synapses == net.n_synapses  # a mapping file also yields its network


def test_spinemap_round_trip(tmp_path: Path) -> None:
    conn, spikes = tmp_path / "conn.txt", tmp_path / "spikes.txt"
    conn.write_text("0 3 4\n1 3\n2 4\n3 4\n")
    spikes.write_text("0 1 5 7\n1 2\n3 0 9\n")
    net = read_spinemap(conn, spikes)
    assert net.is_input.tolist() == [True, True, True, False, False]
    assert net.spikes.tolist() == [3, 1, 0, 2, 0] and net.timesteps == 10
    assert list(zip(net.pre.tolist(), net.post.tolist(), strict=True)) == [(0, 3), (1, 3), (0, 4), (2, 4), (3, 4)]
    conn2, spikes2 = tmp_path / "c2.txt", tmp_path / "s2.txt"
    write_spinemap(net, conn2, spikes2)
    again = read_spinemap(conn2, spikes2)
    np.testing.assert_array_equal(again.pre, net.pre)
    np.testing.assert_array_equal(again.post, net.post)
    np.testing.assert_array_equal(again.spikes, net.spikes)


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        ("0 1\nx 2\n", "line 2: 'x' is not an integer"),
        ("0 -1\n", "line 1: negative"),
        ("", "no connections"),
        ("0 1\n0 1\n", "duplicate synapse 0->1"),
    ],
)
def test_bad_spinemap(tmp_path: Path, content: str, needle: str) -> None:
    path = tmp_path / "conn.txt"
    path.write_text(content)
    with pytest.raises(InputError, match=needle) as info:
        read_network(path)
    assert str(path) in str(info.value)


def test_spike_file_for_unknown_neuron(tmp_path: Path) -> None:
    (tmp_path / "c.txt").write_text("0 1\n")
    (tmp_path / "s.txt").write_text("7 1 2\n")
    with pytest.raises(InputError, match="line 1: neuron 7 is not in the connection file"):
        read_network(tmp_path / "c.txt", spikes=tmp_path / "s.txt")


def test_malformed_and_truncated_files(tmp_path: Path) -> None:
    net = resolve_net("mlp:5-3", seed=0)
    good = tmp_path / "net.json"
    write_network(good, net)
    text = good.read_text()
    truncated = tmp_path / "cut.json"
    truncated.write_text(text[: len(text) // 2])
    with pytest.raises(InputError, match="malformed JSON"):
        read_network(truncated)
    npz = tmp_path / "net.npz"
    write_network(npz, net)
    cut = tmp_path / "cut.npz"
    cut.write_bytes(npz.read_bytes()[:100])
    with pytest.raises(InputError, match="unreadable or truncated"):
        read_network(cut)
    doc = json.loads(text)
    doc["arrays"]["pre"][0] = 99
    bad_id = tmp_path / "bad.json"
    bad_id.write_text(json.dumps(doc))
    with pytest.raises(InputError, match="out of range"):
        read_network(bad_id)
    doc = json.loads(text)
    doc["version"] = 7
    (tmp_path / "v.json").write_text(json.dumps(doc))
    with pytest.raises(InputError, match="unsupported mapopt-network version 7"):
        read_network(tmp_path / "v.json")
    doc = json.loads(text)
    doc["arrays"]["weight"][0] = "heavy"
    (tmp_path / "w.json").write_text(json.dumps(doc))
    with pytest.raises(InputError, match="'weight'"):
        read_network(tmp_path / "w.json")
    doc = json.loads(text)
    del doc["arrays"]["spikes"]
    (tmp_path / "m.json").write_text(json.dumps(doc))
    with pytest.raises(InputError, match="missing array 'spikes'"):
        read_network(tmp_path / "m.json")


def test_mapping_file_with_bad_arrays(tmp_path: Path) -> None:
    net = resolve_net("mlp:6-3", seed=0)
    dec = decompose(net, TOY, "chain:2")
    hw = TOY
    mapping = make_solver("paper").solve(MappingProblem(dec, hw), Budget()).mapping
    path = tmp_path / "m.json"
    write_mapping(path, dec, hw, mapping)
    doc = json.loads(path.read_text())
    doc["arrays"]["origin"][-1] = 10_000
    path.write_text(json.dumps(doc))
    with pytest.raises(InputError, match="array 'origin': value 10000 not below"):
        read_mapping(path)
