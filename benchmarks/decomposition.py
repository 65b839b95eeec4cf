"""Crossbars and synapse utilization per decomposition strategy (the numbers of docs/decomposition.md).

For each net: the prune baselines, the paper's unrolling (chain-2, 2-input units as its text
says; and for a solver that cuts pieces, ``paper``, pieces-2 as the authors' code does),
every chain-k and tree-k for k in powers of two up to F (the best of each is reported),
and auto; each decomposition is mapped by the given solvers and re-scored by the
validator. Run::

    python benchmarks/decomposition.py --net mlp:784-100-10 --net lenet5 --solver paper --solver greedy

It prints one Markdown table per net and solver, and with ``--json FILE`` writes every row.
With ``--orderings`` it instead compares the unroll orderings (tree:F with each source
key and grouping) on the given nets, as numbered and with their input ids shuffled.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from mapopt.decompose import decompose
from mapopt.hardware import load_preset
from mapopt.io import resolve_net
from mapopt.network import Network
from mapopt.pipeline import run_strategy
from mapopt.problem import MappingProblem
from mapopt.registry import make_solver, solver_class
from mapopt.solver import Budget

FIELDS = ("crossbars", "synapse_utilization", "units", "depth", "pruned_synapses")


def arities(fanin: int) -> list[int]:
    out, k = [], 2
    while k < fanin:
        out.append(k)
        k *= 2
    return [*out, fanin]


def rows_for(net_spec: str, hw_name: str, solver: str, time_limit: float | None) -> list[dict[str, object]]:
    hw = load_preset(hw_name)
    net = resolve_net(net_spec)
    specs = ["prune-first", "prune-magnitude", "chain:2"]
    if "pieces" in solver_class(solver).decides:
        specs.append("pieces:2")
    specs += [f"chain:{k}" for k in arities(hw.fanin) if k != 2]
    specs += [f"tree:{k}" for k in arities(hw.fanin)]
    specs.append("auto")
    rows = []
    for spec in specs:
        t0 = time.perf_counter()
        run = run_strategy(net, hw, f"{spec}@{solver}", budget=Budget(time_limit=time_limit, seed=0))
        m = run.result.metrics or {}
        rows.append({"net": net_spec, "solver": solver, "strategy": spec, "status": str(run.result.status),
                     **{f: m.get(f) for f in FIELDS}, "seconds": round(time.perf_counter() - t0, 2)})
    return rows


def best(rows: list[dict[str, object]], prefix: str) -> dict[str, object]:
    ok = [r for r in rows if str(r["strategy"]).startswith(prefix) and r["crossbars"] is not None]
    return min(ok, key=lambda r: (r["crossbars"], r["depth"]))


def markdown(rows: list[dict[str, object]]) -> str:
    chain2 = next(r for r in rows if r["strategy"] == "chain:2")
    pieces2 = [r for r in rows if r["strategy"] == "pieces:2"]
    shown = [
        ("prune-first", next(r for r in rows if r["strategy"] == "prune-first")),
        ("prune-magnitude", next(r for r in rows if r["strategy"] == "prune-magnitude")),
        ("chain-2 (paper's text)", chain2),
        *(("pieces-2 (paper's code)", r) for r in pieces2),
        ("best chain-k", best(rows, "chain:")),
        ("best tree-k", best(rows, "tree:")),
        ("auto", next(r for r in rows if r["strategy"] == "auto")),
    ]
    lines = ["| strategy | spec | crossbars | vs chain-2 | synapse util. | units | depth | pruned | s |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for label, r in shown:
        ratio = chain2["crossbars"] / r["crossbars"] if r["crossbars"] else float("nan")
        lines.append(
            f"| {label} | {r['strategy']} | {r['crossbars']} | {ratio:.1f}x | {r['synapse_utilization']:.4f} | "
            f"{r['units']} | {r['depth']} | {r['pruned_synapses']} | {r['seconds']} |"
        )
    return "\n".join(lines)


def shuffle_inputs(net: Network, seed: int = 0) -> Network:
    """The same net with its input neurons renumbered at random (structure hidden from the id order)."""
    perm = np.arange(net.n_neurons)
    inputs = np.flatnonzero(net.is_input)
    perm[inputs] = np.random.default_rng(seed).permutation(inputs)
    return Network.build(name=f"{net.name} (shuffled inputs)", is_input=net.is_input, pre=perm[net.pre],
                         post=net.post, weight=net.weight, spikes=net.spikes, spike_source=net.spike_source,
                         timesteps=net.timesteps, threshold=net.threshold, leak=net.leak, layer=net.layer)


def ordering_table(net_spec: str, hw_name: str, solvers: list[str]) -> str:
    """Crossbars of tree:F under each unroll ordering, ids as generated and shuffled."""
    hw = load_preset(hw_name)
    base = resolve_net(net_spec)
    lines = [f"| net | ordering | units | {' | '.join(solvers)} |", "|---|---|---:|" + "---:|" * len(solvers)]
    for net in (base, shuffle_inputs(base)):
        for order in ("id", "cooccurrence"):
            for grouping in ("chunk", "block"):
                dec = decompose(net, hw, f"tree:{hw.fanin},order={order},grouping={grouping}")
                counts = [make_solver(s).solve(MappingProblem(dec, hw), Budget(seed=0)).metrics["crossbars"]
                          for s in solvers]
                lines.append(f"| {net.name} | {order}/{grouping} | {dec.n_units} | {' | '.join(map(str, counts))} |")
        dec = decompose(net, hw, "auto")
        counts = [make_solver(s).solve(MappingProblem(dec, hw), Budget(seed=0)).metrics["crossbars"] for s in solvers]
        lines.append(f"| {net.name} | auto | {dec.n_units} | {' | '.join(map(str, counts))} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--net", action="append", required=True)
    parser.add_argument("--hw", default="dynapse-paper")
    parser.add_argument("--solver", action="append")
    parser.add_argument("--time-limit", type=float)
    parser.add_argument("--json")
    parser.add_argument("--orderings", action="store_true")
    args = parser.parse_args()
    if args.orderings:
        for net_spec in args.net:
            print(f"\n### unroll orderings: {net_spec} on {args.hw}\n")
            print(ordering_table(net_spec, args.hw, args.solver or ["paper"]))
        return
    everything = []
    for net_spec in args.net:
        for solver in args.solver or ["paper"]:
            rows = rows_for(net_spec, args.hw, solver, args.time_limit)
            everything += rows
            print(f"\n### {net_spec} on {args.hw}, solver {solver}\n")
            print(markdown(rows))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(everything, f, indent=1)


if __name__ == "__main__":
    main()
