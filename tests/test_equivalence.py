"""The equivalence check and the decompose / simulate / check-equivalence commands."""

from __future__ import annotations

import numpy as np

from mapopt.decompose import decompose
from mapopt.equivalence import check_equivalence
from mapopt.hardware import Hardware
from mapopt.io import read_network, resolve_net

TOY = Hardware(name="toy", rows=16, columns=16, fanin=16, crossbars_per_tile=4, mesh=None)


def test_decompositions_are_equivalent_and_pruning_is_not() -> None:
    net = resolve_net("mlp:64-20-5")
    for spec in ("chain:2", "tree:3", "auto"):
        report = check_equivalence(decompose(net, TOY, spec))
        assert report.equivalent, spec
        assert report.max_spike_count_diff == 0
        assert report.first_neuron is None
    pruned = check_equivalence(decompose(net, TOY, "prune-first"))
    assert not pruned.equivalent
    assert pruned.max_spike_count_diff > 0
    assert pruned.first_neuron is not None and not net.is_input[pruned.first_neuron]


def test_delayed_chain_differs_and_says_where() -> None:
    report = check_equivalence(decompose(resolve_net("mlp:64-20-5"), TOY, "chain:2"), mode="delayed")
    assert not report.equivalent
    assert report.first_timestep is not None and report.first_timestep >= 1


def test_cli_check_equivalence_json(cli) -> None:
    r = cli("check-equivalence", "--net", "mlp:64-20-5", "--hw", "toy", "--decompose", "chain:2", "--json")
    assert r.code == 0, r.stderr
    doc = r.json()
    assert doc["equivalent"] is True
    assert doc["max_spike_count_diff"] == 0
    assert doc["depth"] == 63
    assert doc["units"] == 20 * 63 + 5 * 19
    r = cli("check-equivalence", "--net", "mlp:64-20-5", "--hw", "toy", "--decompose", "prune-first", "--json")
    assert r.code == 1
    doc = r.json()
    assert doc["equivalent"] is False
    assert doc["first_neuron"] is not None and doc["first_timestep"] is not None


def test_cli_decompose_writes_a_readable_network(cli, tmp_path) -> None:
    out = tmp_path / "n.npz"
    r = cli("decompose", "--net", "mlp:64-20-5", "--hw", "toy", "--decompose", "tree:4", "--out", out, "--json")
    assert r.code == 0, r.stderr
    row = r.json()["results"][0]
    assert (row["units"], row["depth"], row["synapses_pruned"]) == (20 * (16 + 4 + 1) + 5 * (5 + 2 + 1), 3, 0)
    prime = read_network(out)
    assert prime.n_neurons == 64 + row["units"]
    assert prime.max_fanin <= 4
    with np.load(out) as z:
        assert "origin" in z.files and "edge_origin" in z.files


def test_cli_simulate(cli, tmp_path) -> None:
    out = tmp_path / "sim.json"
    r = cli("simulate", "--net", "mlp:64-20-5", "--timesteps", "25", "--seed", "3", "--out", out, "--json")
    assert r.code == 0, r.stderr
    doc = r.json()
    assert doc["timesteps"] == 25
    assert len(doc["output_counts"]) == 5
    net = read_network(out)
    assert net.spike_source.startswith("simulated")
    assert net.spikes[~net.is_input].sum() == doc["compute_spikes"]
    r2 = cli("simulate", "--net", "mlp:64-20-5", "--hw", "toy", "--decompose", "auto", "--timesteps", "25",
             "--seed", "3", "--json")
    assert r2.json()["output_counts"] == doc["output_counts"]


def test_cli_bad_input_is_one_line(cli) -> None:
    r = cli("check-equivalence", "--net", "mlp:64-20-5", "--hw", "toy", "--decompose", "auto,depth=1")
    assert r.code == 2
    assert "neuron 64 has fan-in 64" in r.stderr and "depth=1" in r.stderr
    r = cli("decompose", "--net", "mlp:64-20-5", "--hw", "toy", "--decompose", "chain:1")
    assert r.code == 2 and "k=1 must be at least 2" in r.stderr
