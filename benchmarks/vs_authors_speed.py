"""Time and memory of mapopt against the authors' C++ partitioner on the same SpiNeMap files.

The tool is SNNPartitioning from github drexel-DISCO/SpiNeMap (Balaji et al., IEEE ESL 2020),
built outside the repository (benchmarks/authors_tool.py says how). For every net this
writes the connection and spike files once (``mapopt.io.write_spinemap``), then runs, each
in a fresh process:

    ext --conn-file F --spike-file S [--unroll-fanin K] --cluster-crossbar-size 128 \\
        --clustering-algo min-clusters --cluster-ir-out IR
    mapopt run --net F --spikes S --decompose STRATEGY --json

and records each process's wall time and peak resident memory (GNU time's elapsed and
maximum resident set size, Python's imports included for mapopt) and its crossbar count (the tool's:
the highest cluster id in IR plus one). mapopt's run reads the text files, decomposes,
maps, validates every constraint and prints the metrics; the tool reads, unrolls and
clusters. Example (the 1.58M-synapse convolution of issue 17, fan-in 25, no unrolling):

    python benchmarks/vs_authors_speed.py --tool /path/to/SNNPartitioning/ext \\
        --net conv:1x64x64,c16k5p2 --repeat 3
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from mapopt.io import resolve_net, write_spinemap

#: GNU time (Debian/Ubuntu package ``time``).
TIME = "/usr/bin/time"


def timed(cmd: list[str]) -> tuple[float, float, str]:
    """(wall seconds, peak MB, stdout) of one child process; raises if it fails.

    The child runs under GNU time (``/usr/bin/time -f "%e %M"``): a process forked from this
    one would count this interpreter's pages in its own peak until it execs, so the peak of
    a child of ``time`` (a small C program) is the program's own.
    """
    with tempfile.NamedTemporaryFile(mode="r") as report:
        wrapped = [TIME, "-f", "%e %M", "-o", report.name, *cmd]
        proc = subprocess.run(wrapped, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise RuntimeError(f"{Path(cmd[0]).name} exited {proc.returncode}: {proc.stderr.strip()[-300:]}")
        seconds, kb = report.read().split()[-2:]
    return float(seconds), int(kb) / 1024, proc.stdout


def tool_run(tool: Path, conn: Path, spikes: Path, setting: str, folder: Path) -> tuple[float, float, int]:
    """(seconds, MB, clusters) of the authors' binary."""
    ir = folder / "cluster.ir"
    ir.unlink(missing_ok=True)
    cmd = [str(tool), "--conn-file", str(conn), "--spike-file", str(spikes)]
    if setting != "none":
        cmd += ["--unroll-fanin", setting]
    cmd += ["--cluster-crossbar-size", "128", "--clustering-algo", "min-clusters", "--cluster-ir-out", str(ir)]
    seconds, mb, _ = timed(cmd)
    text = ir.read_text() if ir.exists() else ""
    ids = np.array(text.split(), dtype=np.int64).reshape(-1, 3)[:, :2] if text.strip() else np.zeros((0, 2), np.int64)
    return seconds, mb, int(ids.max()) + 1 if ids.size else 1


def mapopt_run(conn: Path, spikes: Path, strategy: str) -> tuple[float, float, int]:
    """(seconds, MB, crossbars) of ``mapopt run`` on the same files."""
    mapopt = Path(sys.executable).with_name("mapopt")
    cmd = [str(mapopt), "run", "--net", str(conn), "--spikes", str(spikes), "--decompose", strategy, "--json"]
    seconds, mb, out = timed([*cmd, "--quiet"])
    row = json.loads(out)["results"][0]
    if row.get("crossbars") is None:
        raise RuntimeError(f"mapopt {strategy}: {row.get('status')} {row.get('message')}")
    return seconds, mb, int(row["crossbars"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tool", type=Path, required=True, help="the authors' binary (SNNPartitioning/ext)")
    parser.add_argument("--net", action="append", help="net name or generator spec (repeatable)")
    parser.add_argument("--setting", default="none", help="the tool's unroll fan-in, or none (default)")
    parser.add_argument("--strategy", action="append", help="mapopt --decompose strategy (default: best)")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each; the fastest is reported")
    args = parser.parse_args()
    if not args.tool.is_file():
        parser.error(f"no binary at {args.tool}")
    if not Path(TIME).is_file():
        parser.error(f"needs GNU time at {TIME} (apt-get install -y time)")
    nets = args.net or ["conv:1x64x64,c16k5p2"]
    strategies = args.strategy or ["best"]
    print("| net | synapses | program | s | peak MB | crossbars |\n|---|---:|---|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for spec in nets:
            net = resolve_net(spec)
            conn, spikes = folder / "net.txt", folder / "net.spk"
            write_spinemap(net, conn, spikes)
            labels = [f"authors' tool ({args.setting})", *(f"mapopt run {s}" for s in strategies)]
            for i, label in enumerate(labels):
                results = [
                    tool_run(args.tool, conn, spikes, args.setting, folder) if i == 0
                    else mapopt_run(conn, spikes, strategies[i - 1])
                    for _ in range(args.repeat)
                ]  # fmt: skip
                seconds = min(r[0] for r in results)
                mb = min(r[1] for r in results)
                print(f"| {spec} | {net.n_synapses:,} | {label} | {seconds:.2f} | {mb:.0f} | {results[0][2]} |",
                      flush=True)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
