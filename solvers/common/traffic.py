"""Tile placement (sigma of docs/model.md) driven by inter-crossbar traffic; no solver registered here.

:class:`TrafficGraph` condenses a crossbar assignment into a weighted crossbar graph:
``spikes(a -> b)`` sums, over the distinct (source, destination crossbar) deliveries of the
validator (:mod:`mapopt.evaluation`), the spikes of sources hosted on crossbar ``a`` (or
on the I/O tile, node ``n_cb``, for inputs) delivered to crossbar ``b``. hop_spikes of a
placement is then ``sum w * hops`` over its edges, computed with numpy in
:meth:`TrafficGraph.hop_spikes` (used by ``pso`` and ``anneal`` to compare placements; the
reported number is always the validator's).

:func:`place_traffic` is a traffic-greedy constructive placement in the spirit of the
cluster placement of SpiNeMap (Balaji et al., TVLSI 2020) and SNEAP (Li et al. 2020):
crossbars are taken in order of their traffic to already-placed ones (a max-heap), and each
goes to the free tile slot that minimises its traffic-weighted hop distance to them.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from mapopt.decompose.base import Decomposition
from mapopt.hardware import Hardware
from mapopt.mapping import Mapping
from mapopt.problem import MappingProblem
from mapopt.solver import SolveContext
from solvers.common.arrays import unique_sorted

#: Above this many tiles, candidate slots are searched in rings around the neighbours'
#: weighted median instead of over the whole mesh.
FULL_SCAN_TILES = 1024
#: At most this many heaviest placed neighbours steer the choice of a slot.
MAX_NEIGHBOURS = 32


@dataclass(frozen=True)
class TrafficGraph:
    """Crossbar-level traffic: edge arrays ``src``/``dst`` (node ``n_cb`` is the I/O tile), spikes ``w``."""

    n_cb: int
    src: np.ndarray
    dst: np.ndarray
    w: np.ndarray

    @classmethod
    def build(cls, dec: Decomposition, unit_crossbar: np.ndarray) -> TrafficGraph:
        net = dec.network
        n_cb = int(unit_crossbar.max()) + 1 if unit_crossbar.size and unit_crossbar.max() >= 0 else 0
        ncb = max(n_cb, 1)
        key = unique_sorted(net.pre * ncb + unit_crossbar[net.post])
        source, dest = key // ncb, key % ncb
        src_cb = unit_crossbar[source]
        src_cb = np.where(src_cb >= 0, src_cb, n_cb)
        pair = src_cb * (n_cb + 1) + dest
        pairs, inverse = np.unique(pair, return_inverse=True)
        w = np.bincount(inverse, weights=net.spikes[source], minlength=pairs.size)
        return cls(n_cb, pairs // (n_cb + 1), pairs % (n_cb + 1), w)

    def hop_spikes(self, hw: Hardware, crossbar_tile: np.ndarray) -> float:
        """Sum of spikes x hops for a placement (``crossbar_tile`` over crossbars 0..n_cb-1)."""
        tiles = np.append(crossbar_tile[: self.n_cb], hw.io_tile_id)
        return float((self.w * hw.hops(tiles[self.src], tiles[self.dst])).sum())

    def symmetric(self) -> sp.csr_matrix:
        """Undirected weights (hops are symmetric) over n_cb + 1 nodes, self-traffic dropped."""
        n = self.n_cb + 1
        off = self.src != self.dst
        m = sp.coo_matrix((self.w[off], (self.src[off], self.dst[off])), shape=(n, n)).tocsr()
        return (m + m.T).tocsr()


def place_traffic(problem: MappingProblem, unit_crossbar: np.ndarray, ctx: SolveContext | None = None) -> Mapping:
    """Traffic-greedy placement of the crossbars of ``unit_crossbar`` onto tiles.

    If ``ctx``'s deadline passes, the remaining crossbars fill the remaining slots in order
    (still a valid placement).
    """
    n_cb = int(unit_crossbar.max()) + 1 if (unit_crossbar >= 0).any() else 0
    hw = problem.hardware_for(n_cb)
    graph = TrafficGraph.build(problem.decomposition, unit_crossbar)
    adj = graph.symmetric()
    w_mesh, h_mesh = hw.mesh
    free = np.full(hw.n_tiles, hw.crossbars_per_tile, dtype=np.int64)
    tile_x, tile_y = hw.tile_xy(np.arange(hw.n_tiles))
    crossbar_tile = np.full(n_cb, -1, dtype=np.int64)
    node_tile = np.append(crossbar_tile, hw.io_tile_id)  # node n_cb is the I/O tile, always placed
    placed = np.zeros(n_cb + 1, dtype=bool)
    placed[n_cb] = True
    attraction = np.zeros(n_cb + 1)
    heap: list[tuple[float, int]] = []

    def attract(node: int) -> None:
        lo, hi = adj.indptr[node], adj.indptr[node + 1]
        for j, wj in zip(adj.indices[lo:hi].tolist(), adj.data[lo:hi].tolist(), strict=True):
            if not placed[j]:
                attraction[j] += wj
                heapq.heappush(heap, (-attraction[j], j))

    attract(n_cb)
    # crossbars nobody talks to come last, heaviest traffic first
    total = np.asarray(adj.sum(axis=1)).ravel()[:n_cb]
    fallback = iter(np.argsort(-total, kind="stable").tolist())
    for _ in range(n_cb):
        c = _next_crossbar(heap, attraction, placed, fallback)
        if ctx is not None and ctx.expired():
            rest = np.flatnonzero(~placed[:n_cb])
            slots = np.repeat(np.arange(hw.n_tiles), free)
            order = np.argsort(hw.hops(slots, np.full_like(slots, hw.io_tile_id)), kind="stable")
            crossbar_tile[rest] = slots[order][: rest.size]
            break
        lo, hi = adj.indptr[c], adj.indptr[c + 1]
        nbr, wts = adj.indices[lo:hi], adj.data[lo:hi]
        mask = placed[nbr]
        nbr, wts = nbr[mask], wts[mask]
        if nbr.size > MAX_NEIGHBOURS:
            top = np.argpartition(-wts, MAX_NEIGHBOURS)[:MAX_NEIGHBOURS]
            nbr, wts = nbr[top], wts[top]
        if nbr.size == 0:  # no placed neighbour: nearest free slot to the I/O tile
            nbr, wts = np.array([n_cb]), np.array([1.0])
        nbr_tile = node_tile[nbr]
        if hw.n_tiles <= FULL_SCAN_TILES:
            cand = np.flatnonzero(free > 0)
        else:
            nx, ny = tile_x[nbr_tile], tile_y[nbr_tile]
            cand = _ring_candidates(free, _weighted_median(nx, wts), _weighted_median(ny, wts), w_mesh, h_mesh)
        dist = hw.hops(cand[None, :], nbr_tile[:, None])
        cost = (wts[:, None] * dist).sum(0)
        t = int(cand[np.argmin(cost)])
        free[t] -= 1
        crossbar_tile[c] = t
        node_tile[c] = t
        placed[c] = True
        attract(c)
    return Mapping(unit_crossbar, crossbar_tile, hw.mesh)


def _next_crossbar(
    heap: list[tuple[float, int]], attraction: np.ndarray, placed: np.ndarray, fallback: Iterator[int]
) -> int:
    """The unplaced crossbar with the most traffic to placed ones (lazy-deletion max-heap)."""
    while heap:
        neg, c = heapq.heappop(heap)
        if not placed[c] and -neg == attraction[c]:
            return c
    for c in fallback:
        if not placed[c]:
            return c
    raise RuntimeError("no crossbar left to place")


def _weighted_median(values: np.ndarray, weights: np.ndarray) -> int:
    """The weighted median (minimises the weighted L1 distance in one dimension)."""
    order = np.argsort(values, kind="stable")
    cum = np.cumsum(weights[order])
    return int(values[order][np.searchsorted(cum, cum[-1] / 2)])


def _ring_candidates(free: np.ndarray, x0: int, y0: int, w: int, h: int) -> np.ndarray:
    """Free tiles on the nearest square ring around ``(x0, y0)`` that has any (and the ring after)."""
    found: list[np.ndarray] = []
    for r in range(max(w, h) + 1):
        xs = np.arange(x0 - r, x0 + r + 1)
        ring_x = np.concatenate((xs, xs, np.full(max(2 * r - 1, 0), x0 - r), np.full(max(2 * r - 1, 0), x0 + r)))
        ys = np.arange(y0 - r + 1, y0 + r)
        ring_y = np.concatenate((np.full(xs.size, y0 - r), np.full(xs.size, y0 + r), ys, ys))
        if r == 0:
            ring_x, ring_y = np.array([x0]), np.array([y0])
        ok = (ring_x >= 0) & (ring_x < w) & (ring_y >= 0) & (ring_y < h)
        tiles = ring_y[ok] * w + ring_x[ok]
        tiles = tiles[free[tiles] > 0]
        if tiles.size:
            found.append(tiles)
            if len(found) == 2:
                break
        elif found:
            break
    return np.unique(np.concatenate(found))
