"""Readers and writers: mapopt's own network and mapping files, the SpiNeMap format, NIR.

:func:`read_network` detects the format of a file (formats of installed reader plugins
included, see :mod:`mapopt.registry`); :func:`resolve_net` turns any ``--net`` value
(file, catalog name, generator spec) into a network.
"""

from mapopt.io.mapfile import read_mapping, write_mapping
from mapopt.io.netfile import write_network
from mapopt.io.readers import read_network
from mapopt.io.resolve import resolve_net
from mapopt.io.spinemap import read_spinemap, write_spinemap

__all__ = [
    "read_mapping",
    "read_network",
    "read_spinemap",
    "resolve_net",
    "write_mapping",
    "write_network",
    "write_spinemap",
]
