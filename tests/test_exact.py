"""Exact solvers (cpsat, pulp-cbc, pulp-highs) against truth: planted optima and brute force."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mapopt.decompose import decompose
from mapopt.decompose.prune import no_decomposition
from mapopt.hardware import customise, load_preset
from mapopt.io import resolve_net, write_network
from mapopt.network import Network
from mapopt.problem import OBJECTIVES, MappingProblem
from mapopt.registry import catalog, make_solver, solver_class, solver_names
from mapopt.solver import Budget, Status
from problems.formulations.assignment import (
    AssignmentData,
    AssignmentModel,
    BuildInterrupted,
    Weights,
    crossbar_lower_bounds,
)
from problems.formulations.bruteforce import brute_force
from problems.instances.planted import planted, planted_optimum
from solvers.cpsat import CpSatBuilder

EXACT = [name for name in solver_names() if solver_class(name).exact]
TOY = load_preset("toy")


def planted_problem(name: str, objective: str = "crossbars-hops") -> tuple[MappingProblem, dict]:
    entry = catalog()[name]
    net = entry.build()
    return MappingProblem(decompose(net, TOY, "none"), TOY, objective), entry.facts


def tiny_net(seed: int, n_in: int = 3, n_compute: int = 5, density: float = 0.45) -> Network:
    """A random net with recurrent edges and self-excluding loops among the compute neurons."""
    rng = np.random.default_rng(seed)
    n = n_in + n_compute
    dense = (rng.random((n, n)) < density) & ~np.eye(n, dtype=bool)
    dense[:, :n_in] = False
    pre, post = np.nonzero(dense)
    return Network.build(
        name=f"tiny{seed}", is_input=np.arange(n) < n_in, pre=pre, post=post,
        spikes=rng.integers(0, 6, size=n).astype(float),
    )  # fmt: skip


def tiny_problem(seed: int, objective: str) -> MappingProblem | None:
    net = tiny_net(seed)
    hw = customise(TOY, crossbar="4x2", mesh="2x2" if seed % 2 else "auto")
    dec = decompose(net, hw, "none" if net.max_fanin <= hw.fanin else "chain:3")
    return MappingProblem(dec, hw, objective) if dec.n_units <= 7 else None


def assert_model_matches_validator(result) -> None:
    """The objective values the back end optimised equal the validator's recomputation."""
    for key, value in result.info.get("model", {}).items():
        if value is not None:
            assert value == pytest.approx(result.metrics[key], rel=1e-6, abs=1e-6), key


# ---------------------------------------------------------------------- planted optima
@pytest.mark.parametrize("solver", EXACT)
@pytest.mark.parametrize("name", ["planted-toy-3", "planted-toy-6"])
def test_exact_solver_reaches_planted_optimum(solver: str, name: str) -> None:
    problem, facts = planted_problem(name)
    result = make_solver(solver).solve(problem, Budget(time_limit=60))
    assert result.status is Status.OPTIMAL, result.message
    assert result.metrics["crossbars"] == facts["optimum_crossbars"]
    assert result.metrics["hop_spikes"] == pytest.approx(facts["optimum_hop_spikes"])
    assert result.objective == result.bound == facts["optimum_crossbars"]
    assert result.gap == 0.0
    assert_model_matches_validator(result)


@pytest.mark.parametrize("solver", EXACT)
def test_planted_intercrossbar_optimum(solver: str) -> None:
    problem, facts = planted_problem("planted-toy-3", "crossbars-intercrossbar")
    result = make_solver(solver).solve(problem, Budget(time_limit=60))
    assert result.status is Status.OPTIMAL
    assert result.metrics["intercrossbar_spikes"] == pytest.approx(facts["optimum_intercrossbar_spikes"])
    assert_model_matches_validator(result)


def test_planted_optimum_on_auto_mesh() -> None:
    """The construction's optimum holds on an 'auto' mesh with one crossbar per tile too."""
    net = planted(5, 4, 4, 3, seed=7)
    hw = customise(TOY, mesh="auto", crossbars_per_tile=1)
    best = planted_optimum(net, 5, hw)
    result = make_solver("cpsat").solve(MappingProblem(decompose(net, hw, "none"), hw), Budget(time_limit=60))
    assert result.status is Status.OPTIMAL
    assert (result.metrics["crossbars"], result.metrics["hop_spikes"]) == (best["crossbars"], best["hop_spikes"])


