"""Property tests: every mapping the pipeline produces validates; metrics ignore labels."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mapopt.evaluation import assess, metrics
from mapopt.hardware import Hardware
from mapopt.mapping import Mapping
from mapopt.network import Network
from mapopt.pipeline import run_strategy
from mapopt.solver import Budget

HOP_METRICS = {
    "hop_spikes", "max_hops", "energy_network_j", "energy_dynamic_j", "energy_total_j", "intertile_spikes", "tiles"
}  # fmt: skip


@st.composite
def instances(draw: st.DrawFn) -> tuple[Network, Hardware, str]:
    n_in = draw(st.integers(1, 8))
    n_comp = draw(st.integers(1, 10))
    n = n_in + n_comp
    pairs = draw(
        st.sets(
            st.tuples(st.integers(0, n - 1), st.integers(n_in, n - 1)).filter(lambda p: p[0] != p[1]),
            min_size=1,
            max_size=40,
        )
    )
    pre, post = np.array(sorted(pairs)).T
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    net = Network.build(
        name="random",
        is_input=np.arange(n) < n_in,
        pre=pre,
        post=post,
        weight=rng.normal(size=len(pre)),
        spikes=rng.integers(0, 20, size=n),
        timesteps=20,
    )
    rows = draw(st.integers(2, 8))
    hw = Hardware(
        name="random",
        rows=rows,
        columns=draw(st.integers(1, 6)),
        fanin=draw(st.integers(2, rows)),
        crossbars_per_tile=draw(st.integers(1, 3)),
        mesh=None,
        e_syn=1.0,
        e_msg=2.0,
        e_hop=3.0,
        p_cell=0.01,
        p_col=0.1,
    )
    k = draw(st.integers(2, hw.fanin))
    strategy = draw(st.sampled_from(["prune-first", "prune-magnitude", f"chain:{k}"]))
    return net, hw, strategy


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instances())
def test_pipeline_mappings_validate(instance: tuple[Network, Hardware, str]) -> None:
    net, hw, strategy = instance
    run = run_strategy(net, hw, strategy, budget=Budget(seed=0))
    assert run.result.metrics is not None, run.result.message
    assert assess(run.decomposition, hw, run.result.mapping).valid
    assert run.result.metrics["pruned_synapses"] == 0 or strategy.startswith("prune")
    assert run.result.metrics["crossbars"] >= run.result.metrics["lower_bound_crossbars"]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instances(), st.integers(0, 2**16))
def test_metrics_invariant_under_relabelling(instance: tuple[Network, Hardware, str], seed: int) -> None:
    net, hw, strategy = instance
    run = run_strategy(net, hw, strategy, budget=Budget(seed=0))
    mapping, dec = run.result.mapping, run.decomposition
    base = metrics(dec, hw, mapping)
    rng = np.random.default_rng(seed)
    # crossbar ids permuted: every metric is unchanged
    perm = rng.permutation(mapping.n_crossbar_ids)
    tiles = np.empty_like(mapping.crossbar_tile)
    tiles[perm] = mapping.crossbar_tile
    relabelled = Mapping(np.where(mapping.unit_crossbar >= 0, perm[mapping.unit_crossbar], -1), tiles, mapping.mesh)
    assert assess(dec, hw, relabelled).valid
    assert metrics(dec, hw, relabelled) == base
    # the mesh transposed (a symmetry of the square auto mesh that fixes the I/O tile): unchanged
    w, h = mapping.mesh
    assert w == h
    x, y = mapping.crossbar_tile % w, mapping.crossbar_tile // w
    transposed = Mapping(mapping.unit_crossbar, x * w + y, mapping.mesh)
    assert metrics(dec, hw, transposed) == base
    # tiles permuted arbitrarily: only distance-dependent metrics may change
    tile_perm = rng.permutation(w * h)
    shuffled = Mapping(mapping.unit_crossbar, tile_perm[mapping.crossbar_tile], mapping.mesh)
    moved = metrics(dec, hw, shuffled)
    assert {k: v for k, v in moved.items() if k not in HOP_METRICS} == {
        k: v for k, v in base.items() if k not in HOP_METRICS
    }
    assert moved["tiles"] == base["tiles"]


def test_simulated_traffic_is_bounded_by_the_window() -> None:
    from dataclasses import replace

    from mapopt.hardware import load_preset
    from mapopt.io import resolve_net

    net = resolve_net("mlp:40-10-3", seed=2)
    hw = replace(load_preset("toy"), mesh=None)
    run = run_strategy(net, hw, "chain:2@greedy", budget=Budget(seed=1), traffic="simulated")
    dec = run.decomposition
    assert dec.traffic == "simulated" and "simulated" in dec.network.spike_source
    units = dec.level > 0
    assert units.any() and (dec.network.spikes[units] <= net.timesteps).all()
    assert run.result.metrics is not None
