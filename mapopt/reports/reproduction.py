"""The report of ``mapopt reproduce``: a Markdown page, a JSON record and PNG plots (matplotlib, Agg).

Everything shown comes from the rows of :func:`mapopt.studies.reproduction.reproduce` (the
validator's metrics) and their averages (:func:`mapopt.studies.reproduction.claims`); no cost
is computed here.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mapopt.formatting import fmt
from mapopt.io.outdir import atomic_write
from mapopt.studies.reproduction import HARDWARE, NOT_TRAINED, PAPER_CLAIMS, READINGS

#: Per-app table: (key, heading), in order of importance (a terminal table drops the last ones).
APP_COLUMNS = (
    ("app", "app"), ("reading", "reading"), ("crossbars", "crossbars"), ("synapse_utilization", "syn util"),
    ("energy_wasted_j", "wasted J"), ("accuracy", "accuracy"), ("depth", "depth"), ("pruned_synapses", "pruned"),
    ("connector_crossbars", "connectors"), ("neuron_utilization", "neuron util"), ("energy_total_j", "total J"),
    ("hop_spikes", "hop spikes"), ("max_hops", "max hops"), ("status", "status"),
)  # fmt: skip
#: The per-app columns a terminal shows without --wide (they fit 80 characters).
TERMINAL_COLUMNS = APP_COLUMNS[:7]
CLAIM_COLUMNS = (
    ("reading", "vs pruning"), ("crossbars_ratio", "crossbars"), ("synapse_utilization_ratio", "syn util"),
    ("wasted_energy_ratio", "wasted energy"), ("accuracy_gain", "quality"), ("apps", "apps"),
)  # fmt: skip
PLOTS = ("crossbars.png", "synapse_utilization.png", "wasted_energy.png", "claims.png")


def cell(row: dict[str, Any], key: str) -> str:
    """A table cell: ratios as percentages or multiples, accuracy with its note."""
    value = row.get(key)
    if key == "accuracy":
        return row.get("accuracy_note") or "-" if value is None else f"{value:.1%}"
    if isinstance(value, str) or value is None:
        return fmt(value)
    if key.endswith("_ratio"):
        return f"{value:.3g}x"
    if key == "accuracy_gain":
        return f"{value:+.1%}"
    return fmt(value)


def table_rows(rows: list[dict[str, Any]], columns: tuple[tuple[str, str], ...]) -> list[dict[str, str]]:
    """Rows of display strings under the columns' headings (for terminal tables and Markdown)."""
    return [{heading: cell(r, key) for key, heading in columns} for r in rows]


def markdown(rows: list[dict[str, Any]], averages: list[dict[str, Any]], *, command: str, plots: bool) -> str:
    """The page: what was run, the per-app table, the averages next to the paper's claims."""
    lines = [
        "# The paper's experiment, reproduced",
        "",
        f"Command: `{command}`. Hardware: `{HARDWARE}` (the paper's DYNAP-SE model, 128x128 crossbars, F = 128).",
        "Strategies: " + "; ".join(f"{r.label} = `{r.strategy}`" for r in READINGS) + ".",
        "",
        "## Per app",
        "",
        _md(table_rows(rows, APP_COLUMNS)),
        "",
    ]
    failed = [r for r in rows if r.get("message")]
    lines += [f"- {r['app']}, {r['reading']}: {r['status']}: {r['message']}" for r in failed]
    if any(r.get("accuracy_note") == NOT_TRAINED for r in rows):
        lines += ["", f"Accuracy: \"{NOT_TRAINED}\" where the net carries no trained weights (no accuracy exists)."]
    lines += [
        "",
        "## Averages over the apps, against pruning",
        "",
        _md(table_rows(averages, CLAIM_COLUMNS)),
        "",
        "Each ratio is a reading's value / pruning's on the same app, averaged over the apps as a geometric mean;"
        " the paper's 60% fewer crossbars and 62% less wasted energy are 0.40x and 0.38x. quality = mean accuracy"
        f" difference (paper: {PAPER_CLAIMS['accuracy_gain']}).",
        "",
    ]
    if plots:
        lines += [f"![{p.removesuffix('.png')}]({p})" for p in PLOTS] + [""]
    return "\n".join(lines)


