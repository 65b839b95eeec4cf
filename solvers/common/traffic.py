"""Tile placement (sigma of docs/model.md) driven by inter-crossbar traffic; no solver registered here.

:class:`TrafficGraph` condenses a crossbar assignment into a weighted crossbar graph:
``spikes(a -> b)`` sums, over the distinct (source, destination crossbar) deliveries of the
validator (:mod:`mapopt.evaluation`), the spikes of sources hosted on crossbar ``a`` (or
on the I/O tile, node ``n_cb``, for inputs) delivered to crossbar ``b``. hop_spikes of a
placement is then ``sum w * hops`` over its edges, computed with numpy in
:meth:`TrafficGraph.hop_spikes` (used by ``pso``, ``anneal`` and ``auto`` to compare
placements; the reported number is always the validator's).

:func:`place_traffic` places crossbars by **traffic-greedy placement in waves**
(:func:`place_waves`), the constructive step of the min-cost placers of VLSI (e.g. the
cluster-growth placement of Hanan and Kurtzberg, 1972) batched so that no Python loop runs
over crossbars: each of :data:`WAVES` waves takes the unplaced crossbars with the most
traffic to placed ones and sends each to the free slot that minimises its traffic-weighted
hop distance to its placed neighbours (all free tiles on small meshes, the free tiles
nearest to its neighbours' weighted median and to its heaviest neighbours on large ones,
found by one taxicab distance transform of the free-slot map). Crossbars that claim the
same full tile are served by attraction; the others are scored again against the slots
left, then take the free slots nearest to their tile (a k-d tree query per wanted tile).
A wave costs O(its crossbars' edges + tiles), so the construction is O(E + WAVES x tiles).
:func:`refine_swaps` then improves the placement by rounds of independent pairwise moves
toward each crossbar's weighted-median position (global swap, as in the detailed placement
of FastPlace-DP, Pan, Viswanathan and Chu, ISPD 2005), each exactly scored, O(E) a round.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import scipy.sparse as sp
from scipy.ndimage import distance_transform_cdt
from scipy.spatial import cKDTree

from mapopt.decompose.base import Decomposition
from mapopt.evaluation import EnergyModel, deliveries, synaptic_event_count
from mapopt.hardware import Hardware
from mapopt.mapping import Mapping
from mapopt.network import concat_ranges
from mapopt.problem import MappingProblem
from mapopt.solver import SolveContext

#: Placement waves: each places up to ceil(crossbars / WAVES) crossbars at once...
WAVES = 256
#: ...and gives the ones that lost their tile to another this many tries in all.
RETRIES = 4
#: From this try on, the crossbars that lost their tile take the free slots nearest to it.
SPREAD_FROM = 2
#: On meshes of up to this many tiles a crossbar's slot is the best of all free tiles.
FULL_SCAN_TILES = 1024
#: At most this many heaviest placed neighbours steer the choice of a slot...
MAX_NEIGHBOURS = 32
#: ...and, on large meshes, this many of them propose a free tile near them.
CANDIDATE_NEIGHBOURS = 32
#: At most this many rounds of swap refinement after the construction...
SWAP_ROUNDS = 32
#: ...stopping at the first round that gains less than this share of hop_spikes.
MIN_ROUND_GAIN = 1e-3


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
        source, dest = deliveries(net, unit_crossbar, n_cb)
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

    def objective(self, problem: MappingProblem, mapping: Mapping) -> tuple[float, ...]:
        """The problem's objective key of ``mapping`` (whose assignment this graph is of), without validating it.

        What ``auto`` ranks its candidates by: crossbars, deliveries, intercrossbar spikes and
        hop_spikes from the edges, energy from :class:`mapopt.evaluation.EnergyModel`. The one
        mapping kept is then validated and re-scored by the solver template.
        """
        hw = replace(problem.hardware, mesh=mapping.mesh)
        net = problem.decomposition.network
        deliveries = float(self.w.sum())
        hop_spikes = self.hop_spikes(hw, mapping.crossbar_tile)
        placed = mapping.unit_crossbar[mapping.unit_crossbar >= 0]
        crossbars = int(np.count_nonzero(np.bincount(placed))) if placed.size else 0
        energy = EnergyModel.of(hw, net.timesteps).total(
            crossbars, synaptic_event_count(net), deliveries, hop_spikes
        )
        metrics = {
            "crossbars": crossbars,
            "deliveries": deliveries,
            "intercrossbar_spikes": float(self.w[self.src != self.dst].sum()),
            "hop_spikes": hop_spikes,
            "energy_total_j": energy,
        }
        return problem.key(metrics)

    def symmetric(self) -> sp.csr_matrix:
        """Undirected weights (hops are symmetric) over n_cb + 1 nodes, self-traffic dropped."""
        n = self.n_cb + 1
        off = self.src != self.dst
        m = sp.coo_matrix((self.w[off], (self.src[off], self.dst[off])), shape=(n, n)).tocsr()
        return (m + m.T).tocsr()


def place_traffic(
    problem: MappingProblem,
    unit_crossbar: np.ndarray,
    ctx: SolveContext | None = None,
    *,
    graph: TrafficGraph | None = None,
) -> Mapping:
    """Traffic-aware placement of the crossbars of ``unit_crossbar`` onto tiles (see the module docstring).

    If ``ctx``'s deadline passes, the remaining levels split regions without refinement
    sweeps and no swap round is run (still a valid placement, found in a fraction of a second).
    """
    n_cb = int(unit_crossbar.max()) + 1 if (unit_crossbar >= 0).any() else 0
    hw = problem.hardware_for(n_cb)
    graph = graph if graph is not None else TrafficGraph.build(problem.decomposition, unit_crossbar)
    expired = ctx.expired if ctx is not None else (lambda: False)
    tiles = place_waves(graph, hw, expired=expired)
    if not expired():
        tiles = refine_swaps(graph, hw, tiles)
    return Mapping(unit_crossbar, tiles, hw.mesh)


def place_waves(graph: TrafficGraph, hw: Hardware, *, waves: int = WAVES, expired=lambda: False) -> np.ndarray:
    """Tile of every crossbar by traffic-greedy placement in batches (``hw.mesh`` resolved).

    Each wave takes the unplaced crossbars with the most traffic to placed ones (the I/O
    tile counts as placed), at most ``ceil(n / waves)`` of them, and sends each to the free
    slot that minimises its traffic-weighted hop distance to its (at most
    :data:`MAX_NEIGHBOURS` heaviest) placed neighbours: on meshes of up to
    :data:`FULL_SCAN_TILES` tiles the best of all free tiles (the cost is separable in x and
    y, so it is one small matrix per axis), on larger meshes the best of the free tiles
    nearest to the neighbours' weighted median and to each neighbour (one taxicab distance
    transform of the free-slot map per wave, :func:`scipy.ndimage.distance_transform_cdt`).
    Crossbars that ask for the same full tile are served by attraction; the others wait for
    the next wave. After the deadline every remaining crossbar goes to the free slot nearest
    the I/O tile, in one step.
    """
    n = graph.n_cb
    width, height = hw.mesh
    k = hw.crossbars_per_tile
    adj = graph.symmetric()
    adj.sum_duplicates()
    indptr, nbr, wts = adj.indptr, adj.indices.astype(np.int64), adj.data
    free = np.full(hw.n_tiles, k, dtype=np.int64)
    node_tile = np.full(n + 1, -1, dtype=np.int64)
    node_tile[n] = hw.io_tile_id
    placed = np.zeros(n + 1, dtype=bool)
    placed[n] = True
    attraction = np.zeros(n + 1)
    _attract(attraction, np.array([n]), indptr, nbr, wts)
    total = np.bincount(np.repeat(np.arange(n + 1), np.diff(indptr)), weights=wts, minlength=n + 1)
    batch = max(1, -(-n // max(1, waves)))
    tile_x, tile_y = hw.tile_xy(np.arange(hw.n_tiles))
    while not placed.all():
        waiting = np.flatnonzero(~placed)
        if expired():
            slots = np.repeat(np.arange(hw.n_tiles), free)
            near = slots[np.argsort(hw.hops(slots, np.full_like(slots, hw.io_tile_id)), kind="stable")]
            node_tile[waiting] = near[: waiting.size]
            break
        # the next wave: most attraction first, then (without attraction) most traffic, then id
        att = attraction[waiting]
        if waiting.size > 4 * batch:  # a linear-time preselection: every crossbar that can be among the first
            score = np.where(att > 0, att, -1.0 / (1.0 + total[waiting]))  # the same order as the keys below
            keep = score >= np.partition(score, waiting.size - batch)[waiting.size - batch]
            waiting, att = waiting[keep], att[keep]
        take = waiting[np.lexsort((waiting, np.where(att > 0, 0.0, -total[waiting]), -att))[:batch]]
        for attempt in range(RETRIES):  # crossbars that lost their tile retry in the same wave, against the slots left
            member, nx, ny, nw = _placed_neighbours(take, placed, node_tile, indptr, nbr, wts, hw)
            if hw.n_tiles <= FULL_SCAN_TILES:
                best = _best_free_tile_scan(take.size, member, nx, ny, nw, free, tile_x, tile_y, width, height)
            else:
                best = _best_free_tile_near(take.size, member, nx, ny, nw, free, hw)
            lost = _serve(take, best, free, attraction, node_tile, placed, indptr, nbr, wts)
            if lost.size and attempt >= SPREAD_FROM:  # the losers take their tile's nearest free slots, by attraction
                lost = lost[np.lexsort((take[lost], -attraction[take[lost]]))]
                near = _nearest_slots(best[lost], free, hw)
                has = near >= 0
                _serve(take[lost[has]], near[has], free, attraction, node_tile, placed, indptr, nbr, wts)
            take = take[~placed[take]]
            if take.size == 0:
                break
    return node_tile[:n]


def _serve(
    take: np.ndarray, tile: np.ndarray, free: np.ndarray, attraction: np.ndarray, node_tile: np.ndarray,
    placed: np.ndarray, indptr: np.ndarray, nbr: np.ndarray, wts: np.ndarray,
) -> np.ndarray:
    """Place ``take[i]`` on ``tile[i]`` where capacity allows (claimants of a tile served by attraction).

    Returns the positions (into ``take``) of the claimants left without a slot.
    """
    order = np.lexsort((take, -attraction[take], tile))
    first = np.searchsorted(tile[order], tile[order])
    won = (np.arange(order.size) - first) < free[tile[order]]
    served, lost = order[won], order[~won]
    node_tile[take[served]] = tile[served]
    placed[take[served]] = True
    np.subtract.at(free, tile[served], 1)
    _attract(attraction, take[served], indptr, nbr, wts)
    return lost


def _nearest_slots(target: np.ndarray, free: np.ndarray, hw: Hardware) -> np.ndarray:
    """Distinct free slots near each ``target`` tile, for claimants listed in priority order; -1: none left.

    The claimants of one target take its nearest free slots in their order (a k-d tree over
    the tiles with a free slot, taxicab metric, one query per target for as many tiles as it
    has claimants), so a wave whose crossbars all want one tile (every crossbar of a
    one-layer convolution reads the I/O tile only) is placed at once instead of one tile per
    try. Claimants of different targets can still meet on a slot: the caller serves them
    again by capacity.
    """
    out = np.full(target.size, -1, dtype=np.int64)
    open_tiles = np.flatnonzero(free > 0)
    if open_tiles.size == 0 or target.size == 0:
        return out
    ox, oy = hw.tile_xy(open_tiles)
    tree = cKDTree(np.column_stack((ox, oy)))
    groups, inverse = np.unique(target, return_inverse=True)
    by_group = np.argsort(inverse, kind="stable")  # priority order within each target
    start = np.searchsorted(inverse[by_group], np.arange(groups.size))
    position = np.empty(target.size, dtype=np.int64)
    position[by_group] = np.arange(target.size) - start[inverse[by_group]]
    size = np.bincount(inverse, minlength=groups.size)
    k_of = np.minimum(1 << np.ceil(np.log2(size)).astype(np.int64), open_tiles.size)
    gx, gy = hw.tile_xy(groups)
    row = np.empty(groups.size, dtype=np.int64)
    for k in np.unique(k_of):  # groups bucketed by the power of two above their size: few queries
        sel = np.flatnonzero(k_of == k)
        row[sel] = np.arange(sel.size)
        _, idx = tree.query(np.column_stack((gx[sel], gy[sel])), k=int(k), p=1)
        idx = np.asarray(idx).reshape(sel.size, int(k))
        slots = np.cumsum(free[open_tiles[idx]], axis=1)  # slots held by each target's k nearest tiles
        claim = np.flatnonzero(k_of[inverse] == k)
        r, p = row[inverse[claim]], position[claim]
        j = (slots[r] <= p[:, None]).sum(axis=1)  # the tile holding the p-th nearest slot
        ok = j < k
        out[claim[ok]] = open_tiles[idx[r[ok], j[ok]]]
    return out


def _attract(attraction: np.ndarray, nodes: np.ndarray, indptr: np.ndarray, nbr: np.ndarray, wts: np.ndarray) -> None:
    """Add the traffic of the newly placed ``nodes`` to their neighbours' attraction."""
    lo, cnt = indptr[nodes], indptr[nodes + 1] - indptr[nodes]
    edges = concat_ranges(lo, cnt)
    np.add.at(attraction, nbr[edges], wts[edges])


