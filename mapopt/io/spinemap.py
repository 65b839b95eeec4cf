"""The SpiNeMap text format used by the paper's public code (Balaji et al. 2020).

Connection file: one line per pre-synaptic neuron, ``pre post1 post2 ...`` (integer
ids; a neuron may appear on several lines). Spike file: one line per neuron,
``neuron t1 t2 ...`` (spike times in timesteps). The format has no weights (all 1.0)
and no roles: neurons without incoming synapses are the inputs. Spike counts are the
number of listed times; the window T is the last time + 1.

Ids are used as given (gaps become neurons without synapses, as in the authors' files)
as long as the largest id stays below :func:`id_limit` of the number of distinct ids
listed (4 x that number, and at least 2^20): a file whose ids go far beyond the
neurons it lists (``99999999999`` in a 5-line file) is refused, naming the line, before
anything is allocated. Renumber such a file densely to read it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mapopt.errors import InputError
from mapopt.io.outdir import atomic_write
from mapopt.network import DEFAULT_TIMESTEPS, MAX_TIMESTEPS, Network

#: Ids up to this many times the number of distinct ids listed (and at least MIN_ID_LIMIT) are accepted.
ID_SLACK = 4
MIN_ID_LIMIT = 1 << 20


def id_limit(distinct: int) -> int:
    """The largest neuron id + 1 accepted in a file that lists ``distinct`` different ids."""
    return max(MIN_ID_LIMIT, ID_SLACK * distinct)


def _int_rows(path: Path) -> list[tuple[int, list[int]]]:
    rows: list[tuple[int, list[int]]] = []
    try:
        text = Path(path).read_text()
    except (OSError, UnicodeDecodeError) as err:
        raise InputError(f"unreadable file: {err}", source=str(path)) from None
    for lineno, line in enumerate(text.splitlines(), start=1):
        fields = line.split()
        if not fields or fields[0].startswith("#"):
            continue
        try:
            values = [int(x) for x in fields]
        except ValueError:
            bad = next(x for x in fields if not x.lstrip("-").isdigit())
            raise InputError(f"line {lineno}: {bad!r} is not an integer neuron id or time", source=str(path)) from None
        if any(v < 0 for v in values):
            raise InputError(f"line {lineno}: negative neuron id or time", source=str(path))
        rows.append((lineno, values))
    return rows


def read_spinemap(conn_path: Path, spike_path: Path | None = None, *, merge_duplicates: bool = False) -> Network:
    """Read a SpiNeMap connection file (and optional spike file) into a network."""
    rows = _int_rows(conn_path)
    if not rows:
        raise InputError("no connections found", source=str(conn_path))
    distinct = len({x for _, v in rows for x in v})
    limit = id_limit(distinct)
    for lineno, values in rows:
        big = max(values)
        if big >= limit:
            raise InputError(
                f"line {lineno}: neuron id {big} is far beyond the {distinct} distinct ids the file lists "
                f"(ids must stay below {limit}); renumber the neurons densely",
                source=str(conn_path),
            )
    pre = np.concatenate([np.full(len(v) - 1, v[0]) for _, v in rows]).astype(np.int64)
    post = np.concatenate([np.asarray(v[1:], dtype=np.int64) for _, v in rows]).astype(np.int64)
    n = max(max(v[0] for _, v in rows), int(post.max(initial=0))) + 1
    spikes = np.zeros(n)
    timesteps = DEFAULT_TIMESTEPS
    source = "none (no spike file)"
    if spike_path is not None:
        spike_rows = _int_rows(spike_path)
        last = 0
        for lineno, values in spike_rows:
            neuron = values[0]
            if neuron >= n:
                raise InputError(
                    f"line {lineno}: neuron {neuron} is not in the connection file (ids 0..{n - 1})",
                    source=str(spike_path),
                )
            spikes[neuron] += len(values) - 1
            last = max([last, *values[1:]])
            if last >= MAX_TIMESTEPS:
                raise InputError(
                    f"line {lineno}: spike time {last} beyond the longest window mapopt simulates ({MAX_TIMESTEPS})",
                    source=str(spike_path),
                )
        timesteps = last + 1
        source = f"file: {Path(spike_path).name}"
    is_input = np.bincount(post, minlength=n) == 0
    try:
        return Network.build(
            name=Path(conn_path).stem,
            is_input=is_input,
            pre=pre,
            post=post,
            spikes=spikes,
            spike_source=source,
            timesteps=timesteps,
            merge_duplicates=merge_duplicates,
        )
    except InputError as err:
        raise err.with_source(str(conn_path)) from None


def write_spinemap(net: Network, conn_path: Path, spike_path: Path | None = None) -> None:
    """Write ``net`` as a SpiNeMap connection file (weights are lost: the format has none).

    The spike file lists, for each neuron with spikes, that many evenly spaced times in
    the window (the format needs times; mapopt keeps only counts). Counts are rounded.
    """
    order = np.argsort(net.pre, kind="stable")
    pre, post = net.pre[order], net.post[order]
    starts = np.flatnonzero(np.r_[True, pre[1:] != pre[:-1]])
    lines = []
    for a, b in zip(starts, np.r_[starts[1:], len(pre)], strict=True):  # one line per source neuron
        lines.append(" ".join(map(str, [pre[a], *post[a:b].tolist()])))
    atomic_write(Path(conn_path), lambda f: f.write("\n".join(lines) + "\n"), binary=False)
    if spike_path is not None:
        spike_lines = []
        for v in np.flatnonzero(net.spikes > 0):
            count = round(float(net.spikes[v]))
            times = np.linspace(0, net.timesteps - 1, num=count).round().astype(int) if count else []
            spike_lines.append(" ".join(map(str, [v, *list(times)])))
        atomic_write(Path(spike_path), lambda f: f.write("\n".join(spike_lines) + "\n"), binary=False)