def _md(rows: list[dict[str, str]]) -> str:
    if not rows:
        return "(no rows)"
    heads = list(rows[0])
    out = ["| " + " | ".join(heads) + " |", "|" + "---|" * len(heads)]
    out += ["| " + " | ".join(r[h] for h in heads) + " |" for r in rows]
    return "\n".join(out)


def plot(rows: list[dict[str, Any]], averages: list[dict[str, Any]], folder: Path) -> list[str]:
    """Write the PNG plots into ``folder``: one bar group per app per metric, and the averages."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    apps = list(dict.fromkeys(r["app"] for r in rows))
    readings = [r.label for r in READINGS]
    width = 0.8 / len(readings)
    for name, key, label, log in (
        ("crossbars.png", "crossbars", "crossbars (log scale)", True),
        ("synapse_utilization.png", "synapse_utilization", "synapse utilization", False),
        ("wasted_energy.png", "energy_wasted_j", "wasted energy, J (log scale)", True),
    ):
        fig, ax = plt.subplots(figsize=(9, 4.5))
        for j, reading in enumerate(readings):
            values = [_value(rows, app, reading, key) for app in apps]
            xs = [i + (j - (len(readings) - 1) / 2) * width for i in range(len(apps))]
            ax.bar(xs, [v or 0 for v in values], width, label=reading)
        ax.set_xticks(range(len(apps)), apps, rotation=15)
        ax.set_ylabel(label)
        if log:
            ax.set_yscale("log")
        ax.set_title(f"{label.split(',')[0].split(' (')[0]} per app on {HARDWARE}")
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(folder / name, dpi=110)
        plt.close(fig)
    fig, axes = plt.subplots(1, 3, figsize=(11, 3.8))
    measured = [a for a in averages if a["strategy"]]
    for ax, (key, title) in zip(axes, (("crossbars_ratio", "crossbars"), ("synapse_utilization_ratio",
                                       "synapse utilization"), ("wasted_energy_ratio", "wasted energy")),
                                strict=True):  # fmt: skip
        labels = [a["reading"] for a in measured] + ["paper's claim"]
        values = [a[key] if a[key] is not None else float("nan") for a in measured] + [float(PAPER_CLAIMS[key])]
        ax.bar(range(len(labels)), values, color=["C1", "C2", "C3", "0.5"][: len(labels)])
        ax.axhline(1, color="black", linewidth=0.8, linestyle="--")  # = pruning
        ax.set_yscale("log")
        ax.set_xticks(range(len(labels)), labels, rotation=20, fontsize=8)
        ax.set_title(f"{title} / pruning's")
    fig.suptitle("geometric means over the apps (dashed: pruning)")
    fig.tight_layout()
    fig.savefig(folder / "claims.png", dpi=110)
    plt.close(fig)
    return list(PLOTS)


def _value(rows: list[dict[str, Any]], app: str, reading: str, key: str) -> float | None:
    for r in rows:
        if r["app"] == app and r["reading"] == reading:
            return r.get(key)
    return None


def write(folder: Path, rows: list[dict[str, Any]], averages: list[dict[str, Any]], *, command: str) -> list[str]:
    """Write ``reproduction.json``, ``reproduction.md`` and the plots into ``folder``; returns the names."""
    names = plot(rows, averages, folder)
    doc = {"hardware": HARDWARE, "command": command, "rows": rows, "averages": averages}
    atomic_write(folder / "reproduction.json", lambda f: json.dump(doc, f, indent=2, default=str), binary=False)
    text = markdown(rows, averages, command=command, plots=True)
    atomic_write(folder / "reproduction.md", lambda f: f.write(text), binary=False)
    return ["reproduction.md", "reproduction.json", *names]
