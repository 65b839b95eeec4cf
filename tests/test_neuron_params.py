"""Biases, leaks and reset potentials: hand-computed spikes, decomposition, NIR both ways, files, warnings."""

from __future__ import annotations

import json
from pathlib import Path

import nir
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mapopt.decompose import decompose
from mapopt.errors import InputError, ModelWarning
from mapopt.hardware import Hardware
from mapopt.io import read_network, write_network
from mapopt.io.nir import DEFAULT_DT, from_nir, to_nir, write_nir
from mapopt.network import Network
from mapopt.simulate import simulate, simulate_decomposition

HW = Hardware(name="test", rows=4, columns=16, fanin=4, crossbars_per_tile=4, mesh=None)


def spike_steps(train: np.ndarray) -> list[int]:
    return np.flatnonzero(train).tolist()


def biased(bias: float, reset: float, fanin: int = 0, timesteps: int = 12) -> Network:
    """``fanin`` inputs (never spiking here) -> one IF neuron with threshold 1, ``bias`` and ``reset``."""
    n = fanin + 1
    return Network.build(
        name="biased", is_input=np.arange(n) < fanin, pre=np.arange(fanin), post=np.full(fanin, fanin),
        weight=np.full(fanin, 0.25), bias=np.r_[np.zeros(fanin), bias], reset=np.r_[np.zeros(fanin), reset],
        timesteps=timesteps,
    )


@pytest.mark.parametrize(
    ("reset", "expected"),
    [
        (0.0, [3, 7, 11]),  # 0.3, 0.6, 0.9, 1.2 -> spike, back to 0: every 4th step
        (0.5, [3, 5, 7, 9, 11]),  # after a spike 0.5, 0.8, 1.1 -> spike: every 2nd step
    ],
)
def test_a_neuron_driven_only_by_its_bias_fires_as_hand_computed(reset: float, expected: list[int]) -> None:
    net = biased(0.3, reset)
    result = simulate(net, np.zeros((12, 0), dtype=bool))
    assert spike_steps(result.trains[:, 0]) == expected


@pytest.mark.parametrize("mode", ["exact", "delayed"])
def test_a_decomposed_neuron_keeps_its_bias_on_the_root_only(mode: str) -> None:
    # fan-in 9 with F = 4: a tree of units; inputs silent, so only the bias drives the neuron. A unit that
    # added the bias too would make the root fire more often and send nonzero partial sums.
    net = biased(0.3, 0.0, fanin=9)
    dec = decompose(net, HW, "tree")
    assert dec.extra_units > 0
    root = 9
    assert dec.network.bias[root] == 0.3 and not dec.network.bias[dec.level > 0].any()
    result = simulate_decomposition(dec, np.zeros((12, 9), dtype=bool), mode=mode)
    assert spike_steps(result.trains[:, root]) == [3, 7, 11]
    assert result.counts[net.n_neurons :].sum() == 0  # no partial sum ever nonzero


def leaky_graph(v_leak: float, v_reset: np.ndarray, tau: float = 1e-3, r: float = 10.0) -> nir.NIRGraph:
    """A LIF node driven only by its leak towards ``v_leak`` (its input weight is 0: no synapse)."""
    k = len(v_reset)
    return nir.NIRGraph.from_list(
        nir.Input(input_type=np.array([1])),
        nir.Linear(weight=np.zeros((k, 1))),
        nir.LIF(tau=np.full(k, tau), r=np.full(k, r), v_leak=np.full(k, v_leak), v_threshold=np.ones(k),
                v_reset=v_reset),
        nir.Output(output_type=np.array([k])),
    )


def test_a_neuron_driven_only_by_its_leak_fires_as_hand_computed() -> None:
    # dt / tau = 0.1 and gain dt r / tau = 1: u <- 0.9 u + 0.1 * 3; from 0: 0.3, 0.57, 0.813, 1.0317 -> spike.
    # Reset to 0: every 4th step; reset to 0.5: 0.75, 0.975, 1.1775 -> every 3rd step.
    net = from_nir(leaky_graph(3.0, np.array([0.0, 0.5])), timesteps=20)
    lif = np.flatnonzero(~net.is_input)
    assert net.n_synapses == 0
    np.testing.assert_allclose(net.leak[lif], 0.1)
    np.testing.assert_allclose(net.bias[lif], 0.3)
    np.testing.assert_allclose(net.reset[lif], [0.0, 0.5])
    result = simulate(net, np.zeros((20, 1), dtype=bool))
    assert spike_steps(result.trains[:, lif[0]]) == [3, 7, 11, 15, 19]
    assert spike_steps(result.trains[:, lif[1]]) == [3, 6, 9, 12, 15, 18]


