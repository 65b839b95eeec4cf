"""The model-quality study behind ``mapopt quality``: accuracy kept by decomposition, lost by pruning.

For every trained catalog net (an entry whose facts name a ``task``) it measures, on the
task's test set: the ANN (the ReLU network the SNN was converted from, read from the
SNN's own weights, :func:`~mapopt.quality.evaluate.ann_accuracy`), the SNN, and, at
every fan-in limit F, each prune baseline (F inputs kept per neuron) and each
decomposition strategy (every synapse kept, in units of at most F inputs). A decomposition's
accuracy is read from its own simulation in exact mode, and the same run checks that N'
spikes exactly like N on every test image (``equivalent``). Identical decompositions
(``chain:2`` does not depend on F; ``tree`` and ``auto`` often coincide) are simulated
once and their rows say which earlier row they repeat (``same_as``).

The paper (Balaji et al., IEEE ESL 2020, arXiv 2009.09298) reports +0.8% to +4.6% model
quality for decomposition over pruning; :func:`gains` is that difference here.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from mapopt.decompose import Decomposition, check_spec, decompose, parse_spec
from mapopt.errors import InputError
from mapopt.hardware import Hardware, customise
from mapopt.network import Network
from mapopt.quality.evaluate import ann_accuracy, evaluate
from mapopt.quality.task import task_named

PRUNES = ("prune-first", "prune-magnitude")
#: Decomposition strategies compared by default (``tree`` means tree:F).
STRATEGIES = ("chain:2", "tree", "auto")
FANINS = (8, 16, 32, 64)
#: The paper's range of model-quality gains of decomposition over pruning (percentage points).
PAPER_GAIN = (0.8, 4.6)


def trained_nets() -> list[str]:
    """The catalog's trained nets (entries whose facts name a task), in catalog order."""
    from mapopt.registry import catalog

    return [name for name, entry in catalog().items() if entry.facts.get("task")]


def check_request(nets: list[str], fanins: list[int], strategies: list[str], hw: Hardware) -> None:
    """Reject an unknown or untrained net, a fan-in limit the hardware cannot take, or a bad spec, up front."""
    trained = trained_nets()
    for name in nets:
        if name not in trained:
            raise InputError(f"{name!r} is not a trained catalog net; trained: {', '.join(trained)}", source="--net")
    for f in fanins:
        if f < 2:
            raise InputError(f"fan-in limit {f} must be at least 2", source="--fanin", constraint="fanin")
        customise(hw, fanin=f)  # F <= R, named by the hardware's own check
    for spec in [*PRUNES, *strategies]:
        parse_spec(spec)


def _fingerprint(dec: Decomposition) -> str:
    """A digest of N' (structure, weights, unit levels): equal digests mean the same simulation."""
    h = hashlib.blake2b(digest_size=16)
    for arr in (dec.network.pre, dec.network.post, dec.network.weight, dec.level, dec.edge_origin, dec.pruned):
        h.update(np.ascontiguousarray(arr).tobytes())
    return h.hexdigest()


@dataclass
class _Done:
    row: dict[str, Any]
    fields: dict[str, Any]


def _base_row(net: Network, fanin: int | None, strategy: str, kind: str) -> dict[str, Any]:
    return {"net": net.name, "fanin": fanin, "strategy": strategy, "kind": kind}