def _placed_neighbours(
    take: np.ndarray, placed: np.ndarray, node_tile: np.ndarray, indptr: np.ndarray, nbr: np.ndarray,
    wts: np.ndarray, hw: Hardware,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """For the crossbars ``take``: their heaviest placed neighbours as flat (member, x, y, weight) arrays.

    At most :data:`MAX_NEIGHBOURS` per member, grouped by member, heaviest first; a member
    with none gets the I/O tile, weight 1.
    """
    lo, cnt = indptr[take], indptr[take + 1] - indptr[take]
    member = np.repeat(np.arange(take.size), cnt)
    edges = concat_ranges(lo, cnt)
    keep = placed[nbr[edges]]
    member, edges = member[keep], edges[keep]
    order = np.lexsort((-wts[edges], member))
    member, edges = member[order], edges[order]
    rank = np.arange(member.size) - np.searchsorted(member, member)
    top = rank < MAX_NEIGHBOURS
    member, edges = member[top], edges[top]
    alone = np.setdiff1d(np.arange(take.size), member)
    x, y = hw.tile_xy(node_tile[nbr[edges]])
    io_x, io_y = hw.io_tile
    member = np.concatenate((member, alone))
    x = np.concatenate((x, np.full(alone.size, io_x)))
    y = np.concatenate((y, np.full(alone.size, io_y)))
    w = np.concatenate((wts[edges], np.ones(alone.size)))
    grouped = np.argsort(member, kind="stable")  # by member, each member's neighbours heaviest first
    return member[grouped], x[grouped], y[grouped], w[grouped]


def _axis_cost(members: int, member: np.ndarray, coord: np.ndarray, w: np.ndarray, size: int) -> np.ndarray:
    """``[members, size]``: sum of w * |c - coord| over each member's neighbours, for every c in 0..size-1."""
    cost = np.zeros((members, size))
    np.add.at(cost, member, w[:, None] * np.abs(np.arange(size)[None, :] - coord[:, None]))
    return cost


def _best_free_tile_scan(
    members: int, member: np.ndarray, nx: np.ndarray, ny: np.ndarray, nw: np.ndarray, free: np.ndarray,
    tile_x: np.ndarray, tile_y: np.ndarray, width: int, height: int,
) -> np.ndarray:
    """The best free tile of each member, over all free tiles (small meshes)."""
    fx = _axis_cost(members, member, nx, nw, width)
    fy = _axis_cost(members, member, ny, nw, height)
    open_tiles = np.flatnonzero(free > 0)
    cost = fx[:, tile_x[open_tiles]] + fy[:, tile_y[open_tiles]]
    return open_tiles[np.argmin(cost, axis=1)]


def _best_free_tile_near(
    members: int, member: np.ndarray, nx: np.ndarray, ny: np.ndarray, nw: np.ndarray, free: np.ndarray,
    hw: Hardware,
) -> np.ndarray:
    """The best of the free tiles nearest to each member's weighted median and to its heaviest neighbours.

    ``member`` is grouped by member with each member's neighbours heaviest first (as
    :func:`_placed_neighbours` returns them); the :data:`CANDIDATE_NEIGHBOURS` heaviest
    propose a tile each, and repeated proposals are scored once.
    """
    width, height = hw.mesh
    full = (free == 0).reshape(height, width).astype(np.int8)
    _, (near_y, near_x) = distance_transform_cdt(full, metric="taxicab", return_indices=True)
    mx = _weighted_median(member, nx, nw, members)
    my = _weighted_median(member, ny, nw, members)
    # candidate tiles: (member, tile) pairs, each once
    rank = np.arange(member.size) - np.searchsorted(member, member)
    heavy = rank < CANDIDATE_NEIGHBOURS
    cand_member = np.concatenate((np.arange(members), member[heavy]))
    cx = np.concatenate((near_x[my, mx], near_x[ny[heavy], nx[heavy]]))
    cy = np.concatenate((near_y[my, mx], near_y[ny[heavy], nx[heavy]]))
    _, once = np.unique(cand_member * hw.n_tiles + cy * width + cx, return_index=True)
    cand_member, cx, cy = cand_member[once], cx[once], cy[once]
    # cost of every candidate: its member's neighbours, expanded
    by_member = np.argsort(member, kind="stable")
    starts = np.searchsorted(member[by_member], np.arange(members + 1))
    cnt = np.diff(starts)[cand_member]
    owner = np.repeat(np.arange(cand_member.size), cnt)
    e = by_member[concat_ranges(starts[cand_member], cnt)]
    d = np.abs(cx[owner] - nx[e]) + np.abs(cy[owner] - ny[e])
    cost = np.bincount(owner, weights=nw[e] * d, minlength=cand_member.size)
    order = np.lexsort((cost, cand_member))
    first = order[np.searchsorted(cand_member[order], np.arange(members))]
    return cy[first] * width + cx[first]


def _weighted_median(group: np.ndarray, values: np.ndarray, weights: np.ndarray, groups: int) -> np.ndarray:
    """Per group 0..groups-1 (each non-empty), the weighted median of its ``values`` (the lower one on ties)."""
    order = np.lexsort((values, group))
    g, v, wt = group[order], values[order], weights[order]
    cum = np.cumsum(wt)
    starts = np.searchsorted(g, np.arange(groups))
    ends = np.searchsorted(g, np.arange(groups), side="right")
    base = np.where(starts > 0, cum[np.maximum(starts - 1, 0)], 0.0)
    half = base + (cum[ends - 1] - base) / 2
    pos = np.searchsorted(cum, half, side="left")
    return v[np.clip(pos, starts, ends - 1)]


def refine_swaps(graph: TrafficGraph, hw: Hardware, tiles: np.ndarray, *, rounds: int = SWAP_ROUNDS) -> np.ndarray:
    """Improve a placement by rounds of exactly scored, mutually independent moves and swaps.

    Each crossbar proposes its weighted-median tile (the tile minimising its own hop cost
    with every other crossbar fixed): a move if that tile has a free slot, else a swap with
    each crossbar of that tile. Proposals are scored exactly (the pair's own edge included),
    and a round applies the improving ones that share no tile and no traffic edge with a
    better one (Luby's rule on unique ranks), so their gains add up exactly.
    """
    n = graph.n_cb
    if n < 2:
        return tiles
    width, _ = hw.mesh
    k = hw.crossbars_per_tile
    adj = graph.symmetric()
    adj.sum_duplicates()
    indptr, nbr, wts = adj.indptr, adj.indices.astype(np.int64), adj.data
    deg = np.diff(indptr)
    edge_src = np.repeat(np.arange(n + 1), deg)
    edge_key = edge_src * (n + 1) + nbr  # sorted: CSR rows in order, indices sorted within rows
    tiles = np.asarray(tiles, dtype=np.int64).copy()
    node_tile = np.append(tiles, hw.io_tile_id)
    before = graph.hop_spikes(hw, tiles)
    for _ in range(rounds):
        x, y = hw.tile_xy(node_tile)
        # each crossbar's weighted-median tile
        mx = _weighted_median_rows(x[nbr], wts, indptr, x)[:n]
        my = _weighted_median_rows(y[nbr], wts, indptr, y)[:n]
        target = my * width + mx
        movers = np.flatnonzero(target != tiles)
        if movers.size == 0:
            break
        # occupants of every tile, K slots each (-1: free)
        occupant = np.full((hw.n_tiles, k), -1, dtype=np.int64)
        by_tile = np.argsort(tiles, kind="stable")
        slot = np.arange(n) - np.searchsorted(tiles[by_tile], tiles[by_tile])
        occupant[tiles[by_tile], slot] = by_tile
        cand = occupant[target[movers]]  # [movers, K]: partner j or -1 for a free slot
        i = np.repeat(movers, k)
        j = cand.ravel()
        free = j < 0
        # a free slot is one move proposal per mover (the first free one)
        first_free = free & (np.arange(free.size) % k == np.argmax(cand < 0, axis=1).repeat(k))
        keep = ~free | first_free
        i, j = i[keep], j[keep]
        t_i, t_to = tiles[i], target[i]
        gain = _cost(i, t_i, node_tile, indptr, nbr, wts, hw) - _cost(i, t_to, node_tile, indptr, nbr, wts, hw)
        swap = j >= 0
        js = j[swap]
        gain[swap] += _cost(js, t_to[swap], node_tile, indptr, nbr, wts, hw) - _cost(
            js, t_i[swap], node_tile, indptr, nbr, wts, hw
        )
        # the pair's own edge keeps its length under a swap; the sums above counted it as removed twice
        w_ij = _lookup(edge_key, wts, i[swap] * (n + 1) + js)
        gain[swap] -= 2 * w_ij * hw.hops(t_i[swap], t_to[swap])
        good = gain > 1e-9 * max(1.0, float(np.abs(gain).max()))
        if not good.any():
            break
        i, j, t_i, t_to, gain = i[good], j[good], t_i[good], t_to[good], gain[good]
        rank = np.empty(gain.size, dtype=np.int64)
        rank[np.lexsort((np.arange(gain.size), gain))] = np.arange(gain.size)
        # Luby's rule: keep a proposal iff it has the top rank on its tiles and around its crossbars
        touch = np.full(n + 1, -1, dtype=np.int64)
        np.maximum.at(touch, i, rank)
        np.maximum.at(touch, np.where(j >= 0, j, n), np.where(j >= 0, rank, -1))
        touch[n] = -1  # the I/O node never moves
        around = touch.copy()
        has = deg > 0
        around[has] = np.maximum(touch[has], np.maximum.reduceat(touch[nbr], indptr[:-1][has]))
        tile_top = np.full(hw.n_tiles, -1, dtype=np.int64)
        np.maximum.at(tile_top, t_i, rank)
        np.maximum.at(tile_top, t_to, rank)
        win = (around[i] == rank) & (tile_top[t_i] == rank) & (tile_top[t_to] == rank)
        win &= np.where(j >= 0, around[np.maximum(j, 0)] == rank, True)
        i, j, t_i, t_to = i[win], j[win], t_i[win], t_to[win]
        gained = float(gain[win].sum())
        tiles[i] = t_to
        tiles[j[j >= 0]] = t_i[j >= 0]
        node_tile[:n] = tiles
        if gained < MIN_ROUND_GAIN * before:
            break
        before -= gained
    return tiles


def _weighted_median_rows(values: np.ndarray, weights: np.ndarray, indptr: np.ndarray, own: np.ndarray) -> np.ndarray:
    """Per CSR row, the weighted median of the small non-negative ints ``values`` (empty rows keep ``own``)."""
    rows = indptr.size - 1
    row = np.repeat(np.arange(rows, dtype=np.int64), np.diff(indptr))
    span = int(values.max()) + 1 if values.size else 1
    order = np.argsort(row * span + values)  # one int64 key: a plain sort, no lexsort
    v, cum = values[order], np.cumsum(weights[order])
    padded = np.concatenate(([0.0], cum))
    before, after = padded[indptr[:-1]], padded[indptr[1:]]
    # the first entry of the row whose cumulative weight reaches half the row's weight
    pos = np.searchsorted(cum, before + (after - before) / 2, side="left")
    out = own.copy()
    has = indptr[1:] > indptr[:-1]
    out[has] = v[np.clip(pos[has], indptr[:-1][has], indptr[1:][has] - 1)]
    return out


def _cost(
    nodes: np.ndarray, at: np.ndarray, node_tile: np.ndarray, indptr: np.ndarray, nbr: np.ndarray, wts: np.ndarray,
    hw: Hardware,
) -> np.ndarray:
    """Hop cost of each ``nodes[q]`` if it sat on tile ``at[q]``, every neighbour where it is."""
    lo, cnt = indptr[nodes], indptr[nodes + 1] - indptr[nodes]
    owner = np.repeat(np.arange(nodes.size), cnt)
    edges = concat_ranges(lo, cnt)
    d = hw.hops(at[owner], node_tile[nbr[edges]])
    return np.bincount(owner, weights=wts[edges] * d, minlength=nodes.size)


def _lookup(keys: np.ndarray, values: np.ndarray, query: np.ndarray) -> np.ndarray:
    """``values`` at the positions of ``query`` in the sorted ``keys`` (0 where absent)."""
    pos = np.minimum(np.searchsorted(keys, query), max(keys.size - 1, 0))
    found = keys[pos] == query if keys.size else np.zeros(query.size, dtype=bool)
    return np.where(found, values[pos] if keys.size else 0.0, 0.0)
