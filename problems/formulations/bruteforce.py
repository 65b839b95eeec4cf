"""Brute force for the tiniest mapping problems: the ground truth the exact solvers are tested against.

Every set partition of the units into crossbars (restricted growth strings, pruned as soon
as a crossbar breaks ``columns`` or ``rows``) and every placement of those crossbars on the
tiles of the mesh (``MappingProblem.hardware_for``: with an 'auto' mesh, the smallest square
that holds them, as the exact models use) is scored by the validator,
:func:`mapopt.evaluation.assess`, and the best objective key wins. Nothing here shares code
with the models it checks. Lexicographic objectives only place the partitions with the
fewest crossbars (no other can win on the first key); ``energy`` places every partition.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from mapopt.errors import InputError
from mapopt.evaluation import assess
from mapopt.mapping import Mapping
from mapopt.problem import OBJECTIVES, MappingProblem

#: Refuse instances with more units than this (the number of partitions grows as the Bell numbers).
MAX_UNITS = 8


@dataclass(frozen=True)
class BruteForceResult:
    key: tuple[float, ...]
    mapping: Mapping
    partitions: int
    mappings_scored: int


def brute_force(problem: MappingProblem) -> BruteForceResult | None:
    """The optimal objective key of ``problem`` by enumeration, or None when nothing is feasible."""
    dec, hw = problem.decomposition, problem.hardware
    net = dec.network
    units = np.flatnonzero(dec.compute)
    if len(units) > MAX_UNITS:
        raise ValueError(f"brute force handles at most {MAX_UNITS} units, got {len(units)}")
    sources = [set(net.pre[net.in_ptr[u] : net.in_ptr[u + 1]].tolist()) for u in units]
    partitions = list(_partitions(sources, hw.rows, hw.columns))
    if not partitions:
        return None
    if len(OBJECTIVES[problem.objective]) > 1:
        fewest = min(max(p) + 1 for p in partitions)
        partitions = [p for p in partitions if max(p) + 1 == fewest]
    best: tuple[tuple[float, ...], Mapping] | None = None
    scored = 0
    for labels in partitions:
        n_cb = max(labels) + 1
        try:
            hw_c = problem.hardware_for(n_cb)
        except InputError:  # tile-capacity: this many crossbars do not fit the mesh
            continue
        unit_crossbar = np.full(net.n_neurons, -1, dtype=np.int64)
        unit_crossbar[units] = labels
        for tiles in itertools.product(range(hw_c.n_tiles), repeat=n_cb):
            if max(np.bincount(tiles)) > hw_c.crossbars_per_tile:
                continue
            mapping = Mapping(unit_crossbar, np.array(tiles, dtype=np.int64), hw_c.mesh)
            verdict = assess(dec, hw, mapping)
            scored += 1
            if not verdict.valid:
                continue
            key = problem.key(verdict.metrics)
            if best is None or key < best[0]:
                best = (key, mapping)
    if best is None:
        return None
    return BruteForceResult(best[0], best[1], len(partitions), scored)


def _partitions(sources: list[set[int]], rows: int, columns: int):
    """Crossbar labels per unit for every partition whose crossbars respect columns and rows."""
    n = len(sources)
    labels = [0] * n
    rows_of: list[set[int]] = []
    cols_of: list[int] = []

    def extend(i: int):
        if i == n:
            yield tuple(labels)
            return
        for c in range(len(rows_of) + 1):
            if c == len(rows_of):
                rows_of.append(set())
                cols_of.append(0)
            merged = rows_of[c] | sources[i]
            if cols_of[c] < columns and len(merged) <= rows:
                saved = rows_of[c]
                rows_of[c], labels[i] = merged, c
                cols_of[c] += 1
                yield from extend(i + 1)
                cols_of[c] -= 1
                rows_of[c] = saved
            if c == len(rows_of) - 1 and not rows_of[c] and cols_of[c] == 0:
                rows_of.pop()
                cols_of.pop()

    yield from extend(0)
