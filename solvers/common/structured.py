"""Exact structured grouping + assignment for small filters and convolutions: the ``cpsat-structured`` procedure.

``cpsat-joint`` (:mod:`solvers.common.grouping`) proves crossbars over *every* two-level
partition of every neuron's inputs and stalls above a few dozen units. This procedure
proves them over the structured space of :mod:`problems.formulations.structured` (per
layer, one of the groupings ``auto`` chooses among: strips, blocks, chunks, whole-neuron
thresholds, tree or chain), by branch and bound over its members with CP-SAT:

1. every member N' is packed by ``auto``'s packer (:func:`mapopt.decompose.auto.layout_of`);
   the best packing, and the greedy heuristics' packing of that member, are the incumbent;
2. members are visited from the problem's own N' (when it is a member) and ``auto``'s
   choice, then from the best packing up (the first to need a model gets at least a third
   of the search time; a member replaces the incumbent only with fewer crossbars); a member
   whose cheap bound
   (validator bounds and conflict clique, :func:`~problems.formulations.structured.member_bound`)
   reaches the incumbent is settled without a model; otherwise the CP-SAT assignment model
   with one crossbar fewer than the incumbent (:func:`~solvers.common.lexicographic.crossbars_below`)
   either finds a better assignment (the new incumbent) or proves there is none, or runs
   out of its share of the time (60 % of the budget, shared by the members left);
3. the bound over the space is the smallest of the incumbent and the bounds of the members
   left unsettled: gap 0 proves that no member of the space, with any assignment, needs
   fewer crossbars;
4. the lexicographic solve of :mod:`solvers.common.lexicographic` on the best member
   (assignment, placement, secondary key), told its proven bound.

hop_spikes is proven for the chosen member only, so a result on another member than the
problem's own N' is ``feasible``; when no member beats the problem's N', the result is
the exact one for it (``optimal`` when both keys are proven). ``info["grouping"]`` reports
the space, how many members were settled by bound, by model, or left open, and the
chosen member. A pruned N' is outside the (lossless) space and is solved as given, as
``cpsat`` does.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import numpy as np

from mapopt.decompose import decompose
from mapopt.decompose.base import Decomposition
from mapopt.problem import MappingProblem
from mapopt.solver import Budget, Outcome, SolveContext, Status
from problems.formulations.structured import member_bound, members
from solvers.common.layout import proposed_layout
from solvers.common.lexicographic import Backend, crossbars_below, solve_lexicographic, warm_start

#: Share of the remaining time the search over members may use (the rest is for the secondary key).
GROUPING_SHARE = 0.6
#: At least this share of the search goes to the first member that needs a model (the best packed).
FIRST_SHARE = 1 / 3


def _count(unit_crossbar: np.ndarray) -> int:
    used = unit_crossbar[unit_crossbar >= 0]
    return int(np.unique(used).size)


def _signature(dec: Decomposition) -> tuple[bytes, bytes]:
    """What makes two decompositions of one net the same N' (every synapse's unit and every unit's place)."""
    return dec.network.post.tobytes() + dec.network.pre.tobytes(), dec.level.tobytes() + dec.position.tobytes()


def solve_structured(problem: MappingProblem, ctx: SolveContext, backend: Backend) -> Outcome:
    """Solve ``problem`` over the structured decompositions of its original net (see the module docstring)."""
    from mapopt.decompose.auto import default_depth, layout_of
    from mapopt.decompose.ordering import reader_classes

    dec, hw = problem.decomposition, problem.hardware
    if dec.pruned_synapses:
        return solve_lexicographic(problem, ctx, backend, warm=warm_start(problem, ctx), symmetry=True)
    net = dec.original
    limit = max(default_depth(net, hw), dec.depth)
    pos = reader_classes(net)
    given = _signature(dec)  # the problem's own N' (when it is a member), then auto's choice, come first
    preferred = _signature(decompose(net, hw, f"auto,depth={limit}"))
    packed = []
    for label, member in members(net, hw, limit):
        sig = _signature(member)
        if sig == given:
            member = dec
        member = replace(member, layout=layout_of(member, hw, pos))
        layout = proposed_layout(member, hw)
        packed.append(((sig != given, sig != preferred), _count(layout), label, member, layout))
    packed.sort(key=lambda p: p[:2])
    packed = [p[1:] for p in packed]
    best_count, best_label, best, best_cb = packed[0]
    greedy = warm_start(replace(problem, decomposition=best), ctx)
    if greedy is not None and _count(greedy) < best_count:
        best_count, best_cb = _count(greedy), greedy
    ctx.record(float(best_count))
    bounds = [member_bound(replace(problem, decomposition=member)) for _, _, member, _ in packed]
    by_model = 0
    open_bounds: list[int] = []
    stop = None if ctx.remaining() is None else ctx.elapsed() + GROUPING_SHARE * ctx.remaining()
    for i, (_, label, member, _) in enumerate(packed):
        if bounds[i] >= best_count:
            continue  # settled by its bound
        waiting = sum(1 for b in bounds[i:] if b < best_count)  # members that still need a model, this one included
        left = None if stop is None else max(0.0, stop - ctx.elapsed())
        if left is not None:  # the best-packed member (the likeliest to improve) gets at least a third
            left = left / waiting if by_model or open_bounds else max(left / waiting, FIRST_SHARE * left)
        sub = SolveContext(Budget(time_limit=left, seed=ctx.seed, threads=ctx.budget.threads))
        found = crossbars_below(replace(problem, decomposition=member), sub, backend, cap=best_count, symmetry=True)
        if found.unit_crossbar is not None:
            best_count, best_label, best, best_cb = _count(found.unit_crossbar), label, member, found.unit_crossbar
            ctx.record(float(best_count))
        if found.status in ("optimal", "infeasible"):
            by_model += 1
        else:
            open_bounds.append(found.bound)
    by_bound = len(packed) - by_model - len(open_bounds)
    bound = min([best_count, *open_bounds])
    ctx.record(float(best_count), float(bound))
    info: dict[str, Any] = {
        "grouping": {
            "space": "per layer, one of auto's structured groupings (strip/block/chunk, threshold, tree or chain)",
            "depth_limit": limit,
            "members": len(packed),
            "settled_by_bound": by_bound,
            "settled_by_model": by_model,
            "open": len(open_bounds),
            "chosen": best_label,
            "crossbars": best_count,
            "bound": bound,
        }
    }
    own = bounds[[m for _, _, m, _ in packed].index(best)]
    out = solve_lexicographic(
        replace(problem, decomposition=best), ctx, backend, warm=best_cb, symmetry=True,
        known_bound=best_count if best_count == bound else own,
    )  # fmt: skip
    info.update(out.info)
    if out.mapping is None:
        return Outcome(None, out.status, bound=float(bound), message=out.message, info=info)
    if _signature(best) == given:  # no member beats the problem's own N': the exact result for it stands
        out.info = info
        return out
    if problem.objective == "energy":  # the space was searched for crossbars, not energy: no bound over it
        return Outcome(out.mapping, Status.FEASIBLE, message="energy optimised for the chosen grouping only",
                       info=info, decomposition=best)  # fmt: skip
    proven = _count(out.mapping.unit_crossbar) <= bound
    what = "crossbars proven optimal over the structured groupings" if proven else "crossbars not proven"
    return Outcome(
        out.mapping,
        Status.FEASIBLE,
        bound=float(bound) if math.isfinite(bound) else None,
        message=f"{what} (bound {bound}); secondary key for the chosen grouping: {out.status or 'feasible'}",
        info=info,
        decomposition=best,
    )
