"""``mapopt sanafe-check``: run SANA-FE on several mappings of one net and compare with mapopt.

Results (a table that fits 80 columns, ``--wide`` for every column, or ``--json``) go to
stdout; progress goes to stderr; SANA-FE's own printing is captured and never reaches
stdout. Exit 0 when every mapping ran, 1 when one failed (it is a row with its reason), 2
for bad input (including a missing SANA-FE, with the line that installs it).
"""

from __future__ import annotations

import sys
import textwrap
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from mapopt.cli.common import (
    CrossbarOpt,
    FaninOpt,
    JsonOpt,
    MeshOpt,
    NetOpt,
    ObjectiveOpt,
    PerTileOpt,
    SeedOpt,
    TimeLimitOpt,
    console,
    emit_json,
    load_hardware,
    load_net,
)
from mapopt.decompose import check_spec
from mapopt.errors import InputError
from mapopt.io.sanafe import check_hardware, require_sanafe, sanafe_version
from mapopt.pipeline import check_strategies
from mapopt.problem import DEFAULT_OBJECTIVE
from mapopt.report import fmt
from mapopt.simulate import make_inputs
from mapopt.solver import Budget
from mapopt.studies.crosscheck import check_cases, correlations, file_cases, fit_costs, solver_cases, summary

DEFAULT_HW = "loihi"
DEFAULT_SOLVERS = "random,paper,greedy,best"
#: (row key, heading, scale, unit) of the default table: 80 columns.
COMPACT = [
    ("mapping", "mapping", None),
    ("deliveries", "deliveries", None),
    ("hop_spikes", "hops", None),
    ("energy_network_j", "mapopt\nnet µJ", 1e6),
    ("sanafe_energy_network_j", "SANA-FE\nnet µJ", 1e6),
    ("sanafe_energy_total_j", "SANA-FE\ntotal µJ", 1e6),
    ("sanafe_latency_s", "SANA-FE\nlat. µs", 1e6),
]
WIDE = [
    ("mapping", "mapping", None),
    ("status", "status", None),
    ("decomposition", "decomp", None),
    ("crossbars", "cross-\nbars", None),
    ("tiles", "tiles", None),
    ("units", "units", None),
    ("deliveries", "deliveries", None),
    ("sanafe_packets", "SANA-FE\npackets", None),
    ("hop_spikes", "hops", None),
    ("sanafe_hops", "SANA-FE\nhops", None),
    ("synaptic_events", "synaptic\nevents", None),
    ("energy_synapse_j", "mapopt\nsyn µJ", 1e6),
    ("energy_network_j", "mapopt\nnet µJ", 1e6),
    ("energy_total_j", "mapopt\ntotal µJ", 1e6),
    ("sanafe_energy_synapse_j", "SANA-FE\nsyn µJ", 1e6),
    ("sanafe_energy_soma_j", "SANA-FE\nsoma µJ", 1e6),
    ("sanafe_energy_network_j", "SANA-FE\nnet µJ", 1e6),
    ("sanafe_energy_total_j", "SANA-FE\ntotal µJ", 1e6),
    ("calibrated_total_j", "calibr.\ntotal µJ", 1e6),
    ("sanafe_latency_s", "SANA-FE\nlat. µs", 1e6),
]


class Activity(StrEnum):
    replay = "replay"
    functional = "functional"


def _split(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()]


