"""mapopt's own network file (``format: mapopt-network``), schema in docs/formats.md.

The same fields, under a prefix, also describe N and N' inside a mapping file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from mapopt.errors import InputError
from mapopt.io.container import need_floats, need_ints, need_meta, read_container, write_container
from mapopt.network import Network

KIND = "mapopt-network"
ARRAYS = ("is_input", "pre", "post", "weight", "spikes", "threshold", "leak", "layer")


def network_parts(net: Network, prefix: str = "") -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Metadata and arrays describing ``net``, keys prefixed with ``prefix``."""
    meta = {
        f"{prefix}name": net.name,
        f"{prefix}neurons": net.n_neurons,
        f"{prefix}timesteps": net.timesteps,
        f"{prefix}spike_source": net.spike_source,
    }
    arrays = {f"{prefix}{k}": getattr(net, k) for k in ARRAYS}
    return meta, arrays


def network_from_parts(meta: dict[str, Any], arrays: dict[str, np.ndarray], src: str, prefix: str = "") -> Network:
    """Rebuild (and fully re-validate) a network written by :func:`network_parts`."""
    n = int(need_meta(meta, f"{prefix}neurons", src))
    ints = {k: need_ints(arrays, f"{prefix}{k}", src) for k in ("is_input", "pre", "post", "layer")}
    floats = {k: need_floats(arrays, f"{prefix}{k}", src) for k in ("weight", "spikes", "threshold", "leak")}
    for k, arr in {**ints, **floats}.items():
        if k not in ("pre", "post", "weight") and len(arr) != n:
            raise InputError(f"array {prefix}{k!r} has {len(arr)} entries, expected {n} (neurons)", source=src)
    try:
        return Network.build(
            name=str(need_meta(meta, f"{prefix}name", src)),
            is_input=ints["is_input"].astype(bool),
            pre=ints["pre"],
            post=ints["post"],
            weight=floats["weight"],
            spikes=floats["spikes"],
            spike_source=str(meta.get(f"{prefix}spike_source", "file")),
            timesteps=int(need_meta(meta, f"{prefix}timesteps", src)),
            threshold=floats["threshold"],
            leak=floats["leak"],
            layer=ints["layer"].astype(np.int32),
        )
    except InputError as err:
        raise err.with_source(src) from None


def write_network(path: Path, net: Network, *, compress: bool = False) -> None:
    """Write ``net`` (``.json`` or ``.npz`` by suffix; ``compress``: deflate an ``.npz``)."""
    meta, arrays = network_parts(net)
    write_container(Path(path), KIND, meta, arrays, compress=compress)


def read_network_file(path: Path) -> Network:
    meta, arrays = read_container(Path(path), KIND)
    return network_from_parts(meta, arrays, str(path))
