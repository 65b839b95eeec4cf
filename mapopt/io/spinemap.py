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
from mapopt.network import DEFAULT_TIMESTEPS, MAX_TIMESTEPS, Network, wide

#: Ids up to this many times the number of distinct ids listed (and at least MIN_ID_LIMIT) are accepted.
ID_SLACK = 4
MIN_ID_LIMIT = 1 << 20


def id_limit(distinct: int) -> int:
    """The largest neuron id + 1 accepted in a file that lists ``distinct`` different ids."""
    return max(MIN_ID_LIMIT, ID_SLACK * distinct)


#: Values from this on are refused while reading (int64 arithmetic on ids and times stays exact below it).
MAX_VALUE = 2**62


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
        huge = next((v for v in values if v >= MAX_VALUE), None)
        if huge is not None:  # ids are checked against the ids listed later; this one would not even fit int64
            raise InputError(
                f"line {lineno}: {huge} is far beyond any neuron id or time (at most {MAX_VALUE - 1})",
                source=str(path),
            )
        rows.append((lineno, values))
    return rows


#: Bytes per pass of the vectorised reader (whole lines; bounds its temporaries).
READ_CHUNK = 1 << 20
#: Longest id or time the vectorised reader parses (longer ones go to the line-by-line reader).
MAX_DIGITS = 18


def _int_table(path: Path) -> tuple[np.ndarray, np.ndarray] | None:
    """Every integer of a file of whitespace-separated non-negative integers, with its line: ``(values, line)``.

    The vectorised reader of clean files (digits, spaces, tabs and newlines only), a chunk
    of whole lines at a time: numpy's C parser reads the numbers (``np.fromstring`` with a
    separator) and a byte mask says where each number starts and on which line; no Python
    object per number, so a 1.6M-synapse file costs its arrays and a few MB. ``line``
    counts lines from 0. Returns None when the file holds anything else (comments, signs,
    very long numbers...), which the line-by-line reader then reports precisely.
    """
    try:
        data = Path(path).read_bytes()
    except OSError as err:
        raise InputError(f"unreadable file: {err}", source=str(path)) from None
    values, lines, line_base, lo = [], [], 0, 0
    while lo < len(data):
        hi = data.find(b"\n", min(lo + READ_CHUNK, len(data)) - 1)
        hi = len(data) if hi < 0 else hi + 1
        b = np.frombuffer(data, dtype=np.uint8, count=hi - lo, offset=lo)
        digit = (b >= 48) & (b <= 57)
        if not np.all(digit | (b == 32) | (b == 9) | (b == 10) | (b == 13)):
            return None
        start = np.flatnonzero(digit & ~np.concatenate(([False], digit[:-1])))
        end = np.flatnonzero(digit & ~np.concatenate((digit[1:], [False])))
        if start.size and (end - start).max() >= MAX_DIGITS:
            return None
        chunk = np.fromstring(data[lo:hi], dtype=np.int64, sep=" ")
        values.append(chunk.astype(np.int32) if chunk.size and chunk.max() < 2**31 else chunk)  # ids: int32 mostly
        newlines = np.cumsum(b == 10, dtype=np.int32)
        lines.append(line_base + newlines[start].astype(np.int64 if line_base >= 2**30 else np.int32))
        line_base += int(newlines[-1]) if newlines.size else 0
        lo = hi
    if not values:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    return np.concatenate(values), np.concatenate(lines)


