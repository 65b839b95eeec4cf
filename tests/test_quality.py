"""Model quality: trained digits nets, conversion, batched accuracy, decomposition keeps it, pruning loses it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from mapopt.decompose import decompose
from mapopt.errors import InputError
from mapopt.hardware import customise, load_preset
from mapopt.io import read_network, resolve_net
from mapopt.io.nir import write_nir
from mapopt.network import Network
from mapopt.pipeline import run_strategy
from mapopt.quality import TASKS, accuracy_of, ann_accuracy, evaluate
from mapopt.quality.batch import run_decomposition, run_network, tile_decomposition
from mapopt.quality.convert import analog_predictions, convert
from mapopt.simulate import simulate, simulate_decomposition
from mapopt.solver import Budget
from problems.instances.trained import digits_cnn, digits_mlp, train_cnn, train_mlp

TASK = TASKS["digits"]
HW = load_preset("dynapse-paper")


def at(fanin: int):
    return customise(HW, fanin=fanin)


def test_split_and_coding_are_deterministic_and_per_image() -> None:
    split = TASK.split()
    assert len(split.y_test) == 360 and len(split.y_train) == 1437
    assert set(np.unique(split.y_test)) == set(range(10))
    trains = TASK.test_inputs()
    assert trains.shape == (360, TASK.timesteps, 64)
    # an image's trains do not depend on which other images are coded with it
    assert np.array_equal(TASK.encode(split.x_test[5:7], first_index=5), trains[5:7])
    # rate coding: a pixel's spike count follows its intensity
    counts = trains.sum(axis=1) / TASK.timesteps
    assert abs(float(np.corrcoef(counts.ravel(), split.x_test.ravel())[0, 1])) > 0.95


@pytest.mark.parametrize(("train", "build"), [(train_mlp, digits_mlp), (train_cnn, digits_cnn)])
def test_conversion_keeps_the_trained_anns_predictions(train, build) -> None:
    _, ann_pred = train()
    net = build()
    split = TASK.split()
    # ReLU's positive homogeneity: the normalised net read as an ANN predicts exactly what the trainer's ANN does
    assert np.array_equal(analog_predictions(net, split.x_test * TASK.max_rate), ann_pred)
    assert ann_accuracy(net, TASK) == float(np.mean(ann_pred == split.y_test)) > 0.9
    assert net.task == "digits" and np.count_nonzero(net.bias) > 0  # the ANN's biases are the SNN's biases


def test_normalisation_scales_follow_the_percentile() -> None:
    layer_list, _ = train_mlp()
    x = TASK.split().x_train
    robust = convert(layer_list, TASK.image_shape, x, name="m", task="digits", percentile=99.9)
    peak = convert(layer_list, TASK.image_shape, x, name="m", task="digits", percentile=100.0)
    assert all(r <= p for r, p in zip(robust.scales, peak.scales, strict=True))
    hidden = np.maximum(x @ layer_list[0].weight.T + layer_list[0].bias, 0)
    assert peak.scales[0] == pytest.approx(hidden.max())
    with pytest.raises(InputError, match="percentile"):
        convert(layer_list, TASK.image_shape, x, name="m", task="digits", percentile=0)


def test_snn_accuracy_and_spike_provenance_of_the_catalog_nets() -> None:
    net = resolve_net("digits-mlp")
    ev = evaluate(net, TASK)
    assert ev.accuracy > 0.9
    assert f"SNN test accuracy {ev.accuracy:.4f}" in net.spike_source and "ANN (scikit-learn" in net.spike_source
    np.testing.assert_allclose(net.spikes, ev.mean_counts)  # the catalog's counts: mean per test image
    assert "digits test set (360 images" in net.spike_source


def test_batched_runs_equal_one_image_at_a_time() -> None:
    net = digits_mlp()
    inputs = TASK.test_inputs()[:3]
    batch = run_network(net, inputs)
    for j in range(3):
        assert np.array_equal(batch.counts[j], simulate(net, inputs[j]).counts)
    dec = decompose(net, at(16), "tree")
    run = run_decomposition(dec, inputs)
    assert run.equivalence is not None and run.equivalence.equivalent
    for j in range(3):
        assert np.array_equal(run.counts[j], simulate_decomposition(dec, inputs[j]).counts)


def test_tiled_decomposition_keeps_the_contract() -> None:
    dec = decompose(digits_mlp(), at(8), "chain:2")
    tiled = tile_decomposition(dec, 3)
    n = dec.original.n_neurons
    assert tiled.network.n_neurons == 3 * dec.network.n_neurons and tiled.original.n_neurons == 3 * n
    assert np.array_equal(tiled.origin[: 3 * n], np.arange(3 * n))  # original neurons keep their (tiled) ids
    assert tiled.depth == dec.depth and tiled.n_units == 3 * dec.n_units
    kept = tiled.edge_origin >= 0
    o = tiled.original
    np.testing.assert_array_equal(tiled.network.weight[kept], o.weight[tiled.edge_origin[kept]])
    np.testing.assert_array_equal(tiled.origin[tiled.network.post[kept]], o.post[tiled.edge_origin[kept]])


@pytest.mark.parametrize(("fanin", "spec"), [(8, "chain:2"), (16, "tree"), (32, "auto")])
def test_decomposed_and_original_snn_give_identical_test_predictions(fanin: int, spec: str) -> None:
    net = digits_mlp()
    snn = evaluate(net, TASK)
    dec = decompose(net, at(fanin), spec)
    assert dec.extra_units > 0 and dec.pruned_synapses == 0
    ev = evaluate(dec, TASK)
    assert ev.equivalence is not None and ev.equivalence.equivalent
    assert ev.equivalence.max_spike_count_diff == 0
    assert np.array_equal(ev.predictions, snn.predictions)
    assert ev.accuracy == snn.accuracy


def test_pruned_accuracy_is_measured_not_assumed() -> None:
    net = digits_mlp()
    snn = evaluate(net, TASK)
    dec = decompose(net, at(32), "prune-magnitude")
    ev = evaluate(dec, TASK, check=True)
    assert ev.equivalence is not None and not ev.equivalence.equivalent  # pruning changes what the net computes
    # the same accuracy, independently: the pruned net built as a plain network and simulated image by image
    kept = np.setdiff1d(np.arange(net.n_synapses), dec.pruned)
    pruned = Network.build(name="pruned", is_input=net.is_input, pre=net.pre[kept], post=net.post[kept],
                           weight=net.weight[kept], threshold=net.threshold, bias=net.bias, reset=net.reset,
                           layer=net.layer, task=net.task)
    outputs = TASK.readout(net)
    inputs, labels = TASK.test_inputs(), TASK.split().y_test
    direct = [int(np.argmax(simulate(pruned, inputs[j]).counts[outputs])) for j in range(len(labels))]
    assert ev.accuracy == float(np.mean(np.array(direct) == labels))
    assert ev.accuracy < snn.accuracy
    assert accuracy_of("digits-mlp", dec) == ev.accuracy


def test_accuracy_of() -> None:
    net = digits_mlp()
    dec = decompose(net, at(64), "auto")
    assert accuracy_of("digits-mlp", dec) == evaluate(net, TASK).accuracy
    untrained = resolve_net("mlp-16-8-4")
    assert accuracy_of("mlp-16-8-4", decompose(untrained, at(64), "none")) is None
    assert accuracy_of("no-such-net", dec) is None
    with pytest.raises(InputError, match="inputs"):
        accuracy_of("digits-mlp", decompose(resolve_net("mlp:30-4-10"), at(16), "tree"))


@pytest.mark.parametrize("build", [digits_mlp, digits_cnn])
def test_trained_nets_round_trip_through_nir_with_the_same_accuracy(tmp_path: Path, build) -> None:
    net = build()
    path = tmp_path / f"{net.name}.nir"
    write_nir(path, net)
    back = read_network(path)
    assert back.task == "digits" and back.n_synapses == net.n_synapses
    before, after = evaluate(net, TASK), evaluate(back, TASK)
    assert after.accuracy == before.accuracy
    assert np.array_equal(after.predictions, before.predictions)


def test_simulated_traffic_uses_the_test_images() -> None:
    net = digits_mlp()
    run = run_strategy(net, HW, "tree:16@greedy", budget=Budget(seed=0), traffic="simulated")
    prime = run.decomposition.network
    assert run.decomposition.traffic == "simulated"
    assert "digits test set" in prime.spike_source
    units = run.decomposition.level > 0
    assert prime.spikes[units].sum() > 0
    expected = evaluate(run.decomposition, TASK, check=False).mean_counts
    np.testing.assert_allclose(prime.spikes, expected)
    assert run.result.metrics is not None


def test_cli_quality(cli, tmp_path: Path) -> None:
    out = tmp_path / "q"
    result = cli("quality", "--net", "digits-mlp", "--fanin", "16", "--fanin", "64", "--decompose", "tree",
                 "--decompose", "tree:8", "--out", str(out), "--json")
    assert result.code == 0, result.stderr
    doc = result.json()
    rows = {(r["fanin"], r["strategy"]): r for r in doc["results"]}
    snn = rows[(None, "SNN")]["accuracy"]
    assert rows[(None, "ANN")]["accuracy"] > 0.9 and snn > 0.9
    for f in (16, 64):
        assert rows[(f, "tree")]["accuracy"] == snn and rows[(f, "tree")]["equivalent"] is True
        assert rows[(f, "prune-first")]["accuracy"] < snn and rows[(f, "prune-first")]["pruned_synapses"] > 0
    assert rows[(64, "tree:8")]["same_as"] == "tree:8 at F=16"  # the same N' at both limits: simulated once
    assert rows[(64, "tree:8")]["accuracy"] == snn and rows[(16, "tree")].get("same_as") is None
    gains = {(g["fanin"]): g for g in doc["gains"]}
    assert gains[16]["gain_vs_prune-first"] == pytest.approx(100 * (snn - rows[(16, "prune-first")]["accuracy"]))
    assert doc["paper_gain_pp"] == [0.8, 4.6]
    assert sorted(p.name for p in out.iterdir()) == [".mapopt-output", "quality.json", "quality.md", "quality.png"]
    assert (out / "quality.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert json.loads((out / "quality.json").read_text())["results"] == doc["results"]
    assert "| digits-mlp | 16 | tree |" in (out / "quality.md").read_text()


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--net", "mlp-16-8-4"], "not a trained catalog net"),
        (["--fanin", "1"], "--fanin"),
        (["--fanin", "512"], "fanin"),
        (["--decompose", "spiral"], "unknown decomposition strategy"),
    ],
)
def test_cli_quality_bad_input(cli, tmp_path: Path, args: list[str], needle: str) -> None:
    out = tmp_path / "never"
    result = cli("quality", *args, "--out", str(out))
    assert result.code == 2, result.stderr
    assert needle in result.stderr and result.stderr.count("\n") == 1
    assert not out.exists()


def test_cli_quality_out_must_be_a_folder(cli, tmp_path: Path) -> None:
    path = tmp_path / "file"
    path.write_text("keep me")
    result = cli("quality", "--out", str(path))
    assert result.code == 2 and "--out" in result.stderr and result.stderr.count("\n") == 1, result.stderr
    assert path.read_text() == "keep me"


def test_cli_defaults_are_the_studys() -> None:
    from mapopt.cli.quality import DEFAULT_FANINS_TEXT, DEFAULT_STRATEGIES_TEXT
    from mapopt.quality.study import FANINS, STRATEGIES

    assert ", ".join(map(str, FANINS)) == DEFAULT_FANINS_TEXT and ", ".join(STRATEGIES) == DEFAULT_STRATEGIES_TEXT
