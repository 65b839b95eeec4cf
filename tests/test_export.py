"""``mapopt export --spinemap``: nets (NIR included) and mappings in the authors' formats."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mapopt.decompose import decompose
from mapopt.hardware import load_preset
from mapopt.io import read_mapping, read_network, resolve_net
from mapopt.io.nir import write_nir


def test_export_net_round_trips_the_connections(cli, tmp_path: Path) -> None:
    out = tmp_path / "spinemap"
    result = cli("export", "--spinemap", "mlp:20-8-3", out)
    assert result.code == 0, result.stderr
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == [
        "connection_info.txt",
        "spike_info.txt",
    ]
    net = resolve_net("mlp:20-8-3")
    back = read_network(out / "connection_info.txt", spikes=out / "spike_info.txt")
    assert np.array_equal(back.pre, net.pre) and np.array_equal(back.post, net.post)
    assert np.array_equal(back.spikes[net.pre], np.round(net.spikes[net.pre]))


def test_export_nir_file(cli, tmp_path: Path) -> None:
    net = resolve_net("conv:1x8x8,c2k3,f4")
    path = tmp_path / "net.nir"
    write_nir(path, net)
    result = cli("export", "--spinemap", path, tmp_path / "out")
    assert result.code == 0, result.stderr
    back = read_network(tmp_path / "out" / "connection_info.txt")
    assert back.n_synapses == net.n_synapses and back.max_fanin == net.max_fanin


def test_export_mapping_writes_the_cluster_format(cli, tmp_path: Path) -> None:
    run = cli("run", "--net", "mlp-784-64-10", "--decompose", "pieces:2@paper", "--out", tmp_path / "run", "--json")
    assert run.code == 0, run.stderr
    mapping_file = next((tmp_path / "run").glob("mapping-*"))
    result = cli("export", "--spinemap", mapping_file, tmp_path / "out")
    assert result.code == 0, result.stderr
    ir = np.loadtxt(tmp_path / "out" / "cluster.ir", dtype=np.int64, ndmin=2)
    dec, _, mapping, _ = read_mapping(mapping_file)
    crossbars = int(mapping.unit_crossbar.max()) + 1
    assert crossbars == 333 and int(ir[:, :2].max()) + 1 == crossbars  # the tool's way of counting
    cb = mapping.unit_crossbar
    net = dec.network
    fed = {(int(cb[a]), int(cb[b])) for a, b in zip(net.pre, net.post, strict=True) if cb[a] >= 0}
    assert {(int(a), int(b)) for a, b, _ in ir} == fed
    assert np.all(ir[:-1, :2].tolist() <= ir[1:, :2].tolist())  # sorted like the tool's std::set


def test_export_errors_are_one_line(cli, tmp_path: Path) -> None:
    no_target = cli("export", "mlp:20-8-3", tmp_path / "a")
    assert no_target.code == 2 and "give exactly one export target" in no_target.stderr
    both = cli("export", "--spinemap", "--sanafe", tmp_path / "c", "mlp:20-8-3", tmp_path / "a")
    assert both.code == 2 and "exactly one" in both.stderr and not (tmp_path / "c").exists()
    one_path = cli("export", "--spinemap", "mlp:20-8-3")
    assert one_path.code == 2 and "NET|MAPPING DIR" in one_path.stderr
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "x").write_text("")
    full = cli("export", "--spinemap", "mlp:20-8-3", busy)
    assert full.code == 2 and "did not write" in full.stderr and "Traceback" not in full.stderr
    unknown = cli("export", "--spinemap", "no-such-net", tmp_path / "b")
    assert unknown.code == 2 and not (tmp_path / "b").exists()


def test_decomposition_of_a_spinemap_file_keeps_its_order(tmp_path: Path) -> None:
    conn = tmp_path / "c.txt"
    conn.write_text("4 6\n2 6\n3 6\n0 6\n1 6\n5 7\n")
    dec = decompose(read_network(conn), load_preset("toy"), "chain:2")  # 6's list is [4, 2, 3, 0, 1]
    units = np.flatnonzero(dec.origin == 6)
    leaf = units[np.argmax(dec.level[units])]  # the chain's first unit takes the first two listed
    assert sorted(dec.network.pre[dec.network.in_ptr[leaf] : dec.network.in_ptr[leaf + 1]].tolist()) == [2, 4]
