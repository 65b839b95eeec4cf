"""The figures of a bake-off report, as PNG files (matplotlib, Agg canvas, no pyplot state).

Each function draws one figure from :mod:`mapopt.reports.analysis` results and writes it;
they return False (and write nothing) when there is nothing to draw, so a report never
shows an empty image.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from mapopt.reports.analysis import Problem, fit_exponent, performance_ratios, scaling

DPI = 110


def colours(labels: list[str]) -> dict[str, Any]:
    """One stable colour per solver label (tab10, then tab20 for more solvers)."""
    from matplotlib import colormaps

    cmap = colormaps["tab10" if len(labels) <= 10 else "tab20"]
    return {label: cmap(i % cmap.N) for i, label in enumerate(labels)}


def save(fig: Figure, path: Path) -> None:
    fig.savefig(path, dpi=DPI, format="png")


def performance_profiles(items: list[Problem], labels: list[str], path: Path) -> bool:
    """Dolan-Moré profiles of wall time and of objective, one panel each."""
    panels = [(m, performance_ratios(items, labels, m)) for m in ("objective", "time")]
    if not any(r.size for _, ratios in panels for r in ratios.values()):
        return False
    colour = colours(labels)
    fig = Figure(figsize=(11, 4.2), layout="constrained")
    for ax, (measure, ratios) in zip(fig.subplots(1, 2), panels, strict=True):
        finite = [r[np.isfinite(r)] for r in ratios.values() if r.size]
        top = max((float(f.max()) for f in finite if f.size), default=1.0)
        tau_max = max(top * 1.05, 1.05)
        taus = np.geomspace(1.0, tau_max, 400) if measure == "time" else np.linspace(1.0, tau_max, 400)
        for label, r in ratios.items():
            if not r.size:
                continue
            rho = (r[None, :] <= taus[:, None]).mean(axis=1)
            ax.step(taus, rho, where="post", label=label, color=colour[label], linewidth=1.6)
        if measure == "time":
            ax.set_xscale("log")
        n = max((r.size for r in ratios.values()), default=0)
        ax.set_title(f"{'wall time' if measure == 'time' else 'objective'} ({n} problem x seed pairs)")
        ax.set_xlabel("tau (ratio to the best solver on the pair)")
        ax.set_ylabel("fraction of pairs within tau")
        ax.set_ylim(-0.02, 1.02)
        ax.grid(alpha=0.3)
    fig.axes[0].legend(fontsize=8, loc="lower right")
    fig.suptitle("Performance profiles (Dolan and Moré 2002)")
    save(fig, path)
    return True


def anytime(items: list[Problem], labels: list[str], path: Path, *, panels: int = 4) -> bool:
    """Incumbent (solid) and bound (dashed) against time for the largest problems with histories."""
    with_history = [p for p in items if any(r.get("history") for r in p.runs)]
    chosen = sorted(with_history, key=lambda p: -p.synapses)[:panels]
    if not chosen:
        return False
    colour = colours(labels)
    cols = min(2, len(chosen))
    rows = math.ceil(len(chosen) / cols)
    fig = Figure(figsize=(5.6 * cols, 3.6 * rows), layout="constrained")
    axes = np.atleast_1d(fig.subplots(rows, cols)).ravel()
    for ax, p in zip(axes, chosen, strict=False):
        seed = min(r["seed"] for r in p.runs)
        for label in labels:
            run = next((r for r in p.runs if r["label"] == label and r["seed"] == seed and r.get("history")), None)
            if run is None:
                continue
            hist = [pt for pt in run["history"] if pt[1] is not None]
            end = max(float(run.get("wall_s") or 0.0), hist[-1][0] if hist else 0.0, 1e-3)
            if hist:  # the incumbent is the best so far (a portfolio solver records each candidate)
                t = [max(pt[0], 1e-4) for pt in hist] + [end]
                y = list(np.minimum.accumulate([pt[1] for pt in hist]))
                y.append(y[-1])
                ax.step(t, y, where="post", color=colour[label], label=label, linewidth=1.5)
            bounds = [(max(pt[0], 1e-4), pt[2]) for pt in run["history"] if pt[2] is not None]
            if bounds:
                bt, by = zip(*bounds, strict=True)
                ax.step([*bt, end], [*by, by[-1]], where="post", color=colour[label], linestyle="--", linewidth=1.0)
        if p.best_bound is not None:
            ax.axhline(p.best_bound, color="black", linestyle=":", linewidth=1.0, label="best known bound")
        ax.set_xscale("log")
        ax.set_title(f"{p.name} (seed {seed})", fontsize=10)
        ax.set_xlabel("seconds")
        ax.set_ylabel("objective (first key)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    for ax in axes[len(chosen) :]:
        ax.set_visible(False)
    fig.suptitle("Anytime behaviour: incumbent (solid) and proven bound (dashed)")
    save(fig, path)
    return True


def size_scaling(items: list[Problem], labels: list[str], path: Path) -> bool:
    """Time and objective/bound ratio against synapses (log-log): one point per instance, the fitted
    power law dashed, its exponent in the legend."""
    data = scaling(items, labels)
    if not any(len(set(d["synapses"])) >= 1 for d in data.values()):
        return False
    colour = colours(labels)
    fig = Figure(figsize=(11, 4.2), layout="constrained")
    ax_t, ax_q = fig.subplots(1, 2)
    for label, d in data.items():
        x = np.asarray(d["synapses"])
        for ax, key in ((ax_t, "time"), (ax_q, "quality")):
            y = np.asarray(d[key])
            keep = np.isfinite(y)
            if not keep.any():
                continue
            slope = fit_exponent(list(x[keep]), list(y[keep]))
            tag = f"{label} (n^{slope:.2f})" if slope is not None else label
            ax.plot(x[keep], y[keep], "o", color=colour[label], label=tag, markersize=4, alpha=0.8)
            if slope is not None:  # the fitted power law over the solver's size range
                lx, ly = np.log(x[keep]), np.log(y[keep])
                xs = np.array([x[keep].min(), x[keep].max()])
                ax.plot(xs, np.exp(ly.mean() + slope * (np.log(xs) - lx.mean())), "--", color=colour[label], lw=1)
    ax_t.set_title("median solve time vs size")
    ax_t.set_ylabel("seconds")
    ax_q.set_title("median objective / best known bound vs size")
    ax_q.set_ylabel("objective / bound")
    for ax in (ax_t, ax_q):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("synapses of N")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=7)
    save(fig, path)
    return True
