"""The HiGHS process of ``pulp-highs``: solve one MPS model and report as it goes (run by :mod:`solvers.pulp_milp`).

``python -m solvers.common.highs_child MODEL.mps START.json LIMIT THREADS SEED`` reads the
model, sets the MIP start (``START.json``: column name -> value), solves under the limit
(``-`` for none) and writes one JSON message per line on stdout:

- ``["columns", [names...]]`` once, before solving (the order of every value list below);
- ``["bound", b]`` whenever the MIP dual bound improves;
- ``["solution", objective, bound or null, [values...]]`` for every improving solution;
- ``["done", status, objective or null, bound or null, [values...] or null]`` at the end,
  status ``optimal``, ``infeasible`` or ``stopped``.

HiGHS is stopped through its own API: ``time_limit`` and an interrupt callback that checks
the deadline in every simplex, IPM and MIP interrupt. It runs in its own process because
one phase of it cannot be stopped that way (see :mod:`solvers.pulp_milp`): the parent
kills this process shortly after the deadline and keeps the last solution and bound it
received. Only numpy and highspy are imported, so the process starts in a fraction of a second.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from typing import Any

import numpy as np


def main(argv: list[str]) -> None:
    mps, start_file, limit_arg, threads, seed = argv
    limit = None if limit_arg == "-" else float(limit_arg)
    deadline = None if limit is None else time.monotonic() + limit
    out = os.fdopen(os.dup(1), "w")  # the message channel; fd 1 goes to stderr (HiGHS prints a banner there)
    os.dup2(2, 1)
    import highspy

    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.readModel(mps)
    h.setOptionValue("threads", int(threads))
    h.setOptionValue("random_seed", int(seed))
    if limit is not None:
        h.setOptionValue("time_limit", max(limit, 0.01))
    names = list(h.getLp().col_names_)

    def send(*message: Any) -> None:
        out.write(json.dumps(message) + "\n")
        out.flush()

    send("columns", names)
    with open(start_file) as f:
        start = json.load(f)
    index = [i for i, name in enumerate(names) if name in start]
    if index:
        h.setSolution(len(index), np.array(index, np.int32), np.array([start[names[i]] for i in index], np.float64))
    best_bound = [-math.inf]

    def finite(x: float) -> float | None:
        return float(x) if math.isfinite(x) else None

    def interrupt(event: Any) -> None:
        if deadline is not None and time.monotonic() >= deadline:
            event.interrupt()
        bound = event.data_out.mip_dual_bound
        if math.isfinite(bound) and bound > best_bound[0]:
            best_bound[0] = bound
            send("bound", float(bound))

    def improved(event: Any) -> None:
        data = event.data_out
        values = np.asarray(data.mip_solution, dtype=float).tolist()
        send("solution", float(data.objective_function_value), finite(data.mip_dual_bound), values)

    h.cbSimplexInterrupt += interrupt
    h.cbIpmInterrupt += interrupt
    h.cbMipInterrupt += interrupt
    h.cbMipImprovingSolution += improved
    h.run()
    status = h.getModelStatus()
    info = h.getInfo()
    feasible = info.primal_solution_status == 2  # kSolutionStatusFeasible
    kind = {highspy.HighsModelStatus.kOptimal: "optimal", highspy.HighsModelStatus.kInfeasible: "infeasible"}
    send(
        "done",
        kind.get(status, "stopped"),
        float(info.objective_function_value) if feasible else None,
        finite(info.mip_dual_bound),
        list(h.getSolution().col_value) if feasible else None,
    )


if __name__ == "__main__":
    main(sys.argv[1:])
