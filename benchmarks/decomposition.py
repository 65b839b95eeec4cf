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

With ``--compare`` it sets mapopt's ``best`` (``auto@auto``) against the plain tree
``tree:F@auto``, the validator's bounds (for the chosen N', and over every lossless
decomposition), and, with ``--authors-tool PATH``, the authors' partitioner
(SNNPartitioning of github drexel-DISCO/SpiNeMap; this script neither contains nor builds
it) run on the same net written by ``mapopt.io.write_spinemap``, with no unrolling (it then
keeps each neuron's first N inputs: it prunes) and at every unroll fan-in of ``--unroll``;
its cluster count is its largest cluster id plus one (an empty output: one cluster), as
``benchmarks/authors_tool.py`` counts it. A setting is lossless when every synapse reaches
its neuron: at K >= 3 the tool drops some partial sums, so their pieces' inputs are lost,
which mapopt's count-for-count ``pieces:K@paper`` measures (``lost_synapses``); the table
gives the tool's best lossless setting and, apart, its fewest clusters with what they lose.
``--costs`` adds, per net, the crossbars, depth and traffic of each decomposition::

    python benchmarks/decomposition.py --compare --net edgedet:28x28,k=11 --authors-tool /path/to/ext --costs
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from mapopt.decompose import decompose
from mapopt.decompose.ordering import GROUPINGS, ORDERS
from mapopt.hardware import Hardware, load_preset
from mapopt.io import resolve_net, write_spinemap
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
        for order in ORDERS:
            for grouping in GROUPINGS:
                dec = decompose(net, hw, f"tree:{hw.fanin},order={order},grouping={grouping}")
                counts = [make_solver(s).solve(MappingProblem(dec, hw), Budget(seed=0)).metrics["crossbars"]
                          for s in solvers]
                lines.append(f"| {net.name} | {order}/{grouping} | {dec.n_units} | {' | '.join(map(str, counts))} |")
        dec = decompose(net, hw, "auto")
        counts = [make_solver(s).solve(MappingProblem(dec, hw), Budget(seed=0)).metrics["crossbars"] for s in solvers]
        lines.append(f"| {net.name} | auto | {dec.n_units} | {' | '.join(map(str, counts))} |")
    return "\n".join(lines)


#: Unroll fan-ins of the authors' tool tried by ``--compare`` (it needs 2 <= K <= the crossbar size).
UNROLL = (2, 3, 4, 8, 16, 32, 64, 127, 128)
#: Seconds one run of the authors' tool may take.
TOOL_TIMEOUT = 600.0


def authors_tool(tool: str, net: Network, crossbar: int, settings: list[str]) -> dict[str, int]:
    """Clusters the authors' partitioner makes of ``net`` per setting (``none`` or an unroll fan-in)."""
    from authors_tool import run_tool  # benchmarks/authors_tool.py: runs the binary, counts its clusters

    with tempfile.TemporaryDirectory() as tmp:
        conn, spikes = Path(tmp, "net.conn"), Path(tmp, "net.spk")
        write_spinemap(net, conn, spikes)
        return {setting: run_tool(Path(tool), conn, spikes, setting, crossbar, TOOL_TIMEOUT)[0] for setting in settings}


def compare_row(net_spec: str, hw_name: str, tool: str | None, unroll: list[int]) -> dict[str, object]:
    """best against the plain tree, the bounds and the authors' tool (see the module docstring)."""
    hw = load_preset(hw_name)
    net = resolve_net(net_spec)
    budget = Budget(seed=0)
    t0 = time.perf_counter()
    best = run_strategy(net, hw, "best", budget=budget)
    seconds = time.perf_counter() - t0
    tree = run_strategy(net, hw, f"tree:{hw.fanin}@auto", budget=budget).result.metrics
    m = best.result.metrics
    row: dict[str, object] = {
        "net": net_spec, "synapses": net.n_synapses, "max_fanin": net.max_fanin, "crossbars": m["crossbars"],
        "depth": m["depth"], "hop_spikes": m["hop_spikes"], "units": m["units"], "pruned": m["pruned_synapses"],
        "bound": m["lower_bound_crossbars"], "lossless_bound": m["lower_bound_crossbars_lossless"],
        "tree": tree["crossbars"], "seconds": round(seconds, 1), "fits": bool(net.max_fanin <= hw.columns),
    }  # fmt: skip
    if tool:
        settings = ["none"] + [str(k) for k in unroll if 2 <= k <= hw.columns]
        counts = authors_tool(tool, net, hw.columns, settings)
        row.update(tool_summary(counts, net.max_fanin <= hw.columns, tool_losses(net, hw, settings)))
    return row


def tool_losses(net: Network, hw: Hardware, settings: list[str]) -> dict[str, int]:
    """Synapses the tool's unrolling loses per setting, from mapopt's count-for-count ``pieces:K@paper``.

    At K >= 3 the tool drops partial sums whose piece ends in the root's own range
    (docs/reproduction.md), so the inputs of those pieces never reach their neuron; the
    ``paper`` solver reproduces that and reports it as ``lost_synapses``. No unrolling keeps
    each neuron's first N inputs: what it prunes is lost too.
    """
    losses = {"none": int(np.maximum(net.fanin[~net.is_input] - hw.columns, 0).sum())}
    for k in settings:
        if k != "none":
            m = run_strategy(net, hw, f"pieces:{k}@paper", budget=Budget(seed=0)).result.metrics
            losses[k] = int(m["lost_synapses"]) if m is not None else -1
    return losses


def tool_summary(counts: dict[str, int], fits: bool, losses: dict[str, int]) -> dict[str, object]:
    """The tool's best lossless setting (every synapse reaches its neuron) and its fewest clusters at any setting."""
    order = lambda k: (counts[k], k != "none", int(k) if k != "none" else 0)  # noqa: E731
    lossless = [k for k in counts if losses.get(k) == 0]
    k_best = min(lossless, key=order) if lossless else None
    k_fewest = min(counts, key=order)
    return {
        "tool_none": counts["none"], "tool_best": counts[k_best] if k_best else None, "tool_best_k": k_best,
        "tool_fewest": counts[k_fewest], "tool_fewest_k": k_fewest, "tool_fewest_lost": losses.get(k_fewest),
        "tool": counts, "tool_lost": losses,
    }  # fmt: skip


def compare_table(rows: list[dict[str, object]]) -> str:
    tool = any("tool_best" in r for r in rows)
    head = "| net | synapses | max fan-in | best | depth | hop_spikes | bound (N') | ratio | lossless bound | tree:F |"
    rule = "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    if tool:
        head += " authors' tool, best lossless setting | authors' tool, fewest (synapses lost) | no unrolling |"
        rule += "---:|---:|---:|"
    lines = [head, rule]
    for r in rows:
        line = (f"| {r['net']} | {r['synapses']:,} | {r['max_fanin']} | **{r['crossbars']}** | {r['depth']} | "
                f"{r['hop_spikes']:.3g} | {r['bound']} | {r['crossbars'] / r['bound']:.2f} | {r['lossless_bound']} | "
                f"{r['tree']} |")  # fmt: skip
        if tool:
            line += f" {_setting(r['tool_best'], r['tool_best_k'])} |"
            lost = r["tool_fewest_lost"]
            line += f" {_setting(r['tool_fewest'], r['tool_fewest_k'])}{f', {lost:,} lost' if lost else ''} |"
            line += f" {r['tool_none']}{'' if r['fits'] else ' (prunes)'} |"
        lines.append(line)
    return "\n".join(lines)


def _setting(count: object, k: object) -> str:
    """A tool count with its setting: ``111 (K=64)``, ``70 (no unrolling)``, or ``-`` for none."""
    if count is None:
        return "-"
    return f"{count} ({'no unrolling' if k == 'none' else f'K={k}'})"


#: Decompositions whose costs ``--costs`` lists (F: the fan-in limit; H: half the widest fan-in, when below F).
COST_SPECS = ("none", "prune-first", "chain:2", "chain:F", "tree:F", "tree:H", "auto")


def cost_table(net_spec: str, hw_name: str) -> str:
    """Crossbars, depth and traffic of each decomposition of one net, all mapped by the auto solver."""
    hw = load_preset(hw_name)
    net = resolve_net(net_spec)
    lines = ["| decomposition | crossbars | units | depth | hop_spikes | intertile spikes | pruned |",
             "|---|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
    fits = net.max_fanin <= hw.fanin
    half = -(-net.max_fanin // 2)
    for spec in COST_SPECS:
        if (spec == "none" and not fits) or (fits and spec in ("prune-first", "chain:F", "tree:F")):
            continue  # what cannot run, or what is the same as "none" when every neuron fits F
        if spec == "tree:H" and not 2 <= half <= hw.fanin:
            continue
        spec = spec.replace("F", str(hw.fanin)).replace("H", str(half))
        m = run_strategy(net, hw, f"{spec}@auto", budget=Budget(seed=0)).result.metrics
        lines.append(f"| {spec} | {m['crossbars']} | {m['units']} | {m['depth']} | {m['hop_spikes']:.3g} | "
                     f"{m['intertile_spikes']:.3g} | {m['pruned_synapses']} |")  # fmt: skip
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--net", action="append", required=True)
    parser.add_argument("--hw", default="dynapse-paper")
    parser.add_argument("--solver", action="append")
    parser.add_argument("--time-limit", type=float)
    parser.add_argument("--json")
    parser.add_argument("--orderings", action="store_true")
    parser.add_argument("--compare", action="store_true", help="best against tree:F, the bounds and the authors' tool")
    parser.add_argument("--authors-tool", help="path of the authors' SNNPartitioning binary (ext)")
    parser.add_argument("--unroll", type=int, nargs="+", default=list(UNROLL), help="its unroll fan-ins to try")
    parser.add_argument("--costs", action="store_true", help="with --compare: each decomposition's costs per net")
    args = parser.parse_args()
    if args.authors_tool and not Path(args.authors_tool).is_file():
        print(f"authors' tool not found at {args.authors_tool}: its columns are left out (build SNNPartitioning "
              "from github drexel-DISCO/SpiNeMap outside this repository to get them)", file=sys.stderr)  # fmt: skip
        args.authors_tool = None
    if args.compare:
        rows = []
        for net_spec in args.net:
            rows.append(compare_row(net_spec, args.hw, args.authors_tool, args.unroll))
            print(f"{net_spec}: {rows[-1]}", flush=True)
        print(f"\n### best against the bounds and the authors' tool, {args.hw}\n")
        print(compare_table(rows))
        if args.costs:
            for net_spec in args.net:
                print(f"\n### costs of each decomposition: {net_spec} on {args.hw}\n")
                print(cost_table(net_spec, args.hw))
        if args.json:
            with open(args.json, "w") as f:
                json.dump(rows, f, indent=1)
        return
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
