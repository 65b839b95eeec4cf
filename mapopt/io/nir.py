"""NIR import and export: a Neuromorphic Intermediate Representation graph at neuron level.

NIR (Pedersen et al., "Neuromorphic intermediate representation", Nature Communications
2024; the ``nir`` package) is the exchange format snnTorch, Norse, Sinabs, Rockpool and
Lava export. A NIR graph is a dataflow of nodes joined by identity edges. mapopt's model
(docs/model.md) has neurons and synapses only, so the expansion is:

- top-level ``Input`` nodes become input neurons (one per tensor element);
- neuron nodes (``LIF``, ``IF``, ``CubaLIF``, ``LI``, ``CubaLI``, ``I``) become compute
  neurons, one per element, with the node's threshold, leak, leak potential and reset
  potential (see :func:`neuron_params`);
- the linear nodes between them (``Affine``, ``Linear``, ``Conv1d``, ``Conv2d``,
  ``SumPool2d``, ``AvgPool2d``, ``Flatten``, ``Scale``, and the ``Input``/``Output`` ports of
  nested subgraphs) are composed, as sparse matrices, into the synapses from every source
  neuron to every neuron node they feed. A pooling node between a neuron node and a
  convolution is therefore folded into the convolution's synapses (fan-in grows), exactly
  as the graph computes. Several edges into one node add up (NIR semantics).

Recurrent edges are legal as long as every cycle passes through a neuron node; nested
``NIRGraph`` nodes are flattened, their nodes named ``outer.inner``. An edge may name a
subgraph (meaning its single ``Input`` / ``Output`` node) or a node inside it. The biases
of ``Affine`` and convolution nodes are constant inputs; they are carried through the
linear nodes that follow (a pooling of a bias is a bias) into ``Network.bias`` of the
neurons they reach (no crosspoint). Synapses of weight exactly 0 need no crosspoint and
are dropped. Unsupported nodes (``Delay``, ``Threshold``, unknown types) raise an
:class:`InputError` naming the node and its type. A parameter mapopt's neuron model cannot
represent exactly (a CubaLIF's synaptic current filter, a time constant shorter than the
step) is approximated as documented and reported by one :class:`~mapopt.errors.ModelWarning`
naming the node and the parameter; nothing is dropped silently.

Export (:func:`to_nir`, :func:`write_nir`) writes N, or a decomposition N' in exact mode,
as grouped dense blocks that this reader turns back into the same synapses, biases,
leaks, thresholds and reset potentials.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import networkx as nx
import nir
import numpy as np
import scipy.sparse as sp
from nir.serialization import hdf2dict

from mapopt import layers
from mapopt.decompose.base import Decomposition
from mapopt.errors import InputError, ModelWarning
from mapopt.network import DEFAULT_TIMESTEPS, Network
from mapopt.registry import FileReader
from mapopt.resources import Size, check_fits
from mapopt.simulate import with_simulated_spikes

#: Time step (s) used to turn NIR's continuous time constants into per-step leaks and
#: gains. snnTorch exports with dt = 1e-4 s and r = tau / dt, so with this dt its
#: thresholds and leaks (1 - beta) come back unchanged.
DEFAULT_DT = 1e-4

NEURON_TYPES: tuple[type, ...] = (nir.LIF, nir.IF, nir.CubaLIF, nir.LI, nir.CubaLI, nir.I)
LINEAR_TYPES: tuple[type, ...] = (
    nir.Affine,
    nir.Linear,
    nir.Conv1d,
    nir.Conv2d,
    nir.SumPool2d,
    nir.AvgPool2d,
    nir.Flatten,
    nir.Scale,
)
#: Largest number of dense weight entries :func:`to_nir` writes (NIR stores dense matrices).
MAX_DENSE_WEIGHTS = 50_000_000
#: What nir, h5py and numpy raise on a file whose content is malformed (types, shapes, missing keys).
MALFORMED = (AssertionError, AttributeError, IndexError, KeyError, TypeError, ValueError, OverflowError)
#: Firing probability per step of the inputs of an imported net, for its simulated spike counts.
DEFAULT_INPUT_RATE = 0.2

SUPPORTED = tuple(sorted(t.__name__ for t in (*NEURON_TYPES, *LINEAR_TYPES, nir.Input, nir.Output, nir.NIRGraph)))


@dataclass
class _Flat:
    """A NIR graph with its subgraphs flattened: leaf nodes by dotted path and their kinds."""

    nodes: dict[str, Any] = field(default_factory=dict)
    kind: dict[str, str] = field(default_factory=dict)  # input | output | identity | neuron | linear
    preds: dict[str, list[str]] = field(default_factory=dict)


def read_nir(path: Path, *, dt: float = DEFAULT_DT, input_rate: float = DEFAULT_INPUT_RATE, seed: int = 0) -> Network:
    """Read a NIR file (HDF5, as written by ``nir.write``) and expand it to neuron level.

    The file is checked for unsupported node types before ``nir`` builds it, so that an
    unknown node is reported by name and type rather than as a bare assertion. NIR holds
    no activity, so the spike counts are simulated (:mod:`mapopt.simulate`) over the
    default window with inputs firing with probability ``input_rate`` per step, seeded.
    """
    path = Path(path)
    if not (isinstance(dt, int | float) and math.isfinite(dt) and dt > 0):
        raise InputError(f"--dt must be a positive number of seconds, got {dt!r}", source="--dt")
    try:
        with h5py.File(path, "r") as f:
            if "node" not in f or not isinstance(f["node"], h5py.Group):
                raise InputError("not a NIR file: it has no 'node' group")
            _check_types(f["node"], "")
            data = hdf2dict(f["node"])
    except InputError:
        raise
    except OSError as err:
        raise InputError(f"not a readable NIR (HDF5) file: {err}") from None
    except MALFORMED as err:
        raise InputError(f"malformed NIR file: {type(err).__name__}: {err}") from None
    try:
        _no_type_check(data)  # mapopt infers and checks the shapes itself (see _infer)
        graph = nir.dict2NIRNode(data)
        net = from_nir(graph, name=path.stem, dt=dt, source=f"file: {path.name}")
    except InputError:
        raise
    except MALFORMED as err:
        # The file's content, not mapopt, is at fault here: parameters of the wrong type or
        # shape make nir or numpy fail somewhere inside; say so in one line.
        raise InputError(f"malformed NIR graph: {type(err).__name__}: {err}") from None
    return with_simulated_spikes(net, input_rate=input_rate, seed=seed)


def _check_types(group: h5py.Group, prefix: str) -> None:
    if "type" not in group:
        raise InputError(f"NIR node {prefix.rstrip('.') or '(top level)'!r} has no type")
    kind = group["type"][()]
    kind = kind.decode() if isinstance(kind, bytes) else str(kind)
    if kind not in SUPPORTED:
        raise _unsupported(prefix.rstrip(".") or "(top level)", kind)
    if kind == "NIRGraph":
        if "nodes" not in group or "edges" not in group:
            raise InputError(f"NIR graph {prefix.rstrip('.') or '(top level)'!r} lacks nodes or edges")
        for name, child in group["nodes"].items():
            _check_types(child, f"{prefix}{name}.")


def _no_type_check(data: dict[str, Any]) -> None:
    if data.get("type") == "NIRGraph":
        data["type_check"] = False
        for child in data.get("nodes", {}).values():
            _no_type_check(child)


def _unsupported(name: str, kind: str) -> InputError:
    return InputError(
        f"NIR node {name!r} has type {kind}, which mapopt cannot expand to neurons (supported: {', '.join(SUPPORTED)})"
    )


# ---------------------------------------------------------------------- flattening
def _flatten(graph: nir.NIRGraph) -> _Flat:
    flat = _Flat()

    def walk(g: nir.NIRGraph, prefix: str) -> None:
        for name, node in g.nodes.items():
            path = prefix + name
            if isinstance(node, nir.NIRGraph):
                walk(node, path + ".")
                continue
            flat.nodes[path] = node
            flat.preds.setdefault(path, [])
            if isinstance(node, nir.Input):
                flat.kind[path] = "input" if not prefix else "identity"
            elif isinstance(node, nir.Output):
                flat.kind[path] = "output" if not prefix else "identity"
            elif isinstance(node, NEURON_TYPES):
                flat.kind[path] = "neuron"
            elif isinstance(node, LINEAR_TYPES):
                flat.kind[path] = "linear"
            else:
                raise _unsupported(path, type(node).__name__)
        for a, b in g.edges:
            src, dst = _endpoint(g, prefix, str(a), nir.Output), _endpoint(g, prefix, str(b), nir.Input)
            flat.preds.setdefault(dst, []).append(src)

    if not isinstance(graph, nir.NIRGraph):
        raise InputError(f"the top-level NIR node is a {type(graph).__name__}, not a NIRGraph")
    walk(graph, "")
    return flat


def _endpoint(g: nir.NIRGraph, prefix: str, name: str, port: type) -> str:
    """The leaf node an edge end ``name`` means: a node, a subgraph's port, or ``sub.node``."""
    node = g.nodes.get(name)
    if node is None:
        head, dot, rest = name.partition(".")
        if dot and isinstance(g.nodes.get(head), nir.NIRGraph):
            return _endpoint(g.nodes[head], f"{prefix}{head}.", rest, port)
        raise InputError(f"NIR edge names {prefix + name!r}, which is not a node of the graph")
    if not isinstance(node, nir.NIRGraph):
        return prefix + name
    ports = [k for k, v in node.nodes.items() if isinstance(v, port)]
    if len(ports) != 1:
        raise InputError(
            f"NIR edge to subgraph {prefix + name!r} is ambiguous: it has {len(ports)} {port.__name__} nodes; "
            f"name one as {prefix + name}.NODE"
        )
    return _endpoint(node, f"{prefix}{name}.", ports[0], port)


