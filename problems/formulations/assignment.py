"""Crossbar assignment (docs/model.md, section 6, problem 2) as a 0-1 model for exact back ends.

Data, variables, constraints, objective and cheap lower bounds, written once against the
small :class:`Builder` protocol that both back ends implement (OR-Tools CP-SAT in
``solvers/cpsat.py``, PuLP MILPs in ``solvers/pulp_milp.py``), in the order of the
OR-Tools CP-SAT samples: data -> variables -> constraints -> objective.

Variables: ``x[i, j]`` unit i sits in crossbar slot j; ``y[s, j]`` source s owns a row of
slot j (a delivery of s to j); ``open[j]`` slot j is used. The same model serves every
phase of the lexicographic solve (:mod:`solvers.common.lexicographic`): with :class:`Weights` it
minimises crossbars, intercrossbar spikes, deliveries and, when the slots are given tile
positions (a :class:`SlotGrid`), hop_spikes: then it is the joint assignment + placement
model, linearised exactly through the Manhattan distance of the source's own slot.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import scipy.sparse as sp

from mapopt.evaluation import crossbar_bounds
from mapopt.hardware import Hardware
from mapopt.problem import MappingProblem

#: Above this many units the pairwise conflict bound (a dense units x units test) is skipped.
CONFLICT_BOUND_MAX_UNITS = 2000


#: Check the deadline every this many constraint groups while building a model.
CHECK_EVERY = 256


class BuildInterrupted(Exception):
    """The deadline passed while a model was being built (the instance is too large for the time left)."""


class Builder(Protocol):
    """What a formulation needs from a back end. ``native``: CP-SAT constructs are available."""

    native: bool

    def bool_var(self, name: str) -> Any: ...

    def int_var(self, lb: int, ub: int, name: str) -> Any: ...

    def add(self, constraint: Any, name: str) -> None: ...

    def add_implied_ge(self, target: Any, expr: Any, literal: Any, big_m: float, name: str) -> None:
        """``target >= expr`` whenever the 0-1 ``literal`` is 1 (CP-SAT: enforcement literal; MILP: big-M)."""

    def abs_ge(self, target: Any, expr: Any, name: str) -> None:
        """``target >= |expr|`` (CP-SAT: ``target == |expr|``, MILP: two rows; minimisation makes them agree)."""

    def total(self, terms: Iterable[Any]) -> Any: ...

    def minimize(self, expr: Any) -> None: ...

    def hint(self, var: Any, value: float) -> None: ...


@dataclass(frozen=True, eq=False)
class AssignmentData:
    """The units of N' and their sources, in model order.

    Units are ordered by decreasing fan-in (ties by id), as first-fit-decreasing would take
    them, so the symmetry rule "unit i only in crossbars <= i" leaves the big units free.
    """

    units: np.ndarray  # N' ids of the compute units, model order
    sources: np.ndarray  # N' ids of every neuron with at least one target (one row each, per crossbar)
    source_spikes: np.ndarray
    source_unit: np.ndarray  # model index of the unit a source is, -1 for an input neuron
    pair_unit: np.ndarray  # one entry per synapse of N': model index of its unit...
    pair_source: np.ndarray  # ...and index of its source
    rows: int
    columns: int
    n_neurons: int

    @classmethod
    def from_problem(cls, problem: MappingProblem) -> AssignmentData:
        dec, hw = problem.decomposition, problem.hardware
        net = dec.network
        units = np.flatnonzero(dec.compute)
        fanin = net.fanin[units]
        units = units[np.lexsort((units, -fanin))]
        index = np.full(net.n_neurons, -1, dtype=np.int64)
        index[units] = np.arange(len(units))
        sources, pair_source = np.unique(net.pre, return_inverse=True)
        return cls(
            units=units,
            sources=sources,
            source_spikes=net.spikes[sources],
            source_unit=index[sources],
            pair_unit=index[net.post],
            pair_source=pair_source.astype(np.int64),
            rows=hw.rows,
            columns=hw.columns,
            n_neurons=net.n_neurons,
        )

    @property
    def n_units(self) -> int:
        return len(self.units)

    @property
    def n_sources(self) -> int:
        return len(self.sources)

    @property
    def unit_fanin(self) -> np.ndarray:
        return np.bincount(self.pair_unit, minlength=self.n_units)

    def model_slots(self, unit_crossbar: np.ndarray) -> np.ndarray:
        """A mapping's unit -> crossbar array (over N') in model order."""
        return np.asarray(unit_crossbar)[self.units]

    def unit_crossbar(self, slot_of_unit: np.ndarray) -> np.ndarray:
        """Model-order slots back to the N'-wide ``unit_crossbar`` array (-1 for inputs)."""
        out = np.full(self.n_neurons, -1, dtype=np.int64)
        out[self.units] = slot_of_unit
        return out