def sanafe_check(
    net: NetOpt = None,
    hw: Annotated[str | None, typer.Option("--hw", help=f"Hardware preset (default {DEFAULT_HW}).")] = None,
    crossbar: CrossbarOpt = None,
    fanin: FaninOpt = None,
    crossbars_per_tile: PerTileOpt = None,
    mesh: MeshOpt = None,
    mappings: Annotated[
        str | None, typer.Option("--mappings", help="Comma-separated mapping files of one net (from run/solve --out).")
    ] = None,
    solvers: Annotated[
        str | None,
        typer.Option(
            "--solvers",
            help=f"Comma-separated solvers or strategies DECOMPOSITION@SOLVER, or best (default {DEFAULT_SOLVERS}).",
        ),
    ] = None,
    decompose: Annotated[
        str | None,
        typer.Option(
            "--decompose", help="Decomposition for bare solver names (default: none if the net fits, else auto)."
        ),
    ] = None,
    placements: Annotated[
        int,
        typer.Option(
            "--placements",
            min=0,
            help="Add N re-placements of mapopt's lowest-energy mapping (same crossbars, random tiles).",
        ),
    ] = 0,
    steps: Annotated[int | None, typer.Option("--steps", min=1, help="Timesteps (default: the net's window).")] = None,
    input_rate: Annotated[float, typer.Option("--input-rate", help="Input spike probability per step.")] = 0.2,
    activity: Annotated[
        Activity,
        typer.Option(
            "--activity", help="replay: SANA-FE replays mapopt's spikes; functional: SANA-FE runs the dynamics."
        ),
    ] = Activity.replay,
    train: Annotated[
        int,
        typer.Option("--train", min=0, help="Fit the calibration on the first N mappings, test on the rest (0: all)."),
    ] = 0,
    time_limit: TimeLimitOpt = None,
    seed: SeedOpt = 0,
    objective: ObjectiveOpt = DEFAULT_OBJECTIVE,
    wide: Annotated[bool, typer.Option("--wide", help="Show every column.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress on stderr.")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Run SANA-FE on several mappings of one net: its energy and latency next to mapopt's predictions.

    Both models see the same activity (seeded inputs, mapopt's simulator). Prints per mapping
    SANA-FE's energy (total, synapse, soma, network) and latency next to mapopt's predicted
    energy, deliveries and hop_spikes, and the Spearman rank correlations across mappings.
    """
    require_sanafe()
    files = [Path(p) for p in _split(mappings)]
    if files and (solvers is not None or decompose is not None):
        raise InputError("give either --mappings or --solvers, not both", source="--mappings")
    if files and (net or hw or crossbar or fanin or crossbars_per_tile or mesh):
        raise InputError(
            "mapping files carry their net and hardware; drop --net/--hw and the overrides", source="--mappings"
        )
    if not 0.0 <= input_rate <= 1.0:
        raise InputError(f"must lie in [0, 1], got {input_rate}", source="--input-rate")
    budget = Budget(time_limit=time_limit, seed=seed)
    progress = None if quiet or not sys.stderr.isatty() else (lambda msg: console.print(escape(msg)))
    if files:
        network, cases = file_cases(files)
        for c in cases:
            check_hardware(c.hardware)  # type: ignore[arg-type]
        hardware_name = cases[0].hardware.name  # type: ignore[union-attr]
        inputs = make_inputs(network, timesteps=steps or network.timesteps, input_rate=input_rate, seed=seed)
    else:
        if net is None:
            raise InputError("give --net with --solvers (or --mappings FILES)", source="--net")
        hardware = load_hardware(hw or DEFAULT_HW, crossbar, fanin, crossbars_per_tile, mesh)
        check_hardware(hardware)
        specs = _split(solvers or DEFAULT_SOLVERS)
        if decompose is not None:
            check_spec(decompose, hardware)
        network = load_net(net, seed=seed)
        default_decomposition = decompose or ("none" if network.max_fanin <= hardware.fanin else "auto")
        specs = [s if s == "best" or "@" in s else f"{default_decomposition}@{s}" for s in specs]
        check_strategies(specs, hardware)
        labels = _split(solvers or DEFAULT_SOLVERS)
        inputs = make_inputs(network, timesteps=steps or network.timesteps, input_rate=input_rate, seed=seed)
        cases = solver_cases(network, hardware, specs, inputs, budget=budget, objective=objective, progress=progress)
        for case, label in zip(cases, labels, strict=True):
            case.label = label  # as the user wrote it: "greedy", "chain:2@paper", "best"
        hardware_name = hardware.name
    rows = check_cases(cases, inputs, activity=str(activity), placements=placements, seed=seed, progress=progress)
    fit = fit_costs(rows, train)
    corr = correlations(
        rows,
        {"calibrated_total": ("calibrated_total_j", "sanafe_energy_total_j")}
        if not fit.get("note") and fit.get("in_sample")
        else None,
    )
    doc = {
        "net": network.summary(),
        "hardware": hardware_name,
        "sanafe_version": sanafe_version(),
        "activity": str(activity),
        "timesteps": int(inputs.shape[0]),
        "input_rate": input_rate,
        "seed": seed,
        "rows": rows,
        "spearman": corr,
        "fit": fit,
        "summary": summary(rows),
    }
    if json_out:
        emit_json(doc)
    else:
        _print(doc, wide)
    if any(r["status"] != "ok" for r in rows):
        raise typer.Exit(1)


def _cell(value: Any, scale: float | None) -> str:
    if value is None:
        return "-"
    if scale is not None and isinstance(value, (int, float)):
        return fmt(float(value) * scale)
    if isinstance(value, int | float) and not isinstance(value, bool) and float(value).is_integer():
        return f"{int(value):,}"  # counts: every digit, grouped
    return fmt(value)


def _print(doc: dict[str, Any], wide: bool) -> None:
    """The table and the correlation lines on stdout (80 columns unless ``wide``)."""
    out = Console(file=sys.stdout, width=400 if wide else 80, highlight=False, soft_wrap=False)
    columns = WIDE if wide else COMPACT
    s = doc["net"]
    title = (
        f"{s['name']} on {doc['hardware']}: SANA-FE {doc['sanafe_version']}, {doc['activity']}, T={doc['timesteps']}"
    )
    t = Table(title=title, box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, padding=(0, 1))
    for key, heading, _ in columns:
        t.add_column(
            heading,
            justify="left" if key in ("mapping", "status", "decomposition") else "right",
            no_wrap=True,
            overflow="ellipsis",
            max_width=24 if key == "mapping" else None,
        )
    for r in doc["rows"]:
        t.add_row(*(escape(_cell(r.get(key), scale)) for key, _, scale in columns))
    out.print(t)
    lines = []
    summ = doc["summary"]
    ok = summ.get("ok", 0)
    if ok:
        lines.append(
            f"counts equal (packets = deliveries, hops = hop_spikes, synaptic events): {summ['counts_match']}/{ok}"
        )
        rho = doc["spearman"]
        parts = [f"{name.replace('_', ' ')} {'-' if v is None else f'{v:.3f}'}" for name, v in rho.items()]
        lines.append(f"Spearman rho over {ok} mappings: " + ", ".join(parts))
        lines.append(
            f"lowest network energy: SANA-FE {', '.join(summ['lowest_sanafe_network'])}; "
            f"mapopt {', '.join(summ['lowest_mapopt_network'])}"
            + (f"; best ranks #{summ['best_sanafe_rank']} in SANA-FE" if "best_sanafe_rank" in summ else "")
        )
        fit = doc["fit"]
        if "sanafe_energy_network_j" in fit:
            net_fit = fit["sanafe_energy_network_j"]["coefficients_j"]
            soma_fit = fit["sanafe_energy_soma_j"]["coefficients_j"]
            where = "in sample" if fit["in_sample"] else f"held out after {len(fit['trained_on'])}"
            pj = {k: v * 1e12 for k, v in {**net_fit, **soma_fit}.items()}
            same = "not identified (the mappings do not vary it)"
            network = (
                f"network = {pj['deliveries']:.4g} pJ/delivery + {pj['hop_spikes']:.4g} pJ/hop"
                if fit["sanafe_energy_network_j"]["identified"]
                else f"network {same}"
            )
            soma = (
                f"soma = {pj['unit_steps']:.4g} pJ/unit-step + {pj['compute_spikes']:.4g} pJ/spike"
                if fit["sanafe_energy_soma_j"]["identified"]
                else f"soma {same}"
            )
            lines.append(f"fit: {network}; {soma}")
            tot = fit["total"]
            lines.append(
                f"total energy error ({where}): mapopt {tot['max_relative_error_mapopt']:.1%}, "
                f"calibrated {tot['max_relative_error_calibrated']:.1%}"
            )
    for r in doc["rows"]:
        if r["status"] != "ok":
            lines.append(f"{r['mapping']}: {r['status']}: {r['message']}")
    for line in lines:
        out.print(escape(line if wide else textwrap.fill(line, width=80, subsequent_indent="  ")))


def register(app: typer.Typer) -> None:
    app.command("sanafe-check")(sanafe_check)
