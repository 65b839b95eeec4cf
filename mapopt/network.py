"""The spiking network N = (V, E, w, s) of docs/model.md, section 1, stored as numpy arrays.

Synapses are kept as three parallel arrays (``pre``, ``post``, ``weight``) sorted by
``(post, pre)``, so the in-edges of a neuron form one contiguous slice (CSR over the
post-synaptic side, see :attr:`Network.in_ptr`). Nothing here loops over synapses in
Python: the scale goals (tens of millions of synapses) rule that out, and so do copies:
neuron ids are stored in the smallest sufficient integer type (:func:`index_dtype`, int32
below 2^31 neurons), weights as float32 when they were given so (large generated nets)
and float64 otherwise, and :meth:`Network.build` skips its sort when the synapses
already arrive in ``(post, pre)`` order, as generators produce them. Arithmetic that
combines ids into one key (``pre * n + x``) must widen to int64 first (:func:`wide`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from functools import cached_property

import numpy as np
import scipy.sparse as sp

from mapopt.errors import InputError

#: Default evaluation window (timesteps) when nothing else says so.
DEFAULT_TIMESTEPS = 100
#: Longest evaluation window accepted (the simulator keeps a spike train per step).
MAX_TIMESTEPS = 1_000_000
#: Most neurons a network may have (ids are int64; arrays per neuron must fit in memory).
MAX_NEURONS = 1 << 40
#: Synapses per pass when checking the order of large synapse arrays (bounds the temporaries).
CHUNK = 1 << 24


def index_dtype(n: int) -> np.dtype:
    """The integer type of ids below ``n``: int32 when they fit (half the memory of int64), else int64."""
    return np.dtype(np.int32) if n < 2**31 else np.dtype(np.int64)


def concat_ranges(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """``np.concatenate([np.arange(s, s + c) for s, c in zip(starts, counts)])``, vectorised (CSR row gathers)."""
    counts = np.asarray(counts, dtype=np.int64)
    total = int(counts.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    offsets = np.asarray(starts, dtype=np.int64) - np.concatenate(([0], np.cumsum(counts)[:-1]))
    return np.repeat(offsets, counts) + np.arange(total, dtype=np.int64)


def wide(ids: np.ndarray) -> np.ndarray:
    """``ids`` as int64 (a copy only if narrower), for key arithmetic such as ``pre * n + x`` that overflows int32."""
    return np.asarray(ids).astype(np.int64, copy=False)


@dataclass(frozen=True, eq=False)
class Network:
    """A spiking network: neurons (input or compute), weighted synapses, spike counts.

    Build one with :meth:`Network.build`, which validates and canonicalises the arrays;
    the plain constructor trusts its arguments (used internally on already-checked data).

    Attributes
    ----------
    is_input:
        ``bool[n]``; True for external spike sources (no crossbar column, fed from the
        I/O tile), False for compute neurons.
    pre, post, weight:
        ``int[E]`` (:func:`index_dtype`), ``int[E]``, ``float64[E]`` or ``float32[E]``; synapses sorted
        by ``(post, pre)``.
    spikes:
        ``float64[n]``; spikes each neuron emits over the window of ``timesteps``.
    spike_source:
        Where the spike counts came from (``"simulated: ..."``, ``"file: ..."``, ``"rate: ..."``).
    threshold, leak:
        ``float64[n]`` neuron parameters for the simulator (leak 0 means integrate-and-fire).
    layer:
        ``int32[n]``; layer index when the generator knows it, else -1.
    bias:
        ``float64[n]``; constant input a neuron receives every step, in units of synaptic
        weight (an ANN layer's bias, or the pull of a LIF's leak towards a nonzero ``v_leak``).
    reset:
        ``float64[n]``; the potential a neuron is set to after it spikes (NIR's ``v_reset``).
    task:
        The labelled data set the net was trained for (``"digits"``, see :mod:`mapopt.quality`),
        which fixes its test inputs and readout; None for nets that were not trained.
    input_listing:
        ``int64[L]`` or None: each neuron's input list in the order a SpiNeMap connection
        file gives it, as synapse indices grouped by post-synaptic neuron (a pair the file
        lists twice appears twice). The authors' partitioner reads a neuron's inputs in
        that order, repeats included; None means each neuron's inputs once, in ascending
        pre-synaptic id (the order of :attr:`pre` within :attr:`in_ptr`), which is also
        what :func:`mapopt.io.write_spinemap` writes.
    """

    name: str
    is_input: np.ndarray
    pre: np.ndarray
    post: np.ndarray
    weight: np.ndarray
    spikes: np.ndarray
    spike_source: str = "unknown"
    timesteps: int = DEFAULT_TIMESTEPS
    threshold: np.ndarray = field(default=None)  # type: ignore[assignment]
    leak: np.ndarray = field(default=None)  # type: ignore[assignment]
    layer: np.ndarray = field(default=None)  # type: ignore[assignment]
    bias: np.ndarray = field(default=None)  # type: ignore[assignment]
    reset: np.ndarray = field(default=None)  # type: ignore[assignment]
    task: str | None = None
    input_listing: np.ndarray | None = None

    def __post_init__(self) -> None:
        n = len(self.is_input)
        if self.threshold is None:
            object.__setattr__(self, "threshold", np.ones(n))
        if self.leak is None:
            object.__setattr__(self, "leak", np.zeros(n))
        if self.layer is None:
            object.__setattr__(self, "layer", np.full(n, -1, dtype=np.int32))
        for name in ("bias", "reset"):
            if getattr(self, name) is None:
                object.__setattr__(self, name, np.zeros(n))

    # ------------------------------------------------------------------ building
    @classmethod
    def build(
        cls,
        *,
        name: str,
        is_input: np.ndarray,
        pre: np.ndarray,
        post: np.ndarray,
        weight: np.ndarray | None = None,
        spikes: np.ndarray | None = None,
        spike_source: str = "unknown",
        timesteps: int = DEFAULT_TIMESTEPS,
        threshold: np.ndarray | None = None,
        leak: np.ndarray | None = None,
        layer: np.ndarray | None = None,
        bias: np.ndarray | None = None,
        reset: np.ndarray | None = None,
        task: str | None = None,
        merge_duplicates: bool = False,
    ) -> Network:
        """Validate, canonicalise (sort by post, pre) and return a network.

        Raises :class:`InputError` naming the offending neuron or synapse for: ids out of
        range, duplicate synapses (unless ``merge_duplicates``, which sums their weights),
        NaN/inf weights, negative or non-finite spike counts, non-finite thresholds, biases and
        reset potentials, leaks outside [0, 1], input neurons with incoming synapses, and
        array length mismatches.
        """
        is_input = np.asarray(is_input, dtype=bool)
        n = len(is_input)
        pre, post = _integers(pre, "pre"), _integers(post, "post")
        if weight is None:
            weight = np.ones(len(pre))
        else:
            weight = np.asarray(weight).ravel()
            weight = weight if weight.dtype == np.float32 else weight.astype(np.float64, copy=False)
        if not (len(pre) == len(post) == len(weight)):
            raise InputError(f"synapse arrays differ in length: pre {len(pre)}, post {len(post)}, weight {len(weight)}")
        if timesteps is None or not 1 <= int(timesteps) <= MAX_TIMESTEPS:
            raise InputError(f"timesteps must be in 1..{MAX_TIMESTEPS}, got {timesteps}")
        for arr, label in ((pre, "pre"), (post, "post")):
            bad = np.flatnonzero((arr < 0) | (arr >= n))
            if bad.size:
                i = int(bad[0])
                raise InputError(f"synapse {i}: {label} neuron id {int(arr[i])} out of range 0..{n - 1}")
        bad = np.flatnonzero(~np.isfinite(weight))
        if bad.size:
            i = int(bad[0])
            raise InputError(f"synapse {i} ({int(pre[i])}->{int(post[i])}): weight is {weight[i]}")
        ids = index_dtype(n)
        if _strictly_sorted(pre, post):  # already in (post, pre) order without repeats: no sort, no copy
            pre, post = pre.astype(ids, copy=False), post.astype(ids, copy=False)
            dup = np.zeros(0, dtype=bool)
        else:
            order = np.lexsort((pre, post))
            pre, post, weight = pre[order].astype(ids, copy=False), post[order].astype(ids, copy=False), weight[order]
            del order
            dup = (pre[1:] == pre[:-1]) & (post[1:] == post[:-1])
        if dup.any():
            if not merge_duplicates:
                i = int(np.flatnonzero(dup)[0])
                raise InputError(
                    f"duplicate synapse {int(pre[i])}->{int(post[i])} (use --merge-duplicates to sum their weights)"
                )
            start = np.concatenate(([True], ~dup))
            group = np.cumsum(start) - 1
            weight = np.bincount(group, weights=weight)
            pre, post = pre[start], post[start]
        into_input = np.flatnonzero(is_input[post])
        if into_input.size:
            i = int(into_input[0])
            raise InputError(
                f"input neuron {int(post[i])} has an incoming synapse from {int(pre[i])}; "
                "inputs are external spike sources"
            )
        spikes = np.zeros(n) if spikes is None else np.asarray(spikes, dtype=np.float64).ravel()
        arrays = {
            "spikes": spikes, "threshold": threshold, "leak": leak, "layer": layer, "bias": bias, "reset": reset
        }
        for label, arr in arrays.items():
            if arr is not None and len(arr) != n:
                raise InputError(f"{label} has {len(arr)} entries, expected one per neuron ({n})")
        bad = np.flatnonzero(~np.isfinite(spikes) | (spikes < 0))
        if bad.size:
            i = int(bad[0])
            raise InputError(f"neuron {i}: spike count {spikes[i]} is negative or not finite")
        finite = {"threshold": threshold, "bias": bias, "reset": reset}
        for label, arr in finite.items():
            if arr is not None:
                finite[label] = arr = np.asarray(arr, dtype=np.float64).ravel()
                bad = np.flatnonzero(~np.isfinite(arr))
                if bad.size:
                    raise InputError(f"neuron {int(bad[0])}: {label} is not finite")
        if leak is not None:
            leak = np.asarray(leak, dtype=np.float64)
            bad = np.flatnonzero(~np.isfinite(leak) | (leak < 0) | (leak > 1))
            if bad.size:
                raise InputError(f"neuron {int(bad[0])}: leak {leak[bad[0]]} outside [0, 1]")
        return cls(
            name=name,
            is_input=is_input,
            pre=pre,
            post=post,
            weight=weight,
            spikes=spikes,
            spike_source=spike_source,
            timesteps=int(timesteps),
            threshold=finite["threshold"],
            leak=leak,
            layer=None if layer is None else np.asarray(layer, dtype=np.int32),
            bias=finite["bias"],
            reset=finite["reset"],
            task=task,
        )

    def with_spikes(self, spikes: np.ndarray, source: str, timesteps: int | None = None) -> Network:
        """Return a copy whose spike counts (and their provenance) are replaced.

        The synapse arrays (and the input listing) are shared, not copied or re-checked (they
        were checked when this network was built); the new counts and window are validated
        as in :meth:`build`.
        """
        timesteps = self.timesteps if timesteps is None else timesteps
        if timesteps is None or not 1 <= int(timesteps) <= MAX_TIMESTEPS:
            raise InputError(f"timesteps must be in 1..{MAX_TIMESTEPS}, got {timesteps}")
        spikes = np.asarray(spikes, dtype=np.float64).ravel()
        if len(spikes) != self.n_neurons:
            raise InputError(f"spikes has {len(spikes)} entries, expected one per neuron ({self.n_neurons})")
        bad = np.flatnonzero(~np.isfinite(spikes) | (spikes < 0))
        if bad.size:
            i = int(bad[0])
            raise InputError(f"neuron {i}: spike count {spikes[i]} is negative or not finite")
        return replace(self, spikes=spikes, spike_source=source, timesteps=int(timesteps))

    def with_input_listing(self, listing: np.ndarray | None) -> Network:
        """A copy whose input lists follow ``listing`` (see :attr:`input_listing`), validated.

        ``listing`` must name synapses of this network, grouped by ascending post-synaptic
        neuron, each synapse at least once; the canonical listing (every synapse once, in
        order) is stored as None.
        """
        if listing is None:
            return self if self.input_listing is None else replace(self, input_listing=None)
        listing = np.asarray(listing, dtype=np.int64).ravel()
        e = self.n_synapses
        if listing.size and (listing.min() < 0 or listing.max() >= e):
            raise InputError(f"input listing names synapses outside 0..{e - 1}")
        if np.any(np.diff(self.post[listing]) < 0):
            raise InputError("input listing is not grouped by post-synaptic neuron")
        if np.any(np.bincount(listing, minlength=e) == 0):
            raise InputError("input listing leaves out a synapse")
        canonical = listing.size == e and np.array_equal(listing, np.arange(e))
        return replace(self, input_listing=None if canonical else listing)

    # ------------------------------------------------------------------ structure
    @property
    def n_neurons(self) -> int:
        return len(self.is_input)

    @property
    def n_synapses(self) -> int:
        return len(self.pre)

    @property
    def n_inputs(self) -> int:
        return int(self.is_input.sum())

    @cached_property
    def in_ptr(self) -> np.ndarray:
        """CSR row pointer over post-synaptic neurons: in-edges of v are ``in_ptr[v]:in_ptr[v+1]``."""
        return np.concatenate(([0], np.cumsum(np.bincount(self.post, minlength=self.n_neurons))))

    @cached_property
    def fanin(self) -> np.ndarray:
        """Number of distinct pre-synaptic neurons of each neuron (``int64[n]``)."""
        return np.diff(self.in_ptr)

    @cached_property
    def listing(self) -> tuple[np.ndarray, np.ndarray]:
        """``(entries, ptr)``: the synapse indices of each neuron's input list (see
        :attr:`input_listing`), neuron ``v``'s at ``entries[ptr[v]:ptr[v + 1]]``."""
        if self.input_listing is None:
            return np.arange(self.n_synapses, dtype=np.int64), self.in_ptr
        counts = np.bincount(self.post[self.input_listing], minlength=self.n_neurons)
        return self.input_listing, np.concatenate(([0], np.cumsum(counts)))

    @cached_property
    def first_entry(self) -> np.ndarray:
        """Per synapse, the position of its first entry in its neuron's input list (``int64[E]``)."""
        entries, ptr = self.listing
        if self.input_listing is None:
            return np.arange(self.n_synapses, dtype=np.int64) - ptr[self.post]
        first = np.unique(entries, return_index=True)[1]  # every synapse is listed at least once
        return first - ptr[self.post]

    @cached_property
    def input_rank(self) -> np.ndarray:
        """Per synapse, its rank among its neuron's distinct inputs in input-list order (0..m-1)."""
        if self.input_listing is None:
            return self.first_entry
        order = np.lexsort((self.first_entry, self.post))
        rank = np.empty(self.n_synapses, dtype=np.int64)
        rank[order] = np.arange(self.n_synapses) - self.in_ptr[self.post[order]]
        return rank

    @cached_property
    def fanout(self) -> np.ndarray:
        return np.bincount(self.pre, minlength=self.n_neurons)

    @property
    def max_fanin(self) -> int:
        return int(self.fanin.max()) if self.n_neurons else 0

    def adjacency(self) -> sp.csr_matrix:
        """Weighted adjacency as a scipy CSR matrix, rows = pre, columns = post."""
        n = self.n_neurons
        return sp.csr_matrix((self.weight, (self.pre, self.post)), shape=(n, n))

    def content_hash(self) -> str:
        """SHA-256 of the net's content (arrays, window, task), not its name or spike provenance.

        Bake-off run keys use it, so a changed generator or file makes new runs instead of
        reusing results of a different net.
        """
        h = hashlib.sha256(f"timesteps={self.timesteps};task={self.task};".encode())
        for label in ("is_input", "pre", "post", "weight", "spikes", "threshold", "leak", "layer", "bias", "reset"):
            arr = np.asarray(getattr(self, label))
            canonical = {"pre": np.int64, "post": np.int64, "weight": np.float64}.get(label)
            dtype = np.dtype(canonical) if canonical else arr.dtype  # storage types do not change the content
            h.update(f"{label}:{dtype.str}:{arr.shape};".encode())
            for lo in range(0, max(arr.size, 1), CHUNK):  # in chunks: no full copy of a large array
                h.update(np.ascontiguousarray(arr[lo : lo + CHUNK], dtype=dtype).tobytes())
        return h.hexdigest()

    def summary(self) -> dict[str, object]:
        """The facts ``mapopt info`` shows."""
        compute = ~self.is_input
        return {
            "name": self.name,
            "neurons": self.n_neurons,
            "inputs": self.n_inputs,
            "compute_neurons": int(compute.sum()),
            "synapses": self.n_synapses,
            "max_fanin": self.max_fanin,
            "mean_fanin": float(self.fanin[compute].mean()) if compute.any() else 0.0,
            "timesteps": self.timesteps,
            "total_spikes": float(self.spikes.sum()),
            "spike_source": self.spike_source,
            "biased_neurons": int(np.count_nonzero(self.bias)),
            "task": self.task,
        }


def _integers(values: np.ndarray, label: str) -> np.ndarray:
    """A 1-D integer array of neuron ids (kept in its own integer type; anything else as int64)."""
    arr = np.asarray(values).ravel()
    if arr.dtype.kind in "iu":
        return arr
    if arr.size and arr.dtype.kind == "f" and not np.all(np.isfinite(arr) & (arr == np.round(arr))):
        raise InputError(f"{label} neuron ids must be integers")
    return arr.astype(np.int64)


def _strictly_sorted(pre: np.ndarray, post: np.ndarray) -> bool:
    """Whether the synapses are in strictly increasing ``(post, pre)`` order (sorted, no repeats), in chunks."""
    for lo in range(0, max(len(post) - 1, 0), CHUNK):
        hi = min(lo + CHUNK + 1, len(post))
        p, q = post[lo:hi], pre[lo:hi]
        if not np.all((p[1:] > p[:-1]) | ((p[1:] == p[:-1]) & (q[1:] > q[:-1]))):
            return False
    return True
