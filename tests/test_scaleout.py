"""The partitioned mapping (docs/scale-out.md) on a real two-worker Dask ``LocalCluster``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mapopt.decompose import decompose
from mapopt.hardware import customise, load_preset
from mapopt.io import resolve_net
from mapopt.problem import MappingProblem
from mapopt.registry import make_solver
from solvers.common.partitioned import map_dask, map_serial, plan, write_partitions

distributed = pytest.importorskip("distributed")


def test_partitions_cover_every_neuron_once_within_one_layer() -> None:
    net = resolve_net("mlp:300-200-100-10")
    parts = plan(net, 20_000, align=16)
    every = np.concatenate(parts)
    assert np.array_equal(np.sort(every), np.flatnonzero(~net.is_input))
    assert all(np.unique(net.layer[p]).size == 1 for p in parts)  # never two layers in one partition
    hidden = [p for p in parts if net.layer[p[0]] == 1]
    assert len(hidden) > 1 and all(p.size % 16 == 0 for p in hidden[:-1])  # cuts on multiples of C


@pytest.mark.parametrize(("spec", "hw"), [("mlp:784-1000-500-10", "dynapse-paper"), ("lenet5", "dynapse-paper")])
def test_dask_gives_the_one_process_result(tmp_path: Path, spec: str, hw: str) -> None:
    net = resolve_net(spec)
    hardware = load_preset(hw)
    parts = write_partitions(net, tmp_path, max(1, net.n_synapses // 6), align=hardware.columns)
    strategy = f"tree:{hardware.fanin}"
    serial = map_serial(parts, net.n_neurons, hardware, strategy)
    with (
        distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster,
        distributed.Client(cluster) as client,
    ):
        spread = map_dask(client, parts, net.n_neurons, hardware, strategy)
    assert serial.same_as(spread)
    assert serial.hop_spikes == spread.hop_spikes and serial.crossbars == spread.crossbars
    assert not serial.violations
    # every unit of the whole-net decomposition is placed exactly once
    whole = decompose(net, hardware, strategy)
    units = np.flatnonzero(whole.compute)
    assert serial.unit_origin.size == units.size
    # the partitioned packing costs at most a few crossbars per partition over the one-process layered solver
    layered = make_solver("layered").solve(MappingProblem(whole, hardware))
    assert layered.metrics["crossbars"] <= serial.crossbars <= layered.metrics["crossbars"] + 2 * len(parts)


def test_partitioned_hop_spikes_is_the_validators(tmp_path: Path) -> None:
    """One partition: the combined objective equals the validator's on the assembled mapping."""
    from mapopt.evaluation import assess
    from mapopt.mapping import Mapping

    net = resolve_net("mlp:64-40-6")
    hw = customise(load_preset("toy"), crossbar="16x16", fanin=16, crossbars_per_tile=4, mesh="auto")
    parts = write_partitions(net, tmp_path, net.n_synapses)
    result = map_serial(parts, net.n_neurons, hw, "tree:16")
    dec = decompose(net, hw, "tree:16")
    units = np.flatnonzero(dec.compute)
    placed = zip(result.unit_origin, result.unit_position, result.unit_crossbar, strict=True)
    key = {(int(o), int(p)): int(c) for o, p, c in placed}
    unit_crossbar = np.full(dec.network.n_neurons, -1)
    unit_crossbar[units] = [key[int(dec.origin[u]), int(dec.position[u])] for u in units]
    verdict = assess(dec, hw, Mapping(unit_crossbar, result.crossbar_tile, result.mesh))
    assert verdict.valid, verdict.violations
    assert verdict.metrics["hop_spikes"] == pytest.approx(result.hop_spikes)
    assert verdict.metrics["crossbars"] == result.crossbars