def test_a_leak_below_threshold_never_fires() -> None:
    net = from_nir(leaky_graph(0.9, np.array([0.0])), timesteps=50)  # settles at 0.9 < 1
    assert simulate(net, np.zeros((50, 1), dtype=bool)).counts.sum() == 0


def test_dt_sets_leak_and_gain() -> None:
    # tau = 1e-2, r = 1: at dt = 1e-3, leak 0.1, gain 0.1 -> threshold 10, bias leak v_leak / gain = v_leak / r
    graph = leaky_graph(1.2, np.array([0.0]), tau=1e-2, r=1.0)
    net = from_nir(graph, dt=1e-3)
    lif = ~net.is_input
    np.testing.assert_allclose(net.leak[lif], 0.1)
    np.testing.assert_allclose(net.threshold[lif], 10.0)
    np.testing.assert_allclose(net.bias[lif], 1.2)


def test_affine_and_conv_biases_reach_the_neurons_through_pooling(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    wc, bc = rng.normal(size=(2, 1, 3, 3)), np.array([0.5, -0.25])
    wl, bl = rng.normal(size=(3, 2 * 2 * 2)), np.array([1.0, -2.0, 0.125])
    graph = nir.NIRGraph(
        nodes={
            "input": nir.Input(input_type=np.array([1, 4, 4])),
            "conv": nir.Conv2d(input_shape=np.array([4, 4]), weight=wc, stride=1, padding=1, dilation=1, groups=1,
                               bias=bc),
            "if1": nir.IF(r=np.ones((2, 4, 4)), v_threshold=np.ones((2, 4, 4))),
            "pool": nir.SumPool2d(kernel_size=np.array([2, 2]), stride=np.array([2, 2]), padding=np.array([0, 0])),
            "flat": nir.Flatten(input_type={"input": np.array([2, 2, 2])}, start_dim=0),
            "fc": nir.Affine(weight=wl, bias=bl),
            "if2": nir.IF(r=np.full(3, 2.0), v_threshold=np.ones(3)),
            "output": nir.Output(output_type=np.array([3])),
        },
        edges=[("input", "conv"), ("conv", "if1"), ("if1", "pool"), ("pool", "flat"), ("flat", "fc"), ("fc", "if2"),
               ("if2", "output")],
    )
    path = tmp_path / "cnn.nir"
    nir.write(path, graph)
    net = read_network(path)
    conv_ids, out_ids = 16 + np.arange(32), 48 + np.arange(3)
    np.testing.assert_allclose(net.bias[conv_ids], np.repeat(bc, 16))  # one bias per channel, every position
    np.testing.assert_allclose(net.bias[out_ids], bl)  # the pooling folded into fc carries no constant
    assert not net.bias[net.is_input].any()


def random_params_net(seed: int) -> Network:
    rng = np.random.default_rng(seed)
    n_in, hidden, out = 6, 5, 2
    n = n_in + hidden + out
    pre = np.r_[np.tile(np.arange(n_in), hidden), np.tile(n_in + np.arange(hidden), out)]
    post = np.r_[np.repeat(n_in + np.arange(hidden), n_in), np.repeat(n_in + hidden + np.arange(out), hidden)]
    return Network.build(
        name="params", is_input=np.arange(n) < n_in, pre=pre, post=post, weight=rng.normal(0.3, 1.0, len(pre)),
        threshold=rng.uniform(0.5, 2.0, n),
        leak=np.where((np.arange(n) % 2 == 0) & (np.arange(n) >= n_in), rng.uniform(0.05, 0.5, n), 0.0),
        bias=np.where(np.arange(n) < n_in, 0.0, rng.normal(0.1, 0.3, n)),
        reset=np.where(np.arange(n) < n_in, 0.0, rng.uniform(-0.5, 0.5, n)),
        layer=np.r_[np.zeros(n_in), np.ones(hidden), np.full(out, 2)].astype(int), timesteps=40, task="digits",
    )


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), spec=st.sampled_from(["chain:2", "tree:3", "auto", "tree:2,grouping=block"]))
def test_exact_mode_is_exact_with_biases_leaks_and_resets(seed: int, spec: str) -> None:
    net = random_params_net(seed)
    dec = decompose(net, Hardware(name="t", rows=3, columns=8, fanin=3, crossbars_per_tile=2, mesh=None), spec)
    original = simulate(net, seed=seed, input_rate=0.4)
    prime = simulate_decomposition(dec, original.inputs, mode="exact")
    assert np.array_equal(prime.trains[:, : net.n_neurons], original.trains)
    assert original.counts[~net.is_input].sum() > 0


