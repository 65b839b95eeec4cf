"""How numbers and column names are shown in terminal tables and Markdown reports (no heavy imports)."""

from __future__ import annotations

from typing import Any

#: Short column headings for terminal tables and Markdown reports.
HEADINGS = {
    "lower_bound_crossbars": "LB",
    "pruned_synapses": "pruned",
    "neuron_utilization": "neuron util",
    "synapse_utilization": "synapse util",
    "intertile_spikes": "intertile",
    "intercrossbar_spikes": "intercrossbar",
    "hop_spikes": "hop spikes",
    "energy_wasted_j": "wasted J",
    "energy_total_j": "total J",
    "wall_s": "wall s",
    "crossbars_per_tile": "per tile",
}


def fmt(value: Any) -> str:
    """A number as a short human string (3-4 significant digits; - for None)."""
    if value is None:
        return "-"
    if isinstance(value, float):
        if value == 0:
            return "0"
        if abs(value) >= 1e5 or abs(value) < 1e-3:
            return f"{value:.3g}"
        return f"{value:.4g}"
    return str(value)
