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
from mapopt.hardware import Hardware, check_mesh
from mapopt.io.container import meta_str, need_ints, need_meta, read_container, write_container
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
        "connectors": dec.connectors,
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
        "dropped": dec.dropped,
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
    """Read a mapping file back into (decomposition, hardware, mapping, report).

    Every field is checked by type and range (docs/formats.md); whether the mapping and
    its decomposition satisfy the model's constraints is the validator's job
    (:func:`mapopt.evaluation.check`), which ``mapopt validate`` runs next.
    """
    src = str(path)
    meta, arrays = read_container(Path(path), KIND)
    original = network_from_parts(meta, arrays, src, "net_")
    units = network_from_parts(meta, arrays, src, "units_")
    n, n_prime, e = original.n_neurons, units.n_neurons, original.n_synapses
    traffic = meta_str(meta, "traffic", src, default="upper")
    if traffic not in TRAFFIC_MODES:
        raise InputError(f"field 'traffic': unknown mode {traffic!r} (known: {', '.join(TRAFFIC_MODES)})", source=src)
    hw_meta = need_meta(meta, "hardware", src)
    if not isinstance(hw_meta, dict):
        raise InputError("field 'hardware' must be an object", source=src)
    hw = Hardware.from_dict(hw_meta, source=src)
    mesh = need_meta(meta, "mesh", src)
    if not (isinstance(mesh, list) and len(mesh) == 2):
        raise InputError(f"field 'mesh' must be [W, H] with positive integers, got {mesh!r}", source=src)
    try:
        mesh = list(check_mesh(mesh[0], mesh[1], hw.crossbars_per_tile, what="field 'mesh'"))
    except InputError as err:
        raise err.with_source(src) from None
    arity = meta.get("arity")
    if arity is not None and (type(arity) is not int or arity < 1):
        raise InputError(f"field 'arity' must be a positive integer or null, got {arity!r}", source=src)
    strategy = meta_str(meta, "strategy", src)
    report = meta.get("report", {})
    if not isinstance(report, dict):
        raise InputError(f"field 'report' must be an object, got {type(report).__name__}", source=src)
    if n_prime < n:
        raise InputError(f"N' has {n_prime} neurons, fewer than the {n} of N", source=src)
    connectors = meta.get("connectors", 0)
    if not (type(connectors) is int and 0 <= connectors <= n_prime):
        raise InputError(f"field 'connectors' must be an integer in 0..{n_prime}, got {connectors!r}", source=src)
    dropped = _ints(arrays, "dropped", src, low=0, high=n_prime) if "dropped" in arrays else np.zeros(0, np.int64)
    synapse_ids = index_dtype(e + 1)  # edge_origin and pruned index N's synapses (and -1)
    dec = Decomposition(
        original=original,
        network=units,
        origin=_ints(arrays, "origin", src, length=n_prime, low=0, high=n),
        position=_ints(arrays, "position", src, length=n_prime, low=0, high=max(n_prime, 1), dtype=np.int32),
        level=_ints(arrays, "level", src, length=n_prime, low=0, high=max(n_prime, 1), dtype=np.int32),
        edge_origin=_ints(arrays, "edge_origin", src, length=units.n_synapses, low=-1, high=e, dtype=synapse_ids),
        pruned=_ints(arrays, "pruned", src, low=0, high=e, dtype=synapse_ids),
        strategy=strategy,
        arity=arity,
        traffic=traffic,
        connectors=connectors,
        dropped=dropped,
    )
    mapping = Mapping(
        unit_crossbar=_ints(arrays, "unit_crossbar", src, length=n_prime, low=-1),
        crossbar_tile=_ints(arrays, "crossbar_tile", src, low=0),
        mesh=(mesh[0], mesh[1]),
    )
    return dec, hw, mapping, report