def infeasibility(data: AssignmentData) -> str | None:
    """Why no crossbar can host some unit (more distinct sources than rows R), or None."""
    fanin = data.unit_fanin
    over = np.flatnonzero(fanin > data.rows)
    if over.size:
        i = int(over[0])
        return (
            f"[rows] unit {int(data.units[i])} has {int(fanin[i])} distinct sources but a crossbar has "
            f"R={data.rows} rows, so no crossbar can host it"
        )
    return None


def crossbar_lower_bounds(data: AssignmentData) -> dict[str, int]:
    """Lower bounds on the crossbars any valid assignment uses.

    ``columns``, ``crosspoints`` and ``rows`` are the validator's bounds
    (:func:`mapopt.evaluation.crossbar_bounds`, computed from this model's data). The
    model adds ``conflicts``: units i, j with |S_i u S_j| > R can never share a crossbar; a
    clique of such units (found greedily, highest conflict degree first) needs one crossbar each.
    """
    n, r = data.n_units, data.rows
    readers = np.bincount(data.pair_source, minlength=data.n_sources)
    bounds = {**crossbar_bounds(n, len(data.pair_unit), readers, r, data.columns), "conflicts": 0}
    if 0 < n <= CONFLICT_BOUND_MAX_UNITS:
        incidence = sp.csr_matrix(
            (np.ones(len(data.pair_unit)), (data.pair_unit, data.pair_source)), shape=(n, data.n_sources)
        )
        shared = (incidence @ incidence.T).toarray()
        fanin = data.unit_fanin
        conflict = fanin[:, None] + fanin[None, :] - shared > r
        np.fill_diagonal(conflict, False)
        clique: list[int] = []
        for u in np.argsort(-conflict.sum(axis=1), kind="stable").tolist():
            if all(conflict[u, v] for v in clique):
                clique.append(u)
        bounds["conflicts"] = max(len(clique), 1)
    return bounds


@dataclass(frozen=True)
class SlotGrid:
    """Crossbar slots with fixed tile positions: ``K`` slots per tile, for the joint model.

    Slots are numbered tile by tile, tiles nearest the I/O tile first, so low slots are
    cheap ones; ``hops[a, b]`` is the XY-routing distance between the tiles of slots a, b.
    """

    tile: np.ndarray
    hops: np.ndarray
    io_hops: np.ndarray
    col: np.ndarray
    row: np.ndarray
    transpose_symmetric: bool
    mirror: np.ndarray  # the slot each slot becomes when the mesh is mirrored on its diagonal

    @classmethod
    def for_hardware(cls, hw: Hardware) -> SlotGrid:
        tiles = hw.crossbar_slots()
        x, y = hw.tile_xy(tiles)
        symmetric = transpose_symmetric(hw)
        first = np.full(hw.n_tiles, -1, dtype=np.int64)
        first[tiles[::-1]] = np.arange(len(tiles))[::-1]
        rank = np.arange(len(tiles)) - first[tiles]
        mirror = first[hw.tile_id(y, x)] + rank if symmetric else np.arange(len(tiles))
        return cls(
            tile=tiles,
            hops=hw.hops(tiles[:, None], tiles[None, :]),
            io_hops=hw.hops(tiles, np.full_like(tiles, hw.io_tile_id)),
            col=x,
            row=y,
            transpose_symmetric=symmetric,
            mirror=mirror,
        )

    @property
    def n_slots(self) -> int:
        return len(self.tile)