@pytest.mark.parametrize("decomposed", [False, True])
def test_nir_round_trip_keeps_bias_leak_reset_and_task(tmp_path: Path, decomposed: bool) -> None:
    net = random_params_net(7)
    model = decompose(net, Hardware(name="t", rows=3, columns=8, fanin=3, crossbars_per_tile=2, mesh=None),
                      "tree:3") if decomposed else net
    path = tmp_path / "params.nir"
    write_nir(path, model)
    back = read_network(path)
    assert back.task == "digits"
    np.testing.assert_allclose(back.bias, net.bias, rtol=1e-12, atol=0)
    np.testing.assert_allclose(back.reset, net.reset, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(back.leak, net.leak, rtol=1e-12)
    compute = ~net.is_input  # an input's threshold means nothing (NIR's Input has none)
    np.testing.assert_allclose(back.threshold[compute], net.threshold[compute], rtol=1e-12)
    inputs = simulate(net, seed=1, input_rate=0.4).inputs
    assert np.array_equal(simulate(back, inputs).trains, simulate(net, inputs).trains)


def test_a_bias_of_neurons_no_synapse_reaches_survives_export() -> None:
    net = biased(0.3, 0.0)  # no input at all: the bias rides a zero-weight Affine from the group to itself
    back = from_nir(to_nir(net))
    np.testing.assert_allclose(back.bias, net.bias)
    assert back.n_synapses == 0
    assert spike_steps(simulate(back, np.zeros((12, 0), dtype=bool)).trains[:, 0]) == [3, 7, 11]


@pytest.mark.parametrize("suffix", [".json", ".npz"])
def test_network_files_keep_bias_reset_and_task(tmp_path: Path, suffix: str) -> None:
    net = random_params_net(11)
    path = tmp_path / f"net{suffix}"
    write_network(path, net)
    back = read_network(path)
    assert back.task == "digits"
    assert np.array_equal(back.bias, net.bias) and np.array_equal(back.reset, net.reset)


def test_version_1_files_are_still_read(tmp_path: Path) -> None:
    net = random_params_net(12)
    path = tmp_path / "net.json"
    write_network(path, net)
    doc = json.loads(path.read_text())
    assert doc["version"] == 2
    doc["version"] = 1  # what mapopt wrote before neurons had biases and reset potentials
    for key in ("bias", "reset"):
        del doc["arrays"][key]
    del doc["task"]
    old = tmp_path / "old.json"
    old.write_text(json.dumps(doc))
    back = read_network(old)
    assert back.task is None and not back.bias.any() and not back.reset.any()
    assert np.array_equal(back.weight, net.weight)
    doc["version"] = 3
    old.write_text(json.dumps(doc))
    with pytest.raises(InputError, match="version 3"):
        read_network(old)


def test_version_2_files_need_their_bias(tmp_path: Path) -> None:
    path = tmp_path / "net.json"
    write_network(path, random_params_net(13))
    doc = json.loads(path.read_text())
    del doc["arrays"]["bias"]
    path.write_text(json.dumps(doc))
    with pytest.raises(InputError, match="missing array 'bias'"):
        read_network(path)


def cuba_graph(tau_syn: float) -> nir.NIRGraph:
    return nir.NIRGraph.from_list(
        nir.Input(input_type=np.array([2])),
        nir.Affine(weight=np.ones((3, 2)), bias=np.full(3, 0.1)),
        nir.CubaLIF(tau_syn=np.full(3, tau_syn), tau_mem=np.full(3, 1e-3), r=np.full(3, 10.0),
                    v_leak=np.zeros(3), v_threshold=np.ones(3), w_in=np.full(3, 2.0)),
        nir.Output(output_type=np.array([3])),
    )


def test_a_parameter_that_cannot_be_modelled_is_warned_about_once() -> None:
    with pytest.warns(ModelWarning) as record:
        net = from_nir(cuba_graph(5e-4))
    messages = [str(w.message) for w in record if issubclass(w.category, ModelWarning)]
    assert len(messages) == 1
    assert "NIR node 'cubalif' (CubaLIF)" in messages[0] and "tau_syn" in messages[0] and "5 steps" in messages[0]
    np.testing.assert_allclose(net.bias[~net.is_input], 0.1)  # the Affine bias is modelled, not warned about


def test_a_one_step_synaptic_filter_needs_no_warning(recwarn: pytest.WarningsRecorder) -> None:
    from_nir(cuba_graph(DEFAULT_DT))
    assert not [w for w in recwarn if issubclass(w.category, ModelWarning)]


def test_a_time_constant_below_the_step_is_warned_about() -> None:
    graph = leaky_graph(0.0, np.zeros(2), tau=5e-5)
    with pytest.warns(ModelWarning, match=r"'lif' \(LIF\): tau below the step dt=0.0001.*clipped to 1"):
        net = from_nir(graph)
    assert net.leak[~net.is_input].tolist() == [1.0, 1.0]


def test_cli_prints_the_warning_as_one_line(cli, tmp_path: Path) -> None:
    path = tmp_path / "cuba.nir"
    nir.write(path, cuba_graph(5e-4))
    result = cli("info", str(path), "--json")
    assert result.code == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if "warning" in line]
    assert warnings == [line for line in result.stderr.splitlines() if line.strip()]  # nothing else on stderr
    assert len(warnings) == 1 and warnings[0].startswith("mapopt: warning: NIR node 'cubalif' (CubaLIF): tau_syn")
    assert result.json()["biased_neurons"] == 3


