"""Cross-check mapopt's cost model against SANA-FE on several mappings of one net.

Every mapping is scored twice on the same activity: by mapopt's validator
(:func:`mapopt.evaluation.metrics`) and by SANA-FE running the mapped network
(:mod:`mapopt.io.sanafe`). The activity is fixed once for the whole check: seeded
rate-coded input trains of T steps, and mapopt's simulator on them (N' in exact mode, so
a unit's traffic is the steps in which it sends a nonzero partial, ``simulated``). What
is compared, per mapping and as Spearman rank correlations across mappings: deliveries vs
SANA-FE's packets, hop_spikes vs its hops, and energies (network, total). Where the
models differ by construction (hop energy by direction, soma energy, static energy),
:func:`fit_costs` calibrates per-event costs on a training set of mappings by
non-negative least squares (scipy). docs/sanafe.md explains the results.
"""

from __future__ import annotations

import math
import signal
import warnings
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from mapopt import interrupt, progress
from mapopt.decompose.base import Decomposition
from mapopt.errors import InputError
from mapopt.hardware import Hardware
from mapopt.io import read_mapping
from mapopt.io.sanafe import SanafeError, build_model, plan_export, run_model, with_activity
from mapopt.mapping import Mapping
from mapopt.network import Network
from mapopt.pipeline import run_strategies
from mapopt.problem import DEFAULT_OBJECTIVE
from mapopt.simulate import simulate
from mapopt.solver import Budget

#: (name, mapopt metric, SANA-FE figure) pairs whose rank correlation the check reports.
CORRELATIONS = (
    ("network_energy", "energy_network_j", "sanafe_energy_network_j"),
    ("total_energy", "energy_total_j", "sanafe_energy_total_j"),
    ("hops", "hop_spikes", "sanafe_hops"),
    ("packets", "deliveries", "sanafe_packets"),
)
#: Regressors of the calibration fits: SANA-FE figure <- mapopt counts.
FITS = {
    "sanafe_energy_network_j": ("deliveries", "hop_spikes"),
    "sanafe_energy_soma_j": ("unit_steps", "compute_spikes"),
}


@dataclass
class Case:
    """One mapping to check (or the reason there is none)."""

    label: str
    source: str  # "solver", "file" or "placement"
    decomposition: Decomposition | None
    hardware: Hardware | None
    mapping: Mapping | None
    message: str = ""
    status: str = "error"  # what a case without a mapping reports (the strategy's status)


def activity_net(net: Network, inputs: np.ndarray) -> Network:
    """``net`` with the spike counts of mapopt's simulator on ``inputs`` (what the solvers optimise)."""
    sim = simulate(net, inputs)
    return net.with_spikes(sim.counts, sim.source, timesteps=sim.timesteps)


def solver_cases(
    net: Network,
    hw: Hardware,
    specs: list[str],
    inputs: np.ndarray,
    *,
    budget: Budget,
    objective: str = DEFAULT_OBJECTIVE,
    labels: list[str] | None = None,
) -> list[Case]:
    """Map ``net`` (spike counts from ``inputs``) with each strategy ``DECOMPOSITION@SOLVER``.

    A strategy that fails (no mapping, or a constraint of its own such as a fan-in that
    ``none`` cannot meet) becomes a case without a mapping, with its status and reason
    (:func:`mapopt.pipeline.run_strategies`); after an interrupt, the strategies done so far.
    ``labels`` name the cases (default: the specs).
    """
    net = activity_net(net, inputs)
    runs = run_strategies(net, hw, specs, budget=budget, objective=objective, traffic="simulated", inputs=inputs)
    cases = []
    for label, run in zip(labels or specs, runs, strict=False):
        r = run.result
        hardware = run.problem.hardware if run.problem is not None else hw
        mapping = r.mapping if run.ok else None
        cases.append(Case(label, "solver", run.decomposition, hardware, mapping, r.message, str(r.status)))
    return cases


def file_cases(paths: list[Path]) -> tuple[Network, list[Case]]:
    """Mapping files of one net on one hardware; anything else is an :class:`InputError`."""
    cases: list[Case] = []
    first: tuple[Network, Hardware] | None = None
    for path in paths:
        dec, hw, mapping, _ = read_mapping(path)
        if first is None:
            first = (dec.original, hw)
        else:
            if not _same_net(first[0], dec.original):
                raise InputError(f"maps another network than {paths[0]} ({dec.original.name})", source=str(path))
            if _hw_key(hw) != _hw_key(first[1]):
                raise InputError(
                    f"is for other hardware ({hw.name}) than {paths[0]} ({first[1].name})", source=str(path)
                )
        cases.append(Case(Path(path).stem, "file", dec, hw, mapping))
    if first is None:
        raise InputError("no mapping files given", source="--mappings")
    return first[0], cases