# ---------------------------------------------------------------------- brute force
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), objective=st.sampled_from(sorted(OBJECTIVES)), symmetry=st.booleans())
def test_cpsat_agrees_with_brute_force(seed: int, objective: str, symmetry: bool) -> None:
    problem = tiny_problem(seed, objective)
    if problem is None:
        return
    truth = brute_force(problem)
    solver = make_solver("cpsat", symmetry_breaking=symmetry, warm_start=symmetry)
    result = solver.solve(problem, Budget(time_limit=60, seed=seed))
    if truth is None:
        assert result.status is Status.INFEASIBLE
        return
    assert result.status is Status.OPTIMAL, result.message
    assert problem.key(result.metrics) == pytest.approx(truth.key)
    assert_model_matches_validator(result)


@pytest.mark.parametrize("solver", [s for s in EXACT if s.startswith("pulp-")])
@pytest.mark.parametrize("seed", [4, 7, 10])
@pytest.mark.parametrize("objective", sorted(OBJECTIVES))
def test_milp_agrees_with_brute_force(solver: str, seed: int, objective: str) -> None:
    problem = tiny_problem(seed, objective)
    assert problem is not None
    truth = brute_force(problem)
    result = make_solver(solver).solve(problem, Budget(time_limit=60, seed=seed))
    assert result.status is Status.OPTIMAL, result.message
    assert problem.key(result.metrics) == pytest.approx(truth.key)
    assert_model_matches_validator(result)


def test_brute_force_finds_the_planted_optimum() -> None:
    problem, facts = planted_problem("planted-toy-2")
    truth = brute_force(replace(problem, decomposition=problem.decomposition))
    assert truth.key == (facts["optimum_crossbars"], facts["optimum_hop_spikes"])


# ---------------------------------------------------------------------- bounds, time limits, infeasibility
def test_lower_bounds_never_exceed_the_optimum() -> None:
    problem, facts = planted_problem("planted-toy-6")
    bounds = crossbar_lower_bounds(AssignmentData.from_problem(problem))
    assert max(bounds.values()) == facts["optimum_crossbars"]  # columns and conflicts are tight here
    assert all(b <= facts["optimum_crossbars"] for b in bounds.values())


@pytest.mark.parametrize("solver", EXACT)
def test_short_time_limit_gives_valid_incumbent_and_bound(solver: str) -> None:
    hw = customise(TOY, mesh="auto")
    net = tiny_net(11, n_in=10, n_compute=20, density=0.3)
    problem = MappingProblem(decompose(net, hw, "chain:4"), hw)
    result = make_solver(solver).solve(problem, Budget(time_limit=0.2))
    assert result.status in (Status.FEASIBLE, Status.TIMEOUT, Status.OPTIMAL)
    if result.status is not Status.TIMEOUT:
        assert result.metrics is not None  # re-validated by the template
        assert result.bound is not None and result.bound <= result.objective
        assert 0.0 <= result.gap < 1.0


@pytest.mark.parametrize("solver", [s for s in EXACT if s != "cpsat-structured"])  # it unrolls (test_structured)
def test_unit_with_more_inputs_than_rows_is_infeasible(solver: str) -> None:
    net = tiny_net(3, n_in=6, n_compute=2, density=1.0)
    problem = MappingProblem(no_decomposition(net), TOY)  # fan-in 7 > R = 4, not unrolled
    result = make_solver(solver).solve(problem, Budget(time_limit=10))
    assert result.status is Status.INFEASIBLE
    assert "[rows]" in result.message and "R=4" in result.message
    assert result.mapping is None


@pytest.mark.parametrize("solver", EXACT)
def test_mesh_too_small_is_infeasible(solver: str) -> None:
    problem, _ = planted_problem("planted-toy-3")
    one_tile = customise(TOY, mesh="1x1")  # holds 2 crossbars, 3 are needed
    result = make_solver(solver).solve(replace(problem, hardware=one_tile), Budget(time_limit=10))
    assert result.status is Status.INFEASIBLE
    assert "[tile-capacity]" in result.message


