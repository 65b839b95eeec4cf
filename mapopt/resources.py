"""Memory guards: refuse, before building it, what cannot fit in this machine's memory.

A generator spec, a file or an option can ask for far more than the machine holds
(``mlp:100000-100000-10`` is 10^10 synapses). Building it first would end in a
MemoryError, an OverflowError or the kernel's OOM killer after minutes of swapping; so
each builder states its size first (:class:`Size`: neurons and synapses, from the spec's
closed form or an upper bound) and :func:`check_fits` compares the bytes this needs with
the memory available now (``MemAvailable`` of ``/proc/meminfo``; psutil's figure when
psutil is installed and /proc is not there), raising an :class:`~mapopt.errors.InputError`
that names the item, the estimate and the memory available (exit 2).

The bytes per synapse and per neuron are measured peaks of building a network
(``Network.build`` sorts and validates int64/float64 arrays: a few copies of each), see
docs/reliability.md; a fraction :data:`USABLE` of the available memory may be used.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mapopt.errors import InputError

#: Peak bytes per synapse and per neuron while a network is built (measured, docs/reliability.md).
BYTES_PER_SYNAPSE = 120
BYTES_PER_NEURON = 200
#: Share of the available memory a build may take.
USABLE = 0.8
#: Fallback when the available memory cannot be read.
UNKNOWN_MEMORY = 4 << 30
#: Above this many neurons or synapses int64 ids and numpy indexing are not safe anyway.
MAX_ITEMS = 1 << 40


@dataclass(frozen=True)
class Size:
    """An estimated network size: neurons and synapses (upper bounds where not exact)."""

    neurons: float
    synapses: float
    work_bytes: float = 0.0  #: scratch memory the builder needs besides the network (e.g. a distance block)

    @property
    def bytes(self) -> float:
        return self.neurons * BYTES_PER_NEURON + self.synapses * BYTES_PER_SYNAPSE + self.work_bytes


def available_bytes() -> int:
    """Memory available for new allocations now, in bytes."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        import psutil  # optional: only where /proc/meminfo is missing

        return int(psutil.virtual_memory().available)
    except ImportError:
        return UNKNOWN_MEMORY


def human(n: float) -> str:
    """Bytes as a short string (``12.3 GiB``)."""
    units = ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB")
    i = 0
    while abs(n) >= 1024 and i < len(units) - 1:
        n, i = n / 1024, i + 1
    return f"{n:.0f} B" if i == 0 else f"{n:.1f} {units[i]}"


def check_bytes(what: str, need: float, *, detail: str = "", source: str | None = None) -> None:
    """Refuse ``what`` when ``need`` bytes exceed the usable share of the available memory."""
    free = available_bytes()
    if need > USABLE * free:
        extra = f" ({detail})" if detail else ""
        raise InputError(
            f"{what} needs about {human(need)}{extra}, more than the {human(USABLE * free)} this machine can give it "
            f"({human(free)} available); use a smaller size",
            source=source,
        )


def check_fits(what: str, size: Size, *, source: str | None = None) -> None:
    """Refuse to build a network of ``size`` that cannot fit in memory (see the module docstring)."""
    if size.neurons > MAX_ITEMS or size.synapses > MAX_ITEMS:
        raise InputError(
            f"{what} has {size.neurons:.3g} neurons and {size.synapses:.3g} synapses, beyond what mapopt can index",
            source=source,
        )
    detail = f"{size.neurons:.3g} neurons, {size.synapses:.3g} synapses"
    check_bytes(what, size.bytes, detail=detail, source=source)
