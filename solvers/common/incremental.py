"""Incremental cost of a mapping under unit moves and tile swaps (used by ``anneal``).

The state holds, for every crossbar ``c``, how many of its units read each source ``s``
(``rows_of[c][s]``) and, transposed, for every source the crossbars it is delivered to
(``dest_of[s][c]``): exactly the distinct (source, destination crossbar) deliveries of
:mod:`mapopt.evaluation`. A move touches only the deliveries of the moved unit's sources
and of the unit itself (or, for a tile swap, those into and out of the two crossbars), so
its effect on crossbars, rows, deliveries, intercrossbar spikes and hop_spikes costs
O(fan-in + fan-out) instead of a full re-evaluation. Per-crossbar columns, rows and tiles
are numpy arrays; the sparse counts are dicts, because a move changes a handful of entries
in a sparse matrix whose sparsity pattern keeps changing (scipy.sparse would rebuild it).
The property test in tests/test_heuristics.py checks the totals against
:func:`mapopt.evaluation.metrics` after random move sequences.
"""

from __future__ import annotations

import numpy as np

from mapopt.decompose.base import Decomposition
from mapopt.hardware import Hardware
from mapopt.mapping import Mapping


class IncrementalCost:
    """A mutable mapping with exact running totals.

    ``hw`` must have its mesh resolved. Crossbar ids run over ``n_slots`` = tiles x K;
    ids without units are free slots, so a tile swap may also move a crossbar into a free slot.
    """

    def __init__(self, dec: Decomposition, hw: Hardware, mapping: Mapping):
        net = dec.network
        self.hw = hw
        self.spikes = net.spikes.tolist()
        self.in_ptr = net.in_ptr.tolist()
        self.sources = net.pre.tolist()
        n_slots = hw.n_tiles * hw.crossbars_per_tile
        used = mapping.unit_crossbar[mapping.unit_crossbar >= 0]
        if used.size and used.max() >= n_slots:
            mapping = mapping.compacted()
        self.unit_crossbar = mapping.unit_crossbar.tolist()
        tile = np.full(n_slots, -1, dtype=np.int64)
        tile[: mapping.n_crossbar_ids] = mapping.crossbar_tile
        taken = np.bincount(tile[tile >= 0], minlength=hw.n_tiles)
        free_slots = np.repeat(np.arange(hw.n_tiles), hw.crossbars_per_tile - taken)
        tile[tile < 0] = free_slots[: int((tile < 0).sum())]
        self.tile = tile.tolist()
        self.hop_count = hw.hop_count  # the hardware's own hop distance (docs/model.md section 2)
        self.io = hw.io_tile_id
        self.cols = np.bincount(used, minlength=n_slots).tolist()
        self.members: list[set[int]] = [set() for _ in range(n_slots)]
        for u in np.flatnonzero(mapping.unit_crossbar >= 0).tolist():
            self.members[self.unit_crossbar[u]].add(u)
        self.rows_of: list[dict[int, int]] = [{} for _ in range(n_slots)]
        self.dest_of: dict[int, dict[int, int]] = {}
        for u in np.flatnonzero(mapping.unit_crossbar >= 0).tolist():
            self._add_reads(u, self.unit_crossbar[u])
        self.crossbars = sum(1 for c in self.cols if c > 0)
        self.deliveries = self.hop_spikes = self.intercrossbar = 0.0
        for s, dests in self.dest_of.items():
            for c in dests:
                d, h, x = self._contrib(s, c)
                self.deliveries += d
                self.hop_spikes += h
                self.intercrossbar += x

    # ------------------------------------------------------------------ queries
    @property
    def n_slots(self) -> int:
        return len(self.cols)

    def reads(self, u: int) -> list[int]:
        """The sources of unit ``u`` (with repeats if N' had them; it does not)."""
        return self.sources[self.in_ptr[u] : self.in_ptr[u + 1]]

    def new_rows(self, u: int, c: int) -> int:
        """Rows crossbar ``c`` would gain by hosting unit ``u`` (0 if it holds all u's sources)."""
        rows = self.rows_of[c]
        return sum(1 for s in self.reads(u) if s not in rows)

    def source_tile(self, s: int) -> int:
        c = self.unit_crossbar[s]
        return self.io if c < 0 else self.tile[c]

    def mapping(self, mesh: tuple[int, int]) -> Mapping:
        return Mapping(np.array(self.unit_crossbar, dtype=np.int64), np.array(self.tile, dtype=np.int64), mesh)

    # ------------------------------------------------------------------ moves
    def move(self, u: int, b: int) -> None:
        """Move unit ``u`` to crossbar ``b``, updating every total (no feasibility check)."""
        a = self.unit_crossbar[u]
        if a == b:
            return
        keys = self._keys_of_unit(u, (a, b))
        before = self._sum(keys)
        self._remove_reads(u, a)
        self.members[a].discard(u)
        self.cols[a] -= 1
        self.crossbars -= self.cols[a] == 0
        self.unit_crossbar[u] = b
        self.crossbars += self.cols[b] == 0
        self.cols[b] += 1
        self.members[b].add(u)
        self._add_reads(u, b)
        keys |= self._keys_of_unit(u, (a, b))
        self._apply(before, self._sum(keys))

    def swap_tiles(self, c1: int, c2: int) -> None:
        """Exchange the tiles of crossbar slots ``c1`` and ``c2`` (either may be empty)."""
        keys = self._keys_of_crossbars((c1, c2))
        before = self._sum(keys)
        self.tile[c1], self.tile[c2] = self.tile[c2], self.tile[c1]
        self._apply(before, self._sum(keys))

    # ------------------------------------------------------------------ internals
    def _contrib(self, s: int, c: int) -> tuple[float, float, float]:
        """(deliveries, hop_spikes, intercrossbar) of the delivery of source ``s`` to crossbar ``c``."""
        sp = self.spikes[s]
        hops = self.hop_count(self.source_tile(s), self.tile[c])
        return sp, sp * hops, sp * (self.unit_crossbar[s] != c)

    def _sum(self, keys: set[tuple[int, int]]) -> tuple[float, float, float]:
        d = h = x = 0.0
        for s, c in keys:
            if c in self.dest_of.get(s, ()):
                cd, ch, cx = self._contrib(s, c)
                d += cd
                h += ch
                x += cx
        return d, h, x

    def _apply(self, before: tuple[float, float, float], after: tuple[float, float, float]) -> None:
        self.deliveries += after[0] - before[0]
        self.hop_spikes += after[1] - before[1]
        self.intercrossbar += after[2] - before[2]

    def _keys_of_unit(self, u: int, crossbars: tuple[int, int]) -> set[tuple[int, int]]:
        keys = {(s, c) for s in self.reads(u) for c in crossbars}
        keys.update((u, c) for c in self.dest_of.get(u, ()))
        return keys

    def _keys_of_crossbars(self, crossbars: tuple[int, int]) -> set[tuple[int, int]]:
        keys: set[tuple[int, int]] = set()
        for c in crossbars:
            keys.update((s, c) for s in self.rows_of[c])
            for u in self.members[c]:
                keys.update((u, d) for d in self.dest_of.get(u, ()))
        return keys

    def _add_reads(self, u: int, c: int) -> None:
        rows = self.rows_of[c]
        for s in self.reads(u):
            rows[s] = rows.get(s, 0) + 1
            dests = self.dest_of.setdefault(s, {})
            dests[c] = dests.get(c, 0) + 1

    def _remove_reads(self, u: int, c: int) -> None:
        rows = self.rows_of[c]
        for s in self.reads(u):
            if rows[s] == 1:
                del rows[s]
            else:
                rows[s] -= 1
            dests = self.dest_of[s]
            if dests[c] == 1:
                del dests[c]
            else:
                dests[c] -= 1