def run_study(
    nets: list[str],
    hw: Hardware,
    *,
    fanins: list[int] | tuple[int, ...] = FANINS,
    strategies: list[str] | tuple[str, ...] = STRATEGIES,
    progress: Callable[[str], None] | None = None,
) -> Iterator[dict[str, Any]]:
    """One row per (net, kind, fan-in limit, strategy), yielded as measured; see the module docstring.

    Row fields: ``net``, ``fanin`` (None for ANN and SNN), ``strategy``, ``kind`` (ann,
    snn, prune, decomposition), ``accuracy``, ``delta`` (accuracy - the SNN's, in
    percentage points), ``pruned_synapses``, ``pruned_weight_fraction``, ``units``,
    ``depth``, ``equivalent`` (decompositions: N' spikes like N on every test image),
    ``spikes`` (compute spikes per test image), ``status`` (ok, error), ``message``,
    ``same_as`` and ``wall_s``. A strategy that fails (an arity above F, a depth limit) is
    a row with status ``error`` and the reason; it never ends the study. The request is
    checked (:func:`check_request`) before the first row.
    """
    from mapopt.registry import catalog

    check_request(list(nets), list(fanins), list(strategies), hw)
    say = progress or (lambda _msg: None)
    for name in nets:
        say(f"{name}: building (training and conversion)")
        net = catalog()[name].build()
        task = task_named(net.task or str(catalog()[name].facts["task"]))
        start = time.perf_counter()
        ann = ann_accuracy(net, task)
        yield {**_base_row(net, None, "ANN", "ann"), "accuracy": ann, "status": "ok",
               "wall_s": time.perf_counter() - start}
        say(f"{name}: simulating the SNN on the test set")
        start = time.perf_counter()
        snn = evaluate(net, task)
        compute = ~net.is_input
        yield {**_base_row(net, None, "SNN", "snn"), "accuracy": snn.accuracy, "status": "ok",
               "units": int(compute.sum()), "depth": 1, "pruned_synapses": 0, "pruned_weight_fraction": 0.0,
               "spikes": float(snn.mean_counts[compute].sum()), "wall_s": time.perf_counter() - start}
        done: dict[str, _Done] = {}
        for f in fanins:
            limit = customise(hw, fanin=f)
            for spec in [*PRUNES, *strategies]:
                kind = "prune" if spec in PRUNES else "decomposition"
                row = _base_row(net, f, spec, kind)
                say(f"{name}: F={f} {spec}")
                start = time.perf_counter()
                try:
                    check_spec(spec, limit)
                    dec = decompose(net, limit, spec)
                except InputError as err:
                    yield {**row, "status": "error", "message": err.message}
                    continue
                key = _fingerprint(dec)
                if key in done:
                    yield {**row, **done[key].fields, "same_as": _label(done[key].row),
                           "wall_s": time.perf_counter() - start}
                    continue
                ev = evaluate(dec, task, check=kind == "decomposition")
                roots = ~dec.network.is_input[: net.n_neurons]  # the original neurons: what the net computes
                fields = {
                    "accuracy": ev.accuracy,
                    "delta": 100.0 * (ev.accuracy - snn.accuracy),
                    "pruned_synapses": dec.pruned_synapses,
                    "pruned_weight_fraction": dec.pruned_weight_fraction,
                    "units": dec.n_units,
                    "depth": dec.depth,
                    "equivalent": None if ev.equivalence is None else ev.equivalence.equivalent,
                    "spikes": float(ev.mean_counts[: net.n_neurons][roots].sum()),
                    "status": "ok",
                }
                done[key] = _Done(row, fields)
                yield {**row, **fields, "wall_s": time.perf_counter() - start}


def _label(row: dict[str, Any]) -> str:
    return f"{row['strategy']} at F={row['fanin']}"


def gains(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per (net, F): decomposed accuracy minus each prune baseline's, in percentage points.

    The decomposed accuracy is that of the (equivalent) decompositions at that F; a row
    whose decompositions disagree or are not all equivalent reports None.
    """
    out = []
    keys = list(dict.fromkeys((r["net"], r["fanin"]) for r in rows if r["fanin"] is not None))
    for net, f in keys:
        here = [r for r in rows if r["net"] == net and r["fanin"] == f and r["status"] == "ok"]
        decs = [r for r in here if r["kind"] == "decomposition"]
        accs = {r["accuracy"] for r in decs}
        kept = accs.pop() if len(accs) == 1 and all(r["equivalent"] for r in decs) else None
        row: dict[str, Any] = {"net": net, "fanin": f, "decomposed": kept}
        for r in here:
            if r["kind"] == "prune":
                row[r["strategy"]] = r["accuracy"]
                row[f"gain_vs_{r['strategy']}"] = None if kept is None else 100.0 * (kept - r["accuracy"])
        out.append(row)
    return out
