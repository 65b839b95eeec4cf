"""The paper's experiment in one run: pruning vs its unrolling (both readings) vs mapopt's best.

Balaji et al. (IEEE ESL 2020, arXiv 2009.09298) map their apps onto DYNAP-SE (modelled as
128x128 crossbars) twice, pruning each neuron to the crossbar's fan-in or unrolling it,
and report averages over the apps: 60% fewer crossbars, 9x synapse utilization, 62% less
wasted energy and +0.8% to +4.6% model quality with unrolling. :func:`reproduce` runs that
comparison on catalog nets like their apps (MNIST-sized MLP and LeNet-5 with generated
weights; MLP and CNN trained on scikit-learn's digits, whose accuracy is measured; EdgeDet-
and ImgSmooth-like filters; a recurrent classifier), on ``dynapse-paper``, with four
strategies:

- ``pruning``: ``prune-first@paper``, the authors' tool without unrolling (each neuron keeps
  its first 128 inputs);
- ``units (text)``: ``chain:2@paper``, the paper's text: a chain of 2-input units, each a
  column, packed by the authors' rule;
- ``pieces (code)``: ``pieces:2@paper``, the authors' tool with unroll fan-in 2, whose chains
  have links as long as a crossbar's free rows;
- ``mapopt best``: ``best`` (``auto@auto``).

Every number is the validator's (:mod:`mapopt.evaluation`); accuracy comes from
``mapopt.quality.accuracy_of(net, decomposition)`` for nets that are trained, when that
module is installed, and is marked "not trained" otherwise. :func:`claims` averages, over
the apps where both runs succeeded, each reading's ratios to pruning (geometric means), next to
the paper's.
"""

from __future__ import annotations

import importlib
import importlib.util
import math
from dataclasses import dataclass
from typing import Any

from mapopt import interrupt, progress
from mapopt.hardware import load_preset
from mapopt.io import resolve_net
from mapopt.pipeline import StrategyRun, run_strategies
from mapopt.solver import Budget

HARDWARE = "dynapse-paper"


@dataclass(frozen=True)
class App:
    """An app of the paper and the catalog net that stands for it."""

    label: str
    net: str


@dataclass(frozen=True)
class Reading:
    """One way of mapping: a label and the strategy that does it."""

    label: str
    strategy: str


APPS = (
    App("MLP digits", "mlp-784-64-10"),
    App("MLP digits, trained", "digits-mlp"),
    App("LeNet", "lenet5"),
    App("CNN digits, trained", "digits-cnn"),
    App("EdgeDet", "edgedet-64x64"),
    App("ImgSmooth", "imgsmooth-64x64"),
    App("RNN classifier", "rnn-64-128-10"),
)
PRUNING = Reading("pruning", "prune-first@paper")
READINGS = (
    PRUNING,
    Reading("units (text)", "chain:2@paper"),
    Reading("pieces (code)", "pieces:2@paper"),
    Reading("mapopt best", "best"),
)
#: The paper's averages over its apps, unrolling against pruning, as ratios to pruning
#: (60% fewer crossbars = 0.40x, 62% less wasted energy = 0.38x).
PAPER_CLAIMS: dict[str, float | str] = {
    "crossbars_ratio": 0.40,
    "synapse_utilization_ratio": 9.0,
    "wasted_energy_ratio": 0.38,
    "accuracy_gain": "+0.8% to +4.6%",
}
#: The metrics each row keeps (the validator's names).
METRICS = (
    "crossbars", "connector_crossbars", "units", "neuron_utilization", "synapse_utilization", "energy_wasted_j",
    "energy_total_j", "depth", "hop_spikes", "max_hops", "pruned_synapses", "lost_synapses", "dropped_partials",
)  # fmt: skip
NOT_TRAINED = "not trained"


