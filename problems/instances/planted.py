"""Planted instances: networks whose optimal mapping is known by construction.

``planted(blocks, R, C, reads)`` builds ``blocks`` groups of ``R`` input neurons and ``C``
compute neurons; compute neuron k of a block reads ``reads`` inputs of its own block, a
cyclic window starting at input k. With ``reads > R/2`` and the windows covering all R
inputs (``C + reads - 1 >= R``):

- two units of different blocks need more than R rows together, so no crossbar mixes
  blocks, and ``blocks * C`` units need at least ``blocks`` crossbars of C columns: the
  optimum is exactly one crossbar per block, unique up to relabelling (the units of a
  block tile its crossbar's R rows and C columns exactly);
- every input is then delivered once, to its block's crossbar, so deliveries and
  intercrossbar spikes are fixed and hop_spikes = sum_b S_b * hops(io, tile of block b),
  S_b the spikes of block b's inputs. By the rearrangement inequality the optimum puts
  blocks in decreasing S_b on the K-crossbar slots in increasing distance from the I/O tile
  (on the mesh that holds ``blocks`` crossbars: ``Hardware.with_mesh_for`` when 'auto').

So the optimum of every objective (crossbars, hop_spikes, intercrossbar spikes, energy) is
known without solving anything, which is what the exact solvers are tested against.
"""

from __future__ import annotations

import math

import numpy as np

from mapopt.errors import InputError
from mapopt.hardware import Hardware, customise, load_preset
from mapopt.network import Network
from mapopt.registry import NetEntry


def planted(blocks: int, rows: int, columns: int, reads: int, *, seed: int = 0, timesteps: int = 100) -> Network:
    """The planted network (see the module docstring); input spike totals differ between blocks."""
    if not (rows / 2 < reads <= rows and columns + reads - 1 >= rows and blocks >= 1):
        raise InputError(
            f"planted instance needs R/2 < reads <= R and C + reads - 1 >= R, got R={rows}, C={columns}, reads={reads}"
        )
    rng = np.random.default_rng(seed)
    n_in, n_out = blocks * rows, blocks * columns
    block_of_unit = np.repeat(np.arange(blocks), columns)
    k = np.tile(np.arange(columns), blocks)
    offsets = (k[:, None] + np.arange(reads)[None, :]) % rows
    pre = (block_of_unit[:, None] * rows + offsets).ravel()
    post = np.repeat(n_in + np.arange(n_out), reads)
    spikes = np.zeros(n_in + n_out)
    spikes[:n_in] = rng.integers(1, 10, size=n_in)
    return Network.build(
        name=f"planted-{blocks}x{rows}x{columns}r{reads}",
        is_input=np.arange(n_in + n_out) < n_in,
        pre=pre,
        post=post,
        weight=rng.normal(size=len(pre)),
        spikes=spikes,
        spike_source=f"planted: inputs fire 1-9 times (seed {seed}); compute neurons have no targets",
        timesteps=timesteps,
        layer=np.r_[np.zeros(n_in, np.int32), np.ones(n_out, np.int32)],
    )


def planted_optimum(net: Network, blocks: int, hw: Hardware) -> dict[str, float]:
    """Optimal crossbars and hop_spikes of a planted net on ``hw`` (by construction, nothing solved)."""
    rows = net.n_inputs // blocks
    block_spikes = net.spikes[: net.n_inputs].reshape(blocks, rows).sum(axis=1)
    hw = hw.with_mesh_for(blocks)
    if math.ceil(blocks / hw.crossbars_per_tile) > hw.n_tiles:
        raise InputError(f"{blocks} crossbars do not fit the mesh of {hw.name}", constraint="tile-capacity")
    slots = hw.crossbar_slots()[:blocks]
    slot_hops = hw.hops(slots, np.full_like(slots, hw.io_tile_id))
    hop_spikes = float(np.sort(block_spikes)[::-1] @ np.sort(slot_hops))
    return {"crossbars": blocks, "hop_spikes": hop_spikes, "intercrossbar_spikes": float(block_spikes.sum())}


#: Catalog entries: (name, blocks, R, C, reads, hardware preset the optimum is stated for, its mesh override)
PLANTED = (
    ("planted-toy-2", 2, 4, 4, 3, "toy", None),
    ("planted-toy-3", 3, 4, 4, 3, "toy", None),
    ("planted-toy-6", 6, 4, 4, 3, "toy", None),
    ("planted-toy-8", 8, 4, 4, 3, "toy", None),
    ("planted-toy-75", 75, 4, 4, 3, "toy", "auto"),  # 300 units: exact reach (docs/exact.md)
)


def entries() -> list[NetEntry]:
    """The planted catalog nets with their optima (a ``mapopt.nets`` entry point in pyproject.toml)."""
    return [_entry(*spec) for spec in PLANTED]


def _entry(name: str, blocks: int, rows: int, columns: int, reads: int, preset: str, mesh: str | None) -> NetEntry:
    net = planted(blocks, rows, columns, reads)
    best = planted_optimum(net, blocks, customise(load_preset(preset), mesh=mesh))
    where = f"--hw {preset}" + (f" --mesh {mesh}" if mesh else "")
    return NetEntry(
        name=name,
        tier="tiny",
        description=f"planted: {blocks} blocks of {rows} inputs x {columns} units reading {reads}; "
        f"optimum known on {where}",
        build=lambda: planted(blocks, rows, columns, reads),
        facts={
            "neurons": net.n_neurons,
            "synapses": net.n_synapses,
            "max_fanin": net.max_fanin,
            "spikes": "planted",
            "optimum_hw": preset,
            "optimum_mesh": mesh or "preset",
            "optimum_crossbars": best["crossbars"],
            "optimum_hop_spikes": best["hop_spikes"],
            "optimum_intercrossbar_spikes": best["intercrossbar_spikes"],
        },
    )