def transpose_symmetric(hw: Hardware) -> bool:
    """True when swapping x and y maps the mesh onto itself and keeps the I/O tile in place."""
    w, h = hw.mesh
    return w == h and hw.io_tile[0] == hw.io_tile[1]


@dataclass(frozen=True)
class Weights:
    """Objective coefficients: per open crossbar, per delivered spike, per intercrossbar spike, per spike-hop."""

    crossbars: float = 0.0
    deliveries: float = 0.0
    intercrossbar: float = 0.0
    hops: float = 0.0


class AssignmentModel:
    """The assignment model on ``slots`` crossbar slots (see the module docstring).

    ``grid`` gives the slots tile positions (joint assignment + placement; needed for a
    ``hops`` weight); ``n_open`` fixes the number of crossbars (phase 2 of the
    lexicographic solve). ``symmetry`` adds the symmetry-breaking constraints, and
    ``identical`` (model indices of interchangeable units, one array per type, see
    :func:`problems.formulations.patterns.unit_types`) orders the units of each type by
    slot; ``min_open`` is a proven lower bound on the crossbars (a constraint that prunes).
    Building stops with :class:`BuildInterrupted` once ``expired()`` says the time is up.
    """

    def __init__(
        self,
        b: Builder,
        data: AssignmentData,
        *,
        slots: int,
        weights: Weights,
        grid: SlotGrid | None = None,
        n_open: int | None = None,
        symmetry: bool = True,
        identical: Sequence[np.ndarray] = (),
        min_open: int | None = None,
        expired: Callable[[], bool] = lambda: False,
    ):
        if weights.hops and grid is None:
            raise ValueError("a hops objective needs slot positions (grid)")
        if grid is not None and slots > grid.n_slots:
            raise ValueError(f"{slots} slots but the grid has {grid.n_slots}")
        self.b, self.data, self.slots, self.grid = b, data, slots, grid
        self.identical = list(identical)
        self.mirrored = symmetry and grid is not None and grid.transpose_symmetric
        n, S = data.n_units, slots
        # Symmetry: without positions crossbars are interchangeable, so unit i (model order)
        # only goes to slots <= i (the representative rule of bin-packing models).
        ordered = symmetry and grid is None
        allowed = [range(min(i, S - 1) + 1) if ordered else range(S) for i in range(n)]

        # ---------------------------------------------------------------- variables
        self.open = [b.bool_var(f"open_{j}") for j in range(S)]
        self.x = {(i, j): b.bool_var(f"x_{i}_{j}") for i in range(n) for j in allowed[i]}
        last_slot = np.zeros(data.n_sources, dtype=np.int64)  # highest slot any target of s may use
        np.maximum.at(last_slot, data.pair_source, np.minimum(data.pair_unit, S - 1) if ordered else S - 1)
        self.y = {(s, j): b.bool_var(f"y_{s}_{j}") for s in range(data.n_sources) for j in range(last_slot[s] + 1)}

        # ---------------------------------------------------------------- constraints
        # complete: every unit in exactly one crossbar
        for i in range(n):
            b.add(b.total(self.x[i, j] for j in allowed[i]) == 1, f"assign_{i}")
        # a unit only sits in an open crossbar (disaggregated: a tighter LP than the column row alone)
        for (i, j), var in self.x.items():
            b.add(var <= self.open[j], f"open_{i}_{j}")
        # rows: a unit on slot j needs a row there for each of its sources
        for k, (i, s) in enumerate(zip(data.pair_unit.tolist(), data.pair_source.tolist(), strict=True)):
            if k % CHECK_EVERY == 0 and expired():
                raise BuildInterrupted
            for j in allowed[i]:
                b.add(self.x[i, j] <= self.y[s, j], f"row_{i}_{s}_{j}")
        by_slot_rows: list[list[Any]] = [[] for _ in range(S)]
        for (_, j), var in self.y.items():
            by_slot_rows[j].append(var)
        by_slot_units: list[list[Any]] = [[] for _ in range(S)]
        for (_, j), var in self.x.items():
            by_slot_units[j].append(var)
        for j in range(S):
            # columns: at most C units per crossbar; rows: at most R sources
            b.add(b.total(by_slot_units[j]) <= data.columns * self.open[j], f"columns_{j}")
            b.add(b.total(by_slot_rows[j]) <= data.rows * self.open[j], f"rows_{j}")
        if n_open is not None:
            b.add(b.total(self.open) == n_open, "crossbars")
        if min_open is not None and n_open is None:
            b.add(b.total(self.open) >= min_open, "crossbars_bound")
        # interchangeable units: the members of a type in non-decreasing slot order
        for members in self.identical:
            for i, k in zip(members[:-1].tolist(), members[1:].tolist(), strict=True):
                if max(allowed[i]) == 0 and max(allowed[k]) == 0:
                    continue  # both can only take slot 0
                slot_i = b.total(j * self.x[i, j] for j in allowed[i] if j)
                slot_k = b.total(j * self.x[k, j] for j in allowed[k] if j)
                b.add(slot_i <= slot_k, f"identical_{i}_{k}")
        if symmetry:
            # open slots first: globally without positions, within each tile with them
            for j in range(S - 1):
                if grid is None or grid.tile[j] == grid.tile[j + 1]:
                    b.add(self.open[j] >= self.open[j + 1], f"order_{j}")
            if self.mirrored:
                # mirroring the mesh on its diagonal maps a solution onto an equally good one
                b.add(b.total(int(grid.col[j] - grid.row[j]) * v for (_, j), v in self.x.items()) <= 0, "mirror")

        # ---------------------------------------------------------------- objective
        terms: list[Any] = []
        self.h: dict[tuple[int, int], Any] = {}
        self.w: dict[tuple[int, int], Any] = {}
        if weights.crossbars:
            terms.append(weights.crossbars * b.total(self.open))
        spikes = data.source_spikes
        for k, ((s, j), var) in enumerate(self.y.items()):
            if k % CHECK_EVERY == 0 and expired():
                raise BuildInterrupted
            if spikes[s] == 0:
                continue
            unit = int(data.source_unit[s])
            coef = weights.deliveries
            if weights.intercrossbar:
                coef += weights.intercrossbar
                if unit >= 0 and (unit, j) in self.x:
                    # a delivery to the source's own crossbar is not intercrossbar
                    w = self.w[s, j] = b.bool_var(f"w_{s}_{j}")
                    b.add(w <= var, f"own_row_{s}_{j}")
                    b.add(w <= self.x[unit, j], f"own_unit_{s}_{j}")
                    terms.append(-weights.intercrossbar * float(spikes[s]) * w)
            if weights.hops:
                if unit < 0:
                    coef += weights.hops * float(grid.io_hops[j])
                else:
                    # hops from the source's tile to slot j's tile, paid when s is delivered to j
                    dist = b.total(int(grid.hops[k, j]) * self.x[unit, k] for k in allowed[unit] if grid.hops[k, j])
                    big_m = int(grid.hops[:, j].max())
                    h = self.h[s, j] = b.int_var(0, big_m, f"h_{s}_{j}")
                    b.add_implied_ge(h, dist, var, big_m, f"hops_{s}_{j}")
                    terms.append(weights.hops * float(spikes[s]) * h)
            if coef:
                terms.append(coef * float(spikes[s]) * var)
        b.minimize(b.total(terms))

    def hint(self, slot_of_unit: np.ndarray) -> None:
        """Warm start from a complete assignment (model order); every variable gets a value."""
        b, data, grid = self.b, self.data, self.grid
        slot_of_unit = np.asarray(slot_of_unit, dtype=np.int64)
        if self.mirrored and (grid.col[slot_of_unit] - grid.row[slot_of_unit]).sum() > 0:
            slot_of_unit = grid.mirror[slot_of_unit]  # the mirror image satisfies the symmetry constraint
        if grid is not None:  # interchangeable units take their type's slots in order
            slot_of_unit = slot_of_unit.copy()
            for members in self.identical:
                slot_of_unit[members] = np.sort(slot_of_unit[members])
        used = set(slot_of_unit.tolist())
        for j, var in enumerate(self.open):
            b.hint(var, int(j in used))
        for (i, j), var in self.x.items():
            b.hint(var, int(slot_of_unit[i] == j))
        delivered = set(zip(data.pair_source.tolist(), slot_of_unit[data.pair_unit].tolist(), strict=True))
        for key, var in self.y.items():
            b.hint(var, int(key in delivered))
        for (s, j), var in self.w.items():
            b.hint(var, int((s, j) in delivered and slot_of_unit[data.source_unit[s]] == j))
        for (s, j), var in self.h.items():
            own = slot_of_unit[data.source_unit[s]]
            b.hint(var, int(grid.hops[own, j]) if (s, j) in delivered else 0)

    def solution(self, value: Callable[[Any], float]) -> np.ndarray:
        """The slot of each unit (model order) in the back end's solution."""
        slot = np.full(self.data.n_units, -1, dtype=np.int64)
        for (i, j), var in self.x.items():
            if value(var) > 0.5:
                slot[i] = j
        return slot


