"""Readers and writers: mapopt's own network and mapping files, and the SpiNeMap format.

:func:`read_network` detects the format of a file. Other formats (NIR, ...) register a
reader for their suffixes with :func:`register_reader`.
"""

from __future__ import annotations

import json
import re
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from mapopt.errors import InputError
from mapopt.io.mapfile import read_mapping, write_mapping
from mapopt.io.netfile import read_network_file, write_network
from mapopt.io.spinemap import read_spinemap, write_spinemap
from mapopt.network import Network

Reader = Callable[[Path], Network]
_READERS: dict[str, Reader] = {}


def register_reader(suffixes: tuple[str, ...], reader: Reader) -> None:
    """Make :func:`read_network` read files ending in any of ``suffixes`` with ``reader``."""
    for suffix in suffixes:
        _READERS[suffix.lower()] = reader


def read_network(path: Path | str, *, spikes: Path | str | None = None, merge_duplicates: bool = False) -> Network:
    """Read a network file, detecting its format.

    ``.json``/``.npz``: a mapopt network file (or a mapping file, whose original network
    is returned); a registered suffix (e.g. ``.nir``): that reader; anything else: a
    SpiNeMap connection file, with ``spikes`` as its optional spike file (and repeated
    synapses summed when ``merge_duplicates``; mapopt's own files never hold duplicates).
    """
    path = Path(path)
    if not path.is_file():
        raise InputError("no such file", source=str(path))
    suffix = path.suffix.lower()
    if spikes is not None and suffix in (".json", ".npz", *_READERS):
        raise InputError("--spikes goes with a SpiNeMap connection file, not this format", source=str(path))
    if suffix in (".json", ".npz"):
        if _kind(path) == "mapopt-mapping":
            return read_mapping(path)[0].original
        return read_network_file(path)
    if suffix in _READERS:
        try:
            return _READERS[suffix](path)
        except InputError as err:
            raise err.with_source(str(path)) from None
    return read_spinemap(path, None if spikes is None else Path(spikes), merge_duplicates=merge_duplicates)


def _kind(path: Path) -> str | None:
    """The ``format`` a mapopt file declares, read without loading its arrays."""
    try:
        if path.suffix.lower() == ".json":
            with path.open() as f:
                m = re.search(r'"format"\s*:\s*"([^"]+)"', f.read(512))
            return m.group(1) if m else None
        with np.load(path, allow_pickle=False) as z:
            return json.loads(str(z["__meta__"])).get("format") if "__meta__" in z.files else None
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError):
        return None  # the full reader reports what is wrong with the file


__all__ = [
    "read_mapping",
    "read_network",
    "read_spinemap",
    "register_reader",
    "write_mapping",
    "write_network",
    "write_spinemap",
]

from mapopt.io import nir as _nir  # noqa: E402, F401  (registers the NIR reader)
