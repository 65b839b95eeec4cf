"""NIR import: graphs built with the ``nir`` package, written with ``nir.write``, read back and expanded."""

from __future__ import annotations

from pathlib import Path

import h5py
import nir
import numpy as np
import pytest

from mapopt.decompose import decompose
from mapopt.errors import InputError, ModelWarning
from mapopt.hardware import load_preset
from mapopt.io import read_network, resolve_net
from mapopt.io.nir import DEFAULT_DT, from_nir, to_nir, write_nir
from mapopt.network import Network
from problems.instances.conv import conv_graph, conv_net, parse_spec


def roundtrip(tmp_path: Path, graph: nir.NIRGraph, name: str = "model") -> Network:
    path = tmp_path / f"{name}.nir"
    nir.write(path, graph)
    return read_network(path)


def block(net: Network, pre_ids: np.ndarray, post_ids: np.ndarray) -> np.ndarray:
    """Dense weight matrix (post x pre) of the synapses between two id ranges."""
    return net.adjacency()[pre_ids][:, post_ids].toarray().T


def ones(*shape: int) -> np.ndarray:
    return np.ones(shape)


def test_mlp(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    w1, w2 = rng.normal(size=(5, 4)), rng.normal(size=(3, 5))
    w2[1, 2] = 0.0  # a zero weight needs no crosspoint
    tau = np.array([2e-3, 2e-3, 1e-3, 4e-3, 2e-3])
    graph = nir.NIRGraph.from_list(
        nir.Input(input_type=np.array([4])),
        nir.Affine(weight=w1, bias=rng.normal(size=5)),
        nir.LIF(tau=tau, r=np.full(5, 20.0), v_leak=np.zeros(5), v_threshold=np.full(5, 1.5)),
        nir.Linear(weight=w2),
        nir.IF(r=np.full(3, 2.0), v_threshold=np.full(3, 3.0)),
        nir.Output(output_type=np.array([3])),
    )
    net = roundtrip(tmp_path, graph)
    inputs, hidden, out = np.arange(4), 4 + np.arange(5), 9 + np.arange(3)
    assert net.is_input.tolist() == [True] * 4 + [False] * 8
    assert net.n_synapses == 4 * 5 + 5 * 3 - 1
    np.testing.assert_allclose(block(net, inputs, hidden), w1)
    np.testing.assert_allclose(block(net, hidden, out), w2)
    # LIF: threshold v_th * tau / (dt r), leak dt / tau; IF: threshold v_th / r, no leak
    np.testing.assert_allclose(net.threshold[hidden], 1.5 * tau / (DEFAULT_DT * 20.0))
    np.testing.assert_allclose(net.leak[hidden], DEFAULT_DT / tau)
    np.testing.assert_allclose(net.threshold[out], 1.5)
    assert net.leak[out].tolist() == [0.0] * 3
    assert net.layer.tolist() == [0] * 4 + [1] * 5 + [2] * 3
    assert net.spike_source.startswith("simulated") and "rate 0.2" in net.spike_source


def direct_cnn(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Conv 3x3, stride 1, padding 1, straight from the definition."""
    xp = np.pad(x, ((0, 0), (1, 1), (1, 1)))
    out = np.zeros((w.shape[0], x.shape[1], x.shape[2]))
    for i in range(3):
        for j in range(3):
            out += np.einsum("chw,oc->ohw", xp[:, i : i + x.shape[1], j : j + x.shape[2]], w[:, :, i, j])
    return out


@pytest.mark.parametrize("pool", [nir.SumPool2d, nir.AvgPool2d])
def test_cnn_with_pooling_and_flatten(tmp_path: Path, pool: type) -> None:
    rng = np.random.default_rng(1)
    wc, wl = rng.normal(size=(3, 2, 3, 3)), rng.normal(size=(4, 3 * 3 * 3))
    graph = nir.NIRGraph(
        nodes={
            "in": nir.Input(input_type=np.array([2, 6, 6])),
            "conv": nir.Conv2d(
                input_shape=(6, 6), weight=wc, stride=1, padding=1, dilation=1, groups=1, bias=np.zeros(3)
            ),
            "lif": nir.IF(r=ones(3, 6, 6), v_threshold=ones(3, 6, 6)),
            "pool": pool(kernel_size=np.array([2, 2]), stride=np.array([2, 2]), padding=np.array([0, 0])),
            "flat": nir.Flatten(input_type={"input": np.array([3, 3, 3])}, start_dim=0),
            "fc": nir.Linear(weight=wl),
            "out_neurons": nir.IF(r=ones(4), v_threshold=ones(4)),
            "out": nir.Output(output_type=np.array([4])),
        },
        edges=[
            ("in", "conv"),
            ("conv", "lif"),
            ("lif", "pool"),
            ("pool", "flat"),
            ("flat", "fc"),
            ("fc", "out_neurons"),
            ("out_neurons", "out"),
        ],
    )
    net = roundtrip(tmp_path, graph)
    inputs, conv_ids, out = np.arange(72), 72 + np.arange(108), 180 + np.arange(4)
    assert net.n_neurons == 184
    x = rng.normal(size=(2, 6, 6))
    np.testing.assert_allclose(block(net, inputs, conv_ids) @ x.ravel(), direct_cnn(x, wc).ravel(), atol=1e-9)
    # pooling is folded into the linear layer: each output reads all 108 conv neurons
    h = rng.normal(size=(3, 6, 6))
    pooled = h.reshape(3, 3, 2, 3, 2).sum(axis=(2, 4)) / (4 if pool is nir.AvgPool2d else 1)
    np.testing.assert_allclose(block(net, conv_ids, out) @ h.ravel(), wl @ pooled.ravel(), atol=1e-9)
    assert net.fanin[out].tolist() == [108] * 4


def test_conv1d_and_scale(tmp_path: Path) -> None:
    w = np.arange(1.0, 1.0 + 2 * 1 * 3).reshape(2, 1, 3)
    graph = nir.NIRGraph.from_list(
        nir.Input(input_type=np.array([1, 8])),
        nir.Conv1d(input_shape=8, weight=w, stride=2, padding=0, dilation=2, groups=1, bias=np.zeros(2)),
        nir.Scale(scale=np.full((2, 2), 0.5)),
        nir.IF(r=ones(2, 2), v_threshold=ones(2, 2)),
    )
    net = roundtrip(tmp_path, graph)
    x = np.arange(8.0)
    y = block(net, np.arange(8), 8 + np.arange(4)) @ x
    expect = [[0.5 * (w[c, 0] @ x[o * 2 : o * 2 + 5 : 2]) for o in range(2)] for c in range(2)]
    np.testing.assert_allclose(y, np.ravel(expect))


def rsynaptic(n: int, w_rec: np.ndarray) -> nir.NIRGraph:
    """A recurrent CubaLIF layer as snnTorch's RSynaptic exports it: a subgraph with a recurrent Linear."""
    cuba = nir.CubaLIF(
        tau_mem=np.full(n, 1e-3),
        tau_syn=np.full(n, 5e-4),
        r=np.full(n, 10.0),
        v_leak=np.zeros(n),
        v_threshold=np.full(n, 2.0),
        w_in=np.full(n, 5.0),
    )
    return nir.NIRGraph(
        nodes={
            "input": nir.Input(input_type=np.array([n])),
            "lif": cuba,
            "w_rec": nir.Linear(weight=w_rec),
            "output": nir.Output(output_type=np.array([n])),
        },
        edges=[("input", "lif"), ("lif", "w_rec"), ("w_rec", "lif"), ("lif", "output")],
        type_check=False,
    )


@pytest.mark.parametrize("edge_to", ["rec", "rec.input"])
def test_recurrent_cubalif_in_a_nested_subgraph(tmp_path: Path, edge_to: str) -> None:
    rng = np.random.default_rng(2)
    w_in, w_rec, w_out = rng.normal(size=(4, 3)), rng.normal(size=(4, 4)), rng.normal(size=(2, 4))
    graph = nir.NIRGraph(
        nodes={
            "in": nir.Input(input_type=np.array([3])),
            "fc": nir.Linear(weight=w_in),
            "rec": rsynaptic(4, w_rec),
            "readout": nir.Linear(weight=w_out),
            "li": nir.LI(tau=np.full(2, 1e-3), r=np.ones(2), v_leak=np.zeros(2)),
            "out": nir.Output(output_type=np.array([2])),
        },
        edges=[("in", "fc"), ("fc", edge_to), ("rec", "readout"), ("readout", "li"), ("li", "out")],
        type_check=False,
    )
    with pytest.warns(ModelWarning) as record:
        net = roundtrip(tmp_path, graph)
    messages = sorted(str(w.message) for w in record if issubclass(w.category, ModelWarning))
    assert len(messages) == 2
    assert messages[0].startswith("NIR node 'li' (LI): potential (tau, r, v_leak) is not simulated")
    assert messages[1].startswith("NIR node 'rec.lif' (CubaLIF): tau_syn")  # its 5-step current filter
    inputs, rec, li = np.arange(3), 3 + np.arange(4), 7 + np.arange(2)
    np.testing.assert_allclose(block(net, inputs, rec), w_in)
    np.testing.assert_allclose(block(net, rec, rec), w_rec)  # recurrent edges, self-loops included
    np.testing.assert_allclose(block(net, rec, li), w_out)
    assert net.n_synapses == 12 + 16 + 8
    # CubaLIF gain dt r w_in / tau_mem = 1e-4 * 10 * 5 / 1e-3 = 5: threshold 2 / 5; leak dt / tau_mem
    np.testing.assert_allclose(net.threshold[rec], 0.4)
    np.testing.assert_allclose(net.leak[rec], 0.1)
    # leaky integrators never spike: a threshold above any potential, yet fine for fixed point
    assert np.all(net.threshold[li] > 2 * np.abs(w_out).sum(axis=1) / net.leak[li])
    assert net.spikes[li].tolist() == [0.0, 0.0] and net.spikes[rec].sum() > 0


def test_generated_conv_net_round_trips_through_nir(tmp_path: Path) -> None:
    spec = "1x10x10,c3k3s2p1,p2,f4"
    net = roundtrip(tmp_path, conv_graph(parse_spec(spec), seed=5))
    generated = conv_net(spec, seed=5)
    for field in ("is_input", "pre", "post", "weight", "threshold", "leak", "layer"):
        np.testing.assert_array_equal(getattr(net, field), getattr(generated, field), err_msg=field)


def test_cli_reads_nir(cli, tmp_path: Path) -> None:
    path = tmp_path / "tiny.nir"
    nir.write(path, rsynaptic(3, np.eye(3)))
    info = cli("info", path, "--json")
    assert info.code == 0, info.stderr
    assert (info.json()["neurons"], info.json()["synapses"]) == (6, 6)


# ---------------------------------------------------------------------- errors
def _graph_with(node: nir.NIRNode) -> nir.NIRGraph:
    return nir.NIRGraph(
        nodes={"in": nir.Input(input_type=np.array([3])), "odd": node, "if": nir.IF(r=ones(3), v_threshold=ones(3))},
        edges=[("in", "odd"), ("odd", "if")],
        type_check=False,
    )


@pytest.mark.parametrize(
    ("node", "kind"), [(nir.Delay(delay=np.ones(3)), "Delay"), (nir.Threshold(threshold=np.ones(3)), "Threshold")]
)
def test_unsupported_node_is_named(tmp_path: Path, node: nir.NIRNode, kind: str) -> None:
    with pytest.raises(InputError, match=rf"NIR node 'odd' has type {kind}"):
        roundtrip(tmp_path, _graph_with(node))
    with pytest.raises(InputError, match=rf"'odd' has type {kind}"):
        from_nir(_graph_with(node))


def test_unknown_node_type_in_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "odd.nir"
    nir.write(path, nir.NIRGraph(nodes={"sub": rsynaptic(2, np.eye(2))}, edges=[], type_check=False))
    with h5py.File(path, "r+") as f:
        del f["node/nodes/sub/nodes/w_rec/type"]
        f["node/nodes/sub/nodes/w_rec"].create_dataset("type", data="Quantum", dtype=h5py.string_dtype())
    with pytest.raises(InputError, match=r"'sub\.w_rec' has type Quantum"):
        read_network(path)


def test_not_a_nir_file(tmp_path: Path) -> None:
    path = tmp_path / "junk.nir"
    path.write_text("not hdf5")
    with pytest.raises(InputError, match="not a readable NIR") as err:
        read_network(path)
    assert str(path) in str(err.value)
    with h5py.File(tmp_path / "empty.h5", "w") as f:
        f.create_dataset("version", data="1.0")
    with pytest.raises(InputError, match="no 'node' group"):
        read_network(tmp_path / "empty.h5")


@pytest.mark.parametrize(
    ("nodes", "edges", "needle"),
    [
        (
            {"in": nir.Input(input_type=np.array([3])), "a": nir.Linear(weight=np.eye(3))},
            [("in", "a")],
            "no neuron node",
        ),
        (
            {
                "in": nir.Input(input_type=np.array([3])),
                "a": nir.Linear(weight=np.eye(3)),
                "b": nir.Linear(weight=np.eye(3)),
                "if": nir.IF(r=ones(3), v_threshold=ones(3)),
            },
            [("in", "a"), ("a", "b"), ("b", "a"), ("b", "if")],
            "cycle without a neuron",
        ),
        (
            {
                "in": nir.Input(input_type=np.array([3])),
                "a": nir.Linear(weight=np.ones((2, 4))),
                "if": nir.IF(r=ones(2), v_threshold=ones(2)),
            },
            [("in", "a"), ("a", "if")],
            r"'a' \(Linear\): weight of shape \(2, 4\) does not take its 3 inputs",
        ),
        (
            {"in": nir.Input(input_type=np.array([3])), "if": nir.IF(r=ones(3), v_threshold=ones(3))},
            [("in", "nowhere")],
            "'nowhere', which is not a node",
        ),
        (
            {
                "in": nir.Input(input_type=np.array([3])),
                "lif": nir.LIF(tau=np.zeros(3), r=ones(3), v_leak=np.zeros(3), v_threshold=ones(3)),
            },
            [("in", "lif")],
            "time constants must be > 0",
        ),
    ],
)
def test_malformed_graphs(tmp_path: Path, nodes: dict, edges: list, needle: str) -> None:
    graph = nir.NIRGraph(nodes=nodes, edges=edges, type_check=False)
    with pytest.raises(InputError, match=needle):
        roundtrip(tmp_path, graph)


# ---------------------------------------------------------------------- export
@pytest.mark.parametrize("spec", [None, "chain:3", "tree:2", "prune-first"])
def test_decomposed_network_written_to_nir_reads_back_as_the_original(tmp_path: Path, spec: str | None) -> None:
    net = resolve_net("mlp:20-8-3", seed=3)
    dec = None if spec is None else decompose(net, load_preset("toy"), spec)
    path = tmp_path / "dec.nir"
    write_nir(path, net if dec is None else dec)
    back = read_network(path)
    kept = np.setdiff1d(np.arange(net.n_synapses), [] if dec is None else dec.pruned)
    np.testing.assert_array_equal(back.pre, net.pre[kept])
    np.testing.assert_array_equal(back.post, net.post[kept])
    np.testing.assert_array_equal(back.weight, net.weight[kept])  # each synapse on one path: exact
    for field in ("is_input", "threshold", "leak", "layer"):
        np.testing.assert_array_equal(getattr(back, field), getattr(net, field), err_msg=field)
    if spec == "prune-first":
        assert len(kept) < net.n_synapses


def test_lif_parameters_survive_export(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    graph = nir.NIRGraph.from_list(
        nir.Input(input_type=np.array([3])),
        nir.Linear(weight=rng.normal(size=(4, 3))),
        nir.LIF(tau=np.full(4, 5e-4), r=np.full(4, 5.0), v_leak=np.zeros(4), v_threshold=np.arange(1.0, 5.0)),
    )
    net = roundtrip(tmp_path, graph)
    write_nir(tmp_path / "again.nir", net)
    again = read_network(tmp_path / "again.nir")
    np.testing.assert_allclose(again.threshold, net.threshold)
    np.testing.assert_allclose(again.leak, net.leak)
    np.testing.assert_array_equal(again.weight, net.weight)


def test_export_refuses_nets_too_dense_for_nir() -> None:
    with pytest.raises(InputError, match="no sparse weights"):
        to_nir(resolve_net("mlp:30-20"), max_weights=599)
    assert len(to_nir(resolve_net("mlp:30-20"), max_weights=600).nodes) == 4  # input, linear, IF, output