def canonical_slots(slot_of_unit: np.ndarray, identical: Sequence[np.ndarray] = ()) -> np.ndarray:
    """The same crossbar contents relabelled so that every symmetry rule of :class:`AssignmentModel` holds.

    Crossbars are numbered in order of their first unit ("unit i only in crossbars <= i")
    and, within each type of ``identical`` units, units take their crossbars in order. Units
    are dealt out in model order: each goes to the lowest-numbered crossbar that still needs
    a unit of its type, a crossbar being numbered when its first unit arrives. Both rules
    then hold at once (a unit of a type never finds a lower-numbered crossbar free later).
    """
    slot_of_unit = np.asarray(slot_of_unit, dtype=np.int64)
    if not len(identical):
        return ordered_slots(slot_of_unit)
    kind = np.arange(slot_of_unit.size)
    for members in identical:
        kind[members] = members[0]
    need: dict[tuple[int, int], int] = {}
    for i, c in enumerate(slot_of_unit.tolist()):
        need[c, int(kind[i])] = need.get((c, int(kind[i])), 0) + 1
    label: dict[int, int] = {}
    out = np.empty_like(slot_of_unit)
    for i, t in enumerate(kind.tolist()):
        wanting = [c for (c, k), left in need.items() if k == t and left > 0]
        labelled = [c for c in wanting if c in label]
        c = min(labelled, key=label.__getitem__) if labelled else min(wanting)
        if c not in label:
            label[c] = len(label)
        out[i] = label[c]
        need[c, t] -= 1
    return out


def ordered_slots(slot_of_unit: np.ndarray) -> np.ndarray:
    """Relabel crossbars 0, 1, ... in order of their first unit (model order).

    The result satisfies the symmetry rule "unit i only in crossbars <= i", so a greedy
    packing can warm-start the model with symmetry breaking on.
    """
    _, first, inverse = np.unique(slot_of_unit, return_index=True, return_inverse=True)
    rank = np.empty(len(first), dtype=np.int64)
    rank[np.argsort(first)] = np.arange(len(first))
    return rank[inverse]