def _rows_table(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(head, rest, rest_head, rest_row)`` of a file of integer rows: each row's first value, the other
    values, the head of each other value's row, and that row's index (rows: non-empty, non-comment lines).

    The vectorised reader when the file is clean, the line-by-line one (precise errors) otherwise.
    """
    table = _int_table(path)
    if table is None:
        rows = _int_rows(path)
        head = np.array([v[0] for _, v in rows], dtype=np.int64)
        rest = [np.asarray(v[1:], dtype=np.int64) for _, v in rows]
        counts = np.array([r.size for r in rest], dtype=np.int64)
        row = np.repeat(np.arange(len(rows)), counts)
        return head, np.concatenate(rest) if rest else np.zeros(0, np.int64), np.repeat(head, counts), row
    values, line = table
    is_head = np.concatenate(([True], line[1:] != line[:-1])) if values.size else np.zeros(0, dtype=bool)
    head = values[is_head]
    row = np.cumsum(is_head, dtype=np.int64 if head.size >= 2**31 else np.int32) - 1
    rest = ~is_head
    return head, values[rest], head[row[rest]], row[rest]


def read_spinemap(conn_path: Path, spike_path: Path | None = None, *, merge_duplicates: bool = False) -> Network:
    """Read a SpiNeMap connection file (and optional spike file) into a network."""
    heads, post, pre, line = _rows_table(conn_path)
    if not heads.size:
        raise InputError("no connections found", source=str(conn_path))
    distinct = int(np.unique(np.concatenate((heads, post))).size)
    limit = id_limit(distinct)
    big = max(int(heads.max()), int(post.max(initial=0)))
    if big >= limit:
        rows = [int(np.flatnonzero(heads >= limit)[0])] if (heads >= limit).any() else []
        rows += [int(line[np.flatnonzero(post >= limit)[0]])] if (post >= limit).any() else []
        lineno = _line_of(conn_path, min(rows))
        raise InputError(
            f"line {lineno}: neuron id {big} is far beyond the {distinct} distinct ids the file lists "
            f"(ids must stay below {limit}); renumber the neurons densely",
            source=str(conn_path),
        )
    n = big + 1
    spikes = np.zeros(n)
    timesteps = DEFAULT_TIMESTEPS
    source = "none (no spike file)"
    if spike_path is not None:
        neurons, times, owner, row = _rows_table(spike_path)
        if neurons.size and neurons.max() >= n:
            first = int(np.flatnonzero(neurons >= n)[0])
            raise InputError(
                f"line {_line_of(spike_path, first)}: neuron {int(neurons[first])} is not in the connection file "
                f"(ids 0..{n - 1})",
                source=str(spike_path),
            )
        last = int(times.max(initial=0))
        if last >= MAX_TIMESTEPS:
            first = int(row[np.flatnonzero(times >= MAX_TIMESTEPS)[0]])
            raise InputError(
                f"line {_line_of(spike_path, first)}: spike time {int(times[times >= MAX_TIMESTEPS][0])} beyond "
                f"the longest window mapopt simulates ({MAX_TIMESTEPS})",
                source=str(spike_path),
            )
        spikes += np.bincount(owner, minlength=n)
        timesteps = last + 1
        source = f"file: {Path(spike_path).name}"
    is_input = np.bincount(post, minlength=n) == 0
    try:
        net = Network.build(
            name=Path(conn_path).stem,
            is_input=is_input,
            pre=pre,
            post=post,
            weight=np.ones(len(pre), dtype=np.float32),  # the format has no weights: all 1, exact in float32
            spikes=spikes,
            spike_source=source,
            timesteps=timesteps,
            merge_duplicates=merge_duplicates,
        )
    except InputError as err:
        raise err.with_source(str(conn_path)) from None
    return net.with_input_listing(_listing(net, line, pre, post))


def _line_of(path: Path, row: int) -> int:
    """The 1-based line number of the ``row``-th non-empty, non-comment line of ``path`` (for messages)."""
    return _int_rows(path)[row][0]


def _listing(net: Network, line: np.ndarray, pre: np.ndarray, post: np.ndarray) -> np.ndarray:
    """The synapses of each neuron's input list as ``Model::readConnections`` builds it.

    A line's posts form a set (a post repeated on one line counts once); lists grow line
    by line, so each post's entries come in line order, and a pair on two lines twice.
    """
    n = net.n_neurons
    line, pre, post = wide(line), wide(pre), wide(post)  # int64 keys: ids may be int32
    _, first = np.unique(line * n + post, return_index=True)  # one entry per (line, post)
    order = first[np.lexsort((line[first], post[first]))]  # grouped by post, in line order
    keys = wide(net.post) * n + net.pre
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
    key = np.unique(wide(net.pre[placed_src]) * n_cb + dst)  # one delivery per (unit, destination crossbar)
    unit, dest = key // n_cb, key % n_cb
    pair = dense[cb[unit]] * n_cb + dest
    pairs, inverse = np.unique(pair, return_inverse=True)
    spikes = np.bincount(inverse, weights=net.spikes[unit], minlength=pairs.size)
    lines = [f"{a} {b} {round(float(w))}" for a, b, w in zip(pairs // n_cb, pairs % n_cb, spikes, strict=True)]
    atomic_write(Path(path), lambda f: f.write("".join(line + "\n" for line in lines)), binary=False)
