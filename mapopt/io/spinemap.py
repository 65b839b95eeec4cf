"""The SpiNeMap text format used by the paper's public code (Balaji et al. 2020).

Connection file: one line per pre-synaptic neuron, ``pre post1 post2 ...`` (integer
ids; a neuron may appear on several lines). Spike file: one line per neuron,
``neuron t1 t2 ...`` (spike times in timesteps). The format has no weights (all 1.0)
and no roles: neurons without incoming synapses are the inputs. Spike counts are the
number of listed times; the window T is the last time + 1.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mapopt.errors import InputError
from mapopt.io.container import atomic_write
from mapopt.network import DEFAULT_TIMESTEPS, Network


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


def _rows_table(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(head, rest, rest_head)`` of a file of integer rows: first values, the others, and the head of each other.

    The vectorised reader when the file is clean, the line-by-line one (precise errors) otherwise.
    """
    table = _int_table(path)
    if table is None:
        rows = _int_rows(path)
        head = np.array([v[0] for _, v in rows], dtype=np.int64)
        rest = [np.asarray(v[1:], dtype=np.int64) for _, v in rows]
        counts = np.array([r.size for r in rest], dtype=np.int64)
        return head, np.concatenate(rest) if rest else np.zeros(0, np.int64), np.repeat(head, counts)
    values, line = table
    is_head = np.concatenate(([True], line[1:] != line[:-1])) if values.size else np.zeros(0, dtype=bool)
    head = values[is_head]
    row = np.cumsum(is_head, dtype=np.int64 if head.size >= 2**31 else np.int32) - 1
    rest = ~is_head
    return head, values[rest], head[row[rest]]


def read_spinemap(conn_path: Path, spike_path: Path | None = None, *, merge_duplicates: bool = False) -> Network:
    """Read a SpiNeMap connection file (and optional spike file) into a network."""
    heads, post, pre = _rows_table(conn_path)
    if not heads.size:
        raise InputError("no connections found", source=str(conn_path))
    n = max(int(heads.max()), int(post.max(initial=0))) + 1
    spikes = np.zeros(n)
    timesteps = DEFAULT_TIMESTEPS
    source = "none (no spike file)"
    if spike_path is not None:
        neurons, times, owner = _rows_table(spike_path)
        if neurons.size and neurons.max() >= n:
            lineno = _line_of(spike_path, int(np.flatnonzero(neurons >= n)[0]))
            raise InputError(
                f"line {lineno}: neuron {int(neurons[neurons >= n][0])} is not in the connection file "
                f"(ids 0..{n - 1})",
                source=str(spike_path),
            )
        spikes += np.bincount(owner, minlength=n)
        timesteps = int(times.max(initial=0)) + 1
        source = f"file: {Path(spike_path).name}"
    is_input = np.bincount(post, minlength=n) == 0
    try:
        return Network.build(
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


def _line_of(path: Path, row: int) -> int:
    """The 1-based line number of the ``row``-th non-empty, non-comment line of ``path`` (for messages)."""
    return _int_rows(path)[row][0]


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
