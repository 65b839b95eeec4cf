"""A mapping M = (pi, sigma) of docs/model.md, section 4.

``unit_crossbar`` (pi) gives each neuron of N' its crossbar, -1 for input neurons, which
are rows only; ``crossbar_tile`` (sigma) gives each crossbar id its tile id on the
``mesh``. Crossbar ids that host no unit are ignored by the validator and the metrics, so
a solver may leave gaps; :meth:`Mapping.compacted` renumbers them densely.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, eq=False)
class Mapping:
    unit_crossbar: np.ndarray
    crossbar_tile: np.ndarray
    mesh: tuple[int, int]

    def __post_init__(self) -> None:
        object.__setattr__(self, "unit_crossbar", np.asarray(self.unit_crossbar, dtype=np.int64))
        object.__setattr__(self, "crossbar_tile", np.asarray(self.crossbar_tile, dtype=np.int64))
        object.__setattr__(self, "mesh", (int(self.mesh[0]), int(self.mesh[1])))

    @property
    def n_crossbar_ids(self) -> int:
        return len(self.crossbar_tile)

    def compacted(self) -> Mapping:
        """Renumber the used crossbars 0..c-1 in order of first use, dropping empty ids."""
        placed = self.unit_crossbar >= 0
        used, first = np.unique(self.unit_crossbar[placed], return_index=True)
        used = used[np.argsort(first)]
        new_id = np.full(max(self.n_crossbar_ids, 1), -1, dtype=np.int64)
        new_id[used] = np.arange(len(used))
        unit_crossbar = np.where(placed, new_id[np.maximum(self.unit_crossbar, 0)], -1)
        return Mapping(unit_crossbar, self.crossbar_tile[used], self.mesh)