def _same_net(a: Network, b: Network) -> bool:
    return (
        a.n_neurons == b.n_neurons
        and np.array_equal(a.is_input, b.is_input)
        and np.array_equal(a.pre, b.pre)
        and np.array_equal(a.post, b.post)
        and np.array_equal(a.weight, b.weight)
    )


def _hw_key(hw: Hardware) -> dict[str, Any]:
    d = hw.to_dict()
    d.pop("mesh")  # a mapping of an 'auto' mesh records the mesh it resolved to
    return d


def placement_cases(base: Case, count: int, seed: int) -> list[Case]:
    """``count`` mappings that differ from ``base`` only in placement: same units on the same
    crossbars, crossbars on random crossbar slots (K per tile) of the same mesh."""
    assert base.mapping is not None and base.hardware is not None
    mapping = base.mapping.compacted()
    hw = replace(base.hardware, mesh=mapping.mesh)
    slots = hw.crossbar_slots()
    out = []
    for i in range(1, count + 1):
        rng = np.random.default_rng([seed, i])
        tiles = rng.permutation(slots)[: mapping.n_crossbar_ids]
        moved = Mapping(mapping.unit_crossbar, tiles, mapping.mesh)
        out.append(Case(f"{base.label} place#{i}", "placement", base.decomposition, base.hardware, moved))
    return out


def predicted(case: Case, inputs: np.ndarray) -> tuple[Decomposition, np.ndarray, dict[str, Any]]:
    """N' with the check's activity, its trains, and mapopt's metrics for the case's mapping."""
    assert case.decomposition is not None and case.hardware is not None and case.mapping is not None
    try:
        return with_activity(case.decomposition, case.hardware, case.mapping, inputs)
    except InputError as err:
        raise err.with_source(case.label) from None


def check_cases(
    cases: list[Case],
    inputs: np.ndarray,
    *,
    activity: str = "replay",
    placements: int = 0,
    seed: int = 0,
) -> list[dict[str, Any]]:
    """One row per case (placement variants of mapopt's lowest-energy mapping appended):
    mapopt's metrics next to SANA-FE's figures, or the status and reason of a failure.

    Progress goes to :func:`mapopt.progress.current`. After a SIGINT/SIGTERM the rows
    finished so far are returned (the SANA-FE run that was going is dropped).
    """
    scored: list[tuple[Case, Any]] = []
    for case in cases:
        if case.mapping is None:
            scored.append((case, None))
            continue
        try:
            scored.append((case, predicted(case, inputs)))
        except InputError as err:
            scored.append((replace(case, message=str(err)), None))
    valid = [(c, p) for c, p in scored if p is not None]
    if placements and valid:
        # mapopt's lowest predicted network energy; on a tie, the "best" strategy's mapping
        base, _ = min(valid, key=lambda cp: (cp[1][2]["energy_network_j"], cp[0].label != "best"))
        scored += [(variant, predicted(variant, inputs)) for variant in placement_cases(base, placements, seed)]
    rows = []
    for i, (case, pred) in enumerate(scored, start=1):
        if interrupt.requested() is not None:
            break
        row: dict[str, Any] = {"mapping": case.label, "source": case.source}
        if pred is None:
            rows.append({**row, "status": case.status, "message": case.message or "no mapping"})
            continue
        dec, trains, metrics = pred
        progress.current().stage(f"[{i}/{len(scored)}] {case.label}: SANA-FE ({activity}, {inputs.shape[0]} steps)")
        try:
            plan = plan_export(dec, case.hardware, case.mapping)  # type: ignore[arg-type]
            model = build_model(dec, case.hardware, case.mapping, inputs, activity=activity, plan=plan)  # type: ignore[arg-type]
            run = run_model(model, trains)
        except (InputError, SanafeError) as err:
            rows.append({**row, "status": "error", "message": str(err), **metrics})
            continue
        except KeyboardInterrupt as err:  # keep the rows that are done
            interrupt.request(getattr(err, "signum", signal.SIGINT))
            break
        row.update({"status": "ok", "decomposition": dec.label, "architecture": plan.architecture, **metrics})
        row.update(run.row())
        row["packets_match"] = run.packets == round(metrics["deliveries"])
        row["hops_match"] = run.hops == round(metrics["hop_spikes"])
        row["events_match"] = run.synaptic_events == round(metrics["synaptic_events"])
        if run.spike_counts is not None:
            row["spike_mismatches"] = int((run.spike_counts != dec.network.spikes).sum())
        rows.append(row)
    return rows


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=0.0)


def _ok(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in rows if r.get("status") == "ok"]


