"""Time to proven optimum of the exact back ends (cpsat, pulp-cbc, pulp-highs) on growing instances.

Usage::

    python benchmarks/exact.py --time-limit 60 > docs/exact-results.md
    python benchmarks/exact.py --time-limit 10 --only planted   # a quick look
    python benchmarks/exact.py --only generated --names mlp:64-32-10 --solvers pulp-cbc
    python benchmarks/exact.py --only reach --time-limit 60     # the structured instances of docs/exact.md

Each instance is decomposed as ``mapopt solve`` does by default (``none`` when the net fits
the fan-in limit, else ``chain:F``) and solved by every exact solver with ``--threads``
threads (default: all cores, as ``mapopt solve``), seed 0, the default objective (crossbars,
then hop_spikes); the solvers are the exact ones
that map a fixed N' (``cpsat-joint``, which regroups unrolled neurons, only when named
with ``--solvers``). One Markdown row per
(instance, solver): status, seconds to the final answer (the proof when optimal),
crossbars, hop_spikes, bound and gap on crossbars. The last section checks that every
back end that proves an optimum proves the same one, and lists, per back end, the largest
instance (in units) it proved optimal within the limit. ``--structured`` instead compares
``cpsat-structured`` with ``greedy`` and ``cpsat`` on ``auto``'s N' and with ``cpsat-joint``
on small filters and convolutions (docs/exact.md).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass

from mapopt.cli.solve import default_decomposition, machine_threads
from mapopt.decompose import decompose
from mapopt.errors import InputError
from mapopt.hardware import Hardware, customise, load_preset
from mapopt.io import resolve_net
from mapopt.network import Network
from mapopt.problem import MappingProblem
from mapopt.registry import catalog, make_solver, solver_class, solver_names
from mapopt.solver import Budget, Status
from problems.instances.planted import planted

#: Exact solvers that choose N' themselves (run only when named with --solvers).
REGROUPING_SOLVERS = ("cpsat-joint", "cpsat-structured")
#: Catalog instances up to this many units (after the default decomposition) are included.
MAX_CATALOG_UNITS = 200


@dataclass
class Instance:
    family: str
    name: str
    net: Network
    hw: Hardware


def instances(only: str | None) -> list[Instance]:
    """Planted series (optimum known), generated series, and the catalog's tiny and small nets.

    Catalog nets with more than :data:`MAX_CATALOG_UNITS` units are skipped in :func:`main`.
    """
    toy = load_preset("toy")
    mid = customise(toy, crossbar="16x16", fanin=16, crossbars_per_tile=4, mesh="auto")
    out = [Instance("planted", f"planted-toy-{b}", planted(b, 4, 4, 3), toy) for b in (2, 3, 6, 8)]
    # exact reach (docs/exact.md): two 3x3 convolutions and a 300-unit planted instance
    reach = [Instance("reach", name, catalog()[name].build(), mid) for name in ("conv-8x8-c2k3", "conv-10x10-c2k3")]
    reach.append(Instance("reach", "planted-toy-75", catalog()["planted-toy-75"].build(), customise(toy, mesh="auto")))
    out += reach
    out += [Instance("planted", f"planted-16x16-{b}", planted(b, 16, 16, 9), mid) for b in (2, 4, 8, 12)]
    for spec in (
        "synfire:4-6",
        "synfire:6-8",
        "synfire:8-12",
        "mlp:16-8-4",
        "mlp:32-16-8",
        "mlp:64-32-10",
        "er:n=40,m=120",
        "er:n=100,m=400",
        "er:n=200,m=900",
        "imgsmooth:6x6",
        "imgsmooth:10x10",
    ):
        out.append(Instance("generated", spec, resolve_net(spec), mid))
    paper = load_preset("dynapse-paper")
    for name, entry in catalog().items():
        if entry.tier not in ("tiny", "small") or name.startswith(("planted", "conv-")):
            continue
        out.append(Instance("catalog", name, entry.build(), paper))
    return [i for i in out if only is None or i.family == only]


#: Small filters and convolutions for ``--structured``: (net, crossbar RxC, fan-in limit F) on toy hardware.
STRUCTURED = (
    ("conv:2x4x4,c2k3", "16x8", 8),
    ("edgedet:4x4,k=3", "8x8", 8),
    ("conv:1x6x6,c4k3", "16x8", 8),
    ("imgsmooth:8x8,k=3", "16x16", 8),
    ("imgsmooth:6x6,k=5", "16x16", 16),
    ("edgedet:6x6,k=5", "16x16", 16),
)


def structured_table(time_limit: float) -> None:
    """``cpsat-structured`` against ``greedy`` and ``cpsat`` on auto's N' and ``cpsat-joint`` (docs/exact.md)."""
    print("| instance | crossbar, F | members | greedy on auto's N' | cpsat on auto's N' | cpsat-joint "
          "| cpsat-structured |")  # fmt: skip
    print("|---|---|---:|---|---|---|---|")
    for spec, crossbar, fanin in STRUCTURED:
        net = resolve_net(spec)
        hw = customise(load_preset("toy"), crossbar=crossbar, fanin=fanin, crossbars_per_tile=4, mesh="auto")
        auto = decompose(net, hw, "auto")
        cells = []
        members = "-"
        for solver, dec in (("greedy", auto), ("cpsat", auto),
                            ("cpsat-joint", decompose(net, hw, default_decomposition(net, hw))),
                            ("cpsat-structured", auto)):  # fmt: skip
            limit = None if solver == "greedy" else time_limit
            r = make_solver(solver).solve(MappingProblem(dec, hw), Budget(time_limit=limit, seed=0, threads=1))
            m = r.metrics or {}
            bound = "" if solver == "greedy" or r.bound is None else f" / {r.bound:g}"
            cells.append(f"{m.get('crossbars', '-')}{bound} ({r.wall_s:.1f} s)")
            if solver == "cpsat-structured":
                grouping = r.info.get("grouping", {})
                members = grouping.get("members", "-")
                if grouping.get("open"):
                    cells[-1] += f", space bound {grouping['bound']}, {grouping['open']} members open"
        print(f"| {spec} | {crossbar}, {fanin} | {members} | " + " | ".join(cells) + " |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--time-limit", type=float, default=60.0)
    parser.add_argument("--structured", action="store_true", help="only the cpsat-structured comparison")
    parser.add_argument("--only", choices=["planted", "reach", "generated", "catalog"], default=None)
    parser.add_argument("--threads", type=int, default=None, help="solver threads (default: all cores)")
    parser.add_argument("--names", default=None, help="comma-separated instance names to run (default: all)")
    parser.add_argument("--solvers", default=None, help="comma-separated solvers (default: the fixed-N' exact ones)")
    args = parser.parse_args()
    if args.structured:
        structured_table(args.time_limit)
        return
    fixed = [name for name in solver_names() if solver_class(name).exact and name not in REGROUPING_SOLVERS]
    exact = args.solvers.split(",") if args.solvers else fixed
    names = set(args.names.split(",")) if args.names else None
    threads = args.threads or machine_threads()
    print(f"time limit {args.time_limit:g} s per run, {threads} threads, seed 0; solvers: {', '.join(exact)}\n")
    print(
        "| family | instance | hardware | decomposition | units | solver | status | s | crossbars | hop_spikes "
        "| bound | gap | hop bound | hop gap |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    proven: dict[str, dict[str, tuple[float, float]]] = {}
    largest: dict[str, tuple[int, str]] = {}
    errors: list[str] = []
    for inst in instances(args.only):
        if names is not None and inst.name not in names:
            continue
        spec = default_decomposition(inst.net, inst.hw)
        dec = decompose(inst.net, inst.hw, spec)
        if inst.family == "catalog" and dec.n_units > MAX_CATALOG_UNITS:
            continue
        problem = MappingProblem(dec, inst.hw)
        for solver in exact:
            try:
                r = make_solver(solver).solve(problem, Budget(time_limit=args.time_limit, seed=0, threads=threads))
            except InputError as err:  # e.g. an instance too large for cpsat-joint
                errors.append(f"{inst.name} / {solver}: input error: {err}")
                continue
            m = r.metrics or {}
            second = r.info.get("secondary", {})
            hop_bound = second.get("bound") if second else None
            if r.status is Status.OPTIMAL:
                hop_bound = m.get("hop_spikes")
            hop = m.get("hop_spikes")
            hop_gap = (hop - hop_bound) / hop if hop and hop_bound is not None else (0.0 if hop == 0 else None)
            print(
                f"| {inst.family} | {inst.name} | {inst.hw.name} {inst.hw.rows}x{inst.hw.columns} | {spec} "
                f"| {dec.n_units} | {solver} | {r.status} | {r.wall_s:.2f} | {m.get('crossbars', '-')} "
                f"| {m.get('hop_spikes', '-')} | {r.bound if r.bound is not None else '-'} "
                f"| {'-' if r.gap is None else f'{r.gap:.3f}'} "
                f"| {'-' if hop_bound is None else f'{hop_bound:.0f}'} "
                f"| {'-' if hop_gap is None else f'{hop_gap:.3f}'} |",
                flush=True,
            )
            if r.status is Status.ERROR:
                errors.append(f"{inst.name} / {solver}: {r.message}")
            if r.status is Status.OPTIMAL:
                proven.setdefault(inst.name, {})[solver] = (m["crossbars"], m["hop_spikes"])
                if dec.n_units > largest.get(solver, (0, ""))[0]:
                    largest[solver] = (dec.n_units, inst.name)
    print("\n## Agreement\n")
    disagree = {k: v for k, v in proven.items() if len(set(v.values())) > 1}
    print(
        f"{len(proven)} instances proven optimal by at least one back end; "
        f"{len(disagree)} with back ends disagreeing{': ' + str(disagree) if disagree else ''}.\n"
    )
    if errors:
        print("## Errors\n\n" + "\n".join(f"- {e}" for e in errors) + "\n")
    print("## Largest instance proven optimal within the limit\n")
    for solver in exact:
        units, name = largest.get(solver, (0, "none"))
        print(f"- {solver}: {name} ({units} units)")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