def accuracy(net_name: str, run: StrategyRun) -> tuple[float | None, str]:
    """The model quality of ``run``'s N' from ``mapopt.quality`` (issue 14), or why there is none."""
    if importlib.util.find_spec("mapopt.quality") is None:
        return None, NOT_TRAINED
    quality = importlib.import_module("mapopt.quality")
    value = quality.accuracy_of(net_name, run.decomposition)
    return (None, NOT_TRAINED) if value is None else (float(value), "")


def check_apps(names: list[str] | None) -> list[App]:
    """The apps to run: the default ones, or catalog nets / specs given by name (labelled by it)."""
    if not names:
        return list(APPS)
    known = {a.net: a for a in APPS}
    return [known.get(name, App(name, name)) for name in names]


def reproduce(apps: list[App], *, seed: int = 0) -> list[dict[str, Any]]:
    """One row per (app, reading): strategy, status, the validator's metrics, accuracy.

    A strategy that fails is a row with its status and message; after an interrupt the rows
    done so far are returned.
    """
    hw = load_preset(HARDWARE)
    rows: list[dict[str, Any]] = []
    for i, app in enumerate(apps, start=1):
        if interrupt.requested() is not None:
            break
        progress.current().stage(f"[{i}/{len(apps)}] {app.label} ({app.net})")
        net = resolve_net(app.net, seed=seed)
        runs = run_strategies(net, hw, [r.strategy for r in READINGS], budget=Budget(seed=seed))
        for reading, run in zip(READINGS, runs, strict=False):
            row: dict[str, Any] = {
                "app": app.label,
                "net": app.net,
                "synapses": net.n_synapses,
                "reading": reading.label,
                "strategy": run.strategy,
                "status": str(run.result.status),
                "wall_s": run.result.wall_s,
            }
            metrics = run.result.metrics or {}
            row.update({k: metrics.get(k) for k in METRICS})
            if run.ok:
                row["accuracy"], row["accuracy_note"] = accuracy(app.net, run)
            else:
                row["accuracy"], row["accuracy_note"] = None, ""
                row["message"] = run.result.message
            rows.append(row)
    return rows


def claims(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per unrolling reading, its ratios to pruning averaged over the apps, and the paper's claims.

    ``crossbars_ratio``, ``synapse_utilization_ratio``, ``wasted_energy_ratio``: geometric
    means over the apps of the reading's value / pruning's (ratios spanning orders of
    magnitude: an arithmetic mean would be one app's); ``accuracy_gain``: the mean of
    accuracy - pruning's accuracy over the trained apps (None when none is trained). Only
    apps where both runs have metrics count (``apps``).
    """
    base = {r["net"]: r for r in rows if r["reading"] == PRUNING.label and r["crossbars"] is not None}
    out = []
    for reading in READINGS[1:]:
        pairs = [(r, base[r["net"]]) for r in rows if r["reading"] == reading.label and r["crossbars"] is not None
                 and r["net"] in base]  # fmt: skip
        entry: dict[str, Any] = {"reading": reading.label, "strategy": reading.strategy, "apps": len(pairs)}
        for key, metric in (
            ("crossbars_ratio", "crossbars"),
            ("synapse_utilization_ratio", "synapse_utilization"),
            ("wasted_energy_ratio", "energy_wasted_j"),
        ):
            entry[key] = _geomean([r[metric] / b[metric] for r, b in pairs if b[metric] and r[metric]])
        trained = [(r, b) for r, b in pairs if r["accuracy"] is not None and b["accuracy"] is not None]
        entry["accuracy_gain"] = _mean([r["accuracy"] - b["accuracy"] for r, b in trained])
        entry["trained_apps"] = len(trained)
        out.append(entry)
    out.append({"reading": "paper's claim", "strategy": "", "apps": None, **PAPER_CLAIMS, "trained_apps": None})
    return out


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _geomean(values: list[float]) -> float | None:
    return math.exp(sum(math.log(v) for v in values) / len(values)) if values else None
