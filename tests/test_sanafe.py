"""SANA-FE cross-check (docs/sanafe.md): real SANA-FE runs of mapped nets against mapopt's model.

Needs the ``sim`` extra (``pip install -e ".[sim]"``); CI installs it. No stand-ins: every
figure compared here comes out of SANA-FE's own simulator.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from mapopt.decompose import decompose
from mapopt.errors import InputError
from mapopt.hardware import customise, load_preset
from mapopt.io import write_mapping
from mapopt.io.sanafe import (
    LOIHI_MESH,
    build_model,
    captured_stdout,
    check_hardware,
    plan_export,
    run_model,
    with_activity,
)
from mapopt.mapping import Mapping
from mapopt.network import Network
from mapopt.problem import MappingProblem
from mapopt.registry import make_solver
from mapopt.simulate import make_inputs, simulate
from mapopt.solver import Budget

sanafe = pytest.importorskip("sanafe", reason='needs the sim extra: pip install -e ".[sim]"')

STEPS = 40
LOIHI = customise(load_preset("loihi"), crossbar="64x4")
#: SANA-FE's Loihi: message out, hop east/west, hop north/south (arch/loihi.yaml)
LOIHI_MSG, LOIHI_EW, LOIHI_NS = 111.0e-12, 3.0e-12, 4.2e-12


def dyadic_net(seed: int = 1) -> Network:
    """12 inputs -> 8 hidden -> 4 outputs; weights on a 1/4 grid (on SANA-FE's 1/64 potential grid),
    thresholds 1, IF and LIF (leak 1/2) neurons alternating, so SANA-FE and mapopt agree exactly."""
    rng = np.random.default_rng(seed)
    n_in, n_h, n_o = 12, 8, 4
    hidden = [(i, n_in + j) for j in range(n_h) for i in range(n_in) if rng.random() < 0.6]
    out = [(n_in + j, n_in + n_h + k) for k in range(n_o) for j in range(n_h)]
    pre, post = np.array(hidden + out).T
    n = n_in + n_h + n_o
    return Network.build(
        name="dyadic",
        is_input=np.arange(n) < n_in,
        pre=pre,
        post=post,
        weight=rng.integers(-2, 5, size=len(pre)) / 4.0,
        timesteps=STEPS,
        threshold=np.ones(n),
        leak=np.where(np.arange(n) % 2 == 0, 0.0, 0.5),
    )


@pytest.fixture(scope="module")
def net_and_inputs() -> tuple[Network, np.ndarray]:
    net = dyadic_net()
    inputs = make_inputs(net, timesteps=STEPS, input_rate=0.3, seed=3)
    sim = simulate(net, inputs)
    return net.with_spikes(sim.counts, sim.source, timesteps=STEPS), inputs


def mappings(dec, hw, seeds=(1,)) -> list[tuple[str, Mapping]]:
    """Mappings of several solvers, plus random re-placements of the greedy one."""
    out = []
    for name in ("greedy", "paper", "random"):
        for seed in seeds if name == "random" else (0,):
            r = make_solver(name).solve(MappingProblem(dec, hw), Budget(seed=seed))
            assert r.mapping is not None, r.message
            out.append((f"{name}/{seed}", r.mapping))
    base = out[0][1].compacted()
    slots = replace(hw, mesh=base.mesh).crossbar_slots()
    for seed in seeds:
        tiles = np.random.default_rng(seed).permutation(slots)[: base.n_crossbar_ids]
        out.append((f"placed/{seed}", Mapping(base.unit_crossbar, tiles, base.mesh)))
    return out


def directional_hops(dec, hw, mapping: Mapping) -> tuple[float, float]:
    """Spike-weighted x (east/west) and y (north/south) hops of every delivery, in mapopt's own terms."""
    net, w = dec.network, mapping.mesh[0]
    dest = mapping.unit_crossbar[net.post]
    pairs = np.unique(np.stack([net.pre, dest], axis=1), axis=0)
    src_cb = mapping.unit_crossbar[pairs[:, 0]]
    io = hw.io_tile[1] * w + hw.io_tile[0]
    src_tile = np.where(src_cb >= 0, mapping.crossbar_tile[np.maximum(src_cb, 0)], io)
    dst_tile = mapping.crossbar_tile[pairs[:, 1]]
    s = net.spikes[pairs[:, 0]]
    return float((s * np.abs(src_tile % w - dst_tile % w)).sum()), float(
        (s * np.abs(src_tile // w - dst_tile // w)).sum()
    )


@pytest.mark.parametrize("hw", [LOIHI, customise(load_preset("toy"), crossbar="16x4", fanin=16, mesh="3x2")],
                         ids=["sanafe-loihi", "generated-toy"])  # fmt: skip
def test_spikes_packets_and_hops_equal_mapopt_for_every_mapping(net_and_inputs, hw) -> None:
    """An undecomposed net in SANA-FE's own dynamics: the spikes of mapopt's simulator, packets =
    deliveries, hops = hop_spikes, synaptic events equal, for every mapping tried; and SANA-FE's
    network energy is exactly what its architecture charges for those counts."""
    net, inputs = net_and_inputs
    dec = decompose(net, hw, "none")
    for label, mapping in mappings(dec, hw):
        active, _, m = with_activity(dec, hw, mapping, inputs)
        run = run_model(build_model(dec, hw, mapping, inputs, activity="functional"))
        assert np.array_equal(run.spike_counts, net.spikes), label
        assert run.packets == m["deliveries"], label
        assert run.hops == m["hop_spikes"], label
        assert run.synaptic_events == m["synaptic_events"], label
        assert run.neurons_fired == net.spikes.sum(), label
        if hw.name == "loihi":
            ew, ns = directional_hops(active, hw, mapping)
            assert ew + ns == m["hop_spikes"]
            expected = LOIHI_MSG * m["deliveries"] + LOIHI_EW * ew + LOIHI_NS * ns
        else:  # a generated architecture charges mapopt's own numbers
            expected = m["energy_network_j"]
            assert run.energy["synapse"] == pytest.approx(m["energy_synapse_j"], rel=1e-9)
        assert run.energy["network"] == pytest.approx(expected, rel=1e-9), label


def test_decomposed_net_replays_mapopt_activity(net_and_inputs) -> None:
    """With chain/tree units (relay neurons), replaying mapopt's exact-mode trains gives SANA-FE
    the same packets, hops and synaptic events as mapopt's `simulated` traffic; SANA-FE's own
    dynamics (functional) differ, because a relay passes a spike, not a partial sum."""
    net, inputs = net_and_inputs
    hw = customise(LOIHI, fanin=4)
    for spec in ("chain:2", "tree:4"):
        dec = decompose(net, hw, spec)
        mapping = make_solver("greedy").solve(MappingProblem(dec, hw), Budget()).mapping
        active, trains, m = with_activity(dec, hw, mapping, inputs)
        replay = run_model(build_model(active, hw, mapping, inputs, activity="replay"), trains)
        assert (replay.packets, replay.hops, replay.synaptic_events) == (
            m["deliveries"], m["hop_spikes"], m["synaptic_events"]
        ), spec  # fmt: skip
        assert replay.neurons_fired == m["total_spikes"]
        functional = run_model(build_model(active, hw, mapping, inputs, activity="functional"))
        assert functional.spike_counts is not None
        assert not np.array_equal(functional.spike_counts, active.network.spikes)


def test_tile_coordinates_and_input_placement() -> None:
    """mapopt tile (x, y) of a W x H mesh is SANA-FE tile x * H + y; inputs sit on the I/O tile."""
    net = dyadic_net()
    dec = decompose(net, LOIHI, "none")
    mapping = make_solver("paper").solve(MappingProblem(dec, LOIHI), Budget()).mapping.compacted()
    w = mapping.mesh[0]
    moved = Mapping(mapping.unit_crossbar, np.arange(mapping.n_crossbar_ids) * 4 + 1, mapping.mesh)
    plan = plan_export(dec, LOIHI, moved)
    for g in plan.groups:
        if g.crossbar is None:
            assert g.tile == 0
        else:
            t = moved.crossbar_tile[g.crossbar]
            assert g.tile == (t % w) * LOIHI_MESH[1] + t // w
    assert sorted(np.concatenate([g.neurons for g in plan.groups]).tolist()) == list(range(net.n_neurons))


def test_sanafe_loihi_limits_are_checked_before_work() -> None:
    with pytest.raises(InputError, match="4 cores per tile"):
        check_hardware(customise(load_preset("loihi"), crossbars_per_tile=8))
    with pytest.raises(InputError, match="8x4 mesh"):
        check_hardware(customise(load_preset("loihi"), mesh="16x16"))
    # SANA-FE's Loihi holds 1024 neurons per core: inputs fill the I/O tile's free slots, most free core first
    hw = load_preset("loihi")
    few = Network.build(name="few", is_input=np.arange(5) < 4, pre=np.arange(4), post=np.full(4, 4))
    plan = plan_export(decompose(few, hw, "none"), hw, Mapping(np.r_[np.full(4, -1), 0], np.array([0]), (8, 4)))
    assert [(g.name, g.tile, g.core, len(g.neurons)) for g in plan.groups] == [("cb0", 0, 0, 1), ("in1", 0, 1, 4)]
    n = 4 * 1024  # four full cores on the I/O tile leave no room for the one input
    full = Network.build(name="full", is_input=np.arange(n + 1) == 0, pre=np.zeros(n), post=np.arange(1, n + 1))
    unit_crossbar = np.r_[-1, np.arange(n) // 1024]
    with pytest.raises(InputError, match="0 free for the net's 1 inputs"):
        plan_export(decompose(full, hw, "none"), hw, Mapping(unit_crossbar, np.zeros(4, dtype=np.int64), (8, 4)))


def test_export_cli_writes_a_folder_sanafe_loads(cli, net_and_inputs, tmp_path: Path) -> None:
    net, _ = net_and_inputs
    dec = decompose(net, LOIHI, "none")
    mapping = make_solver("greedy").solve(MappingProblem(dec, LOIHI), Budget()).mapping
    mfile = tmp_path / "mapping.json"
    write_mapping(mfile, dec, LOIHI, mapping)
    out = tmp_path / "exported"
    result = cli("export", "--sanafe", out, mfile, "--steps", STEPS, "--seed", 3)
    assert result.code == 0, result.stderr
    assert result.stdout == ""
    manifest = json.loads((out / "mapopt-sanafe.json").read_text())
    arch = sanafe.load_arch(str(out / "arch.yaml"))
    snn = sanafe.load_net(str(out / "snn.yaml"), arch)
    chip = sanafe.SpikingChip(arch)
    chip.load(snn)
    with captured_stdout() as chatter:
        r = chip.sim(STEPS)
    assert "Executed steps" in chatter.getvalue()  # what captured_stdout keeps off mapopt's stdout
    assert r["packets_sent"] == manifest["predicted"]["deliveries"]
    assert r["spikes"] == manifest["predicted"]["synaptic_events"]
    # refused before anything is written: an existing folder that is not an export, no target
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "keep.txt").write_text("mine")
    bad = cli("export", "--sanafe", tmp_path / "other", mfile)
    assert bad.code == 2 and "files mapopt did not write" in bad.stderr
    assert sorted(p.name for p in (tmp_path / "other").iterdir()) == ["keep.txt"]
    assert cli("export", mfile).code == 2
    # an earlier export is replaced as a whole
    again = cli("export", "--sanafe", out, mfile, "--steps", 10)
    assert again.code == 0 and json.loads((out / "mapopt-sanafe.json").read_text())["timesteps"] == 10


def test_missing_sanafe_is_one_line_with_the_install_command(tmp_path: Path) -> None:
    code = (
        "import sys; sys.modules['sanafe'] = None; "  # what Python does for an absent module
        "from mapopt.cli.app import main; sys.argv = ['mapopt', 'sanafe-check', '--net', 'mlp-16-8-4']; main()"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=120)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and 'pip install -e ".[sim]"' in lines[0], proc.stderr


def test_sanafe_check_cli(cli) -> None:
    common = ["--net", "mlp-16-8-4", "--crossbar", "64x4", "--steps", 30]
    result = cli("sanafe-check", *common, "--solvers", "random,greedy,best", "--placements", 1, "--json")
    assert result.code == 0, result.stderr
    doc = result.json()
    rows = doc["rows"]
    assert [r["mapping"] for r in rows] == ["random", "greedy", "best", "best place#1"]
    assert all(r["status"] == "ok" and r["architecture"] == "sanafe-loihi" for r in rows)
    assert doc["summary"]["counts_match"] == len(rows)
    assert set(doc["spearman"]) >= {"network_energy", "total_energy", "hops", "packets"}
    assert doc["spearman"]["hops"] == pytest.approx(1.0)
    assert doc["summary"]["best_sanafe_rank"] == 1
    assert doc["fit"]["sanafe_energy_network_j"]["coefficients_j"]["deliveries"] == pytest.approx(LOIHI_MSG, rel=0.05)
    # the table: stdout, 80 columns, none of SANA-FE's own printing; a generated architecture
    toy = ["--hw", "toy", "--crossbar", "16x4", "--fanin", "16", "--mesh", "auto"]
    table = cli("sanafe-check", "--net", "mlp-16-8-4", *toy, "--steps", 20, "--solvers", "random,paper,greedy")
    assert table.code == 0, table.stderr
    assert "Executed steps" not in table.stdout and "Spearman rho over 3 mappings" in table.stdout
    assert "counts equal (packets = deliveries, hops = hop_spikes, synaptic events): 3/3" in table.stdout
    assert max(len(line) for line in table.stdout.splitlines()) <= 80
    bad = cli("sanafe-check", "--net", "mlp-16-8-4", "--solvers", "no-such-solver")
    assert bad.code == 2 and "unknown solver" in bad.stderr and bad.stdout == ""


def test_run_sanafe_exports_every_strategy_and_check_reads_mapping_files(cli, tmp_path: Path) -> None:
    out, files = tmp_path / "sf", tmp_path / "run"
    args = ["run", "--net", "mlp-16-8-4", "--hw", "toy", "--crossbar", "16x4", "--fanin", "16", "--mesh", "auto"]
    result = cli(*args, "--decompose", "chain:4@greedy", "--decompose", "none@paper", "--out", files, "--sanafe", out)
    assert result.code == 0, result.stderr
    index = json.loads((out / "mapopt-sanafe-index.json").read_text())
    assert [e["folder"] for e in index["exports"]] == ["chain-4-greedy", "none-paper"]
    for e in index["exports"]:
        assert {"arch.yaml", "snn.yaml", "mapopt-sanafe.json"} <= {p.name for p in (out / e["folder"]).iterdir()}
    mapping_files = sorted(str(f) for f in files.glob("mapping-*.json"))
    check = cli("sanafe-check", "--mappings", ",".join(mapping_files), "--steps", 20, "--json")
    assert check.code == 0, check.stderr
    rows = check.json()["rows"]
    assert [r["decomposition"] for r in rows] == ["chain:4", "none"]
    assert all(r["packets_match"] and r["hops_match"] for r in rows)
    other = tmp_path / "other"
    assert cli("run", "--net", "mlp:4-4", "--hw", "toy", "--decompose", "none@paper", "--out", other).code == 0
    mixed = cli("sanafe-check", "--mappings", f"{mapping_files[0]},{next(other.glob('mapping-*'))}")
    assert mixed.code == 2 and "maps another network" in mixed.stderr
    assert cli("sanafe-check", "--mappings", mapping_files[0], "--net", "mlp-16-8-4").code == 2


def test_captured_stdout_keeps_chatter_and_is_restored_after_an_interrupt(capfd) -> None:
    with pytest.raises(KeyboardInterrupt), captured_stdout() as chatter:
        os.write(1, b"from C\n")
        print("from Python")
        raise KeyboardInterrupt
    print("mapopt's own output", flush=True)
    assert capfd.readouterr().out == "mapopt's own output\n"
    assert chatter.getvalue() == "from Python\nfrom C\n"


def test_biases_and_reset_potentials_reach_sanafe() -> None:
    """A net whose neurons carry biases and reset potentials (on the 1/8 grid) spikes in SANA-FE's own
    dynamics exactly as in mapopt's simulator."""
    net = dyadic_net()
    compute = ~net.is_input
    rng = np.random.default_rng(0)
    biased = replace(
        net,
        bias=np.where(compute, np.round(rng.uniform(-0.25, 0.5, net.n_neurons) * 8) / 8, 0.0),
        reset=np.where(compute, np.round(rng.uniform(-0.5, 0.5, net.n_neurons) * 8) / 8, 0.0),
    )
    inputs = make_inputs(biased, timesteps=STEPS, input_rate=0.3, seed=3)
    counts = simulate(biased, inputs).counts
    assert counts[compute].sum() != simulate(net, inputs).counts[compute].sum()  # the parameters matter here
    dec = decompose(biased, LOIHI, "none")
    mapping = make_solver("greedy").solve(MappingProblem(dec, LOIHI), Budget(seed=0)).mapping
    run = run_model(build_model(dec, LOIHI, mapping, inputs, activity="functional"))
    assert np.array_equal(run.spike_counts, counts)
