"""``partition``: multilevel graph partitioning (METIS, via pymetis) into crossbar-sized parts.

As in SNEAP (Li et al. 2020) and the partitioning stage of SpiNeMap (Balaji et al., TVLSI
2020), the decomposed network N' is partitioned with METIS (Karypis & Kumar 1998). The
graph is N' itself, undirected: input neurons are vertices of weight 0 and every compute
unit weighs 1, so a part's weight is its column count, and an edge cut is a source read
in two parts, i.e. a row and a delivery paid twice. Minimising the cut therefore groups
units that share sources (the source-sharing structure) without building the quadratic
clique expansion of it. Parts are sized for ``fill`` x C columns; METIS balances
columns but knows nothing of rows, so the parts are then *repaired*: units are packed
part by part with :func:`solvers.common.packing.pack_affinity`, which splits any part that
would exceed R rows or C columns, and under-filled crossbars are merged. Placement is traffic-greedy.
"""

from __future__ import annotations

import math

import numpy as np
import pymetis
import scipy.sparse as sp

from mapopt.decompose.base import Decomposition
from mapopt.problem import MappingProblem
from mapopt.solver import SolveContext
from mapopt.space import Float, Int, SearchSpace
from solvers.common.packing import affinity_order, merge_crossbars, pack_affinity
from solvers.common.two_step import PackThenPlace


def metis_parts(dec: Decomposition, n_parts: int, *, traffic_weight: float, imbalance: float, seed: int) -> np.ndarray:
    """METIS part of every neuron of N' (inputs included, weight 0)."""
    net = dec.network
    n = net.n_neurons
    off = net.pre != net.post
    pre, post = net.pre[off], net.post[off]
    # edge weight 1 (a row) plus, optionally, the source's spikes scaled to the mean (traffic)
    spikes = net.spikes[pre]
    mean = float(spikes.mean()) if spikes.size else 0.0
    w = 1 + np.rint(traffic_weight * spikes / mean).astype(np.int64) if mean > 0 else np.ones(pre.size, np.int64)
    adj = sp.coo_matrix((w, (pre, post)), shape=(n, n)).tocsr()
    adj = (adj + adj.T).tocsr()
    adj.sort_indices()
    if n_parts <= 1 or adj.nnz == 0:
        return np.zeros(n, dtype=np.int64)
    options = pymetis.Options(seed=seed, ufactor=max(1, int(imbalance * 1000)))
    _, parts = pymetis.part_graph(
        n_parts,
        pymetis.CSRAdjacency(adj.indptr.astype(np.int64), adj.indices.astype(np.int64)),
        vweights=dec.compute.astype(np.int64),
        eweights=adj.data.astype(np.int64),
        options=options,
    )
    return np.asarray(parts, dtype=np.int64)


class Partition(PackThenPlace):
    """METIS partitioning of N' into crossbar-sized parts, repaired by affinity packing."""

    name = "partition"
    description = "METIS (pymetis) multilevel partitioning of the source-sharing graph, repaired to rows/columns"
    stopped_packing = "time limit reached while partitioning"

    space = SearchSpace(
        Float("fill", 0.5, 1.0),
        Float("traffic_weight", 0.0, 4.0),
        Float("imbalance", 0.01, 0.3, log=True),
        Int("pool", 16, 2048, log=True),
    )

    def __init__(self, *, fill: float = 0.9, traffic_weight: float = 0.0, imbalance: float = 0.03, pool: int = 256):
        self.fill = fill
        self.traffic_weight = traffic_weight
        self.imbalance = imbalance
        self.pool = pool

    def assign(self, problem: MappingProblem, ctx: SolveContext) -> np.ndarray | None:
        """The crossbar of every unit (None if the deadline passed)."""
        if not 0.0 < self.fill <= 1.0 or self.traffic_weight < 0 or self.imbalance <= 0 or self.pool < 1:
            raise ValueError(
                f"need 0 < fill <= 1, traffic_weight >= 0, imbalance > 0, pool >= 1; got {self.get_params()}"
            )
        dec, hw = problem.decomposition, problem.hardware
        n_parts = self.n_parts(problem)
        seed = int(ctx.rng.integers(2**31 - 1))
        parts = metis_parts(dec, n_parts, traffic_weight=self.traffic_weight, imbalance=self.imbalance, seed=seed)
        if ctx.expired():
            return None
        units = affinity_order(dec)
        order = units[np.argsort(parts[units], kind="stable")]
        unit_crossbar = pack_affinity(dec, hw, order, ctx, pool=self.pool)
        return None if unit_crossbar is None else merge_crossbars(dec, hw, unit_crossbar)

    def run_info(self, problem: MappingProblem) -> dict[str, int]:
        """The number of METIS parts."""
        return {"parts": self.n_parts(problem)}

    def n_parts(self, problem: MappingProblem) -> int:
        """METIS parts: one per ``fill`` x C columns of units."""
        return math.ceil(problem.decomposition.n_units / max(1, int(problem.hardware.columns * self.fill)))
