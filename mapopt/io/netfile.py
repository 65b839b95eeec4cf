"""mapopt's own network file (``format: mapopt-network``), schema in docs/formats.md.

The same fields, under a prefix, also describe N and N' inside a mapping file. Version 1
files have no ``bias``, ``reset`` or ``task``: their neurons had neither (zeros, no task).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from mapopt.errors import InputError
from mapopt.io.container import (
    meta_int,
    meta_str,
    need_bools,
    need_floats,
    need_ints,
    read_container,
    write_container,
)
from mapopt.network import MAX_NEURONS, MAX_TIMESTEPS, Network

KIND = "mapopt-network"
ARRAYS = ("is_input", "pre", "post", "weight", "spikes", "threshold", "leak", "layer", "bias", "reset")
#: Arrays that version 1 files do not have.
SINCE_VERSION_2 = ("bias", "reset")


def network_parts(net: Network, prefix: str = "") -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Metadata and arrays describing ``net``, keys prefixed with ``prefix``."""
    meta = {
        f"{prefix}name": net.name,
        f"{prefix}neurons": net.n_neurons,
        f"{prefix}timesteps": net.timesteps,
        f"{prefix}spike_source": net.spike_source,
        f"{prefix}task": net.task,
    }
    arrays = {f"{prefix}{k}": getattr(net, k) for k in ARRAYS}
    if net.input_listing is not None:  # optional: only nets read from a SpiNeMap file with another order
        arrays[f"{prefix}input_listing"] = net.input_listing
    return meta, arrays


def network_from_parts(meta: dict[str, Any], arrays: dict[str, np.ndarray], src: str, prefix: str = "") -> Network:
    """Rebuild (and fully re-validate) a network written by :func:`network_parts`.

    Every field is checked by type and range (docs/formats.md): ``name`` and
    ``spike_source`` strings, ``neurons`` and ``timesteps`` integers in range, ``is_input``
    booleans, ``pre``/``post``/``layer`` integers, the other arrays real numbers, each of
    the right length; :meth:`Network.build` then checks ids, weights, spikes and parameters.
    A version 1 file has no ``bias``, ``reset`` or ``task`` (zeros and none); ``task`` is a
    string or null.
    """
    name = meta_str(meta, f"{prefix}name", src)
    n = meta_int(meta, f"{prefix}neurons", src, high=MAX_NEURONS)
    timesteps = meta_int(meta, f"{prefix}timesteps", src, low=1, high=MAX_TIMESTEPS)
    spike_source = meta_str(meta, f"{prefix}spike_source", src, default="file")
    is_input = need_bools(arrays, f"{prefix}is_input", src)
    ints = {k: need_ints(arrays, f"{prefix}{k}", src) for k in ("pre", "post", "layer")}
    names = ["weight", "spikes", "threshold", "leak", *(SINCE_VERSION_2 if meta.get("version") != 1 else ())]
    floats = {k: need_floats(arrays, f"{prefix}{k}", src) for k in names}
    task = meta.get(f"{prefix}task")
    if task is not None and not isinstance(task, str):
        raise InputError(f"field {prefix}task must be a string or null, got {task!r}", source=src)
    for k, arr in {"is_input": is_input, **ints, **floats}.items():
        if k not in ("pre", "post", "weight") and len(arr) != n:
            raise InputError(f"array {prefix + k!r} has {len(arr)} entries, expected {n} (neurons)", source=src)
    if len(ints["pre"]) != len(ints["post"]) or len(ints["pre"]) != len(floats["weight"]):
        raise InputError(
            f"arrays {prefix}pre, {prefix}post and {prefix}weight differ in length "
            f"({len(ints['pre'])}, {len(ints['post'])}, {len(floats['weight'])})",
            source=src,
        )
    layer = ints["layer"]
    if layer.size and (layer.min() < -1 or layer.max() > np.iinfo(np.int32).max):
        raise InputError(f"array {prefix + 'layer'!r}: layer indices must be -1 (unknown) or 0..2^31-1", source=src)
    try:
        net = Network.build(
            name=name,
            is_input=is_input,
            pre=ints["pre"],
            post=ints["post"],
            weight=floats["weight"],
            spikes=floats["spikes"],
            spike_source=spike_source,
            timesteps=timesteps,
            threshold=floats["threshold"],
            leak=floats["leak"],
            layer=layer.astype(np.int32),
            bias=floats.get("bias"),
            reset=floats.get("reset"),
            task=task,
        )
        if f"{prefix}input_listing" in arrays:
            net = net.with_input_listing(need_ints(arrays, f"{prefix}input_listing", src))
        return net
    except InputError as err:
        raise err.with_source(src) from None


def write_network(path: Path, net: Network, *, compress: bool = False) -> None:
    """Write ``net`` (``.json`` or ``.npz`` by suffix; ``compress``: deflate an ``.npz``)."""
    meta, arrays = network_parts(net)
    write_container(Path(path), KIND, meta, arrays, compress=compress)


def read_network_file(path: Path) -> Network:
    meta, arrays = read_container(Path(path), KIND)
    return network_from_parts(meta, arrays, str(path))
