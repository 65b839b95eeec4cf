"""The mapping problem a solver receives: N' (a decomposition), the hardware, the objective.

Objectives are lexicographic keys over the validator's metrics (docs/model.md, section 6);
the default ranks mappings by crossbars, then hop_spikes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from mapopt.decompose.base import Decomposition
from mapopt.errors import InputError
from mapopt.hardware import Hardware

#: objective name -> metric keys compared lexicographically (smaller is better)
OBJECTIVES: dict[str, tuple[str, ...]] = {
    "crossbars-hops": ("crossbars", "hop_spikes"),
    "crossbars-intercrossbar": ("crossbars", "intercrossbar_spikes"),
    "energy": ("energy_total_j",),
}
DEFAULT_OBJECTIVE = "crossbars-hops"


@dataclass(frozen=True, eq=False)
class MappingProblem:
    """Map the units of ``decomposition`` onto ``hardware`` minimising ``objective``."""

    decomposition: Decomposition
    hardware: Hardware
    objective: str = DEFAULT_OBJECTIVE

    def __post_init__(self) -> None:
        if self.objective not in OBJECTIVES:
            raise InputError(
                f"unknown objective {self.objective!r}; known: {', '.join(OBJECTIVES)}", source="--objective"
            )

    def key(self, metrics: dict[str, float | int | str]) -> tuple[float, ...]:
        """The lexicographic objective value of a validated mapping's metrics."""
        return tuple(float(metrics[k]) for k in OBJECTIVES[self.objective])

    def hardware_for(self, crossbars: int) -> Hardware:
        """The hardware with its mesh resolved for ``crossbars`` crossbars.

        An 'auto' mesh becomes the smallest square that holds them; a fixed mesh that
        cannot hold them is an :class:`InputError` naming ``tile-capacity``.
        """
        hw = self.hardware.with_mesh_for(crossbars)
        needed = math.ceil(crossbars / hw.crossbars_per_tile)
        if needed > hw.n_tiles:
            raise InputError(
                f"{crossbars} crossbars need {needed} tiles of {hw.crossbars_per_tile} crossbars, "
                f"but the {hw.mesh[0]}x{hw.mesh[1]} mesh of {hw.name} has {hw.n_tiles} tiles "
                "(use --mesh auto or a larger --mesh)",
                constraint="tile-capacity",
            )
        return hw
