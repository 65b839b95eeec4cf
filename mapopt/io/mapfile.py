"""mapopt's mapping file (``format: mapopt-mapping``), schema in docs/formats.md.

A mapping file is self-contained so that ``mapopt validate`` can re-check it alone: it
holds the original network N, the decomposed network N' with its provenance arrays, the
hardware, the mapping, and (for information only) the solver's report and metrics,
which the validator recomputes rather than trusts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from mapopt.decompose.base import TRAFFIC_MODES, Decomposition
from mapopt.errors import InputError
from mapopt.hardware import Hardware
from mapopt.io.container import need_ints, need_meta, read_container, write_container
from mapopt.io.netfile import network_from_parts, network_parts
from mapopt.mapping import Mapping
from mapopt.network import index_dtype

KIND = "mapopt-mapping"


def write_mapping(
    path: Path,
    dec: Decomposition,
    hw: Hardware,
    mapping: Mapping,
    *,
    report: dict[str, Any] | None = None,
    compress: bool = False,
) -> None:
    """Write everything needed to re-check ``mapping`` (``.json`` or ``.npz`` by suffix; ``compress``: deflate it)."""
    meta_n, arr_n = network_parts(dec.original, "net_")
    meta_u, arr_u = network_parts(dec.network, "units_")
    meta = {
        **meta_n,
        **meta_u,
        "strategy": dec.strategy,
        "arity": dec.arity,
        "traffic": dec.traffic,
        "hardware": hw.to_dict(),
        "mesh": list(mapping.mesh),
        "report": report or {},
    }
    arrays = {
        **arr_n,
        **arr_u,
        "origin": dec.origin,
        "position": dec.position,
        "level": dec.level,
        "edge_origin": dec.edge_origin,
        "pruned": dec.pruned,
        "unit_crossbar": mapping.unit_crossbar,
        "crossbar_tile": mapping.crossbar_tile,
    }
    write_container(Path(path), KIND, meta, arrays, compress=compress)


def _ints(
    arrays: dict[str, np.ndarray],
    name: str,
    src: str,
    *,
    length: int | None = None,
    low: int | None = None,
    high: int | None = None,
    dtype: np.dtype | type = np.int64,
) -> np.ndarray:
    """The integer array ``name`` checked against its length and range, as ``dtype`` (files store the smallest type)."""
    arr = need_ints(arrays, name, src)
    if length is not None and len(arr) != length:
        raise InputError(f"array {name!r} has {len(arr)} entries, expected {length}", source=src)
    if arr.size and low is not None and arr.min() < low:
        raise InputError(f"array {name!r}: value {int(arr.min())} below {low}", source=src)
    if arr.size and high is not None and arr.max() >= high:
        raise InputError(f"array {name!r}: value {int(arr.max())} not below {high}", source=src)
    return arr.astype(dtype, copy=False)


def read_mapping(path: Path) -> tuple[Decomposition, Hardware, Mapping, dict[str, Any]]:
    """Read a mapping file back into (decomposition, hardware, mapping, report)."""
    src = str(path)
    meta, arrays = read_container(Path(path), KIND)
    original = network_from_parts(meta, arrays, src, "net_")
    units = network_from_parts(meta, arrays, src, "units_")
    n, n_prime, e = original.n_neurons, units.n_neurons, original.n_synapses
    traffic = meta.get("traffic", "upper")
    if traffic not in TRAFFIC_MODES:
        raise InputError(f"unknown traffic mode {traffic!r}", source=src)
    hw_meta = need_meta(meta, "hardware", src)
    if not isinstance(hw_meta, dict):
        raise InputError("field 'hardware' must be an object", source=src)
    hw = Hardware.from_dict(hw_meta, source=src)
    mesh = need_meta(meta, "mesh", src)
    if not (isinstance(mesh, list) and len(mesh) == 2 and all(isinstance(v, int) and v >= 1 for v in mesh)):
        raise InputError(f"field 'mesh' must be [W, H] with positive integers, got {mesh!r}", source=src)
    arity = meta.get("arity")
    synapse_ids = index_dtype(e + 1)
    dec = Decomposition(
        original=original,
        network=units,
        origin=_ints(arrays, "origin", src, length=n_prime, low=0, high=n),
        position=_ints(arrays, "position", src, length=n_prime, low=0, dtype=np.int32),
        level=_ints(arrays, "level", src, length=n_prime, low=0, dtype=np.int32),
        edge_origin=_ints(arrays, "edge_origin", src, length=units.n_synapses, low=-1, high=e, dtype=synapse_ids),
        pruned=_ints(arrays, "pruned", src, low=0, high=e, dtype=synapse_ids),
        strategy=str(need_meta(meta, "strategy", src)),
        arity=None if arity is None else int(arity),
        traffic=traffic,
    )
    mapping = Mapping(
        unit_crossbar=_ints(arrays, "unit_crossbar", src, length=n_prime, low=-1),
        crossbar_tile=_ints(arrays, "crossbar_tile", src, low=0),
        mesh=(mesh[0], mesh[1]),
    )
    report = meta.get("report", {})
    return dec, hw, mapping, report if isinstance(report, dict) else {}
