"""Conformance suite: every registered solver, exact or heuristic, honours the one solver interface.

Parametrized over :func:`mapopt.registry.solver_names`, so a new solver module is checked
as soon as it registers. Instances are planted (``problems/instances/planted.py``), so the optimum is
known by construction and no solver is judged against another.
"""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np
import pytest

from mapopt.decompose import decompose
from mapopt.evaluation import assess
from mapopt.hardware import customise, load_preset
from mapopt.problem import MappingProblem
from mapopt.registry import catalog, make_solver, solver_class, solver_names
from mapopt.solver import Budget, Status
from mapopt.studies.variants import param_defaults

SOLVERS = solver_names()
TOY = load_preset("toy")
#: Seconds a solver may overrun its time limit on a tiny instance (start-up, model building, re-scoring).
MARGIN_S = 5.0


def planted_problem(name: str) -> tuple[MappingProblem, dict]:
    entry = catalog()[name]
    return MappingProblem(decompose(entry.build(), TOY, "none"), TOY), entry.facts


@pytest.mark.parametrize("solver", SOLVERS)
def test_valid_mapping_and_never_beats_the_optimum(solver: str) -> None:
    problem, facts = planted_problem("planted-toy-3")
    result = make_solver(solver).solve(problem, Budget(time_limit=10, seed=1))
    assert result.status in (Status.OPTIMAL, Status.FEASIBLE), result.message
    # a solver may return the N' it chose (Outcome.decomposition: paper's connector units, cpsat-joint)
    verdict = assess(result.decomposition or problem.decomposition, problem.hardware, result.mapping)
    assert verdict.valid, verdict.violations
    assert result.metrics == verdict.metrics
    optimum = (facts["optimum_crossbars"], facts["optimum_hop_spikes"])
    key = problem.key(result.metrics)
    assert key >= optimum  # no solver beats a proven optimum
    if solver_class(solver).exact:
        assert result.status is Status.OPTIMAL
        assert key == optimum
    if result.bound is not None:
        assert result.bound <= result.objective + 1e-9


@pytest.mark.parametrize("solver", SOLVERS)
def test_returns_within_the_time_limit(solver: str) -> None:
    problem, _ = planted_problem("planted-toy-8")
    # an 'auto' mesh: a heuristic that needs more crossbars than toy's 2x2 mesh holds (paper, with
    # its connector clusters) would otherwise stop at the tile-capacity input error, not the deadline
    problem = replace(problem, hardware=replace(TOY, mesh=None))
    limit = 1.0
    start = time.perf_counter()
    result = make_solver(solver).solve(problem, Budget(time_limit=limit, seed=0))
    elapsed = time.perf_counter() - start
    assert elapsed <= limit + MARGIN_S
    assert result.status is not Status.ERROR, result.message
    if result.mapping is not None:
        assert assess(result.decomposition or problem.decomposition, problem.hardware, result.mapping).valid


@pytest.mark.parametrize("solver", SOLVERS)
def test_deterministic_under_a_seed(solver: str) -> None:
    problem, _ = planted_problem("planted-toy-3")
    runs = [make_solver(solver).solve(problem, Budget(time_limit=10, seed=7)) for _ in range(2)]
    a, b = (r.mapping for r in runs)
    assert a is not None and b is not None
    assert np.array_equal(a.unit_crossbar, b.unit_crossbar)
    assert np.array_equal(a.crossbar_tile, b.crossbar_tile)
    assert runs[0].metrics == runs[1].metrics


@pytest.mark.parametrize("solver", SOLVERS)
def test_defaults_lie_in_the_declared_search_space(solver: str) -> None:
    cls = solver_class(solver)
    defaults = param_defaults(cls)
    assert set(cls.space.names()) <= set(defaults), "the space names parameters the solver does not have"
    assert cls.space.outside({k: defaults[k] for k in cls.space.names()}) == []


#: Random samples per declared space (besides each parameter at both ends of its range).
SAMPLES = 3


@pytest.mark.parametrize("solver", [s for s in SOLVERS if solver_class(s).space])
def test_every_declared_search_space_yields_valid_solvers(solver: str) -> None:
    """Sampled through Optuna's own suggest_* calls (a real in-memory study), and at the corners."""
    import optuna

    cls = solver_class(solver)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    configs = [cls.space.suggest(study.ask()) for _ in range(SAMPLES)] + cls.space.corner_configs()
    # an auto mesh: a configuration that packs loosely (fill=0.5) still fits somewhere
    hw = customise(TOY, mesh="auto")
    problem = MappingProblem(decompose(catalog()["planted-toy-3"].build(), hw, "none"), hw)
    for params in configs:
        assert cls.space.outside(params) == []
        result = make_solver(solver, **params).solve(problem, Budget(time_limit=2, seed=0))
        assert result.status in (Status.OPTIMAL, Status.FEASIBLE), (params, result.message)
        dec = result.decomposition or problem.decomposition  # paper decides its own N' (connectors)
        assert assess(dec, problem.hardware, result.mapping).valid, params
