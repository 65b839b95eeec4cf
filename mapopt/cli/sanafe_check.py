"""``mapopt sanafe-check``: run SANA-FE on several mappings of one net and compare with mapopt.

Results (a table that fits 80 columns, ``--wide`` for every column, or ``--json``) go to
stdout; progress goes to stderr; SANA-FE's own printing is captured and never reaches
stdout. Exit 0 when every mapping ran, 1 when one did not (it is a row with its reason), 2
for bad input, checked before any work (a missing SANA-FE included: the message says how
to install it), 130/143 when interrupted (the mappings done so far are shown).
"""

from __future__ import annotations

import textwrap
from enum import StrEnum
from typing import Annotated, Any

import typer

from mapopt.cli.common import (
    CrossbarOpt,
    DtOpt,
    FaninOpt,
    JsonOpt,
    MeshOpt,
    NetOpt,
    ObjectiveOpt,
    PerTileOpt,
    QuietOpt,
    SeedOpt,
    TimeLimitOpt,
    WideOpt,
    check_objective,
    console,
    emit_json,
    load_hardware,
    load_net,
    log,
    print_table,
)
from mapopt.errors import InputError

DEFAULT_HW = "loihi"
DEFAULT_SOLVERS = "random,paper,greedy,best"
#: Table columns in order of importance (the 80-column table shows those that fit):
#: (heading, row key, scale). Energies in µJ, latency in µs.
COLUMNS = [
    ("mapping", "mapping", None),
    ("deliveries", "deliveries", None),
    ("hops", "hop_spikes", None),
    ("mapopt\nnet µJ", "energy_network_j", 1e6),
    ("SANA-FE\nnet µJ", "sanafe_energy_network_j", 1e6),
    ("SANA-FE\ntotal µJ", "sanafe_energy_total_j", 1e6),
    ("SANA-FE\nlatency µs", "sanafe_latency_s", 1e6),
    ("crossbars", "crossbars", None),
    ("units", "units", None),
    ("SANA-FE\npackets", "sanafe_packets", None),
    ("SANA-FE\nhops", "sanafe_hops", None),
    ("synaptic\nevents", "synaptic_events", None),
    ("mapopt\nsyn µJ", "energy_synapse_j", 1e6),
    ("SANA-FE\nsyn µJ", "sanafe_energy_synapse_j", 1e6),
    ("SANA-FE\nsoma µJ", "sanafe_energy_soma_j", 1e6),
    ("mapopt\ntotal µJ", "energy_total_j", 1e6),
    ("calibrated\ntotal µJ", "calibrated_total_j", 1e6),
    ("decomposition", "decomposition", None),
    ("status", "status", None),
]


class Activity(StrEnum):
    replay = "replay"
    functional = "functional"


def _split(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()]