def spearman(x: list[float], y: list[float]) -> float | None:
    """Spearman's rho (scipy.stats), None when undefined (fewer than 3 points or a constant series)."""
    from scipy.stats import spearmanr

    if len(x) < 3:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rho = float(spearmanr(x, y).statistic)
    return None if math.isnan(rho) else rho


def correlations(
    rows: list[dict[str, Any]], extra: dict[str, tuple[str, str]] | None = None
) -> dict[str, float | None]:
    """Rank correlation across the successful mappings for each pair of :data:`CORRELATIONS`."""
    ok = _ok(rows)
    pairs = {name: (a, b) for name, a, b in CORRELATIONS} | (extra or {})
    return {name: spearman([r[a] for r in ok], [r[b] for r in ok]) for name, (a, b) in pairs.items()}


def fit_costs(rows: list[dict[str, Any]], train: int = 0) -> dict[str, Any]:
    """Per-event costs that make mapopt's counts predict SANA-FE's energies.

    For each target of :data:`FITS`, non-negative least squares (``scipy.optimize.nnls``) on
    the first ``train`` successful mappings (all when 0): network energy from deliveries and
    hop_spikes, soma energy from unit-steps (units x T) and compute spikes. The calibrated
    total is mapopt's synapse energy plus both fits. Errors are reported on the held-out
    mappings (in-sample when all are used for training).
    """
    from scipy.optimize import nnls

    ok = _ok(rows)
    train_rows = ok[:train] if train else ok
    test_rows = ok[train:] if train and train < len(ok) else ok
    if len(train_rows) < 2:
        return {"note": "fewer than 2 mappings to fit on"}
    out: dict[str, Any] = {"trained_on": [r["mapping"] for r in train_rows], "in_sample": test_rows is ok}
    for target, regressors in FITS.items():
        a = np.array([[r[k] for k in regressors] for r in train_rows], dtype=np.float64)
        y = np.array([r[target] for r in train_rows], dtype=np.float64)
        scale = np.where(a.max(axis=0) > 0, a.max(axis=0), 1.0)
        coef, _ = nnls(a / scale, y)
        coef = coef / scale
        pred = np.array([[r[k] for k in regressors] for r in test_rows]) @ coef
        truth = np.array([r[target] for r in test_rows])
        rel = np.abs(pred - truth) / np.where(truth > 0, truth, 1.0)
        out[target] = {
            "coefficients_j": dict(zip(regressors, coef.tolist(), strict=True)),
            # e.g. when every training mapping has the same N', unit-steps and spikes do not vary
            # independently: only their combined cost is determined
            "identified": bool(np.linalg.matrix_rank(a / scale) == len(regressors)),
            "max_relative_error": float(rel.max()) if rel.size else None,
        }
        for r, p in zip(test_rows, pred.tolist(), strict=True):
            r.setdefault("calibrated", {})[target] = p
    for r in test_rows:
        cal = r.get("calibrated", {})
        r["calibrated_total_j"] = r["energy_synapse_j"] + sum(cal.values())
    truth = np.array([r["sanafe_energy_total_j"] for r in test_rows])
    cal_total = np.array([r["calibrated_total_j"] for r in test_rows])
    raw_total = np.array([r["energy_total_j"] for r in test_rows])
    out["total"] = {
        "max_relative_error_calibrated": float((np.abs(cal_total - truth) / truth).max()),
        "max_relative_error_mapopt": float((np.abs(raw_total - truth) / truth).max()),
        "spearman_calibrated": spearman(cal_total.tolist(), truth.tolist()),
    }
    return out


def summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Which mapping each model finds cheapest in network energy, and how many counts agree."""
    ok = _ok(rows)
    if not ok:
        return {"mappings": len(rows), "ok": 0}
    lowest_sanafe = min(r["sanafe_energy_network_j"] for r in ok)
    lowest_mapopt = min(r["energy_network_j"] for r in ok)
    out: dict[str, Any] = {
        "mappings": len(rows),
        "ok": len(ok),
        "counts_match": sum(bool(r["packets_match"] and r["hops_match"] and r["events_match"]) for r in ok),
        "lowest_sanafe_network": [r["mapping"] for r in ok if _close(r["sanafe_energy_network_j"], lowest_sanafe)],
        "lowest_mapopt_network": [r["mapping"] for r in ok if _close(r["energy_network_j"], lowest_mapopt)],
    }
    best = [r for r in ok if r["mapping"] == "best"]
    if best:
        # rank 1 = no mapping has a lower SANA-FE network energy (ties share a rank)
        energy = best[0]["sanafe_energy_network_j"]
        out["best_sanafe_rank"] = 1 + sum(
            r["sanafe_energy_network_j"] < energy and not _close(r["sanafe_energy_network_j"], energy) for r in ok
        )
    return out