# ---------------------------------------------------------------------- shapes and layer matrices
def _shape(x: Any) -> tuple[int, ...]:
    arr = np.atleast_1d(np.asarray(x)).ravel()
    if arr.dtype.kind not in "iuf" or not np.all(np.isfinite(arr)) or np.any(arr != np.round(arr)) or np.any(arr < 0):
        raise InputError(f"a NIR shape must hold non-negative integers, got {x!r}")
    return tuple(int(v) for v in arr)


def _own_shape(node: Any) -> tuple[int, ...] | None:
    """Output shape of a node that defines it by its parameters (None: it follows its input)."""
    if isinstance(node, nir.Input):
        return _shape(node.input_type["input"])
    if isinstance(node, (nir.IF, nir.LIF, nir.CubaLIF)):
        return np.shape(node.v_threshold) or (1,)
    if isinstance(node, (nir.LI, nir.CubaLI, nir.I)):
        return np.shape(node.r) or (1,)
    if isinstance(node, (nir.Affine, nir.Linear)):
        return (int(np.shape(node.weight)[0]),)
    if isinstance(node, nir.Scale):
        return np.shape(node.scale) or (1,)
    return None


Layer = tuple[sp.csr_matrix | None, tuple[int, ...], np.ndarray | None]


def _bias(name: str, node: Any, channels: int, out_shape: tuple[int, ...]) -> np.ndarray | None:
    """The constant output of an Affine or convolution node (one bias per channel, repeated over positions)."""
    bias = getattr(node, "bias", None)
    if bias is None:
        return None
    bias = np.asarray(bias, dtype=np.float64).ravel()
    if bias.size == 1 and channels > 1:
        bias = np.repeat(bias, channels)
    if bias.size != channels:
        raise InputError(f"bias has {bias.size} entries for {channels} output channels")
    if not np.all(np.isfinite(bias)):
        raise InputError("bias is not finite")
    if not bias.any():
        return None
    return np.repeat(bias, int(np.prod(out_shape)) // channels)


def _layer(name: str, node: Any, in_shape: tuple[int, ...]) -> Layer:
    """The sparse matrix (None for identity), output shape and constant output (bias) of a linear node."""
    size = math.prod(in_shape)
    try:
        if isinstance(node, (nir.Affine, nir.Linear)):
            weight = np.asarray(node.weight, dtype=np.float64)
            if weight.ndim != 2 or weight.shape[1] != size:
                raise InputError(f"weight of shape {weight.shape} does not take its {size} inputs")
            syn = layers.dense(weight, drop_zeros=True)
            return syn.matrix(), syn.out_shape, _bias(name, node, weight.shape[0], syn.out_shape)
        if isinstance(node, nir.Scale):
            scale = np.asarray(node.scale, dtype=np.float64).ravel()
            if scale.size != size:
                raise InputError(f"scale has {scale.size} entries for {size} inputs")
            return sp.diags_array(scale, format="csr"), in_shape, None
        if isinstance(node, (nir.Conv1d, nir.Conv2d)):
            weight = np.asarray(node.weight, dtype=np.float64)
            nd = weight.ndim - 2
            cin = weight.shape[1] * int(node.groups)
            if node.input_shape is not None:
                want = (cin, *_shape(node.input_shape))
            elif len(in_shape) == nd + 1:
                want = in_shape
            else:
                raise InputError(f"input of shape {in_shape} is not (C, {'L' if nd == 1 else 'H, W'})")
            if int(np.prod(want)) != size:
                raise InputError(f"expects input {want} but receives {size} values")
            padding = node.padding
            if isinstance(padding, bytes | np.bytes_):
                padding = padding.decode()
            syn = layers.conv(
                want, weight, stride=node.stride, padding=padding, dilation=node.dilation, groups=int(node.groups)
            )
            return syn.matrix(), syn.out_shape, _bias(name, node, weight.shape[0], syn.out_shape)
        if isinstance(node, (nir.SumPool2d, nir.AvgPool2d)):
            if len(in_shape) != 3:
                raise InputError(f"input of shape {in_shape} is not (C, H, W)")
            syn = layers.pool(
                in_shape,
                _shape(node.kernel_size),
                stride=_shape(node.stride),
                padding=_shape(node.padding),
                average=isinstance(node, nir.AvgPool2d),
            )
            return syn.matrix(), syn.out_shape, None
        if isinstance(node, nir.Flatten):
            return None, (size,), None
    except InputError as err:
        raise InputError(f"NIR node {name!r} ({type(node).__name__}): {err.message}") from None
    return None, in_shape, None  # Input/Output ports of subgraphs: identity


def _infer(flat: _Flat) -> tuple[dict[str, tuple[int, ...]], dict[str, Layer]]:
    """Output shape of every node and the layer (matrix, shape, bias) of every linear node, from the inputs."""
    shapes: dict[str, tuple[int, ...]] = {}
    mats: dict[str, Layer] = {}
    for name, node in flat.nodes.items():
        own = _own_shape(node)
        if own is not None and flat.kind[name] != "linear":
            shapes[name] = own
    pending = [n for n in flat.nodes if n not in shapes or flat.kind[n] == "linear"]
    rank = {n: i for i, n in enumerate(pending)}
    # a node is ready once every predecessor has its shape: the topological generations of the
    # pending nodes (networkx), each in graph order; a cycle among them leaves nodes unreached
    waiting = nx.DiGraph()
    waiting.add_nodes_from(pending)
    waiting.add_edges_from((p, n) for n in pending for p in flat.preds[n] if p in rank)
    done: set[str] = set()
    try:
        for generation in nx.topological_generations(waiting):
            for name in sorted(generation, key=rank.__getitem__):
                preds = flat.preds[name]
                if not preds:
                    raise InputError(f"NIR node {name!r} ({type(flat.nodes[name]).__name__}) has no input")
                sizes = {int(np.prod(shapes[p])) for p in preds}
                if len(sizes) > 1:
                    raise InputError(f"NIR node {name!r} sums inputs of different sizes {sorted(sizes)}")
                mats[name] = _layer(name, flat.nodes[name], shapes[preds[0]])
                shapes[name] = mats[name][1]
                done.add(name)
    except nx.NetworkXUnfeasible:
        stuck = sorted(n for n in pending if n not in done)
        raise InputError(
            f"cannot infer the input shape of NIR node(s) {', '.join(stuck)}: "
            "no path from an Input, or a cycle without a neuron node"
        ) from None
    return shapes, mats


# ---------------------------------------------------------------------- neuron parameters
def _param(node: Any, attr: str, size: int) -> np.ndarray:
    value = np.asarray(getattr(node, attr), dtype=np.float64).ravel()
    return np.broadcast_to(value, (size,)) if value.size in (1, size) else value


@dataclass(frozen=True)
class NeuronParams:
    """One neuron node's parameters in mapopt's units (weight units: one synaptic weight of input = 1)."""

    threshold: np.ndarray  # inf: never spikes (made finite by _unreachable)
    leak: np.ndarray  # fraction of the potential lost per step
    bias: np.ndarray  # constant input per step from the leak potential, leak * v_leak / gain
    reset: np.ndarray  # potential after a spike, v_reset / gain


def _warn(name: str, node: Any, parameter: str, detail: str) -> None:
    """One line naming the node and the parameter that mapopt's neuron model only approximates."""
    warnings.warn(f"NIR node {name!r} ({type(node).__name__}): {parameter} {detail}", ModelWarning, stacklevel=3)


def neuron_params(name: str, node: Any, size: int, dt: float) -> NeuronParams:
    """Per-neuron threshold, leak, bias and reset potential of a NIR neuron node.

    mapopt's neuron (:mod:`mapopt.simulate`) is the forward-Euler step of NIR's LIF,
    ``tau dv/dt = (v_leak - v) + r I``, in units where one unit of input I adds one to the
    potential u = v / gain: ``u <- u - leak u + bias + I``, spike when u reaches the
    threshold, then u <- reset. With step ``dt``:

    - LIF: gain ``dt r / tau``, leak ``dt / tau``, threshold ``v_threshold / gain``, bias
      ``leak v_leak / gain`` (= ``v_leak / r``), reset ``v_reset / gain``;
    - IF (``dv/dt = r I``, integrated per step as Sinabs and Norse export it): gain ``r``,
      no leak, threshold ``v_threshold / r``, reset ``v_reset / r``;
    - CubaLIF: its synaptic current delivers ``w_in`` per unit of input in total, so the
      gain is ``dt r w_in / tau_mem``, leak ``dt / tau_mem``, and the rest as for LIF. The
      current's low-pass filter (``tau_syn``) is not modelled: each input's charge arrives
      at once. That is reported as a :class:`~mapopt.errors.ModelWarning` (unless tau_syn
      is one step, when there is nothing to spread);
    - LI, CubaLI and I never spike: threshold ``inf`` (made unreachable but finite by
      :func:`from_nir`), no bias or reset (they change no spike). Their potential, the
      readout, is not simulated, which a warning says once per node.

    A time constant below ``dt`` would make the Euler step overshoot; the leak is clipped
    to 1 (the potential forgets everything each step) and a warning names the node.
    Neurons fire when the potential reaches the threshold (NIR says "exceeds"; the two
    differ only when a fixed-point potential lands exactly on it).
    """
    kind = type(node).__name__
    if isinstance(node, nir.IF):
        gain, vth, tau = _param(node, "r", size), _param(node, "v_threshold", size), None
    elif isinstance(node, nir.LIF):
        tau = _param(node, "tau", size)
        gain, vth = dt * _param(node, "r", size) / np.where(tau > 0, tau, 1.0), _param(node, "v_threshold", size)
    elif isinstance(node, nir.CubaLIF):
        tau = _param(node, "tau_mem", size)
        gain = dt * _param(node, "r", size) * _param(node, "w_in", size) / np.where(tau > 0, tau, 1.0)
        vth = _param(node, "v_threshold", size)
    else:
        tau = _param(node, "tau", size) if isinstance(node, nir.LI) else None
        tau = _param(node, "tau_mem", size) if isinstance(node, nir.CubaLI) else tau
        gain, vth = np.zeros(size), np.ones(size)
    if tau is not None and (tau.size != size or np.any(~(tau > 0))):
        raise InputError(f"NIR node {name!r} ({kind}): time constants must be > 0, one per neuron")
    if gain.size != size or vth.size != size:
        raise InputError(f"NIR node {name!r} ({kind}): parameters do not match its {size} neurons")
    ok = (gain > 0) & np.isfinite(gain) & np.isfinite(vth)
    threshold = np.full(size, np.inf)
    np.divide(vth, gain, out=threshold, where=ok)
    leak = np.zeros(size) if tau is None else dt / tau
    if not isinstance(node, (nir.IF, nir.LIF, nir.CubaLIF)):  # LI, CubaLI, I: a readout that never spikes
        params = ", ".join(k for k in ("tau", "tau_syn", "tau_mem", "r", "v_leak", "w_in") if hasattr(node, k))
        _warn(name, node, f"potential ({params})",
              "is not simulated: a non-spiking readout; its neurons are mapped but never spike")
        return NeuronParams(threshold=threshold, leak=np.minimum(leak, 1.0), bias=np.zeros(size),
                            reset=np.zeros(size))
    if np.any(leak > 1.0):
        _warn(name, node, "tau_mem" if hasattr(node, "tau_mem") else "tau",
              f"below the step dt={dt:g} (down to {float(tau.min()):.3g}): the leak is clipped to 1 per step")
        leak = np.minimum(leak, 1.0)
    if hasattr(node, "tau_syn"):
        tau_syn = _param(node, "tau_syn", size)
        if not np.allclose(tau_syn, dt, rtol=1e-6, atol=0.0):
            lo, hi = float((tau_syn / dt).min()), float((tau_syn / dt).max())
            steps = f"{lo:.3g}" if np.isclose(lo, hi) else f"{lo:.3g} to {hi:.3g}"
            _warn(name, node, "tau_syn",
                  f"(a synaptic current filter of {steps} steps at dt={dt:g}) is not modelled: "
                  "each input's total charge w_in arrives in one step")
    scale = np.zeros(size)
    np.divide(1.0, gain, out=scale, where=ok)
    reset = _param(node, "v_reset", size) * scale
    bias = np.zeros(size) if isinstance(node, nir.IF) else leak * _param(node, "v_leak", size) * scale
    if not (np.all(np.isfinite(reset)) and np.all(np.isfinite(bias))):
        raise InputError(f"NIR node {name!r} ({kind}): v_leak and v_reset must be finite")
    return NeuronParams(threshold=threshold, leak=leak, bias=bias, reset=reset)


# ---------------------------------------------------------------------- expansion
def from_nir(
    graph: nir.NIRGraph,
    *,
    name: str = "nir",
    dt: float = DEFAULT_DT,
    source: str = "NIR graph",
    timesteps: int = DEFAULT_TIMESTEPS,
) -> Network:
    """Expand an in-memory NIR graph to a neuron-level :class:`Network` (no spike counts yet).

    Neuron ids: the elements of the top-level Input nodes first, then those of each neuron
    node in order of its distance (in edges) from the inputs, C-order within a node.
    ``Network.layer`` numbers these distances 0, 1, 2, ... (inputs 0); recurrent edges do
    not shorten or lengthen them (a breadth-first search from the inputs). A neuron's bias
    is the constant part of its drive (the biases of Affine and convolution nodes, carried
    through the linear nodes in between) plus the pull of its leak potential.
    """
    if not dt > 0:
        raise InputError(f"dt must be > 0, got {dt}")
    flat = _flatten(graph)
    shapes, mats = _infer(flat)
    depth = _depth(flat)
    pops = [n for n, k in flat.kind.items() if k == "input"]
    pops += sorted((n for n, k in flat.kind.items() if k == "neuron"), key=lambda n: depth[n])
    if not any(flat.kind[p] == "neuron" for p in pops):
        raise InputError("the NIR graph has no neuron node (LIF, IF, CubaLIF, LI, CubaLI, I): nothing to map")
    sizes = [math.prod(shapes[p]) for p in pops]
    n = sum(sizes)
    check_fits(f"the expanded NIR graph {name!r}", Size(n, 0))
    offsets = dict(zip(pops, np.concatenate(([0], np.cumsum(sizes)))[:-1].tolist(), strict=True))

    def selection(p: str) -> sp.csr_matrix:
        size = int(np.prod(shapes[p]))
        return sp.csr_matrix((np.ones(size), (np.arange(size), offsets[p] + np.arange(size))), shape=(size, n))

    memo: dict[str, tuple[sp.csr_matrix, np.ndarray]] = {}

    def drive(p: str) -> tuple[sp.csr_matrix, np.ndarray]:
        """Sum of what the predecessors of ``p`` send it: a matrix over source neurons plus a constant."""
        size = int(np.prod(shapes[flat.preds[p][0]])) if flat.preds[p] else 0
        total, offset = sp.csr_matrix((size, n)), np.zeros(size)
        for q in flat.preds[p]:
            if flat.kind[q] in ("input", "neuron"):
                total = total + selection(q)
            else:
                m, c = signal(q)
                total, offset = total + m, offset + c
        return total, offset

    def signal(p: str) -> tuple[sp.csr_matrix, np.ndarray]:
        """What linear node ``p`` outputs: its matrix applied to its drive, plus its bias."""
        if p not in memo:
            m, c = drive(p)
            matrix, _, bias = mats.get(p, (None, None, None))
            if matrix is not None:
                m, c = matrix @ m, matrix @ c
            memo[p] = (m, c if bias is None else c + bias)
        return memo[p]

    pre_parts, post_parts, w_parts = [], [], []
    threshold, leak, bias, reset = np.ones(n), np.zeros(n), np.zeros(n), np.zeros(n)
    for p, size in zip(pops, sizes, strict=True):
        if flat.kind[p] != "neuron":
            continue
        lo = offsets[p]
        params = neuron_params(p, flat.nodes[p], size, dt)
        threshold[lo : lo + size], leak[lo : lo + size] = params.threshold, params.leak
        bias[lo : lo + size], reset[lo : lo + size] = params.bias, params.reset
        if not flat.preds[p]:
            continue
        m, c = drive(p)
        # a never-spiking readout (LI, CubaLI, I) keeps no bias: a constant input changes none of its spikes
        bias[lo : lo + size] += np.where(np.isfinite(params.threshold), c, 0.0)
        d = m.tocoo()
        keep = d.data != 0
        pre_parts.append(d.col[keep])
        post_parts.append(lo + d.row[keep])
        w_parts.append(d.data[keep])
    levels = sorted({depth[p] for p in pops})
    pre = np.concatenate(pre_parts) if pre_parts else np.zeros(0, np.int64)
    post = np.concatenate(post_parts) if post_parts else np.zeros(0, np.int64)
    weight = np.concatenate(w_parts) if w_parts else np.zeros(0)
    threshold = _unreachable(threshold, leak, post, weight, timesteps)
    is_input = np.repeat([flat.kind[p] == "input" for p in pops], sizes)
    layer = np.repeat([levels.index(depth[p]) for p in pops], sizes)
    ids = _saved_ids([flat.nodes[p] for p in pops], n)
    per_neuron = [is_input, threshold, leak, layer, bias, reset]
    if ids is not None:  # a file written by to_nir: restore mapopt's numbering
        pre, post = ids[pre], ids[post]
        for arr in per_neuron:
            arr[ids] = arr.copy()
    return Network.build(
        name=name,
        is_input=is_input,
        pre=pre,
        post=post,
        weight=weight,
        spike_source=f"none: {source} holds no spike counts",
        timesteps=timesteps,
        threshold=threshold,
        leak=leak,
        layer=layer,
        bias=bias,
        reset=reset,
        task=_saved_task([flat.nodes[p] for p in pops if flat.kind[p] == "input"]),
    )


def _saved_task(inputs: list[Any]) -> str | None:
    """The training task :func:`to_nir` stored in an Input node's metadata (``mapopt_task``), if any."""
    for node in inputs:
        task = node.metadata.get("mapopt_task")
        if task is not None:
            task = task.decode() if isinstance(task, bytes | np.bytes_) else str(task)
            return task or None
    return None


def _saved_ids(populations: list[Any], n: int) -> np.ndarray | None:
    """The neuron ids :func:`to_nir` stored, when every population has them and they number 0..n-1."""
    saved = [np.asarray(node.metadata.get("mapopt_ids", [])).ravel() for node in populations]
    sizes = [int(np.prod(_own_shape(node) or (0,))) for node in populations]
    if any(len(ids) != size for ids, size in zip(saved, sizes, strict=True)) or not saved:
        return None
    ids = np.concatenate(saved).astype(np.int64)
    return ids if np.array_equal(np.sort(ids), np.arange(n)) else None


def _unreachable(
    threshold: np.ndarray, leak: np.ndarray, post: np.ndarray, weight: np.ndarray, timesteps: int
) -> np.ndarray:
    """Replace infinite thresholds (non-spiking neurons) by finite ones no potential reaches.

    A potential gains at most sum |w| per step, so it stays below (T + 1) sum |w| in the
    window, and below sum |w| / l at any time with leak l > 0. Twice the smaller bound,
    plus 1, is out of reach and small enough for the simulator's fixed-point scale.
    """
    silent = ~np.isfinite(threshold)
    if not silent.any():
        return threshold
    drive = np.bincount(post, weights=np.abs(weight), minlength=len(threshold))
    horizon = np.where(leak > 0, 1.0 / np.where(leak > 0, leak, 1.0), timesteps + 1.0)
    return np.where(silent, 2.0 * drive * np.minimum(horizon, timesteps + 1.0) + 1.0, threshold)


def _depth(flat: _Flat) -> dict[str, int]:
    """Edges from the nearest top-level Input to each node (unreached nodes: one past the deepest)."""
    graph = nx.DiGraph()
    graph.add_nodes_from(flat.nodes)
    graph.add_edges_from((src, dst) for dst, preds in flat.preds.items() for src in preds)
    inputs = [n for n, k in flat.kind.items() if k == "input"]
    depth = dict(nx.multi_source_dijkstra_path_length(graph, inputs)) if inputs else {}  # unit weights: BFS levels
    last = max(depth.values(), default=0) + 1
    return {n: depth.get(n, last) for n in flat.nodes}


# ---------------------------------------------------------------------- export
def to_nir(
    model: Network | Decomposition, *, dt: float = DEFAULT_DT, max_weights: int = MAX_DENSE_WEIGHTS
) -> nir.NIRGraph:
    """A network N, or a decomposition N', as a NIR graph that :func:`from_nir` reads back.

    NIR has no sparse weight type, so neurons are grouped and every pair of groups joined
    by synapses becomes one dense ``Linear`` node: the inputs form one ``Input``; compute
    neurons are grouped by layer (and by leaky or not) into ``IF`` / ``LIF`` nodes. In N',
    the non-root units of each (layer, level) form a ``Scale`` node of ones, a pure sum:
    exactly the *exact* mode of docs/model.md, section 3 (partial sums move within the
    step), so reading the file back composes the units away and returns N (minus any
    pruned synapses). Each population node keeps its neurons' ids in its metadata
    (``mapopt_ids``), so the reader restores mapopt's numbering; the Input node keeps the
    net's training task (``mapopt_task``). Reset potentials are the nodes' ``v_reset``; a
    group's biases go into the bias of one of its incoming blocks (an ``Affine`` node; NIR
    sums the edges into a node, so the bias is added once), or, for a group no synapse
    reaches, into a zero-weight ``Affine`` from the group to itself. Raises an
    :class:`InputError` when the dense blocks would hold more than ``max_weights`` entries.
    """
    dec = model if isinstance(model, Decomposition) else None
    net = model.network if dec is not None else model
    is_unit = np.zeros(net.n_neurons, bool) if dec is None else dec.compute & (dec.level > 0)
    layer = net.layer if dec is None else dec.original.layer[dec.origin]
    kind = np.where(net.is_input, 0, np.where(is_unit, 2, 1))
    # inputs form one group whatever their (meaningless) leak; compute neurons split into IF and LIF groups
    sub = np.where(is_unit, 0 if dec is None else dec.level, ~net.is_input & (net.leak > 0))
    keys, group = np.unique(
        np.stack([kind, np.where(net.is_input, 0, layer), sub], axis=1), axis=0, return_inverse=True
    )
    group = group.ravel()
    sizes = np.bincount(group, minlength=len(keys))
    starts = np.cumsum(sizes) - sizes
    order = np.argsort(group, kind="stable")
    pos = np.empty(net.n_neurons, dtype=np.int64)
    pos[order] = np.arange(net.n_neurons) - np.repeat(starts, sizes)
    pair = group[net.pre] * len(keys) + group[net.post]
    blocks, block_of = np.unique(pair, return_inverse=True)
    by_block = np.argsort(block_of.ravel(), kind="stable")
    block_start = np.searchsorted(block_of.ravel()[by_block], np.arange(len(blocks) + 1))
    dense = int((sizes[blocks // len(keys)] * sizes[blocks % len(keys)]).sum())
    if dense > max_weights:
        raise InputError(
            f"NIR has no sparse weights: this net needs {dense:,} dense weight entries (limit {max_weights:,})"
        )
    names = [
        "input" if k == 0 else f"neurons_L{a}" + ("_leaky" if b else "") if k == 1 else f"units_L{a}_level{b}"
        for k, a, b in keys.tolist()
    ]
    nodes: dict[str, nir.NIRNode] = {}
    for g, (k, _, leaky) in enumerate(keys.tolist()):
        ids = order[starts[g] : starts[g] + sizes[g]]
        meta: dict[str, Any] = {"mapopt_ids": ids}
        if k == 0:
            if net.task is not None:
                meta["mapopt_task"] = net.task
            nodes[names[g]] = nir.Input(input_type=np.array([len(ids)]), metadata=meta)
        elif k == 2:
            nodes[names[g]] = nir.Scale(scale=np.ones(len(ids)))
        elif leaky:
            tau = dt / net.leak[ids]
            nodes[names[g]] = nir.LIF(
                tau=tau, r=tau / dt, v_leak=np.zeros(len(ids)), v_threshold=net.threshold[ids],
                v_reset=net.reset[ids], metadata=meta,
            )
        else:
            nodes[names[g]] = nir.IF(
                r=np.ones(len(ids)), v_threshold=net.threshold[ids], v_reset=net.reset[ids], metadata=meta
            )
    # the constant input of each neuron group (roots only: units carry no bias), in group order
    bias = {
        g: net.bias[order[starts[g] : starts[g] + sizes[g]]]
        for g in range(len(keys))
        if keys[g, 0] == 1 and net.bias[order[starts[g] : starts[g] + sizes[g]]].any()
    }
    edges: list[tuple[str, str]] = []
    for b, code in enumerate(blocks.tolist()):
        src, dst = divmod(code, len(keys))
        weight = np.zeros((sizes[dst], sizes[src]))
        members = by_block[block_start[b] : block_start[b + 1]]
        weight[pos[net.post[members]], pos[net.pre[members]]] = net.weight[members]
        link = f"w_{names[src]}_to_{names[dst]}"
        nodes[link] = nir.Affine(weight=weight, bias=bias.pop(dst)) if dst in bias else nir.Linear(weight=weight)
        edges += [(names[src], link), (link, names[dst])]
    sinks = sorted(set(names[g] for g in range(len(keys)) if keys[g, 0] == 1) - {a for a, _ in edges})
    for g, values in bias.items():  # groups no synapse reaches: a zero-weight Affine carries the bias
        link = f"bias_{names[g]}"
        nodes[link] = nir.Affine(weight=np.zeros((sizes[g], sizes[g])), bias=values)
        edges += [(names[g], link), (link, names[g])]
    for name in sinks:
        nodes[f"output_{name}"] = nir.Output(output_type=np.array([len(nodes[name].v_threshold)]))
        edges.append((name, f"output_{name}"))
    return nir.NIRGraph(nodes=nodes, edges=edges, type_check=False)


def write_nir(path: Path, model: Network | Decomposition, *, dt: float = DEFAULT_DT) -> None:
    """Write N or N' as a NIR file (see :func:`to_nir`); spike counts are not part of NIR."""
    nir.write(Path(path), to_nir(model, dt=dt))


#: The ``mapopt.readers`` plugin for NIR files (declared in pyproject.toml).
READER = FileReader("nir", (".nir", ".h5", ".hdf5"), read_nir, options=("dt",))
