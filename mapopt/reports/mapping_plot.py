"""Pictures of one mapping: the tile mesh as a floorplan, and the crossbars' utilization histogram.

The floorplan draws every tile of the W x H mesh with its K crossbar slots, each used
crossbar coloured by its synapse utilization (crosspoints used / R*C), the I/O tile
outlined and labelled, and the inter-tile traffic as arrows whose width grows with the
spike count (the heaviest pairs only, with the share of traffic they carry in the title).
Meshes larger than :data:`MAX_CELLS` per side are drawn aggregated: blocks of b x b tiles,
coloured by the utilization of all their crossbars together, with the traffic between
blocks. All figures come from :func:`mapopt.evaluation.usage`, the validator's own
deliveries, so they agree with the metrics.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from matplotlib.collections import PatchCollection
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, Rectangle
from matplotlib.ticker import MaxNLocator

from mapopt.decompose.base import Decomposition
from mapopt.evaluation import Usage, usage
from mapopt.hardware import Hardware
from mapopt.mapping import Mapping

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.colors import Colormap

#: Above this many tiles per mesh side, tiles are aggregated into blocks.
MAX_CELLS = 32
#: Arrows drawn at most (the heaviest tile or block pairs).
MAX_ARROWS = 120
DPI = 110


def _slot_grid(k: int) -> tuple[int, int]:
    cols = math.ceil(math.sqrt(k))
    return cols, math.ceil(k / cols)


def floorplan(dec: Decomposition, hw: Hardware, mapping: Mapping, path: Path, *, title: str = "") -> None:
    """Draw the floorplan of ``mapping`` to ``path`` (PNG)."""
    u = usage(dec, hw, mapping)
    w, h = mapping.mesh
    block = max(1, math.ceil(max(w, h) / MAX_CELLS))
    fig = Figure(figsize=(9.5, 8.4), layout="constrained")
    ax = fig.subplots()
    cmap = _cmap()
    capacity = hw.rows * hw.columns
    if block == 1:
        _draw_slots(ax, u, hw, (w, h), capacity, cmap)
    else:
        _draw_blocks(ax, u, hw, (w, h), block, capacity, cmap)
    io_x, io_y = hw.io_tile
    ax.add_patch(
        Rectangle(
            (io_x // block - 0.5, io_y // block - 0.5), 1, 1, fill=False, edgecolor="red", linewidth=2.5, zorder=5
        )
    )
    ax.annotate(
        "I/O",
        (io_x // block - 0.46, io_y // block + 0.46),
        color="red",
        ha="left",
        va="top",
        fontsize=8,
        weight="bold",
        zorder=6,
        bbox={"boxstyle": "round,pad=0.1", "facecolor": "white", "edgecolor": "none", "alpha": 0.8},
    )
    shown, share, pairs = _draw_traffic(ax, u, (w, h), block)
    gw, gh = math.ceil(w / block), math.ceil(h / block)
    ax.set_xlim(-0.6, gw - 0.4)
    ax.set_ylim(-0.6, gh - 0.4)
    ax.set_aspect("equal")
    ax.set_xlabel("x" if block == 1 else f"x (blocks of {block}x{block} tiles)")
    ax.set_ylabel("y" if block == 1 else f"y (blocks of {block}x{block} tiles)")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    if max(gw, gh) > 16:
        ax.tick_params(labelsize=7)
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize

    bar = fig.colorbar(ScalarMappable(Normalize(0, 1), cmap), ax=ax, shrink=0.8)
    bar.set_label("synapse utilization (crosspoints used / R x C)")
    traffic = (
        f"{shown} of {pairs} {'block' if block > 1 else 'tile'} pairs drawn, {100 * share:.0f}% of inter-tile spikes"
    )
    head = title or f"{dec.original.name} on {hw.name}"
    ax.set_title(
        f"{head}\n{len(u.crossbars)} crossbars on a {w}x{h} mesh ({hw.crossbars_per_tile} per tile); {traffic}",
        fontsize=10,
    )
    fig.savefig(path, dpi=DPI, format="png")


def _cmap() -> Colormap:
    from matplotlib import colormaps

    return colormaps["viridis"]


def _draw_slots(ax: Axes, u: Usage, hw: Hardware, mesh: tuple[int, int], capacity: int, cmap: Colormap) -> None:
    """Every tile with its K crossbar slots; used slots coloured by utilization."""
    w, h = mesh
    k = hw.crossbars_per_tile
    sx, sy = _slot_grid(k)
    pad = 0.06
    tiles = [Rectangle((x - 0.5, y - 0.5), 1, 1) for y in range(h) for x in range(w)]
    ax.add_collection(PatchCollection(tiles, facecolor="#f4f4f4", edgecolor="#999999", linewidth=0.6, zorder=1))
    order = np.argsort(u.tile, kind="stable")  # slot index of each crossbar inside its tile
    tile_sorted = u.tile[order]
    first = np.searchsorted(tile_sorted, tile_sorted, side="left")
    slot = np.empty_like(order)
    slot[order] = np.arange(order.size) - first
    cw, ch = (1 - 2 * pad) / sx, (1 - 2 * pad) / sy
    xs, ys = u.tile % w, u.tile // w
    cells = [
        Rectangle((x - 0.5 + pad + (s % sx + 0.04) * cw, y - 0.5 + pad + (s // sx + 0.04) * ch), cw * 0.92, ch * 0.92)
        for x, y, s in zip(xs.tolist(), ys.tolist(), slot.tolist(), strict=True)
    ]
    util = u.crosspoints / capacity
    ax.add_collection(PatchCollection(cells, facecolor=cmap(util), edgecolor="none", zorder=2))


def _draw_blocks(
    ax: Axes, u: Usage, hw: Hardware, mesh: tuple[int, int], block: int, capacity: int, cmap: Colormap
) -> None:
    """Blocks of block x block tiles, coloured by the utilization of all their crossbars together."""
    w, h = mesh
    gw, gh = math.ceil(w / block), math.ceil(h / block)
    b = (u.tile % w) // block + ((u.tile // w) // block) * gw
    used = np.bincount(b, weights=u.crosspoints, minlength=gw * gh)
    count = np.bincount(b, minlength=gw * gh)
    cells, colours = [], []
    for i in range(gw * gh):
        x, y = i % gw, i // gw
        cells.append(Rectangle((x - 0.5, y - 0.5), 0.96, 0.96))
        colours.append(cmap(used[i] / (count[i] * capacity)) if count[i] else (0.95, 0.95, 0.95, 1.0))
    ax.add_collection(PatchCollection(cells, facecolor=colours, edgecolor="#bbbbbb", linewidth=0.3, zorder=2))


def _draw_traffic(ax: Axes, u: Usage, mesh: tuple[int, int], block: int) -> tuple[int, float, int]:
    """Arrows for the heaviest pairs; returns (drawn, their share of inter-tile spikes, pairs in all)."""
    w, _ = mesh
    gw = math.ceil(w / block)
    src = (u.traffic_src % w) // block + ((u.traffic_src // w) // block) * gw
    dst = (u.traffic_dst % w) // block + ((u.traffic_dst // w) // block) * gw
    keep = src != dst
    total = float(u.traffic_spikes.sum())
    if not keep.any() or total <= 0:
        return 0, 0.0, 0
    n_cells = int(max(src.max(), dst.max())) + 1
    keys, inverse = np.unique(src[keep] * n_cells + dst[keep], return_inverse=True)
    spikes = np.bincount(inverse, weights=u.traffic_spikes[keep], minlength=keys.size)
    top = np.argsort(-spikes, kind="stable")[:MAX_ARROWS]
    peak = float(spikes[top[0]])
    for i in top.tolist():
        a, c = divmod(int(keys[i]), n_cells)
        width = 0.4 + 5.0 * float(spikes[i]) / peak
        ax.add_patch(
            FancyArrowPatch(
                (a % gw, a // gw),
                (c % gw, c // gw),
                connectionstyle="arc3,rad=0.18",
                arrowstyle="-|>",
                mutation_scale=6 + 2 * width,
                linewidth=width,
                color="#d9480f",
                alpha=0.55,
                zorder=4,
            )
        )
    return len(top), float(spikes[top].sum()) / total, int(keys.size)


def utilization_histogram(dec: Decomposition, hw: Hardware, mapping: Mapping, path: Path) -> None:
    """Histograms of the used crossbars' synapse and column (neuron) utilization."""
    u = usage(dec, hw, mapping)
    fig = Figure(figsize=(10, 3.8), layout="constrained")
    bins = np.linspace(0, 1, 21)
    for ax, values, label in zip(
        fig.subplots(1, 2),
        (u.crosspoints / (hw.rows * hw.columns), u.columns / hw.columns),
        ("synapse utilization (crosspoints / R x C)", "neuron utilization (columns used / C)"),
        strict=True,
    ):
        ax.hist(values, bins=bins, color="#3b5b92", edgecolor="white")
        ax.set_xlabel(label)
        ax.set_ylabel("crossbars")
        ax.set_xlim(0, 1)
        mean = float(values.mean()) if values.size else 0.0
        ax.axvline(mean, color="#d9480f", linestyle="--", label=f"mean {mean:.3f}")
        ax.legend(fontsize=8)
    fig.suptitle(f"{dec.original.name} on {hw.name}: {len(u.crossbars)} crossbars", fontsize=10)
    fig.savefig(path, dpi=DPI, format="png")


def plot_mapping(dec: Decomposition, hw: Hardware, mapping: Mapping, folder: Path, stem: str = "") -> list[str]:
    """Write ``{stem}floorplan.png`` and ``{stem}utilization.png`` into ``folder``; returns the names."""
    names = [f"{stem}floorplan.png", f"{stem}utilization.png"]
    floorplan(dec, hw, mapping, folder / names[0])
    utilization_histogram(dec, hw, mapping, folder / names[1])
    return names
