"""Net generators: exact sizes and fan-in against closed forms, conv layers against a direct convolution."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mapopt import layers
from mapopt.errors import InputError
from mapopt.io import read_spinemap, resolve_net, write_spinemap
from mapopt.network import Network
from mapopt.registry import generators
from problems.instances.conv import conv_facts, conv_graph, conv_net, lenet5, parse_spec
from problems.instances.filters import edgedet, gaussian, imgsmooth
from problems.instances.mlp import mlp
from problems.instances.random_graphs import erdos_renyi, powerlaw
from problems.instances.recurrent import lsm, rnn
from problems.instances.synfire import synfire


# ---------------------------------------------------------------------- direct references
def direct_conv(x: np.ndarray, w: np.ndarray, stride, padding, dilation, groups: int) -> np.ndarray:
    """Cross-correlation as PyTorch defines it, written out with numpy slicing (1-d or 2-d)."""
    nd = x.ndim - 1
    xp = np.pad(x, [(0, 0), *[(p, p) for p in padding]])
    cout, cin_g = w.shape[:2]
    k = w.shape[2:]
    outs = [(xp.shape[1 + i] - dilation[i] * (k[i] - 1) - 1) // stride[i] + 1 for i in range(nd)]
    y = np.zeros((cout, *outs))
    for co in range(cout):
        g = co // (cout // groups)
        chans = xp[g * cin_g : (g + 1) * cin_g]
        for offs in np.ndindex(*k):
            sl = tuple(
                slice(offs[i] * dilation[i], offs[i] * dilation[i] + stride[i] * (outs[i] - 1) + 1, stride[i])
                for i in range(nd)
            )
            y[co] += np.einsum("c...,c->...", chans[(slice(None), *sl)], w[(co, slice(None), *offs)])
    return y


def block(net: Network, pre_ids: np.ndarray, post_ids: np.ndarray) -> np.ndarray:
    """Dense weight matrix (post x pre) of the synapses between two id ranges."""
    return net.adjacency()[pre_ids][:, post_ids].toarray().T


conv_cases = st.fixed_dictionaries(
    {
        "nd": st.sampled_from([1, 2]),
        "groups": st.integers(1, 3),
        "cin_g": st.integers(1, 2),
        "cout_g": st.integers(1, 2),
        "kernel": st.integers(1, 4),
        "stride": st.integers(1, 3),
        "padding": st.integers(0, 3),
        "dilation": st.integers(1, 3),
        "size": st.integers(1, 11),
        "seed": st.integers(0, 2**16),
    }
)


@settings(max_examples=120, deadline=None)
@given(case=conv_cases)
def test_conv_matches_direct_convolution(case: dict) -> None:
    nd, g = case["nd"], case["groups"]
    rng = np.random.default_rng(case["seed"])
    in_shape = (g * case["cin_g"], *(case["size"],) * nd)
    w = rng.normal(size=(g * case["cout_g"], case["cin_g"], *(case["kernel"],) * nd))
    per = {k: (case[k],) * nd for k in ("stride", "padding", "dilation")}
    out = layers.conv_output_size(case["size"], case["kernel"], case["stride"], case["padding"], case["dilation"])
    if out < 1:
        with pytest.raises(InputError, match="does not fit"):
            layers.conv(in_shape, w, groups=g, **per)
        with pytest.raises(InputError, match="does not fit"):
            layers.conv_counts(in_shape, w.shape[0], w.shape[2:], groups=g, **per)
        return
    syn = layers.conv(in_shape, w, groups=g, **per)
    x = rng.normal(size=in_shape)
    y = (syn.matrix() @ x.ravel()).reshape(syn.out_shape)
    np.testing.assert_allclose(y, direct_conv(x, w, groups=g, **per), atol=1e-9)
    # every (post, pre) pair once, and the closed form agrees with the expansion
    assert len(np.unique(syn.post * x.size + syn.pre)) == len(syn.post)
    count, widest, shape = layers.conv_counts(in_shape, w.shape[0], w.shape[2:], groups=g, **per)
    assert (count, shape) == (len(syn.post), syn.out_shape)
    assert widest == np.bincount(syn.post, minlength=int(np.prod(shape))).max()


def test_same_padding_keeps_the_size() -> None:
    w = np.ones((1, 1, 4, 3))
    syn = layers.conv((1, 6, 5), w, padding="same")
    assert syn.out_shape == (1, 6, 5)
    with pytest.raises(InputError, match="stride 1"):
        layers.conv((1, 6, 5), w, padding="same", stride=2)


def test_pooling_sums_and_averages_windows() -> None:
    x = np.arange(2 * 4 * 6, dtype=float).reshape(2, 4, 6)
    total = layers.pool(x.shape, 2).matrix() @ x.ravel()
    mean = layers.pool(x.shape, 2, average=True).matrix() @ x.ravel()
    expect = x.reshape(2, 2, 2, 3, 2).sum(axis=(2, 4))
    np.testing.assert_allclose(total, expect.ravel())
    np.testing.assert_allclose(mean, expect.ravel() / 4)


# ---------------------------------------------------------------------- conv nets
def test_conv_net_layers_are_the_graphs_convolutions() -> None:
    spec = "2x9x9,c4k3s2p1d1g2,f5"
    net = conv_net(spec, seed=4)
    graph = conv_graph(parse_spec(spec), seed=4)
    w = graph.nodes["conv0"].weight
    inputs, first = np.arange(162), 162 + np.arange(4 * 5 * 5)
    x = np.random.default_rng(0).normal(size=(2, 9, 9))
    y = block(net, inputs, first) @ x.ravel()
    np.testing.assert_allclose(y, direct_conv(x, w, (2, 2), (1, 1), (1, 1), 2).ravel(), atol=1e-9)
    dense = block(net, first, 162 + 100 + np.arange(5))
    np.testing.assert_allclose(dense, graph.nodes["linear1"].weight)
    assert net.n_neurons == 162 + 100 + 5 and net.n_synapses == conv_facts(spec)["synapses"]


@pytest.mark.parametrize(
    "spec",
    ["1x12x12,c3k3,p2,f4", "3x10x10,c6k3p1d2g3,a2s1,c2k2s2,f3", "2x16,c4k5s2p2,c2k3d2,f6", "1x8x8,c2k3p1,c2k3p1"],
)
def test_conv_facts_match_the_expanded_net(spec: str) -> None:
    net = conv_net(spec, seed=1)
    facts = conv_facts(spec)
    assert (net.n_neurons, net.n_synapses, net.max_fanin) == (facts["neurons"], facts["synapses"], facts["max_fanin"])


def test_lenet5_geometry_in_closed_form() -> None:
    net = lenet5(seed=0)
    # C1 6x28x28 (25 taps), S2 6x14x14 (4), C3 16x10x10 (6*25), S4 16x5x5 (4), C5 120 (16*25), F6 84, F7 10
    sizes = [1024, 6 * 28 * 28, 6 * 14 * 14, 16 * 10 * 10, 16 * 5 * 5, 120, 84, 10]
    fanins = [0, 25, 4, 150, 4, 400, 120, 84]
    assert net.n_neurons == sum(sizes) == 9118
    assert net.n_synapses == sum(s * f for s, f in zip(sizes, fanins, strict=True)) == 422_824
    assert net.max_fanin == 400
    np.testing.assert_array_equal(np.bincount(net.layer), sizes)
    for layer, fanin in enumerate(fanins):
        assert set(net.fanin[net.layer == layer].tolist()) == {fanin}


def test_folded_pooling_composes_pool_and_weights() -> None:
    spec = "1x8x8,c2k3p1,p2,c3k3p1,f2"
    layered, folded = conv_net(spec, seed=2), conv_net(spec + ",pool=fold", seed=2)
    conv1 = 64 + np.arange(128)
    pooled = 64 + 128 + np.arange(32)
    conv2_layered = 64 + 128 + 32 + np.arange(48)
    conv2_folded = 64 + 128 + np.arange(48)
    composed = block(layered, pooled, conv2_layered) @ block(layered, conv1, pooled)
    np.testing.assert_allclose(block(folded, conv1, conv2_folded), composed)
    assert folded.n_neurons == layered.n_neurons - 32
    assert folded.fanin[conv2_folded].max() == 4 * layered.fanin[conv2_layered].max()
    assert set(layered.fanin[pooled].tolist()) == {4}


@pytest.mark.parametrize(
    ("spec", "needle"),
    [
        ("", "empty"),
        ("28,c3k3", "CxHxW"),
        ("axb,c3k3", "input shape"),
        ("1x8x8,q3", "not cNkK"),
        ("1x8x8,c2k3,pool=maybe", "pool= takes"),
        ("1x8x8,c2k3,p2,pool=fold", "weighted layer after"),
        ("1x8x8,c2k9", "does not fit"),
        ("3x8x8,c4k3g2", "groups=2"),
        ("1x8x8,f4,c2k3", "cannot follow a dense"),
        ("1x16,p2", "2-d"),
        ("1x8x8", "no layers"),
    ],
)
def test_bad_conv_specs(spec: str, needle: str) -> None:
    with pytest.raises(InputError, match=needle):
        conv_net(spec)


# ---------------------------------------------------------------------- other families
def test_mlp_closed_form() -> None:
    net = mlp([30, 7, 4], seed=5)
    assert (net.n_neurons, net.n_synapses, net.max_fanin) == (41, 30 * 7 + 7 * 4, 30)
    assert net.fanin[30:37].tolist() == [30] * 7 and net.fanin[37:].tolist() == [7] * 4


@pytest.mark.parametrize(("height", "width", "k"), [(7, 9, 3), (12, 10, 5), (4, 6, 7)])
def test_filters_closed_form(height: int, width: int, k: int) -> None:
    r = k // 2
    per_map = (height * k - r * (r + 1)) * (width * k - r * (r + 1))  # taps inside the image, row x column
    widest = min(k, height) * min(k, width)
    smooth, edges = imgsmooth(height, width, k=k), edgedet(height, width, k=k)
    assert (smooth.n_neurons, smooth.n_synapses, smooth.max_fanin) == (2 * height * width, per_map, widest)
    assert (edges.n_neurons, edges.n_synapses, edges.max_fanin) == (3 * height * width, 2 * per_map, widest)
    inner = height * width + (r * width + r)  # an output pixel whose window is inside the image
    if height > 2 * r and width > 2 * r:
        weights = smooth.weight[smooth.post == inner]
        np.testing.assert_allclose(np.sort(weights), np.sort(gaussian(k, k / 4).ravel()))
        on, off = edges.weight[edges.post == inner], edges.weight[edges.post == inner + height * width]
        np.testing.assert_allclose(on, -off)
        assert abs(on.sum()) < 1e-9  # a difference of two normalised Gaussians: no response to flat input


def test_synfire_closed_form() -> None:
    chain, ring = synfire(5, 7), synfire(5, 7, ring=True)
    assert (chain.n_neurons, chain.n_synapses, chain.max_fanin) == (35, 4 * 49, 7)
    assert ring.n_synapses == 5 * 49 and ring.fanin[7:14].tolist() == [14] * 7
    assert chain.n_inputs == 7 and set(chain.weight.tolist()) == {2 / 7}


def test_rnn_closed_form() -> None:
    net = rnn(6, 9, 4)
    assert net.n_synapses == 6 * 9 + 9 * 9 + 9 * 4
    assert net.fanin[6:15].tolist() == [15] * 9 and net.fanin[15:].tolist() == [9] * 4
    assert np.sum(net.pre == net.post) == 9  # the dense recurrent matrix has its diagonal


def test_lsm_structure() -> None:
    n_in, n_res, n_out = 20, 125, 3
    net = lsm(n_in, n_res, n_out, seed=3)
    res = np.arange(n_in, n_in + n_res)
    assert net.fanin[n_in + n_res :].tolist() == [n_res] * n_out
    assert not np.any(net.pre == net.post)
    sign = np.zeros(net.n_neurons)
    np.maximum.at(sign, net.pre, np.sign(net.weight))
    low = np.zeros(net.n_neurons)
    np.minimum.at(low, net.pre, np.sign(net.weight))
    assert np.all((sign[res] <= 0) | (low[res] >= 0))  # each reservoir neuron is excitatory or inhibitory
    recurrent = np.isin(net.pre, res) & np.isin(net.post, res)
    assert 0 < recurrent.sum() < n_res * (n_res - 1)
    with pytest.raises(InputError, match="lambda"):
        lsm(2, 8, 1, lam=0.0)


def test_erdos_renyi_has_exactly_m_synapses() -> None:
    net = erdos_renyi(300, 2000, n_in=40, seed=7)
    assert (net.n_neurons, net.n_synapses, net.n_inputs) == (300, 2000, 40)
    assert not np.any(net.pre == net.post) and not np.any(net.is_input[net.post])
    again, other = erdos_renyi(300, 2000, n_in=40, seed=7), erdos_renyi(300, 2000, n_in=40, seed=8)
    np.testing.assert_array_equal(net.pre, again.pre)
    assert not np.array_equal(net.pre, other.pre)
    full = erdos_renyi(6, 25, n_in=1)  # every legal pair
    assert full.n_synapses == 5 * 5
    with pytest.raises(InputError, match="pairs"):
        erdos_renyi(6, 26, n_in=1)


def test_powerlaw_fanin_is_heavy_tailed_and_within_bounds() -> None:
    net = powerlaw(4000, n_in=400, alpha=2.0, kmin=2, kmax=3000, seed=1)
    fanin = net.fanin[~net.is_input]
    assert fanin.min() >= 2 and fanin.max() <= 3000
    assert fanin.max() > 50 * np.median(fanin)
    assert not np.any(net.pre == net.post)
    dense = powerlaw(30, n_in=3, kmin=29, seed=2)  # every neuron reads all others
    assert dense.fanin[3:].tolist() == [29] * 27


@pytest.mark.parametrize(
    "spec",
    [
        "mlp:12-5-3",
        "conv:1x8x8,c2k3,p2,f3",
        "lenet5:fold",
        "imgsmooth:6x5,k=3",
        "edgedet:6x6",
        "lsm:5-27-2,lambda=1.5",
        "rnn:4-6-2",
        "er:n=50,m=200,inputs=5",
        "powerlaw:n=60,alpha=2.5",
        "synfire:3-4,ring",
    ],
)
def test_generator_specs_are_seeded_and_simulated(spec: str) -> None:
    assert spec.partition(":")[0] in generators()
    a, b = resolve_net(spec, seed=3), resolve_net(spec, seed=3)
    for field in ("pre", "post", "weight", "spikes", "layer", "threshold"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
    assert a.spike_source.startswith("simulated") and a.spike_source == b.spike_source
    assert np.all(a.layer >= 0) and np.all(a.layer[a.is_input] == 0)
    assert a.spikes[a.is_input].sum() > 0


def test_rate_model_for_huge_nets() -> None:
    net = mlp([16, 4], seed=0, spikes="rate")
    assert net.spike_source.startswith("rate: ")
    with pytest.raises(InputError, match="spike model"):
        mlp([16, 4], spikes="guess")


@pytest.mark.parametrize(
    ("spec", "needle"),
    [
        ("imgsmooth:8", "2 sizes"),
        ("imgsmooth:8x8,k=4", "odd"),
        ("edgedet:8x8,q=3", "unknown option"),
        ("edgedet:8x8,k=1", "k >= 3"),
        ("er:n=10,m=x", "integer"),
        ("powerlaw:n=10,alpha=1", "alpha > 1"),
        ("synfire:1-4", ">= 2 groups"),
        ("synfire:3-4,loop", "ring"),
        ("rnn:4-0-2", "positive"),
        ("lenet5:maybe", "layer or fold"),
    ],
)
def test_bad_generator_args(spec: str, needle: str) -> None:
    with pytest.raises(InputError, match=needle) as err:
        resolve_net(spec)
    assert f"--net {spec}" in str(err.value)


def test_spinemap_round_trip_of_generated_nets(tmp_path: Path) -> None:
    net = synfire(4, 5, seed=1)
    conn, spikes = tmp_path / "net.txt", tmp_path / "spikes.txt"
    write_spinemap(net, conn, spikes)
    back = read_spinemap(conn, spikes)
    np.testing.assert_array_equal(back.pre, net.pre)
    np.testing.assert_array_equal(back.post, net.post)
    np.testing.assert_array_equal(back.is_input, net.is_input)
    np.testing.assert_array_equal(back.spikes, np.round(net.spikes))
