"""cpsat-joint: input grouping of unrolled neurons chosen with the crossbar assignment, checked against truth."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import numpy as np
import pytest

from mapopt.decompose import decompose
from mapopt.decompose.base import Decomposition
from mapopt.decompose.tree import grouped_tree
from mapopt.errors import InputError
from mapopt.evaluation import assess
from mapopt.hardware import Hardware, load_preset
from mapopt.io import write_network
from mapopt.mapping import Mapping
from mapopt.network import Network
from mapopt.problem import MappingProblem
from mapopt.registry import catalog, make_solver
from mapopt.solver import Budget, SolveResult, Status
from problems.formulations.bruteforce import brute_force

#: R=4 rows, C=4 columns, leaves of at most k=F=2 inputs.
SMALL = Hardware(name="small", rows=4, columns=4, fanin=2, crossbars_per_tile=1, mesh=None)


def net_of(inputs: list[list[int]], n_in: int, seed: int = 0) -> Network:
    """Compute neurons n_in, n_in+1, ... reading the given input neurons."""
    rng = np.random.default_rng(seed)
    post = np.repeat(np.arange(n_in, n_in + len(inputs)), [len(s) for s in inputs])
    return Network.build(
        name="hand", is_input=np.arange(n_in + len(inputs)) < n_in, pre=np.concatenate(inputs), post=post,
        spikes=rng.integers(1, 5, n_in + len(inputs)).astype(float),
    )  # fmt: skip


def random_net(seed: int, n_in: int = 6, n_compute: int = 2) -> Network:
    rng = np.random.default_rng(seed)
    return net_of([sorted(rng.choice(n_in, rng.integers(3, 5), replace=False)) for _ in range(n_compute)], n_in, seed)


def solve_joint(net: Network, hw: Hardware, spec: str, **kw) -> SolveResult:
    result = make_solver("cpsat-joint").solve(MappingProblem(decompose(net, hw, spec), hw, **kw), Budget(time_limit=30))
    assert result.mapping is not None, result.message
    dec = result.decomposition
    assert dec is not None and dec.strategy == "unroll-exact"
    # a real N': every original synapse realised exactly once, fan-in within F, mapping re-validated
    assert np.array_equal(np.sort(dec.edge_origin[dec.edge_origin >= 0]), np.arange(net.n_synapses))
    verdict = assess(dec, hw, result.mapping)
    assert verdict.valid, verdict.violations
    assert verdict.metrics == result.metrics
    return result


def two_level_groupings(net: Network, k: int) -> Iterator[Decomposition]:
    """Every member of the space, enumerated without the model: each neuron's inputs in ceil(m/k) blocks of <= k."""

    def partitions(m: int, blocks: int) -> Iterator[tuple[int, ...]]:
        for labels in itertools.product(range(blocks), repeat=m):  # tiny m: filter all labelings
            sizes = np.bincount(labels, minlength=blocks)
            first = [labels.index(b) for b in range(blocks) if sizes[b]]
            if (sizes > 0).all() and sizes.max() <= k and first == sorted(first):
                yield labels

    compute = np.flatnonzero(~net.is_input)
    blocks = [max(1, -(-int(net.fanin[v]) // k)) for v in compute]
    for combo in itertools.product(*(partitions(int(net.fanin[v]), b) for v, b in zip(compute, blocks, strict=True))):
        leaves = np.where(net.is_input, 0, 1)
        leaves[compute] = blocks
        edge_leaf = np.concatenate([np.array(c, dtype=np.int64) for c in combo])
        yield grouped_tree(net, edge_leaf, leaves, max(2, max(blocks)), strategy="enumerated", label_arity=k)


def test_planted_grouping_beats_every_fixed_tree() -> None:
    """Optimum known by construction: 9 units need ceil(9/C) = 3 crossbars, and the witness below has 3.

    The balanced tree by input id needs 4 (proven by cpsat on that fixed N'); the joint
    model finds the 3 of the hand-made grouping v6 {2,5}{3,4}, v7 {1}{2,5}, v8 {0,1}{2,4}:
    crossbar 0 takes the four leaves reading only inputs 2..5 (4 rows), crossbar 1 the
    roots of v6, v7 (2 partial rows each), crossbar 2 the rest (rows 0, 1 and 2 partials).
    """
    net = net_of([[2, 3, 4, 5], [1, 2, 5], [0, 1, 2, 4]], n_in=6)
    witness_leaf = np.array([0, 1, 1, 0, 0, 1, 1, 0, 0, 1, 1])  # synapses sorted by (post, pre)
    witness = grouped_tree(net, witness_leaf, np.array([0] * 6 + [2, 2, 2]), 2, strategy="hand", label_arity=2)
    unit_crossbar = np.full(witness.network.n_neurons, -1)
    position = {(int(o), int(p)): u for u, (o, p) in enumerate(zip(witness.origin, witness.position, strict=True))}
    for v, (leaf0, leaf1, root) in {6: (0, 0, 1), 7: (2, 0, 1), 8: (2, 0, 2)}.items():
        unit_crossbar[[position[v, 0], position[v, 1], position[v, 2]]] = leaf0, leaf1, root
    hw3 = SMALL.with_mesh_for(3)
    verdict = assess(witness, hw3, Mapping(unit_crossbar, hw3.tiles_by_distance()[:3], hw3.mesh))
    assert verdict.valid, verdict.violations
    assert verdict.metrics["crossbars"] == 3

    fixed = make_solver("cpsat").solve(MappingProblem(decompose(net, SMALL, "tree:2"), SMALL), Budget(time_limit=30))
    assert fixed.status is Status.OPTIMAL and fixed.metrics["crossbars"] == 4
    result = solve_joint(net, SMALL, "tree:2")
    assert result.metrics["crossbars"] == 3
    assert result.info["grouping"]["status"] == "optimal"
    assert result.bound == 3.0 and result.gap == 0.0
    # hop_spikes is proven for the chosen grouping only, so the whole key is not claimed optimal
    assert result.status is Status.FEASIBLE


def test_argued_optimum_with_shared_inputs() -> None:
    """Three neurons reading the same 6 inputs, R=C=4, k=3: the optimum is 4 crossbars by argument.

    A leaf needs 3 input rows and a root 2 partial rows, so no root shares a crossbar with
    a leaf (5 > R); 3 roots need 6 partial rows (2 crossbars) and 6 leaves 2 crossbars (C=4).
    """
    net = net_of([list(range(6))] * 3, n_in=6)
    hw = Hardware(name="h", rows=4, columns=4, fanin=3, crossbars_per_tile=1, mesh=None)
    result = solve_joint(net, hw, "chain:3")
    assert result.metrics["crossbars"] == 4 and result.bound == 4.0
    assert result.info["grouping"]["status"] == "optimal"


@pytest.mark.parametrize("seed", [3, 17, 21])
def test_agrees_with_brute_force_over_every_grouping(seed: int) -> None:
    """Every two-level grouping enumerated, each mapped by brute force: the best crossbars equal the joint optimum."""
    net = random_net(seed)
    truth = min(brute_force(MappingProblem(dec, SMALL)).key[0] for dec in two_level_groupings(net, 2))
    result = solve_joint(net, SMALL, "tree:2")
    assert result.info["grouping"]["status"] == "optimal"
    assert result.metrics["crossbars"] == truth == result.bound


@pytest.mark.parametrize("seed", [4, 6])
def test_never_worse_than_the_fixed_balanced_tree(seed: int) -> None:
    """tree:k with ceil(m/k) <= k leaves is a member of the space, so its proven optimum bounds the joint one."""
    net = random_net(seed, n_compute=3)
    fixed = make_solver("cpsat").solve(MappingProblem(decompose(net, SMALL, "tree:2"), SMALL), Budget(time_limit=30))
    assert fixed.status is Status.OPTIMAL
    result = solve_joint(net, SMALL, "tree:2", objective="crossbars-intercrossbar")
    assert result.metrics["crossbars"] <= fixed.metrics["crossbars"]
    assert result.bound <= result.metrics["crossbars"]


def test_a_net_that_unrolls_nothing_is_solved_as_given() -> None:
    entry = catalog()["planted-toy-3"]
    toy = load_preset("toy")
    problem = MappingProblem(decompose(entry.build(), toy, "none"), toy)
    result = make_solver("cpsat-joint").solve(problem, Budget(time_limit=30))
    assert result.status is Status.OPTIMAL and result.decomposition is None
    assert problem.key(result.metrics) == (entry.facts["optimum_crossbars"], entry.facts["optimum_hop_spikes"])


def test_root_above_the_fanin_limit_is_an_input_error() -> None:
    net = net_of([list(range(7))], n_in=7)  # k=2: 4 leaves, but a root may sum at most F=2 partials
    with pytest.raises(InputError, match="two-level tree"):
        make_solver("cpsat-joint").solve(MappingProblem(decompose(net, SMALL, "chain:2"), SMALL), Budget(time_limit=5))


def test_cli_solve_joint_writes_the_chosen_decomposition(cli, tmp_path) -> None:
    path = tmp_path / "net.json"
    write_network(path, net_of([[2, 3, 4, 5], [1, 2, 5], [0, 1, 2, 4]], n_in=6))
    out = tmp_path / "out"
    args = ("--hw", "toy", "--crossbar", "4x4", "--fanin", "2", "--mesh", "auto", "--time-limit", "30")
    res = cli("solve", "--net", path, *args, "--joint", "--json", "--out", out)
    assert res.code == 0, res.stderr
    row = res.json()
    assert row["solver"] == "cpsat-joint" and row["decomposition"] == "unroll-exact:2"
    assert row["crossbars"] == 3 and row["bound"] == 3.0 and row["gap"] == 0.0 and row["status"] == "feasible"
    (mapping,) = out.glob("mapping-*.json")
    check = cli("validate", mapping, "--json")
    assert check.code == 0 and check.json()["valid"]
    assert check.json()["metrics"]["crossbars"] == 3
    bad = cli("solve", "--net", path, *args, "--joint", "--solver", "pulp-cbc")
    assert bad.code == 2