def test_cli_dt_option(cli, tmp_path: Path) -> None:
    path = tmp_path / "leaky.nir"
    nir.write(path, leaky_graph(1.2, np.array([0.0]), tau=1e-2, r=1.0))
    slow = cli("simulate", "--net", str(path), "--json")  # dt 1e-4: settles at 120 of threshold 100 after 179 steps
    fast = cli("simulate", "--net", str(path), "--dt", "1e-3", "--json")  # dt 1e-3: fires within 20 steps
    assert slow.code == 0 and fast.code == 0, slow.stderr + fast.stderr
    assert slow.json()["compute_spikes"] == 0 and fast.json()["compute_spikes"] > 0
    for args in (["--net", "mlp:4-2", "--dt", "1e-3"], ["--net", str(path), "--dt", "-1"]):
        bad = cli("simulate", *args)
        assert bad.code == 2 and bad.stderr.count("\n") == 1 and "--dt" in bad.stderr, bad.stderr


def test_the_validator_wants_the_bias_and_reset_on_the_root_alone() -> None:
    from dataclasses import replace

    from mapopt.evaluation import check
    from mapopt.problem import MappingProblem
    from mapopt.registry import make_solver
    from mapopt.solver import Budget

    hw = Hardware(name="t", rows=8, columns=16, fanin=3, crossbars_per_tile=4, mesh=None)
    dec = decompose(random_params_net(5), hw, "tree:3")
    mapping = make_solver("paper").solve(MappingProblem(dec, hw), Budget(seed=0)).mapping
    assert check(dec, hw, mapping) == []
    prime = dec.network
    root = int(np.flatnonzero(dec.compute & (dec.level == 0) & (prime.bias != 0))[0])
    unit = int(np.flatnonzero(dec.level > 0)[0])
    for label, changes in (("reset", {"reset": prime.reset + (np.arange(prime.n_neurons) == root)}),
                           ("bias", {"bias": np.where(np.arange(prime.n_neurons) == root, 0.0, prime.bias)}),
                           ("no bias", {"bias": prime.bias + (np.arange(prime.n_neurons) == unit)})):
        tampered = replace(dec, network=replace(prime, **changes))
        v = check(tampered, hw, mapping)
        assert {x.constraint for x in v} == {"decomposition"}, label
        assert (f"root {root}" if label != "no bias" else f"unit {unit}") in v[0].item, label
