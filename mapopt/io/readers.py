"""Reading a network file of any supported format, detected from the file.

mapopt's own ``.json``/``.npz`` files (network or mapping), the formats of installed
:class:`~mapopt.registry.FileReader` plugins (``mapopt.readers`` entry points, e.g. NIR
for ``.nir``/``.h5``), and, for any other suffix, a SpiNeMap connection file.
"""

from __future__ import annotations

import json
import re
import zipfile
from pathlib import Path

import numpy as np

from mapopt.errors import InputError
from mapopt.io.mapfile import read_mapping
from mapopt.io.netfile import read_network_file
from mapopt.io.spinemap import read_spinemap
from mapopt.network import Network
from mapopt.registry import readers

MAPOPT_SUFFIXES = (".json", ".npz")


def read_network(
    path: Path | str,
    *,
    spikes: Path | str | None = None,
    merge_duplicates: bool = False,
    dt: float | None = None,
) -> Network:
    """Read a network file, detecting its format.

    ``.json``/``.npz``: a mapopt network file (or a mapping file, whose original network
    is returned); a suffix claimed by a reader plugin (e.g. ``.nir``): that reader, given
    ``dt`` (the time step that turns continuous time constants into per-step leaks; None:
    the reader's default) when it takes one; anything else: a SpiNeMap connection file,
    with ``spikes`` as its optional spike file (and repeated synapses summed when
    ``merge_duplicates``; mapopt's own files never hold duplicates).
    """
    path = Path(path)
    if not path.is_file():
        raise InputError("no such file", source=str(path))
    suffix = path.suffix.lower()
    plugins = readers()
    if spikes is not None and suffix in (*MAPOPT_SUFFIXES, *plugins):
        raise InputError("--spikes goes with a SpiNeMap connection file, not this format", source=str(path))
    if dt is not None and (suffix not in plugins or "dt" not in plugins[suffix].options):
        raise InputError("--dt goes with a NIR file (continuous time constants), not this format", source=str(path))
    if suffix in MAPOPT_SUFFIXES:
        if _kind(path) == "mapopt-mapping":
            return read_mapping(path)[0].original
        return read_network_file(path)
    if suffix in plugins:
        try:
            return plugins[suffix].read(path, **({} if dt is None else {"dt": dt}))
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
