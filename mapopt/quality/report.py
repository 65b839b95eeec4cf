"""Reports of the model-quality study: JSON, a Markdown table, and the accuracy plot (PNG).

:func:`write_files` writes ``quality.json``, ``quality.md`` and ``quality.png`` into a
folder; ``mapopt quality --out DIR`` gives it the staging folder of
:func:`mapopt.io.outdir.output_dir`, so the report is written as one unit.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mapopt.quality.study import PAPER_GAIN, PRUNES, gains
from mapopt.report import fmt

#: Terminal table columns (80 columns); ``--wide`` shows :data:`WIDE_COLUMNS`. ``delta`` is in percentage points.
COLUMNS = ["net", "fanin", "strategy", "accuracy", "delta", "pruned_synapses", "equivalent"]
WIDE_COLUMNS = [*COLUMNS, "pruned_weight_fraction", "units", "depth", "spikes", "same_as", "status", "message"]
HEADINGS = {
    "fanin": "F",
    "delta": "vs SNN",
    "pruned_synapses": "pruned",
    "pruned_weight_fraction": "pruned |w|",
    "equivalent": "N'=N",
    "spikes": "spikes/img",
}


def document(rows: list[dict[str, Any]], meta: dict[str, Any]) -> dict[str, Any]:
    """The JSON record: what was run (``meta``), one row per measurement, the gains over pruning."""
    return {**meta, "paper_gain_pp": list(PAPER_GAIN), "results": rows, "gains": gains(rows)}


def _cell(row: dict[str, Any], column: str) -> str:
    value = row.get(column)
    if column in ("accuracy",) and value is not None:
        return f"{100 * value:.2f}%"
    if column == "delta" and value is not None:
        return f"{value:+.2f}"
    if column == "equivalent":
        return {True: "yes", False: "NO", None: "-"}[value]
    if column == "strategy" and row.get("status") == "error":
        return f"{value} (error)"
    return fmt(value)


def table_rows(rows: list[dict[str, Any]], columns: list[str]) -> list[dict[str, str]]:
    return [{c: _cell(r, c) for c in columns} for r in rows]


def markdown(doc: dict[str, Any]) -> str:
    """``quality.md``: the measurements, then the gains of decomposition over each prune baseline."""
    lines = [f"# mapopt quality: {', '.join(doc['nets'])}", "", doc["setup"], ""]
    lines += ["| " + " | ".join(HEADINGS.get(c, c) for c in COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(r.values()) + " |" for r in table_rows(doc["results"], COLUMNS)]
    paper = f"+{PAPER_GAIN[0]} to +{PAPER_GAIN[1]}"
    lines += ["", f"Decomposition over pruning, percentage points (the paper: {paper}):", ""]
    lines += ["| net | F | decomposed | " + " | ".join(f"{p} | gain" for p in PRUNES) + " |",
              "|---|---|---|" + "---|---|" * len(PRUNES)]
    for g in doc["gains"]:
        cells = [g["net"], str(g["fanin"]), _pct(g["decomposed"])]
        for p in PRUNES:
            gain = g.get(f"gain_vs_{p}")
            cells += [_pct(g.get(p)), "-" if gain is None else f"{gain:+.1f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.2f}%"


def plot(doc: dict[str, Any], path: Path) -> None:
    """Accuracy against the fan-in limit, one line per strategy, one panel per net (matplotlib, Agg)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    nets = doc["nets"]
    fig, axes = plt.subplots(1, len(nets), figsize=(5.5 * len(nets), 4.2), squeeze=False, sharey=True)
    for ax, name in zip(axes[0], nets, strict=True):
        rows = [r for r in doc["results"] if r["net"] == name and r["status"] == "ok"]
        for kind, style in (("ann", ":"), ("snn", "--")):
            level = next((r["accuracy"] for r in rows if r["kind"] == kind), None)
            if level is not None:
                ax.axhline(100 * level, color="grey", linestyle=style, linewidth=1, label=kind.upper())
        strategies = list(dict.fromkeys(r["strategy"] for r in rows if r["fanin"] is not None))
        decompositions = [s for s in strategies if s not in PRUNES]
        for s in strategies:
            points = sorted((r["fanin"], 100 * r["accuracy"]) for r in rows if r["strategy"] == s and r["fanin"])
            if s in PRUNES:
                ax.plot(*zip(*points, strict=True), marker="x", linestyle="-", label=s)
            else:  # equal accuracies: shrinking open markers keep every decomposition visible
                size = 12 - 8 * decompositions.index(s) / max(len(decompositions) - 1, 1)
                ax.plot(*zip(*points, strict=True), marker="o", markersize=size, fillstyle="none", linestyle="--",
                        label=s)
        fanins = sorted({r["fanin"] for r in rows if r["fanin"]})
        ax.set_xscale("log", base=2)
        ax.set_xticks(fanins, [str(f) for f in fanins])
        ax.set_xlabel("fan-in limit F (inputs per neuron or unit)")
        ax.set_title(name)
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("test accuracy (%)")
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=8, frameon=False)
    fig.suptitle("Accuracy kept by decomposition, lost by pruning (sklearn digits test set)")
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write_files(folder: Path, doc: dict[str, Any]) -> list[str]:
    """Write ``quality.json``, ``quality.md`` and ``quality.png`` into ``folder``; returns their names."""
    folder = Path(folder)
    (folder / "quality.json").write_text(json.dumps(doc, indent=2, default=str) + "\n")
    (folder / "quality.md").write_text(markdown(doc))
    plot(doc, folder / "quality.png")
    return ["quality.json", "quality.md", "quality.png"]
