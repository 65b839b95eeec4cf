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

The order of the lines matters to the authors' partitioner: it builds each neuron's input
list line by line (``Model::readConnections`` in SNNPartitioning/include/unroll/unroll.cc:
the posts of a line as a sorted set, appended to each post's list), keeps the first 128
entries without unrolling and chains them in that order when unrolling, and a pair listed
on two lines is in the list twice. :func:`read_spinemap` records that list
(:attr:`Network.input_listing`) when it differs from ascending pre-synaptic ids, and
:func:`write_spinemap` writes a file from which the tool builds the same lists.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mapopt.decompose.base import Decomposition
from mapopt.errors import InputError
from mapopt.io.outdir import atomic_write
from mapopt.mapping import Mapping
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
        net = Network.build(
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
    line = np.repeat(np.arange(len(rows)), [len(v) - 1 for _, v in rows])
    return net.with_input_listing(_listing(net, line, pre, post))


def _listing(net: Network, line: np.ndarray, pre: np.ndarray, post: np.ndarray) -> np.ndarray:
    """The synapses of each neuron's input list as ``Model::readConnections`` builds it.

    A line's posts form a set (a post repeated on one line counts once); lists grow line
    by line, so each post's entries come in line order, and a pair on two lines twice.
    """
    n = net.n_neurons
    _, first = np.unique(line * n + post, return_index=True)  # one entry per (line, post)
    order = first[np.lexsort((line[first], post[first]))]  # grouped by post, in line order
    keys = net.post * n + net.pre
    return np.searchsorted(keys, post[order] * n + pre[order])


def write_spinemap(net: Network, conn_path: Path, spike_path: Path | None = None) -> None:
    """Write ``net`` as a SpiNeMap connection file (weights are lost: the format has none).

    Lines are grouped by source in ascending id, so the authors' tool lists every neuron's
    inputs in ascending pre-synaptic id, the order mapopt's ``paper`` baseline uses; a net
    with an :attr:`~Network.input_listing` (read from such a file) is written one line per
    entry of that listing instead, so the tool builds the same lists again.

    The spike file lists, for each neuron with spikes, that many evenly spaced times in
    the window (the format needs times; mapopt keeps only counts). Counts are rounded.
    """
    if net.input_listing is None:
        order = np.argsort(net.pre, kind="stable")
        pre, post = net.pre[order], net.post[order]
        starts = np.flatnonzero(np.r_[True, pre[1:] != pre[:-1]])
        lines = []
        for a, b in zip(starts, np.r_[starts[1:], len(pre)], strict=True):  # one line per source neuron
            lines.append(" ".join(map(str, [pre[a], *post[a:b].tolist()])))
    else:
        entries = net.input_listing
        lines = [f"{a} {b}" for a, b in zip(net.pre[entries].tolist(), net.post[entries].tolist(), strict=True)]
    atomic_write(Path(conn_path), lambda f: f.write("\n".join(lines) + "\n"), binary=False)
    if spike_path is not None:
        spike_lines = []
        for v in np.flatnonzero(net.spikes > 0):
            count = round(float(net.spikes[v]))
            times = np.linspace(0, net.timesteps - 1, num=count).round().astype(int) if count else []
            spike_lines.append(" ".join(map(str, [v, *list(times)])))
        atomic_write(Path(spike_path), lambda f: f.write("\n".join(spike_lines) + "\n"), binary=False)


def write_cluster_ir(path: Path, dec: Decomposition, mapping: Mapping) -> None:
    """Write a mapping in the authors' cluster format (``--cluster-ir-out`` of SNNPartitioning).

    One line ``a b spikes`` per pair of crossbars where a unit on crossbar ``a`` feeds a
    unit on crossbar ``b`` (``a == b`` included, as the tool writes it), ``spikes`` being the
    sum over such units of their spike counts, once per destination crossbar
    (``Clusters::printClusterIR`` after ``connectedComponents``, include/cluster/cluster.hh).
    Crossbar ids are the mapping's, renumbered densely in order; lines are sorted by
    (a, b) like the tool's ``std::set`` iteration. Spike counts are rounded to integers.
    """
    net = dec.network
    cb = mapping.unit_crossbar
    used = np.unique(cb[cb >= 0])
    dense = np.full(max(int(cb.max()) + 1, 1) if cb.size else 1, -1, dtype=np.int64)
    dense[used] = np.arange(used.size)
    placed_src = cb[net.pre] >= 0  # inputs are no cluster's output
    dst = dense[cb[net.post[placed_src]]]
    n_cb = max(used.size, 1)
    key = np.unique(net.pre[placed_src] * n_cb + dst)  # one delivery per (unit, destination crossbar)
    unit, dest = key // n_cb, key % n_cb
    pair = dense[cb[unit]] * n_cb + dest
    pairs, inverse = np.unique(pair, return_inverse=True)
    spikes = np.bincount(inverse, weights=net.spikes[unit], minlength=pairs.size)
    lines = [f"{a} {b} {round(float(w))}" for a, b, w in zip(pairs // n_cb, pairs % n_cb, spikes, strict=True)]
    atomic_write(Path(path), lambda f: f.write("".join(line + "\n" for line in lines)), binary=False)
