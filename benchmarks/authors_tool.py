"""Side by side with the authors' partitioner: crossbar counts of ``paper`` and of the tool, same files.

The tool is SNNPartitioning from github drexel-DISCO/SpiNeMap (Balaji et al., IEEE ESL 2020).
It is not part of mapopt and this script does not build it; to get the binary:

    get the repository drexel-DISCO/SpiNeMap (GitHub), then in its folder SNNPartitioning:
    apt-get install -y libboost-program-options-dev libboost-dev && make   # gives ./ext

then run, e.g.:

    python benchmarks/authors_tool.py --tool /path/to/SNNPartitioning/ext --out results.md

For every net (default: the catalog up to the large tier, one generated net of each
generator family, and SpiNeMap files with repeated pairs and shuffled lines made from
some of them) and every setting (no unrolling, unroll fan-in k), it writes the net with
``mapopt.io.write_spinemap`` (files given with ``--net`` are used as they are), runs

    ext --conn-file F --spike-file S [--unroll-fanin K] --cluster-crossbar-size N \\
        --clustering-algo min-clusters --cluster-ir-out IR

and counts the tool's clusters as the highest cluster id in IR plus one (the tool prints no
count; a single cluster leaves IR empty), then maps the same file with mapopt:
``prune-first@paper`` without unrolling, ``pieces:K@paper`` with it, on ``dynapse-paper``
with N x N crossbars and F = N. Both counts include connector clusters; mapopt's are also
shown apart, with the components the tool reports ("Number of disconnect graphs"). Without
``--tool`` (or when the binary is missing) it says how to get it and exits 0.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mapopt.hardware import customise, load_preset
from mapopt.io import read_network, resolve_net, write_spinemap
from mapopt.pipeline import run_strategy
from mapopt.registry import catalog
from mapopt.solver import Budget

#: One generated net per generator family (``mapopt list generators``).
FAMILIES = (
    "mlp:300-200-100-10",
    "conv:1x16x16,c6k5p2,p2,c12k3,f10",
    "lenet5:fold",
    "edgedet:24x24,k=7",
    "imgsmooth:24x24,k=9",
    "lsm:32-300-10",
    "rnn:40-200-10",
    "er:n=3000,m=40000",
    "powerlaw:n=3000",
    "synfire:6-150",
)
#: Nets from which files with shuffled, split lines (and with some pairs listed twice) are made.
#: The tool unrolls a file with repeated pairs into undefined behaviour (``Model::unroll`` erases
#: a neuron from an input's output list once per entry, past the end after the first); it
#: crashes or not, and only its runs without unrolling are comparable there.
SHUFFLED = ("mlp-784-64-10", "rnn-64-128-10", "lsm-64-512-10", "imgsmooth-32x32")
SETTINGS = ("none", "2", "3", "16", "64", "127")
#: Above this many synapses, unroll fan-ins below SMALL_K are left out by default: the tool
#: then needs over 10 GB (1.58M synapses at fan-in 2: 11.3 GB, about two minutes).
BIG = 1_000_000
SMALL_K = 16
TIERS = ("tiny", "small", "medium", "large")


@dataclass
class Row:
    net: str
    synapses: int
    setting: str
    tool: int | None
    tool_components: int | None
    tool_s: float | None
    mapopt: int | None
    connectors: int | None
    components: int | None
    dropped: int | None
    mapopt_s: float
    note: str = ""

    @property
    def match(self) -> str:
        if self.tool is None or self.mapopt is None:
            return "-"
        return "yes" if self.tool == self.mapopt else "NO"


def run_tool(tool: Path, conn: Path, spikes: Path, setting: str, size: int, timeout: float) -> tuple[int, int, float]:
    """(clusters, components, seconds) of one run of the authors' binary."""
    with tempfile.TemporaryDirectory() as tmp:
        ir = Path(tmp) / "cluster.ir"
        cmd = [str(tool), "--conn-file", str(conn), "--spike-file", str(spikes)]
        if setting != "none":
            cmd += ["--unroll-fanin", setting]
        cmd += ["--cluster-crossbar-size", str(size), "--clustering-algo", "min-clusters", "--cluster-ir-out", str(ir)]
        start = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
        seconds = time.perf_counter() - start
        if proc.returncode != 0:
            raise RuntimeError(f"tool exited {proc.returncode}: {proc.stderr.strip()[-200:]}")
        text = ir.read_text() if ir.exists() else ""
    ids = np.array(text.split(), dtype=np.int64).reshape(-1, 3)[:, :2] if text.strip() else np.zeros((0, 2), np.int64)
    clusters = int(ids.max()) + 1 if ids.size else 1  # an empty IR: one cluster, no edges
    m = re.search(r"Number of disconnect graphs: (\d+)", proc.stdout)
    return clusters, int(m.group(1)) if m else 1, seconds


def shuffled_file(net_name: str, folder: Path, *, repeats: bool, seed: int = 0) -> tuple[Path, Path]:
    """A connection file of ``net_name`` with lines shuffled and split (and some pairs listed twice)."""
    net = resolve_net(net_name)
    stem = f"{net_name}-{'rep' if repeats else 'shuf'}"
    conn, spikes = folder / f"{stem}.txt", folder / f"{stem}.spk"
    write_spinemap(net, folder / "plain.txt", spikes)
    rng = np.random.default_rng(seed)
    lines = []
    for line in (folder / "plain.txt").read_text().split("\n"):
        fields = line.split()
        if len(fields) < 2:
            continue
        posts = fields[1:]
        cut = int(rng.integers(1, len(posts) + 1))  # split a source's line in two
        lines.append([fields[0], *posts[:cut]])
        if cut < len(posts):
            lines.append([fields[0], *posts[cut:]])
        if repeats and rng.random() < 0.05:  # list some pairs again, on a line of their own
            lines.append([fields[0], *rng.choice(posts, size=min(3, len(posts)), replace=False)])
    order = rng.permutation(len(lines))
    conn.write_text("\n".join(" ".join(lines[i]) for i in order) + "\n")
    return conn, spikes


