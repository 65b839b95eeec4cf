"""The large-net paths (issue 17): placement, merging, ``auto``'s candidates, lean arrays and files.

Speed and memory are measured by benchmarks/scale.py, never here; these tests check that
the fast paths give valid, equal or better results.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest

from mapopt.decompose import decompose
from mapopt.errors import InputError
from mapopt.evaluation import assess
from mapopt.hardware import customise, load_preset
from mapopt.io import read_mapping, read_network, resolve_net, write_mapping, write_network
from mapopt.network import Network
from mapopt.problem import MappingProblem
from mapopt.registry import make_solver
from mapopt.solver import Budget, Status
from problems.instances.mlp import mlp
from problems.instances.rates import propagate_rates
from solvers.common.packing import merge_crossbars, pack_sequential
from solvers.common.placement import place_in_order
from solvers.common.traffic import TrafficGraph, place_traffic, refine_swaps
from solvers.layered import layer_order

PAPER = load_preset("dynapse-paper")
TOY16 = customise(load_preset("toy"), crossbar="16x16", fanin=16, crossbars_per_tile=4, mesh="auto")


def packed(spec: str, hw=PAPER, strategy: str = "auto") -> tuple[MappingProblem, np.ndarray]:
    dec = decompose(resolve_net(spec), hw, strategy)
    return MappingProblem(dec, hw), pack_sequential(dec, hw, layer_order(dec))


# ---------------------------------------------------------------------- placement
@pytest.mark.parametrize(
    ("spec", "hw"),
    [("mlp-784-64-10", PAPER), ("lenet5", PAPER), ("er-20k-100k", PAPER), ("rnn-64-128-10", TOY16),
     ("lsm-64-512-10", PAPER), ("lenet5", load_preset("truenorth"))],
)  # fmt: skip
def test_traffic_placement_is_valid_and_beats_in_order(spec: str, hw) -> None:
    problem, unit_crossbar = packed(spec, hw)
    by_traffic = assess(problem.decomposition, hw, place_traffic(problem, unit_crossbar))
    by_order = assess(problem.decomposition, hw, place_in_order(problem, unit_crossbar))
    assert by_traffic.valid, by_traffic.violations
    assert by_traffic.metrics["hop_spikes"] < by_order.metrics["hop_spikes"]


def test_traffic_graph_objective_equals_the_validator() -> None:
    problem, unit_crossbar = packed("lenet5")
    mapping = place_traffic(problem, unit_crossbar)
    graph = TrafficGraph.build(problem.decomposition, unit_crossbar)
    metrics = assess(problem.decomposition, problem.hardware, mapping).metrics
    key = graph.objective(problem, mapping)
    assert key == pytest.approx(problem.key(metrics), rel=1e-12)
    for objective in ("crossbars-intercrossbar", "energy"):
        other = MappingProblem(problem.decomposition, problem.hardware, objective)
        assert graph.objective(other, mapping) == pytest.approx(other.key(metrics), rel=1e-9)


def test_swap_refinement_never_worsens_and_keeps_capacity() -> None:
    problem, unit_crossbar = packed("er-20k-100k")
    hw = problem.hardware_for(int(unit_crossbar.max()) + 1)
    graph = TrafficGraph.build(problem.decomposition, unit_crossbar)
    start = place_in_order(problem, unit_crossbar).crossbar_tile
    refined = refine_swaps(graph, hw, start)
    assert graph.hop_spikes(hw, refined) <= graph.hop_spikes(hw, start)
    assert np.bincount(refined, minlength=hw.n_tiles).max() <= hw.crossbars_per_tile
    assert sorted(refined.tolist()) != [] and len(refined) == len(start)


def test_placement_after_the_deadline_is_still_valid() -> None:
    problem, unit_crossbar = packed("er-20k-100k")
    from mapopt.solver import SolveContext

    ctx = SolveContext(Budget(time_limit=0.0))
    assert assess(problem.decomposition, problem.hardware, place_traffic(problem, unit_crossbar, ctx)).valid



def test_crossbars_that_all_want_one_tile_are_placed_in_few_scoring_passes(monkeypatch) -> None:
    """Every crossbar reads only the I/O tile (a one-layer convolution): the waves spread them, not one per try."""
    from solvers.common import traffic

    n = 5000
    graph = TrafficGraph(n, np.full(n, n), np.arange(n), np.ones(n))
    hw = load_preset("dynapse-paper").with_mesh_for(n)
    assert hw.n_tiles > traffic.FULL_SCAN_TILES
    calls = []
    real = traffic._best_free_tile_near
    monkeypatch.setattr(traffic, "_best_free_tile_near", lambda *a: calls.append(1) or real(*a))
    tiles = traffic.place_waves(graph, hw)
    assert len(calls) <= traffic.WAVES * traffic.RETRIES
    assert np.bincount(tiles, minlength=hw.n_tiles).max() <= hw.crossbars_per_tile
    nearest = np.sort(hw.hops(hw.crossbar_slots(), np.full(hw.n_tiles, hw.io_tile_id)))[:n]
    assert graph.hop_spikes(hw, tiles) <= 1.05 * nearest.sum()  # close to the optimum (the n nearest slots)

# ---------------------------------------------------------------------- merging
@pytest.mark.parametrize("spec", ["lenet5", "powerlaw-20k", "er:n=200,m=900", "mlp:24-16-4"])
def test_merging_is_valid_and_never_adds_crossbars(spec: str) -> None:
    problem, unit_crossbar = packed(spec, TOY16)
    merged = merge_crossbars(problem.decomposition, TOY16, unit_crossbar)
    assert merged.max() <= unit_crossbar.max()
    assert np.array_equal(merged < 0, unit_crossbar < 0)
    assert assess(problem.decomposition, TOY16, place_traffic(problem, merged)).valid


def test_merging_empties_half_full_crossbars() -> None:
    """Two crossbars of two units each, on the same sources, become one."""
    net = Network.build(
        name="pair", is_input=np.array([True] * 4 + [False] * 4), pre=np.tile(np.arange(4), 4),
        post=np.repeat(np.arange(4, 8), 4), spikes=np.ones(8),
    )  # fmt: skip
    hw = customise(TOY16, crossbar="8x8", fanin=8)
    dec = decompose(net, hw, "none")
    merged = merge_crossbars(dec, hw, np.array([-1] * 4 + [0, 0, 1, 1]))
    assert merged.max() == 0


# ---------------------------------------------------------------------- auto
def test_auto_skips_a_candidate_that_does_not_fit_the_mesh() -> None:
    """The windowed packer needs 153 crossbars where the fixed mesh holds 100 (layered needs 97): auto maps."""
    net = resolve_net("mlp:100-60-10")
    hw = customise(load_preset("toy"), crossbar="16x8", fanin=16, crossbars_per_tile=2, mesh="10x5")
    problem = MappingProblem(decompose(net, hw, "auto"), hw)
    with pytest.raises(InputError, match="tile-capacity"):
        make_solver("windowed").solve(problem, Budget())
    result = make_solver("auto", anneal_moves=0).solve(problem, Budget())
    assert result.status is Status.FEASIBLE, result.message
    assert result.metrics["crossbars"] <= 100
    assert any(note.startswith("windowed: 153 crossbars, not placed") for note in result.info["notes"])
    # with the energy objective every candidate is placed: the windowed one fails there, and is skipped with a note
    energy = MappingProblem(problem.decomposition, hw, "energy")
    result = make_solver("auto", anneal_moves=0).solve(energy, Budget())
    assert result.status is Status.FEASIBLE, result.message
    assert any(note.startswith("windowed: skipped (InputError") for note in result.info["notes"])
    assert "tile-capacity" in result.message


def test_auto_places_only_the_fewest_crossbars_and_validates_the_winner() -> None:
    net = resolve_net("mlp-784-64-10")
    problem = MappingProblem(decompose(net, PAPER, "auto"), PAPER)
    result = make_solver("auto", anneal_moves=0).solve(problem, Budget())
    assert result.status is Status.FEASIBLE
    methods = ("layered", "greedy", "partition", "windowed")
    best = min(make_solver(m).solve(problem, Budget()).metrics["crossbars"] for m in methods)
    assert result.metrics["crossbars"] == best


def test_auto_reports_failure_when_every_candidate_fails() -> None:
    net = resolve_net("mlp:64-48-8")
    hw = customise(load_preset("toy"), crossbar="16x8", fanin=16, crossbars_per_tile=1, mesh="1x1")
    problem = MappingProblem(decompose(net, hw, "auto"), hw)
    result = make_solver("auto").solve(problem, Budget())
    assert result.mapping is None and result.status is Status.ERROR
    assert "tile-capacity" in result.message


# ---------------------------------------------------------------------- arrays and files
def test_ids_are_int32_and_sorted_input_is_not_copied() -> None:
    pre = np.tile(np.arange(3, dtype=np.int32), 2)
    post = np.repeat(np.arange(3, 5, dtype=np.int32), 3)
    weight = np.ones(6, dtype=np.float32)
    net = Network.build(name="s", is_input=np.arange(5) < 3, pre=pre, post=post, weight=weight)
    assert all(np.shares_memory(a, b) for a, b in ((net.pre, pre), (net.post, post), (net.weight, weight)))
    shuffled = Network.build(name="u", is_input=np.arange(5) < 3, pre=pre[::-1].copy(), post=post[::-1].copy())
    assert shuffled.pre.dtype == np.int32 and np.array_equal(shuffled.pre, pre)
    assert shuffled.weight.dtype == np.float64


def test_key_arithmetic_does_not_overflow_int32_ids() -> None:
    """Deliveries combine ids into pre * crossbars + crossbar: beyond 2^31 it must not wrap."""
    from mapopt.evaluation import deliveries

    n = 70_000
    net = Network.build(
        name="wide", is_input=np.arange(n) < n - 2, pre=np.array([n - 3, n - 4]), post=np.array([n - 1, n - 2])
    )
    unit_crossbar = np.full(n, -1)
    unit_crossbar[[n - 2, n - 1]] = [40_000, 0]
    src, dst = deliveries(net, unit_crossbar, 50_000)
    assert sorted(zip(src.tolist(), dst.tolist(), strict=True)) == [(n - 4, 40_000), (n - 3, 0)]


def test_mlp_arrays_are_in_network_order_and_rate_weights_float32() -> None:
    net = mlp([5, 4, 3], seed=3)
    order = np.lexsort((net.pre, net.post))
    assert np.array_equal(order, np.arange(net.n_synapses))
    assert net.weight.dtype == np.float64
    rate = mlp([5, 4, 3], seed=3, spikes="rate")
    assert rate.weight.dtype == np.float32
    assert np.allclose(rate.weight, net.weight, atol=1e-6)


def test_rate_model_matches_the_sparse_matrix_product() -> None:
    import scipy.sparse as sp

    net = resolve_net("er:n=300,m=3000")
    counts = np.random.default_rng(0).integers(0, 20, size=net.n_inputs).astype(float)
    spikes = propagate_rates(net, counts)
    adj = sp.csr_matrix((net.weight, (net.post, net.pre)), shape=(net.n_neurons,) * 2)
    expect = np.zeros(net.n_neurons)
    expect[net.is_input] = np.clip(counts, 0, net.timesteps)
    for layer in np.unique(net.layer[~net.is_input]):
        members = np.flatnonzero((net.layer == layer) & ~net.is_input)
        expect[members] = np.floor(np.clip(adj[members] @ expect / net.threshold[members], 0, net.timesteps))
    assert np.array_equal(spikes, expect)


@pytest.mark.parametrize("compress", [False, True])
def test_npz_files_are_stored_or_deflated_and_read_back(tmp_path: Path, compress: bool) -> None:
    net = resolve_net("mlp:30-20-5")
    dec = decompose(net, TOY16, "auto")
    problem = MappingProblem(dec, TOY16)
    result = make_solver("layered").solve(problem, Budget())
    path = tmp_path / "m.npz"
    write_mapping(path, dec, TOY16, result.mapping, compress=compress)
    with zipfile.ZipFile(path) as zf:
        methods = {info.compress_type for info in zf.infolist()}
    assert methods == {zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED}
    back, hw, mapping, _ = read_mapping(path)
    assert assess(back, hw, mapping).metrics == result.metrics
    assert back.network.pre.dtype == np.int32 and back.edge_origin.dtype == np.int32
    with np.load(path) as z:
        assert z["units_layer"].dtype == np.int8  # integer arrays stored in their smallest type
    write_network(tmp_path / "n.npz", net)
    again = read_network(tmp_path / "n.npz")
    assert np.array_equal(again.pre, net.pre) and np.array_equal(again.weight, net.weight)


def test_validate_reads_an_uncompressed_mapping(tmp_path: Path, cli) -> None:
    out = tmp_path / "out"
    run = cli("run", "--net", "mlp:784-300-10", "--decompose", "best", "--out", out, "--json")
    assert run.code == 0, run.stderr
    files = sorted(out.glob("mapping-*.npz"))
    assert files
    checked = cli("validate", files[0])
    assert checked.code == 0, checked.stderr
