"""A fast packing of units into crossbars: the score ``auto`` ranks decompositions by, and the layout it proposes.

Choosing an unroll ordering (MODEL.md section 6, problem 1) needs the crossbars that the
packing (problem 2) will reach. Instead of a formula, ``auto`` packs every candidate's
units with this module and keeps the candidate with the fewest crossbars; the packing of
the chosen N' travels with it as :attr:`~mapopt.decompose.base.Decomposition.layout`, a
proposed assignment that solvers may start from (``layered`` keeps it when it is better
than its own). It is only a proposal: the validator checks and scores whatever a solver
returns.

The packer works on *groups*: units with the same raw source set (the output channels at
one position of a convolution, the same block of a dense layer's inputs) are one group of
k identical units, which share rows. Groups are taken in an order that keeps units with
shared inputs together, and packed next-fit: a crossbar takes units of the current group
while its rows (the union of raw sources, plus the private rows of partial sums, which no
other unit reads) fit R and its units fit C. Several orders are tried and the best kept:

- by smallest source (blocks of a dense layer, sources in key order);
- by leaf slot, then neuron (the same part of neighbouring neurons together);
- *bands*, when the sources form a grid (convolutions, image filters; see
  :func:`grid_width`): groups sorted by (row band of height h, column, row) of their first
  source, for several h, which packs 2-D tiles of neighbouring windows instead of 1-D
  strips (a tile of 8 x 16 pixels holds 84 half-windows of an 11 x 11 filter where a
  6 x 21 strip holds 66).

A raw source that only one unit reads is counted as a private row of that unit
(:meth:`UnitSets.privatized`). Units left without shared sources (inner tree units, which
only add partial sums, and units such as pooling units whose inputs nobody else reads) go
where rows and columns are left, then onto crossbars of their own. To pack several layers
together (:func:`assemble_layout`) each layer's groups are packed in its best order under a
column cap, so that these units of other layers can fill the rows a layer leaves; finally
under-filled crossbars are merged where their union fits (:func:`merge`). The Python loop
runs once per group, never per synapse.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from mapopt.decompose.base import Decomposition, unit_slots
from mapopt.network import wide

#: Groups further on in the order that a crossbar may still take before it is closed.
LOOKAHEAD = 64
#: Row-band heights tried by the band orders (in grid rows of the sources).
BAND_HEIGHTS = (1, 2, 3, 4, 6)
#: A grid is accepted when this share of run-to-run steps inside receptive fields equals its width.
GRID_SHARE = 0.5
#: Crossbars with at most this share of their columns used are offered to the merge pass.
MERGE_FILL = 0.5
#: The merge pass tries the crossbars this many places before and after (then the 8x as many nearest small ones).
MERGE_REACH = 8


@dataclass(frozen=True)
class UnitSets:
    """Units to pack: raw sources as CSR, private rows, and what the orders sort by.

    ``ptr``/``src``: the raw (original-synapse) sources of unit i are ``src[ptr[i]:ptr[i+1]]``,
    ascending; ``private[i]``: partial sums it reads (each a row that no other unit reads);
    ``owner``, ``slot``: its neuron of N and its index among that neuron's units;
    ``layer``: its packing class (units of different classes are packed apart, then merged).
    """

    ptr: np.ndarray
    src: np.ndarray
    private: np.ndarray
    owner: np.ndarray
    slot: np.ndarray
    layer: np.ndarray

    @property
    def n_units(self) -> int:
        return len(self.private)

    def privatized(self) -> UnitSets:
        """The same units with every raw source that only one of them reads counted as a private row.

        Such a source needs a row wherever its reader goes and shares it with nobody, exactly
        like a partial sum, so the reader packs like an inner unit: anywhere rows and columns
        are left (a pooling unit reading four outputs of the layer before it, each read once).
        """
        if self.src.size == 0:
            return self
        once = np.bincount(self.src)[self.src] == 1
        owner = np.repeat(np.arange(self.n_units), np.diff(self.ptr))
        moved = np.bincount(owner[once], minlength=self.n_units)
        return UnitSets(
            ptr=np.concatenate(([0], np.cumsum(np.diff(self.ptr) - moved))),
            src=self.src[~once],
            private=self.private + moved,
            owner=self.owner,
            slot=self.slot,
            layer=self.layer,
        )

    def select(self, rows: np.ndarray) -> UnitSets:
        """The units ``rows`` (indices, in that order)."""
        lengths = np.diff(self.ptr)[rows]
        idx = np.repeat(self.ptr[rows] - unit_slots(lengths), lengths) + np.arange(int(lengths.sum()))
        return UnitSets(
            ptr=np.concatenate(([0], np.cumsum(lengths))),
            src=self.src[idx],
            private=self.private[rows],
            owner=self.owner[rows],
            slot=self.slot[rows],
            layer=self.layer[rows],
        )


@dataclass(frozen=True)
class Packing:
    """A packing of :class:`UnitSets`: crossbar per unit, the number of crossbars, the order that made it."""

    unit_crossbar: np.ndarray
    crossbars: int
    order: int = 0


def grid_width(pairs_post: np.ndarray, pairs_pos: np.ndarray) -> int:
    """The width of the grid the sources lie on, from (neuron, source position) pairs; 0 if there is none.

    In a convolution or image filter, a neuron's inputs sorted by position form runs (one
    per receptive-field row) whose starts are one grid row, i.e. the width W, apart. The
    width is the most common run-to-run step; it is accepted when at least
    :data:`GRID_SHARE` of the steps equal it (a dense layer has one run per neuron, a
    random net no dominant step).
    """
    if pairs_post.size == 0:
        return 0
    order = np.lexsort((pairs_pos, pairs_post))
    post, pos = pairs_post[order], pairs_pos[order]
    keep = np.r_[True, (post[1:] != post[:-1]) | (pos[1:] != pos[:-1])]
    post, pos = post[keep], pos[keep]
    start = np.r_[True, (post[1:] != post[:-1]) | (pos[1:] != pos[:-1] + 1)]
    s_post, s_pos = post[start], pos[start]
    same = s_post[1:] == s_post[:-1]
    steps = (s_pos[1:] - s_pos[:-1])[same]
    if steps.size == 0:
        return 0
    values, counts = np.unique(steps, return_counts=True)
    best = int(np.argmax(counts))
    width = int(values[best])
    return width if width > 1 and counts[best] >= GRID_SHARE * steps.size else 0


def _signatures(units: UnitSets) -> tuple[np.ndarray, np.ndarray]:
    """Group index per unit with raw sources (-1 for none) and a representative unit per group.

    A group's units have equal raw source sets (found by two independent 64-bit hashes and
    the size) and equal private rows, so that one representative stands for all.
    """
    n_src = int(units.src.max()) + 1 if units.src.size else 1
    sizes = np.diff(units.ptr)
    has = sizes > 0
    rng = np.random.default_rng(11)
    keys = [sizes * (int(units.private.max(initial=0)) + 1) + units.private]
    for _ in range(2):
        mult = rng.integers(1, 2**62, size=n_src, dtype=np.int64) | 1
        h = np.zeros(units.n_units, dtype=np.int64)
        if units.src.size:
            h[has] = np.add.reduceat(mult[units.src], units.ptr[:-1][has])
        keys.append(h)
    group = np.full(units.n_units, -1, dtype=np.int64)
    idx = np.flatnonzero(has)
    if idx.size == 0:
        return group, idx
    order = idx[np.lexsort((idx, keys[2][idx], keys[1][idx], keys[0][idx]))]
    k0, k1, k2 = keys[0][order], keys[1][order], keys[2][order]
    start = np.r_[True, (k0[1:] != k0[:-1]) | (k1[1:] != k1[:-1]) | (k2[1:] != k2[:-1])]
    group[order] = np.cumsum(start) - 1
    return group, order[start]


def _orders(units: UnitSets, reps: np.ndarray, pos: np.ndarray | None, width: int) -> list[np.ndarray]:
    """Group orders to try (indices into ``reps``), see the module docstring."""
    first = units.src[units.ptr[reps]]
    owner, slot = units.owner[reps], units.slot[reps]
    orders = [np.lexsort((owner, first)), np.lexsort((first, owner, slot))]
    if pos is not None and width > 1:
        p = pos[first]
        p = p - p.min()
        y, x = p // width, p % width
        orders += [np.lexsort((owner, y, x, y // h)) for h in BAND_HEIGHTS]
    return orders


def _next_fit(
    units: UnitSets, group: np.ndarray, reps: np.ndarray, order: np.ndarray, rows: int, columns: int, n_src: int,
    first: int = 0,
) -> tuple[np.ndarray, int, list[int], list[int]]:
    """Next-fit of the groups in ``order``, with a short lookahead before a crossbar is closed.

    Returns (crossbar per unit, crossbars, rows used, columns used). When the current group
    does not fit, the next :data:`LOOKAHEAD` groups in the order that do (often groups whose
    sources the crossbar already holds) are taken first.
    """
    members = np.argsort(group, kind="stable")
    members = members[group[members] >= 0]
    left = np.bincount(group[members], minlength=reps.size)
    at = unit_slots(left)
    unit_crossbar = np.full(units.n_units, -1, dtype=np.int64)
    held = np.zeros(n_src, dtype=bool)
    held_now: list[np.ndarray] = []
    used_rows: list[int] = []
    used_cols: list[int] = []
    r = c = 0
    crossbar = first
    ptr, src, private = units.ptr, units.src, units.private
    g_len = np.diff(ptr)[reps]
    seq = order.tolist()

    def place(g: int) -> bool:
        """Put as many units of group g as fit on the current crossbar; True if any."""
        nonlocal r, c
        rep = int(reps[g])
        s = src[ptr[rep] : ptr[rep + 1]]
        p = int(private[rep])
        new = int(np.count_nonzero(~held[s]))
        room = rows - r - new
        fit = min(int(left[g]), columns - c, room // p if p else int(left[g])) if room >= p else 0
        if fit <= 0:
            return False
        if new:
            fresh = s[~held[s]]
            held[fresh] = True
            held_now.append(fresh)
        unit_crossbar[members[at[g] : at[g] + fit]] = crossbar
        r += new + p * fit
        c += fit
        left[g] -= fit
        at[g] += fit
        return True

    for i, g in enumerate(seq):
        while left[g]:
            if place(g):
                continue
            if c == 0:  # a single unit does not fit an empty crossbar: cannot happen for valid units
                raise ValueError(f"unit {int(reps[g])} needs more than R={rows} rows")
            ahead = np.asarray(seq[i + 1 : i + 1 + LOOKAHEAD], dtype=np.int64)
            ahead = ahead[left[ahead] > 0]
            if ahead.size and c < columns:  # one vectorised look at their new rows, then exact placement
                lengths = g_len[ahead]
                flat = src[np.repeat(ptr[reps[ahead]] - unit_slots(lengths), lengths) + np.arange(int(lengths.sum()))]
                new = np.bincount(np.repeat(np.arange(ahead.size), lengths), weights=~held[flat], minlength=ahead.size)
                for h in ahead[new + private[reps[ahead]] <= rows - r].tolist():
                    if c >= columns:
                        break
                    place(h)
            used_rows.append(r)
            used_cols.append(c)
            for part in held_now:
                held[part] = False
            held_now, r, c = [], 0, 0
            crossbar += 1
    if c:
        used_rows.append(r)
        used_cols.append(c)
        crossbar += 1
    return unit_crossbar, crossbar - first, used_rows, used_cols


def _float(
    units: UnitSets, unit_crossbar: np.ndarray, n_cb: int, used_rows: list[int], used_cols: list[int],
    rows: int, columns: int,
) -> int:
    """Place the units without raw sources (private rows only): spare room first, then new crossbars."""  # fmt: skip
    floating = np.flatnonzero(np.diff(units.ptr) == 0)
    if floating.size == 0:
        return n_cb
    spare_r = rows - np.asarray(used_rows, dtype=np.int64)
    spare_c = columns - np.asarray(used_cols, dtype=np.int64)
    p_all = units.private[floating]
    for p in np.unique(p_all)[::-1].tolist():
        these = floating[p_all == p]
        cap = spare_c.copy() if p == 0 else np.minimum(spare_c, spare_r // p)
        total = int(cap.sum())
        put = min(total, these.size)
        if put:
            where = np.searchsorted(np.cumsum(cap), np.arange(put), side="right")
            unit_crossbar[these[:put]] = where
            got = np.bincount(where, minlength=spare_c.size)
            spare_c -= got
            spare_r -= got * p
        rest = these[put:]
        if rest.size:
            per = columns if p == 0 else max(1, min(columns, rows // p))
            new_cb = np.arange(rest.size) // per
            unit_crossbar[rest] = n_cb + new_cb
            n_new = int(new_cb[-1]) + 1
            got = np.bincount(new_cb, minlength=n_new)
            spare_c = np.concatenate((spare_c, columns - got))
            spare_r = np.concatenate((spare_r, rows - got * p))
            n_cb += n_new
    return n_cb


def n_orders(width: int) -> int:
    """How many orders :func:`pack` tries for a grid of this width (0: no grid)."""
    return 2 + (len(BAND_HEIGHTS) if width > 1 else 0)


def assemble_layout(
    units: UnitSets, rows: int, columns: int, classes: list[tuple[np.ndarray, int, int]], cap: int,
    pos: np.ndarray | None = None,
) -> Packing:
    """Pack several classes together: each class's raw groups next-fit in its order, at most ``cap`` units per
    crossbar, then every unit without shared rows (partial sums, sources read once) wherever room is left.

    ``classes``: per class, (its unit indices, index of its order, width of its grid). A cap
    below C leaves columns for the row-hungry units of other layers (pooling units, roots)
    on crossbars whose rows are not full, which a class packed alone never does.
    """
    unit_crossbar = np.full(units.n_units, -1, dtype=np.int64)
    used_rows: list[int] = []
    used_cols: list[int] = []
    n_cb = 0
    for mine, order_index, width in classes:
        part = units.select(mine)
        if part.src.size == 0:
            continue
        group, reps = _signatures(part)
        if reps.size == 0:
            continue
        order = _orders(part, reps, pos, width)[order_index]
        n_src = int(part.src.max()) + 1
        local, made, r, c = _next_fit(part, group, reps, order, rows, min(cap, columns), n_src)
        placed = local >= 0
        unit_crossbar[mine[placed]] = local[placed] + n_cb
        n_cb += made
        used_rows += r
        used_cols += c
    n_cb = _float(units, unit_crossbar, n_cb, used_rows, used_cols, rows, columns)
    return Packing(unit_crossbar, n_cb)


def pack(
    units: UnitSets, rows: int, columns: int, *, pos: np.ndarray | None = None, width: int = 0,
    orders: Sequence[int] | None = None,
) -> Packing:
    """The best next-fit packing of ``units`` over the orders of the module docstring.

    ``pos``/``width``: the grid position of every source and the grid width (see
    :func:`grid_width`; 0: no grid, no band orders). ``orders``: indices of the orders to try
    (default: all :func:`n_orders`); the result says which one won.
    """  # fmt: skip
    if units.n_units == 0:
        return Packing(np.zeros(0, dtype=np.int64), 0)
    n_src = int(units.src.max()) + 1 if units.src.size else 1
    group, reps = _signatures(units)
    every = _orders(units, reps, pos, width) if reps.size else []
    best: Packing | None = None
    for i in range(len(every)) if orders is None else [i for i in orders if i < len(every)]:
        unit_crossbar, n_cb, used_rows, used_cols = _next_fit(units, group, reps, every[i], rows, columns, n_src)
        n_cb = _float(units, unit_crossbar, n_cb, used_rows, used_cols, rows, columns)
        if best is None or n_cb < best.crossbars:
            best = Packing(unit_crossbar, n_cb, i)
    if best is None:  # only floating units
        unit_crossbar = np.full(units.n_units, -1, dtype=np.int64)
        best = Packing(unit_crossbar, _float(units, unit_crossbar, 0, [], [], rows, columns))
    return best


def merge(units: UnitSets, unit_crossbar: np.ndarray, rows: int, columns: int) -> np.ndarray:
    """Merge under-filled crossbars into others where the union of their rows and their columns fit.

    Rows of a crossbar: its units' raw sources (shared) plus their private rows. The
    emptiest go first, each into the first that can take it whole among the crossbars next
    to it in the packing order (neighbours there share inputs) and the nearest other
    under-filled ones. Returns the renumbered assignment (crossbars 0..c-1).
    """
    n_cb = int(unit_crossbar.max()) + 1 if unit_crossbar.size else 0
    if n_cb < 2:
        return unit_crossbar
    cols = np.bincount(unit_crossbar, minlength=n_cb)
    small = np.flatnonzero(cols <= MERGE_FILL * columns)
    if small.size == 0:
        return unit_crossbar
    width = int(units.src.max()) + 1 if units.src.size else 1
    key = np.unique(wide(np.repeat(unit_crossbar, np.diff(units.ptr))) * width + units.src)
    cb_of, src_of = key // width, key % width
    bounds = np.searchsorted(cb_of, np.arange(n_cb + 1))
    sources = [set(src_of[bounds[c] : bounds[c + 1]].tolist()) for c in range(n_cb)]
    private = np.bincount(unit_crossbar, weights=units.private, minlength=n_cb).astype(np.int64)
    target = np.arange(n_cb)
    alive = np.ones(n_cb, dtype=bool)
    for a in small[np.argsort(cols[small], kind="stable")].tolist():
        if not alive[a] or target[a] != a:
            continue
        # packing orders keep neighbours close: the crossbars next to it, then the other small ones
        near = [b for d in range(1, MERGE_REACH + 1) for b in (a - d, a + d) if 0 <= b < n_cb]
        at = int(np.searchsorted(small, a))
        for b in near + small[max(0, at - 4 * MERGE_REACH) : at + 4 * MERGE_REACH].tolist():
            if b == a or not alive[b] or cols[a] + cols[b] > columns:
                continue
            union = sources[b] | sources[a]
            if len(union) + private[a] + private[b] <= rows:
                sources[b], sources[a] = union, set()
                cols[b] += cols[a]
                private[b] += private[a]
                cols[a] = 0
                alive[a] = False
                target[a] = b
                break
    while not np.array_equal(target[target], target):  # a crossbar merged into one merged later: follow
        target = target[target]
    merged = target[unit_crossbar]
    return np.unique(merged, return_inverse=True)[1].astype(np.int64)


def units_of(dec: Decomposition) -> UnitSets:
    """The compute units of N' as :class:`UnitSets` (ids 0..u-1 in N' id order, see :func:`unit_ids`)."""
    net = dec.network
    ids = unit_ids(dec)
    raw = dec.edge_origin >= 0
    index = np.full(net.n_neurons, -1, dtype=np.int64)
    index[ids] = np.arange(ids.size)
    counts = np.bincount(index[net.post[raw]], minlength=ids.size)
    private = np.bincount(index[net.post[~raw]], minlength=ids.size)
    return UnitSets(
        ptr=np.concatenate(([0], np.cumsum(counts))),
        src=net.pre[raw],  # synapses are sorted by (post, pre): a unit's raw sources are contiguous, ascending
        private=private.astype(np.int64),
        owner=dec.origin[ids],
        slot=dec.position[ids].astype(np.int64),
        layer=dec.original.layer[dec.origin[ids]].astype(np.int64),
    )


def unit_ids(dec: Decomposition) -> np.ndarray:
    """N' ids of the compute units, ascending."""
    return np.flatnonzero(dec.compute)
