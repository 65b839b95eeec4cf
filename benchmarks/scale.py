"""End-to-end scaling benchmark: generate, load, decompose, assign, place, validate, write.

For each net family, synapse count and hardware preset a net is generated once, in a
fresh process whose time and peak memory are recorded (``generate``), and written as
``.npz``. Families (``--family``; spike counts from the IF rate model, as the catalog's
huge nets):

- ``mlp``: a 1024-H-10 MLP, H set for the synapse count (1034 H synapses; fan-in 1024 in
  the hidden layer, H in the output layer);
- ``conv``: ``conv:1xSxS,c16k5p2``, a 5x5 convolution with 16 output channels (fan-in 25,
  about 400 S^2 synapses);
- ``er``: Erdos-Renyi G(n, m) with n = synapses / 10 (mean fan-in 10), a random sparse net.

Then another fresh process runs the measured path and reports every stage's wall time
and its peak resident memory (``ru_maxrss``), so each run's memory is its own:

    read_network -> decompose (``--strategy``, default the pipeline's ``best``) -> solver ``auto``
    -> validator (assess) -> write_mapping (.npz, stored)

Usage::

    python benchmarks/scale.py --family mlp --sizes 1e5 1e6 --hw dynapse-paper loihi [--out results.json]

The markdown table (and the scaling exponent of every stage: the slope of log(time) over
log(synapses)) goes to stdout; ``--out`` also keeps the raw records as JSON. Run the
largest sizes one at a time on a quiet machine: 1e8 needs up to 8 GB.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

INPUTS, OUTPUTS = 1024, 10


FAMILIES = ("mlp", "conv", "er")


def hidden_for(synapses: float) -> int:
    """Hidden width H of a 1024-H-10 MLP with about ``synapses`` synapses."""
    return max(1, round(synapses / (INPUTS + OUTPUTS)))


def generate(family: str, synapses: float, path: Path) -> dict[str, float]:
    """Build the net of ``family`` with about ``synapses`` synapses and write it; its time and peak memory."""
    from mapopt.io import write_network

    t = time.perf_counter()
    if family == "mlp":
        from problems.instances.mlp import mlp

        net = mlp([INPUTS, hidden_for(synapses), OUTPUTS], seed=0, spikes="rate")
    elif family == "conv":
        from problems.instances.conv import conv_net

        side = max(3, round((synapses / 400) ** 0.5))
        net = conv_net(f"1x{side}x{side},c16k5p2", seed=0, spikes="rate")
    else:
        from problems.instances.random_graphs import erdos_renyi

        net = erdos_renyi(max(2, round(synapses / 10)), round(synapses), seed=0, spikes="rate")
    built = time.perf_counter() - t
    write_network(path, net)
    return {"generate_s": built, "generate_peak_mb": peak_mb(), "write_net_s": time.perf_counter() - t - built}


def measure(
    net_path: Path, hw_name: str, out_path: Path, time_limit: float | None, strategy: str = "best"
) -> dict[str, object]:
    """The measured end-to-end path, in this process; returns stage times and peak memory."""
    from mapopt.decompose import decompose
    from mapopt.evaluation import assess
    from mapopt.hardware import load_preset
    from mapopt.io import read_network, write_mapping
    from mapopt.pipeline import split_strategy
    from mapopt.problem import MappingProblem
    from mapopt.registry import make_solver
    from mapopt.solver import Budget

    stages: dict[str, float] = {}
    peaks: dict[str, float] = {}  # peak RSS (MB) reached by the end of each stage
    t = time.perf_counter()
    net = read_network(net_path)
    stages["load"] = time.perf_counter() - t
    peaks["load"] = peak_mb()
    hw = load_preset(hw_name)
    decomposition, solver_name = split_strategy(strategy, hw, "auto")
    t = time.perf_counter()
    dec = decompose(net, hw, decomposition)
    stages["decompose"] = time.perf_counter() - t
    peaks["decompose"] = peak_mb()
    problem = MappingProblem(dec, hw)
    result = make_solver(solver_name).solve(problem, Budget(time_limit=time_limit, seed=0))
    stages["solve"] = result.wall_s
    peaks["solve"] = peak_mb()
    t = time.perf_counter()
    verdict = assess(dec, hw, result.mapping)
    stages["validate"] = time.perf_counter() - t
    peaks["validate"] = peak_mb()
    t = time.perf_counter()
    write_mapping(out_path, dec, hw, result.mapping)
    stages["write"] = time.perf_counter() - t
    peaks["write"] = peak_mb()
    m = verdict.metrics or {}
    return {
        "hardware": hw_name,
        "net": net.name,
        "synapses": net.n_synapses,
        "units": dec.n_units,
        "strategy": f"{decomposition}@{solver_name}",
        "methods": result.info.get("methods", ""),
        "valid": verdict.valid,
        "status": str(result.status),
        "crossbars": m.get("crossbars"),
        "lower_bound_crossbars": m.get("lower_bound_crossbars"),
        "hop_spikes": m.get("hop_spikes"),
        "stages_s": stages,
        "total_s": sum(stages.values()),
        "peak_rss_mb": peak_mb(),
        "peak_after_stage_mb": peaks,
    }


def peak_mb() -> float:
    """Peak resident memory of this process so far (MB; Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def machine() -> dict[str, str]:
    """Date and machine facts for the record (lscpu model, cores, RAM)."""
    lscpu = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
    model = next((line.split(":", 1)[1].strip() for line in lscpu.splitlines() if line.startswith("Model name")), "?")
    nproc = subprocess.run(["nproc"], capture_output=True, text=True, check=False).stdout.strip()
    mem_kb = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines() if "MemTotal" in line)
    return {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "cpu": model,
        "nproc": nproc,
        "ram_gb": f"{mem_kb / 2**20:.1f}",
        "python": platform.python_version(),
        "numpy": np.__version__,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--family", choices=FAMILIES, default="mlp")
    parser.add_argument("--sizes", nargs="+", type=float, default=[1e5, 1e6])
    parser.add_argument("--hw", nargs="+", default=["dynapse-paper", "loihi"])
    parser.add_argument("--time-limit", type=float, default=None, help="solver time limit per run (s)")
    parser.add_argument("--out", type=Path, default=None, help="also write the raw records here (JSON)")
    parser.add_argument("--measure", nargs=3, metavar=("NET", "HW", "OUT"), help=argparse.SUPPRESS)
    parser.add_argument("--generate", nargs=3, metavar=("FAMILY", "SIZE", "NET"), help=argparse.SUPPRESS)
    parser.add_argument("--strategy", default="best", help="DECOMPOSITION[@SOLVER] (solver default: auto)")
    parser.add_argument("--quality", action="store_true", help="run the quality comparison instead of scaling")
    args = parser.parse_args()
    if args.quality:
        quality(args.time_limit or 20.0)
        return
    if args.generate:  # child process: generation, timed on its own
        print(json.dumps(generate(args.generate[0], float(args.generate[1]), Path(args.generate[2]))))
        return
    if args.measure:  # child process: one measured run, JSON on stdout
        net_path, hw_name, out_path = args.measure
        print(json.dumps(measure(Path(net_path), hw_name, Path(out_path), args.time_limit, args.strategy)))
        return
    records = []
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes:
            net_path = Path(tmp) / f"{args.family}-{int(size)}.npz"
            gen = subprocess.run(
                [sys.executable, __file__, "--generate", args.family, str(size), str(net_path)],
                check=True, capture_output=True, text=True,
            )  # fmt: skip
            generated = json.loads(gen.stdout.strip().splitlines()[-1])
            for hw_name in args.hw:
                cmd = [sys.executable, __file__, "--measure", str(net_path), hw_name, str(Path(tmp) / "map.npz")]
                if args.time_limit is not None:
                    cmd += ["--time-limit", str(args.time_limit)]
                cmd += ["--strategy", args.strategy]
                proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
                if proc.returncode != 0:
                    print(f"{int(size)} {hw_name}: failed: {proc.stderr.strip().splitlines()[-1:]}", file=sys.stderr)
                    continue
                record = json.loads(proc.stdout.strip().splitlines()[-1])
                record.update(generated, family=args.family)
                records.append(record)
                print(f"{record['synapses']:,} synapses on {hw_name}: {record['total_s']:.1f} s", file=sys.stderr)
    report(records, machine())
    if args.out:
        args.out.write_text(json.dumps({"machine": machine(), "runs": records}, indent=2))


HEURISTICS = ("windowed", "greedy", "layered", "partition", "pso", "anneal", "auto")
EXACT = ("cpsat", "pulp-highs")


def quality(time_limit: float) -> None:
    """Heuristics vs known optima: planted instances (optimum by construction) and small
    random nets (exact solvers' incumbents and bounds within ``time_limit`` s each)."""
    from mapopt.decompose import decompose
    from mapopt.hardware import Hardware, load_preset
    from mapopt.io import resolve_net
    from mapopt.problem import MappingProblem
    from mapopt.registry import make_solver, solver_names
    from mapopt.solver import Budget
    from problems.instances.planted import planted, planted_optimum

    facts = machine()
    print(f"Machine: {facts['cpu']}, {facts['nproc']} cores, {facts['ram_gb']} GB RAM; {facts['date']}\n")
    print("Planted instances (optimum known by construction): objective / optimum, (crossbars, hop_spikes)\n")
    print("| instance | hardware | optimum | " + " | ".join(HEURISTICS) + " |")
    print("|---|---|---|" + "---|" * len(HEURISTICS))
    for preset, blocks, rows, cols, reads in (("toy", 8, 4, 4, 3), ("dynapse-paper", 20, 128, 128, 100),
                                              ("dynapse-paper", 100, 128, 128, 70),
                                              ("dynapse-paper", 400, 128, 128, 90)):  # fmt: skip
        hw = load_preset(preset)
        net = planted(blocks, rows, cols, reads)
        opt = planted_optimum(net, blocks, hw)
        problem = MappingProblem(decompose(net, hw, "none"), hw)
        cells = []
        for name in HEURISTICS:
            r = make_solver(name).solve(problem, Budget(time_limit=time_limit, seed=0))
            k = problem.key(r.metrics)
            cells.append(f"{k[0] / opt['crossbars']:.3f}, {k[1] / opt['hop_spikes']:.3f} ({r.wall_s:.1f} s)")
        print(f"| {net.name} | {preset} | ({opt['crossbars']}, {opt['hop_spikes']:.0f}) | " + " | ".join(cells) + " |")
    hw = Hardware(name="small-16x8", rows=16, columns=8, fanin=8, crossbars_per_tile=2, mesh=None,
                  e_syn=1.0, e_msg=10.0, e_hop=100.0)  # fmt: skip
    exact = [e for e in EXACT if e in solver_names()]
    print(f"\nSmall nets on 16x8 crossbars (F=8, 2 per tile), decomposition auto; exact: {time_limit:.0f} s each.")
    print("Cells: (crossbars, hop_spikes); exact: incumbent [bound on crossbars] status\n")
    print("| net | units | " + " | ".join(exact + list(HEURISTICS)) + " |")
    print("|---|---|" + "---|" * (len(exact) + len(HEURISTICS)))
    for spec in ("mlp:24-16-4", "er:n=40,m=200", "er:n=60,m=300", "powerlaw:n=50"):
        problem = MappingProblem(decompose(resolve_net(spec), hw, "auto"), hw)
        cells = []
        for name in exact + list(HEURISTICS):
            r = make_solver(name).solve(problem, Budget(time_limit=time_limit, seed=0))
            k = problem.key(r.metrics) if r.metrics else None
            cell = f"({k[0]:.0f}, {k[1]:.0f})" if k else "-"
            if name in exact:
                cell += f" [{r.bound if r.bound is None else round(r.bound)}] {r.status}"
            cells.append(cell)
        print(f"| {spec} | {problem.decomposition.n_units} | " + " | ".join(cells) + " |")


def report(records: list[dict], facts: dict[str, str]) -> None:
    """Print the markdown table and the scaling exponent per hardware."""
    print(f"Machine: {facts['cpu']}, {facts['nproc']} cores, {facts['ram_gb']} GB RAM; {facts['date']}\n")
    print(
        "| family | hardware | synapses | units | generate s (MB) | load s | decompose s | solve s | validate s "
        "| write s | total s | peak MB | crossbars | best bound | ratio | methods |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in records:
        s = r["stages_s"]
        bound = r["lower_bound_crossbars"] or 0  # includes the row bound (mapopt.evaluation.lower_bounds)
        ratio = r["crossbars"] / bound if bound else float("nan")
        gen = f"{r.get('generate_s', float('nan')):.2f} ({r.get('generate_peak_mb', float('nan')):.0f})"
        print(
            f"| {r.get('family', 'mlp')} | {r['hardware']} | {r['synapses']:,} | {r['units']:,} | {gen} "
            f"| {s['load']:.2f} | {s['decompose']:.2f} | {s['solve']:.2f} | {s['validate']:.2f} | {s['write']:.2f} "
            f"| {r['total_s']:.2f} | {r['peak_rss_mb']:.0f} | {r['crossbars']} | {bound} | {ratio:.2f} "
            f"| {r['methods']} |"
        )
    for family, hw_name in sorted({(r.get("family", "mlp"), r["hardware"]) for r in records}):
        runs = [r for r in records if r["hardware"] == hw_name and r.get("family", "mlp") == family]
        if len(runs) >= 2:
            x = np.log([r["synapses"] for r in runs])
            slope = np.polyfit(x, np.log([r["total_s"] for r in runs]), 1)[0]
            times = {stage: [r["stages_s"][stage] for r in runs] for stage in runs[0]["stages_s"]}
            times["generate"] = [r.get("generate_s", float("nan")) for r in runs]
            slopes = {stage: np.polyfit(x, np.log(np.maximum(v, 1e-3)), 1)[0] for stage, v in times.items()}
            stages = ", ".join(f"{stage} ^{slope:.2f}" for stage, slope in slopes.items())
            print(f"\n{family} on {hw_name}: end-to-end time grows as synapses^{slope:.2f} ({stages})")


if __name__ == "__main__":
    main()