def compare(args: argparse.Namespace) -> list[Row]:
    rows: list[Row] = []
    size = args.crossbar
    hw = customise(load_preset("dynapse-paper"), crossbar=f"{size}x{size}", fanin=size)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        sources: list[tuple[str, Path, Path]] = []
        if args.net:
            for spec in args.net:
                path = Path(spec)
                if path.is_file():
                    spikes = Path(args.spikes) if args.spikes else folder / "empty.spk"
                    spikes.touch()
                    sources.append((path.name, path, spikes))
                else:
                    sources.append(_written(spec, folder))
        else:
            names = [e.name for e in catalog().values() if e.tier in TIERS and e.name not in args.skip]
            sources = [_written(name, folder) for name in names]
            sources += [_written(spec, folder) for spec in FAMILIES]
            sources += [(f"{n} (shuffled lines)", *shuffled_file(n, folder, repeats=False)) for n in SHUFFLED]
            sources += [(f"{n} (shuffled, repeats)", *shuffled_file(n, folder, repeats=True)) for n in SHUFFLED]
        for label, conn, spikes in sources:
            net = read_network(conn, spikes=spikes, merge_duplicates=True)
            for setting in args.setting:
                if setting != "none" and int(setting) > size:
                    continue
                if not args.all_settings and setting != "none" and int(setting) < SMALL_K and net.n_synapses > BIG:
                    continue
                row = Row(label, net.n_synapses, setting, None, None, None, None, None, None, None, 0.0)
                try:
                    row.tool, row.tool_components, row.tool_s = run_tool(
                        args.tool, conn, spikes, setting, size, args.timeout
                    )
                except (RuntimeError, subprocess.TimeoutExpired) as err:
                    row.note = f"tool: {err}"[:80]
                start = time.perf_counter()
                spec = "prune-first@paper" if setting == "none" else f"pieces:{setting}@paper"
                run = run_strategy(net, hw, spec, budget=Budget(seed=0))
                row.mapopt_s = time.perf_counter() - start
                metrics = run.result.metrics
                if metrics is None:
                    row.note += f" mapopt: {run.result.status} {run.result.message}"[:80]
                else:
                    row.mapopt = int(metrics["crossbars"])
                    row.connectors = int(metrics["connector_crossbars"])
                    row.dropped = int(metrics["dropped_partials"])
                    row.components = int(run.result.info.get("components", 0))
                rows.append(row)
                print(_line(row), file=sys.stderr, flush=True)
    return rows


def _written(spec: str, folder: Path) -> tuple[str, Path, Path]:
    net = resolve_net(spec)
    stem = re.sub(r"[^A-Za-z0-9]+", "_", spec)
    conn, spikes = folder / f"{stem}.txt", folder / f"{stem}.spk"
    write_spinemap(net, conn, spikes)
    return spec, conn, spikes


HEADER = (
    "| net | synapses | unroll fan-in | tool crossbars | paper crossbars | of which connectors | match "
    "| components (tool / paper) | dropped partials | tool s | paper s |"
)


def _line(r: Row) -> str:
    def f(x: float | None) -> str:
        return "-" if x is None else f"{x:.2f}"

    comps = f"{r.tool_components if r.tool_components is not None else '-'} / {r.components or '-'}"
    cells = [
        r.net, f"{r.synapses:,}", r.setting, r.tool, r.mapopt, r.connectors, r.match, comps, r.dropped,
        f(r.tool_s), f(r.mapopt_s),
    ]
    line = "| " + " | ".join("-" if c is None else str(c) for c in cells) + " |"
    return line + (f" {r.note}" if r.note else "")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tool", type=Path, help="the authors' binary (SNNPartitioning/ext)")
    parser.add_argument("--net", action="append", help="net name, generator spec or SpiNeMap connection file")
    parser.add_argument("--spikes", help="spike file for a --net connection file (default: none)")
    parser.add_argument("--setting", action="append", help=f"none or an unroll fan-in (default: {', '.join(SETTINGS)})")
    parser.add_argument("--crossbar", type=int, default=128, help="crossbar size N (N x N, F = N); default 128")
    parser.add_argument("--skip", action="append", default=[], help="catalog net to leave out (repeatable)")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds per tool run (default 900)")
    parser.add_argument("--out", type=Path, help="also write the Markdown table here")
    parser.add_argument(
        "--all-settings", action="store_true", help=f"also unroll fan-ins below {SMALL_K} on nets over {BIG:,} synapses"
    )
    args = parser.parse_args()
    args.setting = args.setting or list(SETTINGS)
    if args.tool is None or not args.tool.is_file():
        print(__doc__.split("then run")[0].strip(), file=sys.stderr)
        print(f"\nskipped: no binary {'given' if args.tool is None else f'at {args.tool}'} (--tool PATH)")
        return 0
    rows = compare(args)
    table = "\n".join([HEADER, "|" + "---|" * 11, *(_line(r) for r in rows)])
    mismatches = sum(r.match == "NO" for r in rows)
    summary = f"{len(rows)} runs, {sum(r.match == 'yes' for r in rows)} equal counts, {mismatches} different"
    print(table + "\n\n" + summary)
    if args.out:
        args.out.write_text(table + "\n\n" + summary + "\n")
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
