"""Reports of mapping runs: the JSON record, a Markdown table, and the mapping files."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from mapopt.formatting import HEADINGS, fmt
from mapopt.hardware import Hardware
from mapopt.io.mapfile import write_mapping
from mapopt.io.outdir import atomic_write
from mapopt.network import Network
from mapopt.pipeline import StrategyRun

#: Columns of the comparison table (``mapopt run --wide``, report.md), the most telling first.
TABLE_COLUMNS = [
    "strategy",
    "status",
    "crossbars",
    "lower_bound_crossbars",
    "tiles",
    "units",
    "depth",
    "pruned_synapses",
    "neuron_utilization",
    "synapse_utilization",
    "intertile_spikes",
    "hop_spikes",
    "energy_wasted_j",
    "energy_total_j",
    "wall_s",
]
#: The columns ``mapopt run`` shows at 80 characters, in the order they are dropped from the end.
COMPACT_COLUMNS = ["strategy", "status", "crossbars", "lower_bound_crossbars", "depth", "pruned_synapses",
                   "hop_spikes", "energy_total_j", "tiles", "wall_s"]  # fmt: skip
#: Above this many synapses in N', mapping files are written as compressed .npz.
NPZ_ABOVE = 200_000


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-")


def run_document(net: Network, hw: Hardware, runs: list[StrategyRun]) -> dict[str, Any]:
    """The JSON document of a run: the net, the hardware and one record per strategy."""
    return {"net": net.summary(), "hardware": hw.to_dict(), "results": [r.row() for r in runs]}


def markdown_table(rows: list[dict[str, Any]], columns: list[str]) -> str:
    lines = ["| " + " | ".join(HEADINGS.get(c, c) for c in columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(fmt(r.get(c)) for c in columns) + " |" for r in rows]
    return "\n".join(lines)


def write_outputs(
    folder: Path, net: Network, hw: Hardware, runs: list[StrategyRun], *, compress: bool = False
) -> list[str]:
    """Write each valid mapping with its plots (floorplan, utilization), ``report.json`` and ``report.md``
    into ``folder``; returns the file names. ``compress``: deflate ``.npz`` mapping files.

    ``folder`` is the staging folder of a :class:`mapopt.io.outdir.OutputDir`, renamed into
    place once everything is written. Strategies without a mapping are rows of the
    reports, with their status and reason.
    """
    folder = Path(folder)
    written = []
    doc = run_document(net, hw, runs)
    for run, row in zip(runs, doc["results"], strict=True):
        if run.result.mapping is None or run.decomposition is None or run.problem is None:
            continue
        suffix = ".npz" if run.decomposition.network.n_synapses > NPZ_ABOVE else ".json"
        name = f"mapping-{slug(run.strategy)}{suffix}"
        write_mapping(
            folder / name, run.decomposition, run.problem.hardware, run.result.mapping, report=row, compress=compress
        )
        row["mapping_file"] = name
        written.append(name)
        from mapopt.reports.mapping_plot import plot_mapping  # matplotlib only when writing files

        names = plot_mapping(
            run.decomposition, run.problem.hardware, run.result.mapping, folder, f"plot-{slug(run.strategy)}-"
        )
        row["plots"] = names
        written += names
    atomic_write(folder / "report.json", lambda f: json.dump(doc, f, indent=2, default=str), binary=False)
    md = [
        f"# mapopt run: {net.name} on {hw.name}",
        "",
        f"{net.n_neurons} neurons ({net.n_inputs} inputs), {net.n_synapses} synapses, max fan-in {net.max_fanin}; "
        f"spikes: {net.spike_source}.",
        f"Hardware: {hw.rows}x{hw.columns} crossbars, F={hw.fanin}, K={hw.crossbars_per_tile} per tile.",
        "",
        markdown_table(doc["results"], TABLE_COLUMNS),
        "",
    ]
    failed = [r for r in doc["results"] if r.get("message") and r["status"] not in ("optimal", "feasible")]
    md += [f"- {r['strategy']}: {r['status']}: {r['message']}" for r in failed]
    atomic_write(folder / "report.md", lambda f: f.write("\n".join(md) + "\n"), binary=False)
    return [*written, "report.json", "report.md"]
