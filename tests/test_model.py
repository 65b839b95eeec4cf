"""The network and hardware model: validation of bad input, presets, hop distances."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest

from mapopt.errors import InputError
from mapopt.hardware import customise, load_preset, parse_mesh, preset_names
from mapopt.network import Network


def build(**overrides):
    args = dict(name="n", is_input=[True, True, False], pre=[0, 1], post=[2, 2], weight=[1.0, 2.0], spikes=[1, 2, 3])
    args.update(overrides)
    return Network.build(**args)


def test_build_sorts_and_computes_fanin() -> None:
    net = build(pre=[1, 0], post=[2, 2], weight=[2.0, 1.0])
    assert net.pre.tolist() == [0, 1] and net.weight.tolist() == [1.0, 2.0]
    assert net.fanin.tolist() == [0, 0, 2] and net.max_fanin == 2 and net.in_ptr.tolist() == [0, 0, 0, 2]
    assert net.summary()["synapses"] == 2


@pytest.mark.parametrize(
    ("overrides", "needle"),
    [
        ({"pre": [0, 5]}, "out of range"),
        ({"post": [2, -1]}, "out of range"),
        ({"pre": [0, 0], "post": [2, 2]}, "duplicate synapse 0->2"),
        ({"weight": [1.0, float("nan")]}, "weight is nan"),
        ({"weight": [float("inf"), 1.0]}, "weight is inf"),
        ({"spikes": [1, -2, 3]}, "neuron 1: spike count -2"),
        ({"pre": [0, 2], "post": [2, 1]}, "input neuron 1 has an incoming synapse"),
        ({"weight": [1.0]}, "differ in length"),
        ({"spikes": [1, 2]}, "spikes has 2 entries"),
        ({"timesteps": 0}, "timesteps"),
    ],
)
def test_bad_networks_name_the_item(overrides: dict, needle: str) -> None:
    with pytest.raises(InputError, match=needle):
        build(**overrides)


def test_duplicates_merge_when_asked() -> None:
    net = build(pre=[0, 0, 1], post=[2, 2, 2], weight=[1.0, 0.5, 2.0], merge_duplicates=True)
    assert net.n_synapses == 2 and net.weight.tolist() == [1.5, 2.0]


def test_presets_load_and_carry_sources() -> None:
    assert {"dynapse-paper", "dynapse", "loihi", "truenorth", "toy"} <= set(preset_names())
    paper = load_preset("dynapse-paper")
    assert (paper.rows, paper.columns, paper.fanin) == (128, 128, 128)
    assert load_preset("dynapse").fanin == 64 and load_preset("truenorth").rows == 256
    loihi = load_preset("loihi")
    assert loihi.e_syn == pytest.approx(35.5e-12) and loihi.mesh == (8, 4)
    for name in preset_names():
        hw = load_preset(name)
        assert hw.sources, f"preset {name} must cite its sources"


def test_hops_match_networkx_grid() -> None:
    hw = load_preset("loihi")
    grid = nx.grid_2d_graph(*hw.mesh)
    tiles = np.arange(hw.n_tiles)
    xs, ys = hw.tile_xy(tiles)
    for a in range(0, hw.n_tiles, 5):
        dist = nx.single_source_shortest_path_length(grid, (int(xs[a]), int(ys[a])))
        expected = [dist[(int(x), int(y))] for x, y in zip(xs, ys, strict=True)]
        assert hw.hops(np.full_like(tiles, a), tiles).tolist() == expected


def test_overrides_and_auto_mesh() -> None:
    hw = customise(load_preset("dynapse-paper"), crossbar="64x32", crossbars_per_tile=4, mesh="3x2")
    assert (hw.rows, hw.columns, hw.fanin, hw.crossbars_per_tile, hw.mesh) == (64, 32, 64, 4, (3, 2))
    auto = load_preset("dynapse-paper").with_mesh_for(26)
    assert auto.mesh == (6, 6)
    assert parse_mesh("auto") is None


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"crossbar": "0x4"}, "positive"),
        ({"crossbar": "big"}, "RxC"),
        ({"fanin": 0}, "fanin must be a positive integer"),
        ({"fanin": 500}, "exceeds crossbar rows"),
        ({"mesh": "0x3"}, "at least 1x1"),
        ({"crossbars_per_tile": -1}, "crossbars_per_tile"),
    ],
)
def test_bad_hardware(kwargs: dict, needle: str) -> None:
    with pytest.raises(InputError, match=needle):
        customise(load_preset("dynapse-paper"), **kwargs)


def test_unknown_preset() -> None:
    with pytest.raises(InputError, match="unknown hardware preset 'nope'; known: "):
        load_preset("nope")