def test_history_is_monotone_and_bounded() -> None:
    problem, _ = planted_problem("planted-toy-6")
    result = make_solver("cpsat").solve(problem, Budget(time_limit=60))
    incumbents = [inc for _, inc, _ in result.history if inc is not None]
    assert incumbents and incumbents == sorted(incumbents, reverse=True)
    assert all(bound <= inc for _, inc, bound in result.history if bound is not None and inc is not None)


# ---------------------------------------------------------------------- CLI
def test_cli_solve_json_and_mapping_revalidates(cli, tmp_path) -> None:
    out = tmp_path / "out"
    res = cli(
        "solve",
        "--net",
        "planted-toy-3",
        "--hw",
        "toy",
        "--solver",
        "cpsat",
        "--time-limit",
        "30",
        "--json",
        "--out",
        out,
    )
    assert res.code == 0, res.stderr
    row = res.json()
    for key in ("crossbars", "hop_spikes", "energy_total_j", "status", "objective", "bound", "gap", "wall_s"):
        assert key in row
    assert row["status"] == "optimal" and row["gap"] == 0.0
    (mapping,) = out.glob("mapping-*.json")
    check = cli("validate", mapping, "--json")
    assert check.code == 0 and check.json()["valid"]
    assert check.json()["metrics"]["hop_spikes"] == row["hop_spikes"]


def test_cli_solve_a_net_file_with_pulp(cli, tmp_path) -> None:
    path = tmp_path / "net.json"
    write_network(path, tiny_net(7))  # max fan-in 4 = F: no decomposition needed
    res = cli(
        "solve",
        "--net",
        path,
        "--hw",
        "toy",
        "--crossbar",
        "4x2",
        "--solver",
        "pulp-highs",
        "--time-limit",
        "30",
        "--json",
    )
    assert res.code == 0, res.stderr
    row = res.json()
    assert row["status"] == "optimal" and row["decomposition"] == "none"
    assert json.dumps(row)  # stdout holds exactly one JSON document (no solver banner)


def test_cli_solve_infeasible_exits_1_with_reason(cli) -> None:
    res = cli("solve", "--net", "planted-toy-3", "--hw", "toy", "--mesh", "1x1", "--json")
    assert res.code == 1
    row = res.json()
    assert row["status"] == "infeasible" and "tile-capacity" in row["message"]


@pytest.mark.parametrize("solver", EXACT)
def test_zero_time_limit_never_crashes(solver: str) -> None:
    problem, facts = planted_problem("planted-toy-6")
    result = make_solver(solver).solve(problem, Budget(time_limit=0.0))
    assert result.status in (Status.TIMEOUT, Status.FEASIBLE, Status.OPTIMAL)
    if result.bound is not None:
        assert result.bound <= facts["optimum_crossbars"]


def test_model_building_stops_at_the_deadline() -> None:
    problem, _ = planted_problem("planted-toy-3")
    data = AssignmentData.from_problem(problem)
    with pytest.raises(BuildInterrupted):
        AssignmentModel(CpSatBuilder(), data, slots=3, weights=Weights(crossbars=1.0), expired=lambda: True)


@pytest.mark.slow
def test_cbc_killed_at_the_deadline_keeps_the_incumbent() -> None:
    """A phase-1 model of ~220k rows, where CBC's root LP outlasts the limit: CBC is killed, never a crash.

    (How long it takes is measured in docs/exact.md, not asserted.)
    """
    hw = customise(TOY, crossbar="16x16", fanin=16, crossbars_per_tile=4, mesh="auto")
    problem = MappingProblem(decompose(resolve_net("mlp:64-32-10"), hw, "chain:16"), hw)
    result = make_solver("pulp-cbc").solve(problem, Budget(time_limit=10))
    assert result.status in (Status.FEASIBLE, Status.TIMEOUT), result.message
    if result.metrics is not None:
        assert result.bound is not None and result.bound <= result.objective
