"""Reports of mapping runs: the JSON record, a Markdown table, and the mapping files."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from mapopt.hardware import Hardware
from mapopt.io.container import atomic_write
from mapopt.io.mapfile import write_mapping
from mapopt.network import Network
from mapopt.pipeline import StrategyRun

#: Columns of the comparison table (``mapopt run``).
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
#: Short column headings for terminal tables and Markdown reports.
HEADINGS = {
    "lower_bound_crossbars": "LB crossbars",
    "pruned_synapses": "pruned",
    "neuron_utilization": "neuron util",
    "synapse_utilization": "synapse util",
    "intertile_spikes": "intertile",
    "hop_spikes": "hop spikes",
    "energy_wasted_j": "wasted J",
    "energy_total_j": "total J",
    "wall_s": "wall s",
}
#: Above this many synapses in N', mapping files are written as .npz (stored, or deflated on request).
NPZ_ABOVE = 200_000


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-")


def run_document(net: Network, hw: Hardware, runs: list[StrategyRun]) -> dict[str, Any]:
    """The JSON document of a run: the net, the hardware and one record per strategy."""
    return {"net": net.summary(), "hardware": hw.to_dict(), "results": [r.row() for r in runs]}


def fmt(value: Any) -> str:
    """A number as a short human string (3-4 significant digits; - for None)."""
    if value is None:
        return "-"
    if isinstance(value, float):
        if value == 0:
            return "0"
        if abs(value) >= 1e5 or abs(value) < 1e-3:
            return f"{value:.3g}"
        return f"{value:.4g}"
    return str(value)


def markdown_table(rows: list[dict[str, Any]], columns: list[str]) -> str:
    lines = ["| " + " | ".join(HEADINGS.get(c, c) for c in columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(fmt(r.get(c)) for c in columns) + " |" for r in rows]
    return "\n".join(lines)


def write_outputs(
    out: Path, net: Network, hw: Hardware, runs: list[StrategyRun], *, compress: bool = False
) -> list[Path]:
    """Write each valid mapping, ``report.json`` and ``report.md`` into ``out``.

    Everything is computed before this is called and every file is written atomically,
    so a failure leaves no half-written file. ``compress``: deflate ``.npz`` mapping files.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    doc = run_document(net, hw, runs)
    for run, row in zip(runs, doc["results"], strict=True):
        if run.result.mapping is None:
            continue
        suffix = ".npz" if run.decomposition.network.n_synapses > NPZ_ABOVE else ".json"
        path = out / f"mapping-{slug(run.strategy)}{suffix}"
        write_mapping(path, run.decomposition, run.problem.hardware, run.result.mapping, report=row, compress=compress)
        row["mapping_file"] = path.name
        written.append(path)
    atomic_write(out / "report.json", lambda f: json.dump(doc, f, indent=2, default=str), binary=False)
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
    atomic_write(out / "report.md", lambda f: f.write("\n".join(md)), binary=False)
    return [*written, out / "report.json", out / "report.md"]