def sanafe_check(
    net: NetOpt = None,
    dt: DtOpt = None,
    hw: Annotated[
        str | None, typer.Option("--hw", metavar="PRESET", help=f"Hardware preset (default {DEFAULT_HW}).")
    ] = None,
    crossbar: CrossbarOpt = None,
    fanin: FaninOpt = None,
    crossbars_per_tile: PerTileOpt = None,
    mesh: MeshOpt = None,
    mappings: Annotated[
        str | None,
        typer.Option("--mappings", metavar="A,B,...", help="Mapping files of one net (from run/solve --out)."),
    ] = None,
    solvers: Annotated[
        str | None,
        typer.Option(
            "--solvers",
            metavar="S,S,...",
            help=f"Solvers, DECOMPOSITION@SOLVER strategies or best (default {DEFAULT_SOLVERS}).",
        ),
    ] = None,
    decompose: Annotated[
        str | None,
        typer.Option(
            "--decompose",
            metavar="STRATEGY",
            help="Decomposition of bare solver names (default: none if it fits, else auto).",
        ),
    ] = None,
    placements: Annotated[
        int,
        typer.Option(
            "--placements",
            metavar="N",
            min=0,
            max=1000,
            help="Add N re-placements of mapopt's lowest-energy mapping (same crossbars, random tiles).",
        ),
    ] = 0,
    steps: Annotated[
        int | None,
        typer.Option("--steps", metavar="T", min=1, max=100_000, help="Timesteps (default: the net's window)."),
    ] = None,
    input_rate: Annotated[
        float, typer.Option("--input-rate", metavar="P", min=0.0, max=1.0, help="Input spike probability per step.")
    ] = 0.2,
    activity: Annotated[
        Activity,
        typer.Option("--activity", help="replay: SANA-FE replays mapopt's spikes; functional: it runs the dynamics."),
    ] = Activity.replay,
    train: Annotated[
        int,
        typer.Option("--train", metavar="N", min=0, help="Fit the calibration on the first N mappings (0: on all)."),
    ] = 0,
    time_limit: TimeLimitOpt = None,
    seed: SeedOpt = 0,
    objective: ObjectiveOpt = "crossbars-hops",
    json_out: JsonOpt = False,
    wide: WideOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Run SANA-FE on several mappings of one net: its energy and latency next to mapopt's predictions.

    Both models see the same activity (seeded inputs, mapopt's simulator). Prints per mapping
    SANA-FE's energy (total, synapse, soma, network) and latency next to mapopt's predicted
    energy, deliveries and hop_spikes, and the Spearman rank correlations across mappings.
    """
    from pathlib import Path

    from mapopt import interrupt, progress
    from mapopt.decompose import check_spec
    from mapopt.io.sanafe import check_hardware, require_sanafe, sanafe_version
    from mapopt.pipeline import check_strategies
    from mapopt.simulate import make_inputs
    from mapopt.solver import Budget
    from mapopt.studies.crosscheck import check_cases, correlations, file_cases, fit_costs, solver_cases, summary

    require_sanafe()
    check_objective(objective)
    files = [Path(p) for p in _split(mappings)]
    if files and (solvers is not None or decompose is not None):
        raise InputError("give either --mappings or --solvers, not both", source="--mappings")
    if files and (net or hw or crossbar or fanin or crossbars_per_tile or mesh):
        raise InputError(
            "mapping files carry their net and hardware; drop --net, --hw and overrides", source="--mappings"
        )
    if mappings is not None and not files:
        raise InputError("no mapping files given", source="--mappings")
    with progress.live(console, enabled=not quiet):
        if files:
            network, cases = file_cases(files)
            for case in cases:
                check_hardware(case.hardware)  # type: ignore[arg-type]
            hardware_name = cases[0].hardware.name  # type: ignore[union-attr]
            inputs = make_inputs(network, timesteps=steps or network.timesteps, input_rate=input_rate, seed=seed)
        else:
            if net is None:
                raise InputError("give --net with --solvers (or --mappings FILES)", source="--net")
            hardware = load_hardware(DEFAULT_HW if hw is None else hw, crossbar, fanin, crossbars_per_tile, mesh)
            check_hardware(hardware)
            labels = _split(solvers or DEFAULT_SOLVERS)
            if not labels:
                raise InputError("no solvers given", source="--solvers")
            if decompose is not None:
                check_spec(decompose, hardware)
            bare = [s for s in labels if s != "best" and "@" not in s]
            check_strategies([s if s == "best" or "@" in s else f"none@{s}" for s in labels], hardware)
            network = load_net(net, seed=seed, dt=dt)
            default = decompose or ("none" if network.max_fanin <= hardware.fanin else "auto")
            specs = [f"{default}@{s}" if s in bare else s for s in labels]
            inputs = make_inputs(network, timesteps=steps or network.timesteps, input_rate=input_rate, seed=seed)
            budget = Budget(time_limit=time_limit, seed=seed)
            cases = solver_cases(network, hardware, specs, inputs, budget=budget, objective=objective, labels=labels)
            hardware_name = hardware.name
        rows = check_cases(cases, inputs, activity=str(activity), placements=placements, seed=seed)
    fit = fit_costs(rows, train)
    calibrated = fit.get("in_sample") and "total" in fit
    extra = {"calibrated_total": ("calibrated_total_j", "sanafe_energy_total_j")} if calibrated else None
    doc = {
        "net": network.summary(),
        "hardware": hardware_name,
        "sanafe_version": sanafe_version(),
        "activity": str(activity),
        "timesteps": int(inputs.shape[0]),
        "input_rate": input_rate,
        "seed": seed,
        "rows": rows,
        "spearman": correlations(rows, extra),
        "fit": fit,
        "summary": summary(rows),
    }
    if json_out:
        emit_json(doc)
    else:
        _print(doc, wide)
    for r in rows:
        if r["status"] != "ok":
            log(f"{r['mapping']}: {r['status']}: {r['message']}", quiet=quiet)
    if interrupt.requested() is not None:
        log(f"stopped after {len(rows)} mapping(s)", quiet=quiet)
    elif any(r["status"] != "ok" for r in rows):
        raise typer.Exit(1)


def _display(row: dict[str, Any]) -> dict[str, Any]:
    """A row as the table shows it: energies in µJ, latency in µs, counts as integers."""
    out: dict[str, Any] = {}
    for heading, key, scale in COLUMNS:
        value = row.get(key)
        if isinstance(value, bool):
            value = str(value)
        elif isinstance(value, int | float) and scale is not None:
            value = float(value) * scale
        elif isinstance(value, float) and value.is_integer():
            value = int(value)
        out[heading] = value
    return out


def _print(doc: dict[str, Any], wide: bool) -> None:
    """The table, then the agreement, correlation and calibration lines, on stdout."""
    net, hw = doc["net"]["name"], doc["hardware"]
    title = f"{net} on {hw}: SANA-FE {doc['sanafe_version']}, {doc['activity']}, T={doc['timesteps']}"
    print_table(title, [heading for heading, _, _ in COLUMNS], [_display(r) for r in doc["rows"]], wide=wide, keep=3)
    summ, lines = doc["summary"], []
    ok = summ.get("ok", 0)
    if ok:
        lines.append(
            f"counts equal (packets = deliveries, hops = hop_spikes, synaptic events): {summ['counts_match']}/{ok}"
        )
        rho = ", ".join(f"{k.replace('_', ' ')} {'-' if v is None else f'{v:.3f}'}" for k, v in doc["spearman"].items())
        lines.append(f"Spearman rho over {ok} mappings: {rho}")
        best = f"; best ranks #{summ['best_sanafe_rank']} in SANA-FE" if "best_sanafe_rank" in summ else ""
        lines.append(
            f"lowest network energy: SANA-FE {', '.join(summ['lowest_sanafe_network'])}; "
            f"mapopt {', '.join(summ['lowest_mapopt_network'])}{best}"
        )
        lines += _fit_lines(doc["fit"])
    for line in lines:
        print(line if wide else textwrap.fill(line, width=80, subsequent_indent="  "))


def _fit_lines(fit: dict[str, Any]) -> list[str]:
    if "sanafe_energy_network_j" not in fit:
        return [f"fit: {fit.get('note', 'none')}"]
    net, soma, total = fit["sanafe_energy_network_j"], fit["sanafe_energy_soma_j"], fit["total"]
    pj = {k: v * 1e12 for k, v in {**net["coefficients_j"], **soma["coefficients_j"]}.items()}
    same = "not identified (the mappings do not vary it)"
    network = (
        f"network = {pj['deliveries']:.4g} pJ/delivery + {pj['hop_spikes']:.4g} pJ/hop"
        if net["identified"]
        else f"network {same}"
    )
    somas = (
        f"soma = {pj['unit_steps']:.4g} pJ/unit-step + {pj['compute_spikes']:.4g} pJ/spike"
        if soma["identified"]
        else f"soma {same}"
    )
    where = "in sample" if fit["in_sample"] else f"held out after {len(fit['trained_on'])}"
    return [
        f"fit: {network}; {somas}",
        f"total energy error ({where}): mapopt {total['max_relative_error_mapopt']:.1%}, "
        f"calibrated {total['max_relative_error_calibrated']:.1%}",
    ]


def register(app: typer.Typer) -> None:
    app.command("sanafe-check", short_help="SANA-FE energy and latency next to mapopt's.")(sanafe_check)
