"""mapopt's own network file (``format: mapopt-network``), schema in docs/formats.md.

The same fields, under a prefix, also describe N and N' inside a mapping file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from mapopt.errors import InputError
from mapopt.io.container import need, need_meta, read_container, write_container
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
    got = {k: need(arrays, f"{prefix}{k}", src) for k in ARRAYS}
    for k in ("is_input", "spikes", "threshold", "leak", "layer"):
        if len(got[k]) != n:
            raise InputError(f"array {prefix}{k!r} has {len(got[k])} entries, expected {n} (neurons)", source=src)
    for k in ("pre", "post", "layer"):
        arr = got[k]
        if arr.size and not np.issubdtype(arr.dtype, np.integer):
            if not np.all(np.isfinite(arr)) or not np.all(arr == np.round(arr)):
                raise InputError(f"array {prefix}{k!r} must hold integers", source=src)
    try:
        return Network.build(
            name=str(need_meta(meta, f"{prefix}name", src)),
            is_input=got["is_input"].astype(bool),
            pre=got["pre"].astype(np.int64),
            post=got["post"].astype(np.int64),
            weight=got["weight"].astype(np.float64),
            spikes=got["spikes"].astype(np.float64),
            spike_source=str(meta.get(f"{prefix}spike_source", "file")),
            timesteps=int(need_meta(meta, f"{prefix}timesteps", src)),
            threshold=got["threshold"].astype(np.float64),
            leak=got["leak"].astype(np.float64),
            layer=got["layer"].astype(np.int32),
        )
    except InputError as err:
        raise err.with_source(src) from None


def write_network(path: Path, net: Network) -> None:
    meta, arrays = network_parts(net)
    write_container(Path(path), KIND, meta, arrays)


def read_network_file(path: Path) -> Network:
    meta, arrays = read_container(Path(path), KIND)
    return network_from_parts(meta, arrays, str(path))
