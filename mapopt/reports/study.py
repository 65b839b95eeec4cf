"""The bake-off report: ``report.md`` and ``report.html`` (one static page) with PNG figures.

Per instance tier: a summary per solver and a table of each solver's best objective, its
gap to the best known bound and its median time on every instance; the anytime curves of
the tier's largest instances. Over the whole study: Dolan-Moré performance profiles and
time / quality against instance size (log-log, with fitted exponents). Definitions are in
:mod:`mapopt.reports.analysis`. The commands write it into the staging folder of a
:class:`mapopt.io.outdir.OutputDir`, so the report folder appears whole or not at all.
"""

from __future__ import annotations

import html
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mapopt.errors import InputError
from mapopt.reports import figures
from mapopt.reports.analysis import Problem, cell, problems, solver_labels, summary, tiers

SUMMARY_COLUMNS = ["solver", "problems", "runs", "valid", "failed", "best_on", "mean_gap", "median_s"]
HEADINGS = {
    "best_on": "best on",
    "mean_gap": "mean gap to bound",
    "median_s": "median s",
}
#: Failed runs listed in full at the end of a report (the rest are counted).
LISTED_FAILURES = 40


def _num(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if value == 0:
            return "0"
        return f"{value:.3g}" if abs(value) >= 1e4 or abs(value) < 1e-2 else f"{value:.4g}"
    return str(value)


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def _summary_cells(rec: dict[str, Any]) -> list[str]:
    out = []
    for c in SUMMARY_COLUMNS:
        v = rec[c]
        out.append(_pct(v) if c == "mean_gap" else _num(v))
    return out


def _matrix(items: list[Problem], labels: list[str]) -> tuple[list[str], list[list[str]]]:
    """Instance x solver: 'best (gap) time' per cell; the header, then the rows."""
    used = [lb for lb in labels if any(r["label"] == lb for p in items for r in p.runs)]
    header = ["instance", "synapses", "best known", "bound", *used]
    rows = []
    for p in items:
        row = [p.name, _num(p.synapses), _num(p.best_objective), _num(p.best_bound)]
        for label in used:
            c = cell(p, label)
            if c is None:
                row.append("")
            elif c.best is None:
                row.append("/".join(f"{s}" for s in sorted(c.statuses)))
            else:
                mark = "*" if c.best_key == p.best_key else ""
                row.append(f"{_num(c.best)}{mark} ({_pct(c.gap)}, {_num(c.median_s)} s)")
        rows.append(row)
    return header, rows


def _md_table(header: list[str], rows: list[list[str]]) -> str:
    esc = [[c.replace("|", "\\|") for c in r] for r in [header, *rows]]
    lines = ["| " + " | ".join(esc[0]) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in esc[1:]]
    return "\n".join(lines)


def _html_table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


class _Doc:
    """The report as a list of blocks, rendered both as Markdown and as HTML."""

    def __init__(self) -> None:
        self.blocks: list[tuple[str, Any]] = []

    def heading(self, level: int, text: str) -> None:
        self.blocks.append(("h", (level, text)))

    def text(self, text: str) -> None:
        self.blocks.append(("p", text))

    def table(self, header: list[str], rows: list[list[str]]) -> None:
        self.blocks.append(("t", (header, rows)))

    def figure(self, path: str, caption: str) -> None:
        self.blocks.append(("f", (path, caption)))

    def markdown(self) -> str:
        out = []
        for kind, value in self.blocks:
            if kind == "h":
                out.append("#" * value[0] + " " + value[1])
            elif kind == "p":
                out.append(value)
            elif kind == "t":
                out.append(_md_table(*value))
            else:
                out.append(f"![{value[1]}]({value[0]})")
        return "\n\n".join(out) + "\n"

    def html(self, title: str) -> str:
        parts = []
        for kind, value in self.blocks:
            if kind == "h":
                parts.append(f"<h{value[0]}>{html.escape(value[1])}</h{value[0]}>")
            elif kind == "p":
                parts.append(f"<p>{html.escape(value)}</p>")
            elif kind == "t":
                parts.append(_html_table(*value))
            else:
                src, cap = (html.escape(v, quote=True) for v in value)
                parts.append(f'<figure><img src="{src}" alt="{cap}"><figcaption>{cap}</figcaption></figure>')
        style = (
            "body{font-family:sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;color:#222}"
            "table{border-collapse:collapse;margin:1em 0;font-size:13px}"
            "th,td{border:1px solid #ccc;padding:3px 7px;text-align:right}"
            "th:first-child,td:first-child{text-align:left}th{background:#f3f3f3}"
            "figure{margin:1.5em 0}img{max-width:100%}figcaption{color:#555;font-size:13px}"
        )
        return (
            f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
            f"<style>{style}</style></head><body>\n" + "\n".join(parts) + "\n</body></html>\n"
        )


def build_report(rows: list[dict[str, Any]], folder: Path, title: str) -> list[str]:
    """Write the figures, ``report.md`` and ``report.html`` into ``folder``; returns the file names."""
    if not rows:
        raise InputError("the store holds no runs to report on", source=title)
    items = problems(rows)
    labels = solver_labels(rows)
    figdir = folder / "figures"
    figdir.mkdir()
    written: list[str] = []
    doc = _Doc()
    statuses = Counter(r["status"] for r in rows)
    versions = rows[-1].get("versions") or {}
    doc.heading(1, f"Bake-off report: {title}")
    doc.text(
        f"{len(rows)} runs of {len(labels)} solver variants on {len(items)} problems "
        f"({', '.join(f'{n} {s}' for s, n in sorted(statuses.items()))}). "
        f"Generated {datetime.now(UTC):%Y-%m-%d %H:%M} UTC with mapopt {versions.get('mapopt', '?')}. "
        "Objective = the first key of the study's objective (crossbars by default); every mapping was "
        "re-scored by mapopt's validator. Gap = (objective - best known bound) / objective; the best known "
        "bound is the largest proven bound (exact solvers, validator lower bounds) on that problem. "
        "A * marks the best known mapping (whole lexicographic objective)."
    )
    doc.heading(2, "All tiers")
    doc.table([HEADINGS.get(c, c) for c in SUMMARY_COLUMNS], [_summary_cells(r) for r in summary(items, labels)])
    for name, caption, draw in (
        ("profiles.png", "Performance profiles over all (problem, seed) pairs", figures.performance_profiles),
        ("scaling.png", "Time and quality against instance size (log-log, fitted exponents)", figures.size_scaling),
    ):
        if draw(items, labels, figdir / name):
            doc.figure(f"figures/{name}", caption)
            written.append(f"figures/{name}")
    for tier, tier_items in tiers(items).items():
        doc.heading(2, f"Tier {tier}")
        doc.table(
            [HEADINGS.get(c, c) for c in SUMMARY_COLUMNS], [_summary_cells(r) for r in summary(tier_items, labels)]
        )
        doc.text("Best objective per solver (gap of that run to the best known bound, median wall time over seeds):")
        doc.table(*_matrix(tier_items, labels))
        name = f"anytime-{tier}.png"
        if figures.anytime(tier_items, labels, figdir / name):
            doc.figure(f"figures/{name}", f"Anytime curves, tier {tier} (largest instances)")
            written.append(f"figures/{name}")
    failed = [r for r in rows if r["status"] in ("error", "crashed", "hung", "out-of-memory")]
    if failed:
        doc.heading(2, "Failed runs")
        shown = [
            [
                r["instance"],
                r["label"],
                str(r["seed"]),
                r["status"],
                (r.get("error") or "")[:160],
            ]
            for r in failed[:LISTED_FAILURES]
        ]
        doc.table(["instance", "solver", "seed", "status", "error"], shown)
        if len(failed) > LISTED_FAILURES:
            doc.text(f"... and {len(failed) - LISTED_FAILURES} more (see the store).")
    (folder / "report.md").write_text(doc.markdown())
    (folder / "report.html").write_text(doc.html(f"mapopt bake-off: {title}"))
    return ["report.md", "report.html", *written]
