"""Tile placement (docs/model.md, section 6, problem 3): crossbars -> tiles minimising hop_spikes.

With the crossbar assignment fixed, the spikes between crossbars are fixed flows
``f[a, b]`` (one delivery per source and destination crossbar, as the validator counts
them) plus flows ``f_io[b]`` from the I/O tile, and

    hop_spikes = sum_ab f[a, b] * hops(tile a, tile b) + sum_b f_io[b] * hops(io, tile b),

a quadratic assignment problem with ``tile-capacity`` (at most K crossbars per tile).
The usual QAP linearisation (one variable per pair of assignments) is not needed: the
distance is Manhattan, so with ``z[a, t]`` (crossbar a on tile t) the coordinates
``X_a = sum_t x(t) z[a, t]`` are linear and ``hops = |X_a - X_b| + |Y_a - Y_b|`` takes
one bounded integer per axis and flow pair (``Builder.abs_ge``: two rows in a MILP,
CP-SAT's native ``AddAbsEquality``, whose propagation is stronger).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from mapopt.evaluation import deliveries
from mapopt.hardware import Hardware
from mapopt.problem import MappingProblem
from problems.formulations.assignment import CHECK_EVERY, Builder, BuildInterrupted, transpose_symmetric


@dataclass(frozen=True, eq=False)
class PlacementData:
    """Crossbar-to-crossbar flows of a fixed assignment (crossbars numbered 0..c-1)."""

    n_crossbars: int
    flow_src: np.ndarray
    flow_dst: np.ndarray
    flow: np.ndarray
    io_flow: np.ndarray
    hardware: Hardware

    @classmethod
    def from_assignment(cls, problem: MappingProblem, unit_crossbar: np.ndarray, hw: Hardware) -> PlacementData:
        """Flows of ``unit_crossbar`` (over N', dense ids) on ``hw`` (mesh resolved)."""
        net = problem.decomposition.network
        n_cb = int(unit_crossbar.max()) + 1
        src, dst = deliveries(net, unit_crossbar, n_cb)
        spikes = net.spikes[src]
        src_cb = unit_crossbar[src]
        io_flow = np.bincount(dst[src_cb < 0], weights=spikes[src_cb < 0], minlength=n_cb)
        between = (src_cb >= 0) & (src_cb != dst) & (spikes > 0)
        pair = np.unique(src_cb[between] * n_cb + dst[between], return_inverse=True)
        flow = np.bincount(pair[1], weights=spikes[between]) if between.any() else np.zeros(0)
        return cls(n_cb, pair[0] // n_cb, pair[0] % n_cb, flow, io_flow, hw)


class PlacementModel:
    """Crossbars -> tiles with ``tile-capacity``, minimising hop_spikes exactly."""

    def __init__(
        self, b: Builder, data: PlacementData, *, symmetry: bool = True, expired: Callable[[], bool] = lambda: False
    ):
        self.b, self.data = b, data
        hw = data.hardware
        self.mirrored = symmetry and transpose_symmetric(hw)
        tiles = np.arange(hw.n_tiles)
        col, row = hw.tile_xy(tiles)
        io_hops = hw.hops(tiles, np.full_like(tiles, hw.io_tile_id))
        w, h = hw.mesh
        c = data.n_crossbars

        # ---------------------------------------------------------------- variables
        self.z = {(a, t): b.bool_var(f"z_{a}_{t}") for a in range(c) for t in tiles.tolist()}
        px = [b.total(int(col[t]) * self.z[a, t] for t in tiles.tolist() if col[t]) for a in range(c)]
        py = [b.total(int(row[t]) * self.z[a, t] for t in tiles.tolist() if row[t]) for a in range(c)]

        # ---------------------------------------------------------------- constraints
        # complete: each crossbar on exactly one tile; tile-capacity: at most K per tile
        for a in range(c):
            b.add(b.total(self.z[a, t] for t in tiles.tolist()) == 1, f"place_{a}")
        for t in tiles.tolist():
            b.add(b.total(self.z[a, t] for a in range(c)) <= hw.crossbars_per_tile, f"tile_{t}")
        if self.mirrored:
            # mirroring the mesh on its diagonal maps a placement onto an equally good one
            b.add(b.total(px) <= b.total(py), "mirror")

        # ---------------------------------------------------------------- objective
        terms: list[Any] = []
        self.dx: dict[int, Any] = {}
        self.dy: dict[int, Any] = {}
        for k, (a, bb) in enumerate(zip(data.flow_src.tolist(), data.flow_dst.tolist(), strict=True)):
            if k % CHECK_EVERY == 0 and expired():
                raise BuildInterrupted
            self.dx[k] = b.int_var(0, w - 1, f"dx_{k}")
            self.dy[k] = b.int_var(0, h - 1, f"dy_{k}")
            b.abs_ge(self.dx[k], px[a] - px[bb], f"absx_{k}")
            b.abs_ge(self.dy[k], py[a] - py[bb], f"absy_{k}")
            terms.append(float(data.flow[k]) * (self.dx[k] + self.dy[k]))
        for a in range(c):
            if data.io_flow[a]:
                io_dist = b.total(int(io_hops[t]) * self.z[a, t] for t in tiles.tolist() if io_hops[t])
                terms.append(float(data.io_flow[a]) * io_dist)
        b.minimize(b.total(terms))

    def hint(self, crossbar_tile: np.ndarray) -> None:
        """Warm start from a placement (tile of each crossbar 0..c-1)."""
        b, hw = self.b, self.data.hardware
        cx, cy = hw.tile_xy(np.asarray(crossbar_tile))
        if self.mirrored and cx.sum() > cy.sum():
            crossbar_tile = hw.tile_id(cy, cx)  # the mirror image satisfies the symmetry constraint
            cx, cy = cy, cx
        for (a, t), var in self.z.items():
            b.hint(var, int(crossbar_tile[a] == t))
        for k, (a, bb) in enumerate(zip(self.data.flow_src.tolist(), self.data.flow_dst.tolist(), strict=True)):
            b.hint(self.dx[k], int(abs(cx[a] - cx[bb])))
            b.hint(self.dy[k], int(abs(cy[a] - cy[bb])))

    def solution(self, value: Callable[[Any], float]) -> np.ndarray:
        """The tile of each crossbar in the back end's solution."""
        tile = np.full(self.data.n_crossbars, -1, dtype=np.int64)
        for (a, t), var in self.z.items():
            if value(var) > 0.5:
                tile[a] = t
        return tile
