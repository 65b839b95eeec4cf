"""Turning a ``--net`` value into a network: a file, a catalog name or a generator spec."""

from __future__ import annotations

from pathlib import Path

from mapopt.errors import InputError
from mapopt.io.readers import read_network
from mapopt.network import Network
from mapopt.registry import catalog, generator, generator_prefixes
from mapopt.resources import Size, check_fits


def resolve_net(
    spec: str,
    *,
    spikes: str | None = None,
    seed: int = 0,
    merge_duplicates: bool = False,
    dt: float | None = None,
) -> Network:
    """A network from a file path, a catalog name (``mapopt list nets``) or ``PREFIX:ARGS``.

    ``spikes`` is an optional spike file for formats that keep spikes apart (SpiNeMap);
    ``merge_duplicates`` sums the weights of repeated synapses instead of rejecting them;
    ``dt`` is the time step for a NIR file (None: the reader's default, 1e-4 s).
    A generator spec imports only that generator's module. Before anything is built, the
    size a generator or catalog entry states is checked against the memory available
    (:func:`mapopt.resources.check_fits`): what cannot fit is refused in one line.
    """
    path = Path(spec)
    if path.exists():
        return read_network(path, spikes=spikes, merge_duplicates=merge_duplicates, dt=dt)
    if spikes is not None:
        raise InputError(
            f"only a SpiNeMap connection file takes a spike file; --net {spec} is not a file", source="--spikes"
        )
    if dt is not None:
        raise InputError(f"--dt goes with a NIR file; --net {spec} is not a file", source="--dt")
    prefix, sep, args = spec.partition(":")
    if not sep:
        nets = catalog()
        if spec in nets:
            facts = nets[spec].facts
            if "neurons" in facts and "synapses" in facts:
                check_fits(f"catalog net {spec}", Size(facts["neurons"], facts["synapses"]), source="--net")
            return nets[spec].build()
    gen = generator(prefix) if sep else None
    if gen is not None:
        try:
            if gen.size is not None:
                check_fits("this net", gen.size(args))
            return gen.build(args, seed)
        except InputError as err:
            raise err.with_source(f"--net {spec}") from None
    prefixes = ", ".join(generator_prefixes())
    if sep or "." in spec or "/" in spec:
        hint = f"no such file, and no generator {prefix!r}" if sep else "no such file"
        raise InputError(f"{hint}; generators: {prefixes}", source=spec)
    names = ", ".join(sorted(catalog()))
    raise InputError(
        f"unknown net {spec!r}: not a file, a catalog name ({names}) or PREFIX:ARGS ({prefixes})", source="--net"
    )
