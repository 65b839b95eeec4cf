"""Hand-computed metrics on tiny nets, and one rejection test per constraint name."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from mapopt.decompose import decompose
from mapopt.decompose.prune import no_decomposition
from mapopt.evaluation import assess, check, metrics
from mapopt.hardware import load_preset
from mapopt.mapping import Mapping
from mapopt.network import Network

TOY = load_preset("toy")  # R=C=F=4, K=2, 2x2 mesh, e_syn=1, e_msg=10, e_hop=100, p_cell=.001, p_col=.01


def two_crossbars(n_prime: int, units: dict[int, int], tiles: list[int], mesh: tuple[int, int] = (2, 2)) -> Mapping:
    cb = np.full(n_prime, -1)
    for u, c in units.items():
        cb[u] = c
    return Mapping(cb, np.array(tiles), mesh)


def test_every_metric_by_hand(tiny_net: Network) -> None:
    # unit 3 on crossbar 0 at tile 0 = (0,0) (the I/O tile); unit 4 on crossbar 1 at tile 3 = (1,1).
    dec = decompose(tiny_net, TOY, "none")
    m = metrics(dec, TOY, two_crossbars(5, {3: 0, 4: 1}, [0, 3]))
    # deliveries (source, crossbar): (0,c0) 2, (1,c0) 3, (2,c0) 5, (1,c1) 3, (3,c1) 4
    assert m["crossbars"] == 2 and m["tiles"] == 2 and m["units"] == 2
    assert m["neuron_utilization"] == pytest.approx(2 / 8)
    assert m["synapse_utilization"] == pytest.approx(5 / 32)
    assert m["synaptic_events"] == 2 + 3 + 5 + 3 + 4
    assert m["deliveries"] == 17
    assert m["intercrossbar_spikes"] == 17  # inputs always; 3 -> crossbar 1 leaves crossbar 0
    assert m["intertile_spikes"] == 3 + 4  # input 1 to tile 3, and 3 from tile 0 to tile 3
    assert m["hop_spikes"] == 3 * 2 + 4 * 2
    assert m["max_hops"] == 2
    assert m["energy_dynamic_j"] == pytest.approx(1 * 17 + 10 * 17 + 100 * 14)
    assert m["energy_synapse_j"] == pytest.approx(1 * 17)
    assert m["energy_network_j"] == pytest.approx(10 * 17 + 100 * 14)
    assert m["energy_static_j"] == pytest.approx(10 * (0.001 * 32 + 0.01 * 8))
    assert m["energy_wasted_j"] == pytest.approx(10 * (0.001 * 27 + 0.01 * 6))
    assert m["energy_total_j"] == pytest.approx(1587 + 1.12)
    assert m["depth"] == 1 and m["pruned_synapses"] == 0 and m["pruned_weight_fraction"] == 0
    assert m["lower_bound_crossbars"] == 1
    assert m["mesh"] == "2x2"


def test_shared_crossbar_multicast_counts_once(tiny_net: Network) -> None:
    # both units on crossbar 0: source 1 feeds both but is delivered once; 3 -> 4 stays inside.
    dec = decompose(tiny_net, TOY, "none")
    m = metrics(dec, TOY, two_crossbars(5, {3: 0, 4: 0}, [0]))
    assert m["deliveries"] == 2 + 3 + 5 + 4
    assert m["intercrossbar_spikes"] == 2 + 3 + 5
    assert m["intertile_spikes"] == 0 and m["hop_spikes"] == 0
    assert m["crossbars"] == 1 and m["neuron_utilization"] == pytest.approx(2 / 4)


def test_chain_and_prune_metrics(tiny_net: Network) -> None:
    dec = decompose(tiny_net, TOY, "chain:2")
    assert dec.network.n_neurons == 6 and dec.depth == 2
    assert dec.network.spikes[5] == 2 + 3  # upper traffic of the first unit of neuron 3
    m = metrics(dec, TOY, two_crossbars(6, {3: 0, 4: 0, 5: 0}, [0]))
    assert m["units"] == 3 and m["depth"] == 2 and m["used_crosspoints"] == 6
    hw2 = replace(TOY, fanin=2)
    first = decompose(tiny_net, hw2, "prune-first")
    assert first.pruned.tolist() == [2]  # 2->3 (weight 2) is the third input of neuron 3
    assert first.pruned_weight_fraction == pytest.approx(2 / 5.25)
    magnitude = decompose(tiny_net, hw2, "prune-magnitude")
    assert magnitude.pruned.tolist() == [0]  # 0->3 has the smallest |w| = 0.5
    m = metrics(magnitude, hw2, two_crossbars(5, {3: 0, 4: 1}, [0, 1]))
    assert m["pruned_synapses"] == 1 and m["pruned_weight_fraction"] == pytest.approx(0.5 / 5.25)


def names(violations: list) -> set[str]:
    return {v.constraint for v in violations}


def test_valid_mapping_accepted(tiny_net: Network) -> None:
    dec = decompose(tiny_net, TOY, "none")
    verdict = assess(dec, TOY, two_crossbars(5, {3: 0, 4: 1}, [0, 3]))
    assert verdict.valid and verdict.metrics is not None


def test_columns_violation(tiny_net: Network) -> None:
    hw = replace(TOY, columns=1)
    v = check(decompose(tiny_net, hw, "none"), hw, two_crossbars(5, {3: 0, 4: 0}, [0]))
    assert names(v) == {"columns"} and v[0].item == "crossbar 0" and (v[0].limit, v[0].actual) == (1, 2)


def test_rows_violation(tiny_net: Network) -> None:
    hw = replace(TOY, rows=3, fanin=3)
    v = check(decompose(tiny_net, hw, "none"), hw, two_crossbars(5, {3: 0, 4: 0}, [0]))
    assert names(v) == {"rows"} and (v[0].limit, v[0].actual) == (3, 4)


def test_fanin_violation(tiny_net: Network) -> None:
    hw = replace(TOY, fanin=2)
    v = check(no_decomposition(tiny_net), hw, two_crossbars(5, {3: 0, 4: 1}, [0, 1]))
    assert names(v) == {"fanin"} and "neuron 3" in v[0].item and (v[0].limit, v[0].actual) == (2, 3)


def test_tile_capacity_violation(tiny_net: Network) -> None:
    hw = replace(TOY, crossbars_per_tile=1)
    dec = decompose(tiny_net, hw, "none")
    v = check(dec, hw, two_crossbars(5, {3: 0, 4: 1}, [2, 2]))
    assert names(v) == {"tile-capacity"} and v[0].item.startswith("tile 2") and (v[0].limit, v[0].actual) == (1, 2)
    outside = check(dec, hw, two_crossbars(5, {3: 0, 4: 1}, [0, 4]))
    assert names(outside) == {"tile-capacity"} and "outside" in outside[0].detail
    too_big = check(dec, hw, two_crossbars(5, {3: 0, 4: 1}, [0, 8], mesh=(3, 3)))
    assert names(too_big) == {"tile-capacity"} and too_big[0].item == "mesh"


def test_complete_violations(tiny_net: Network) -> None:
    dec = decompose(tiny_net, TOY, "none")
    unplaced = check(dec, TOY, two_crossbars(5, {3: 0}, [0]))
    assert names(unplaced) == {"complete"} and "unit 4" in unplaced[0].item
    input_placed = check(dec, TOY, two_crossbars(5, {0: 0, 3: 0, 4: 0}, [0]))
    assert names(input_placed) == {"complete"} and "input neuron 0" in input_placed[0].item
    # a synapse silently dropped: neither realised nor listed as pruned
    dropped = replace(
        dec, pruned=np.array([], dtype=np.int64), edge_origin=np.where(dec.edge_origin == 2, 0, dec.edge_origin)
    )
    v = check(dropped, TOY, two_crossbars(5, {3: 0, 4: 1}, [0, 3]))
    assert "complete" in names(v) and any("synapse 2" in x.item for x in v)


def test_decomposition_rejects_changed_weight(tiny_net: Network) -> None:
    dec = decompose(tiny_net, TOY, "none")
    net = dec.network
    tampered = Network(
        name=net.name,
        is_input=net.is_input,
        pre=net.pre,
        post=net.post,
        weight=net.weight * 2,
        spikes=net.spikes,
        timesteps=net.timesteps,
    )
    v = check(replace(dec, network=tampered), TOY, two_crossbars(5, {3: 0, 4: 1}, [0, 3]))
    assert names(v) == {"decomposition"} and "weight" in v[0].detail
