"""Neuron-level expansion of dense, convolution and pooling layers into synapse index arrays.

A layer maps an input tensor (C, *spatial) to an output tensor, both flattened in C order
(the NIR and PyTorch convention). Expanding it to neuron level means listing, for every
output element, the input elements it reads and with which weight: one synapse each.
Both the NIR importer (:mod:`mapopt.io.nir`) and the convolutional net generators
(``problems/instances/conv.py``) use these functions, so a generated conv net and an imported one
expand the same way. Everything is vectorised: the cost is linear in the synapse count.

Conventions follow PyTorch's ``Conv1d``/``Conv2d``/``AvgPool2d`` (and hence NIR):
weight ``(C_out, C_in / groups, *kernel)``, output size per dimension
``floor((S + 2p - d (K - 1) - 1) / s) + 1``, zero padding contributes no synapse, and an
average pool divides by the full kernel area (``count_include_pad``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from mapopt.errors import InputError
from mapopt.resources import Size, check_fits


@dataclass(frozen=True)
class Synapses:
    """The synapses of one layer: ``post`` and ``pre`` are flat indices into its output and input."""

    post: np.ndarray
    pre: np.ndarray
    weight: np.ndarray
    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]

    def matrix(self) -> sp.csr_matrix:
        """The layer as a sparse ``(out_size, in_size)`` matrix."""
        shape = (math.prod(self.out_shape), math.prod(self.in_shape))
        return sp.csr_matrix((self.weight, (self.post, self.pre)), shape=shape)


def _per_dim(value: int | Sequence[int] | np.ndarray, nd: int, label: str) -> tuple[int, ...]:
    arr = np.atleast_1d(np.asarray(value)).astype(np.int64).ravel()
    if arr.size == 1:
        arr = np.repeat(arr, nd)
    if arr.size != nd:
        raise InputError(f"{label} has {arr.size} entries for a {nd}-d layer")
    return tuple(int(x) for x in arr)


def conv_output_size(size: int, kernel: int, stride: int, pad: int, dilation: int) -> int:
    """Output length of one convolution dimension (PyTorch formula)."""
    return (size + 2 * pad - dilation * (kernel - 1) - 1) // stride + 1


def conv(
    in_shape: Sequence[int],
    weight: np.ndarray,
    *,
    stride: int | Sequence[int] = 1,
    padding: int | Sequence[int] | str = 0,
    dilation: int | Sequence[int] = 1,
    groups: int = 1,
) -> Synapses:
    """Expand a 1-d or 2-d (or n-d) convolution with input ``in_shape = (C_in, *spatial)``.

    ``padding`` is an int per dimension or ``"valid"`` (0) or ``"same"`` (stride 1; output
    as large as the input, the extra padding on the high side as PyTorch does).
    """
    weight = np.asarray(weight, dtype=np.float64)
    cin, *spatial = (int(x) for x in in_shape)
    nd = len(spatial)
    if weight.ndim != nd + 2:
        raise InputError(f"conv weight has {weight.ndim} dimensions, expected {nd + 2} for input shape {in_shape}")
    cout, cin_g, *kernel = weight.shape
    if groups < 1 or cin % groups or cout % groups or cin // groups != cin_g:
        raise InputError(
            f"conv groups={groups} does not fit {cin} input channels, {cout} output channels and "
            f"weight of {cin_g} channels per group"
        )
    strides = _per_dim(stride, nd, "stride")
    dilations = _per_dim(dilation, nd, "dilation")
    if isinstance(padding, str) or (isinstance(padding, np.ndarray) and padding.dtype.kind in "SUO"):
        mode = str(padding if isinstance(padding, str) else padding.item())
        if mode == "valid":
            pads, outs = (0,) * nd, None
        elif mode == "same":
            if any(s != 1 for s in strides):
                raise InputError("conv padding 'same' needs stride 1")
            pads = tuple(d * (k - 1) // 2 for d, k in zip(dilations, kernel, strict=True))
            outs = tuple(spatial)
        else:
            raise InputError(f"conv padding must be an int, 'same' or 'valid', got {mode!r}")
    else:
        pads, outs = _per_dim(padding, nd, "padding"), None
    if min(strides, default=1) < 1 or min(dilations, default=1) < 1 or min(pads, default=0) < 0:
        raise InputError("conv stride and dilation must be >= 1 and padding >= 0")
    if outs is None:
        outs = tuple(
            conv_output_size(s, k, st, p, d)
            for s, k, st, p, d in zip(spatial, kernel, strides, pads, dilations, strict=True)
        )
    if min(outs, default=1) < 1:
        raise InputError(f"conv kernel {tuple(kernel)} does not fit input {tuple(spatial)} (output {outs})")
    dims = zip(spatial, kernel, strides, pads, dilations, outs, strict=True)
    pairs = math.prod(_valid_pairs(*dim)[0] for dim in dims)
    check_fits("the expanded convolution", Size(cout * math.prod(outs), cout * cin_g * pairs))
    # Spatial part: valid (output position, kernel offset, input position) triples, one
    # dimension at a time, then their cartesian product as flat indices.
    o_flat, k_flat, x_flat = np.zeros(1, np.int64), np.zeros(1, np.int64), np.zeros(1, np.int64)
    for size, k, st, p, d, o in zip(spatial, kernel, strides, pads, dilations, outs, strict=True):
        x = np.arange(o)[:, None] * st - p + np.arange(k)[None, :] * d
        oo, kk = np.nonzero((x >= 0) & (x < size))
        xx, n_prev = x[oo, kk], len(o_flat)
        o_flat = np.repeat(o_flat, len(oo)) * o + np.tile(oo, n_prev)
        k_flat = np.repeat(k_flat, len(oo)) * k + np.tile(kk, n_prev)
        x_flat = np.repeat(x_flat, len(oo)) * size + np.tile(xx, n_prev)
    # Channel part: output channel co reads the cin_g input channels of its group.
    co = np.repeat(np.arange(cout), cin_g)
    cl = np.tile(np.arange(cin_g), cout)
    ci = (co // (cout // groups)) * cin_g + cl
    n_out, n_in = math.prod(outs), math.prod(spatial)
    ns = len(o_flat)
    post = np.repeat(co * n_out, ns) + np.tile(o_flat, len(co))
    pre = np.repeat(ci * n_in, ns) + np.tile(x_flat, len(co))
    w = weight.reshape(cout, cin_g, -1)[np.repeat(co, ns), np.repeat(cl, ns), np.tile(k_flat, len(co))]
    return Synapses(post, pre, w, (cin, *spatial), (cout, *outs))


def pool(
    in_shape: Sequence[int],
    kernel: int | Sequence[int],
    *,
    stride: int | Sequence[int] | None = None,
    padding: int | Sequence[int] = 0,
    average: bool = False,
) -> Synapses:
    """Expand sum (or average) pooling: a per-channel convolution with a constant kernel.

    ``stride`` defaults to the kernel size (PyTorch's default).
    """
    c, *spatial = (int(x) for x in in_shape)
    ks = _per_dim(kernel, len(spatial), "pool kernel")
    area = math.prod(ks)
    weight = np.full((c, 1, *ks), 1.0 / area if average else 1.0)
    return conv(in_shape, weight, stride=ks if stride is None else stride, padding=padding, groups=c)


def dense(weight: np.ndarray, *, drop_zeros: bool = False) -> Synapses:
    """Expand a fully connected layer with weight ``(out, in)``."""
    weight = np.asarray(weight, dtype=np.float64)
    if weight.ndim != 2:
        raise InputError(f"dense weight must be a matrix (out, in), got shape {weight.shape}")
    n_out, n_in = weight.shape
    if drop_zeros:
        post, pre = np.nonzero(weight)
        w = weight[post, pre]
    else:
        post, pre, w = np.repeat(np.arange(n_out), n_in), np.tile(np.arange(n_in), n_out), weight.ravel()
    return Synapses(post.astype(np.int64), pre.astype(np.int64), w, (n_in,), (n_out,))


def conv_counts(
    in_shape: Sequence[int],
    out_channels: int,
    kernel: Sequence[int],
    *,
    stride: Sequence[int],
    padding: Sequence[int],
    dilation: Sequence[int],
    groups: int = 1,
) -> tuple[int, int, tuple[int, ...]]:
    """Synapse count, max fan-in and output shape of a convolution, without expanding it.

    The closed form behind the lazily built catalog entries: per spatial dimension, count
    the (output position, kernel offset) pairs that land inside the input; the layer's
    synapses are the product over dimensions times ``C_out * C_in / groups``.
    """
    cin, *spatial = (int(x) for x in in_shape)
    total, widest, outs = out_channels * (cin // groups), cin // groups, []
    for size, k, st, p, d in zip(spatial, kernel, stride, padding, dilation, strict=True):
        o = conv_output_size(size, k, st, p, d)
        if o < 1:
            raise InputError(f"kernel {tuple(kernel)} (dilation {tuple(dilation)}) does not fit input {tuple(spatial)}")
        valid_sum, valid_max = _valid_pairs(size, k, st, p, d, o)
        total, widest = total * valid_sum, widest * valid_max
        outs.append(o)
    return total, widest, (out_channels, *outs)


#: Above this many (output, kernel offset) pairs, :func:`_valid_pairs` counts per offset instead of listing pairs.
_LISTED_PAIRS = 1 << 20


def _valid_pairs(size: int, k: int, st: int, p: int, d: int, o: int) -> tuple[int, int]:
    """(output position, kernel offset) pairs of one dimension inside the input: their number, and the most per output.

    Small layers list the pairs (exact); large ones count, for each offset j, the outputs x with
    0 <= x st - p + j d < size in closed form (O(k), no arrays), and the most per output is k when
    some output sees its whole kernel (an upper bound otherwise).
    """
    if o * k <= _LISTED_PAIRS:
        x = np.arange(o)[:, None] * st - p + np.arange(k)[None, :] * d
        valid = ((x >= 0) & (x < size)).sum(axis=1)
        return int(valid.sum()), int(valid.max())
    total = 0
    for j in range(k):
        lo = max(0, -((j * d - p) // st))  # ceil((p - j d) / st)
        hi = min(o - 1, (size - 1 + p - j * d) // st)
        total += max(0, hi - lo + 1)
    first = max(0, -(-p // st))
    whole = first < o and first * st - p + (k - 1) * d < size
    return total, k if whole else min(k, size)
