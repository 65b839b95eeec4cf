"""Convolutional nets expanded to neuron level, LeNet-5 among them.

A net is described layer by layer (``--net conv:SPEC``, tokens separated by commas):

- the input shape first: ``CxHxW`` (2-d) or ``CxL`` (1-d), e.g. ``1x28x28``;
- ``cN kK [sS] [pP] [dD] [gG]`` written together (``c16k3s2p1d1g2``): a convolution with
  N output channels, kernel K, stride S (1), zero padding P (0), dilation D (1), groups G (1);
- ``pK[sS]`` / ``aK[sS]``: 2-d sum / average pooling with kernel K, stride S (= K);
- ``fN``: a fully connected layer of N neurons (the tensor is flattened C-order first);
- ``pool=layer`` (default) or ``pool=fold``: pooling as its own layer of IF neurons (each
  pools its K x K window of spikes, fan-in K^2), or folded into the next weighted layer,
  whose synapses then compose pooling and weights (fan-in grows by K^2, no pooling neurons).

Every convolution and dense layer is followed by IF neurons (threshold 1), with Gaussian
weights of standard deviation 2 / sqrt(per-neuron kernel size), seeded. The net is built
as a NIR graph (:func:`conv_graph`, which ``nir.write`` can save) and expanded by the NIR
importer, so generated and imported conv nets are expanded by the same code. Spike counts
are simulated on a rate-coded scikit-learn digits image (:mod:`problems.instances.spikes`).

LeNet-5 (LeCun et al., "Gradient-based learning applied to document recognition", Proc.
IEEE 1998): 1x32x32 input, C1 6@5x5, S2 2x2, C3 16@5x5 (fully connected across channels
here, not the original's partial connection table), S4 2x2, C5 120@5x5, F6 84, output 10.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import nir
import numpy as np

from mapopt import layers
from mapopt.errors import InputError
from mapopt.io.nir import from_nir
from mapopt.network import DEFAULT_TIMESTEPS, Network
from mapopt.registry import Generator
from mapopt.resources import Size
from problems.instances.spikes import with_image_spikes

LENET5 = "1x32x32,c6k5,p2,c16k5,p2,c120k5,f84,f10"

_CONV = re.compile(r"c(\d+)k(\d+)(?:s(\d+))?(?:p(\d+))?(?:d(\d+))?(?:g(\d+))?")
_POOL = re.compile(r"([pa])(\d+)(?:s(\d+))?")
_DENSE = re.compile(r"f(\d+)")


@dataclass(frozen=True)
class Layer:
    """One token of a conv spec: ``kind`` is conv, pool or dense."""

    kind: str
    size: int  # output channels / neurons, or pooling kernel
    kernel: int = 1
    stride: int = 1
    padding: int = 0
    dilation: int = 1
    groups: int = 1
    average: bool = False


@dataclass(frozen=True)
class ConvSpec:
    in_shape: tuple[int, ...]
    layers: tuple[Layer, ...]
    fold_pool: bool = False


def parse_spec(args: str) -> ConvSpec:
    """Parse ``CxHxW,token,token,...[,pool=layer|fold]`` (see the module docstring)."""
    tokens = [t.strip() for t in args.split(",") if t.strip()]
    if not tokens:
        raise InputError("conv spec is empty; e.g. conv:1x28x28,c8k3,p2,f10")
    try:
        in_shape = tuple(int(x) for x in tokens[0].split("x"))
    except ValueError:
        raise InputError(f"conv spec must start with the input shape CxHxW or CxL, got {tokens[0]!r}") from None
    if len(in_shape) not in (2, 3) or min(in_shape) < 1:
        raise InputError(f"conv input shape must be CxHxW or CxL with positive sizes, got {tokens[0]!r}")
    fold, parsed = False, []
    for tok in tokens[1:]:
        if tok.startswith("pool="):
            if tok not in ("pool=layer", "pool=fold"):
                raise InputError(f"pool= takes layer or fold, got {tok!r}")
            fold = tok == "pool=fold"
        elif m := _CONV.fullmatch(tok):
            n, k, s, p, d, g = (int(x) if x else None for x in m.groups())
            parsed.append(Layer("conv", n, k, s or 1, p or 0, d or 1, g or 1))
        elif m := _POOL.fullmatch(tok):
            k = int(m.group(2))
            parsed.append(Layer("pool", k, k, int(m.group(3) or k), average=m.group(1) == "a"))
        elif m := _DENSE.fullmatch(tok):
            parsed.append(Layer("dense", int(m.group(1))))
        else:
            raise InputError(f"conv spec token {tok!r} is not cNkK[sS][pP][dD][gG], pK[sS], aK[sS], fN or pool=...")
    if not parsed:
        raise InputError("conv spec has no layers")
    if any(layer.size < 1 or layer.kernel < 1 or layer.stride < 1 or layer.dilation < 1 for layer in parsed):
        raise InputError("conv spec sizes, kernels, strides and dilations must be >= 1")
    if fold and parsed[-1].kind == "pool":
        raise InputError("pool=fold needs a weighted layer after the last pooling layer")
    return ConvSpec(in_shape, tuple(parsed), fold)


def _if(shape: tuple[int, ...]) -> nir.IF:
    return nir.IF(r=np.ones(shape), v_threshold=np.ones(shape))


def conv_graph(spec: ConvSpec, *, seed: int = 0) -> nir.NIRGraph:
    """The net of ``spec`` as a NIR graph (Input, Conv, pooling, Flatten, Linear, IF nodes)."""
    rng = np.random.default_rng(seed)
    nodes: dict[str, nir.NIRNode] = {"input": nir.Input(input_type=np.array(spec.in_shape))}
    edges: list[tuple[str, str]] = []
    last, shape = "input", spec.in_shape

    def add(name: str, node: nir.NIRNode) -> None:
        nonlocal last
        nodes[name] = node
        edges.append((last, name))
        last = name

    for i, layer in enumerate(spec.layers):
        if layer.kind == "conv":
            if len(shape) == 1:
                raise InputError(f"layer {i + 1}: a convolution cannot follow a dense layer")
            nd = len(shape) - 1
            cin = shape[0]
            if cin % layer.groups or layer.size % layer.groups:
                raise InputError(f"layer {i + 1}: groups={layer.groups} must divide {cin} and {layer.size} channels")
            kshape = (layer.size, cin // layer.groups, *(layer.kernel,) * nd)
            scale = 2.0 / np.sqrt(np.prod(kshape[1:]))
            try:
                count = layers.conv_counts(
                    shape,
                    layer.size,
                    (layer.kernel,) * nd,
                    stride=(layer.stride,) * nd,
                    padding=(layer.padding,) * nd,
                    dilation=(layer.dilation,) * nd,
                    groups=layer.groups,
                )
            except InputError as err:
                raise InputError(f"layer {i + 1}: {err.message}") from None
            cls = nir.Conv2d if nd == 2 else nir.Conv1d
            add(
                f"conv{i}",
                cls(
                    input_shape=shape[1:] if nd == 2 else shape[1],
                    weight=rng.normal(0.0, scale, size=kshape),
                    stride=layer.stride,
                    padding=layer.padding,
                    dilation=layer.dilation,
                    groups=layer.groups,
                    bias=np.zeros(layer.size),
                ),
            )
            shape = count[2]
            add(f"if{i}", _if(shape))
        elif layer.kind == "pool":
            if len(shape) != 3:
                raise InputError(f"layer {i + 1}: pooling needs a 2-d (CxHxW) tensor, got shape {shape}")
            kernel, stride = np.array([layer.kernel] * 2), np.array([layer.stride] * 2)
            cls = nir.AvgPool2d if layer.average else nir.SumPool2d
            add(f"pool{i}", cls(kernel_size=kernel, stride=stride, padding=np.zeros(2, dtype=int)))
            out = [layers.conv_output_size(s, layer.kernel, layer.stride, 0, 1) for s in shape[1:]]
            if min(out) < 1:
                raise InputError(f"layer {i + 1}: pooling kernel {layer.kernel} does not fit input {shape[1:]}")
            shape = (shape[0], *out)
            if not spec.fold_pool:
                add(f"if{i}", _if(shape))
        else:
            if len(shape) > 1:
                add(f"flatten{i}", nir.Flatten(input_type={"input": np.array(shape)}, start_dim=0))
                shape = (math.prod(shape),)
            add(f"linear{i}", nir.Linear(weight=rng.normal(0.0, 2.0 / np.sqrt(shape[0]), size=(layer.size, shape[0]))))
            shape = (layer.size,)
            add(f"if{i}", _if(shape))
    add("output", nir.Output(output_type=np.array(shape)))
    return nir.NIRGraph(nodes=nodes, edges=edges, type_check=False)


def conv_facts(args: str) -> dict[str, int]:
    """Neurons, synapses and max fan-in of a ``pool=layer`` conv spec, in closed form (nothing is built).

    Lets the catalog state the size of nets too large to build when listed; the tests check
    it against the expanded nets.
    """
    spec = parse_spec(args)
    if spec.fold_pool:
        raise ValueError("closed-form facts are for pool=layer specs")
    return _layer_facts(spec)


def _layer_facts(spec: ConvSpec) -> dict[str, int]:
    """Neurons, synapses and max fan-in of ``spec`` with pooling as layers (Python ints: no overflow)."""
    shape, neurons, synapses, widest = spec.in_shape, math.prod(spec.in_shape), 0, 0
    for i, layer in enumerate(spec.layers):
        nd = len(shape) - 1
        if layer.kind == "dense":
            count, fanin, shape = layer.size * math.prod(shape), math.prod(shape), (layer.size,)
        elif len(shape) == 1:
            raise InputError(f"layer {i + 1}: a {layer.kind} layer cannot follow a dense layer")
        else:
            kernel = (layer.kernel,) * nd
            conv_like = layer.kind == "conv"
            count, fanin, shape = layers.conv_counts(
                shape,
                layer.size if conv_like else shape[0],
                kernel,
                stride=(layer.stride,) * nd,
                padding=(layer.padding if conv_like else 0,) * nd,
                dilation=(layer.dilation if conv_like else 1,) * nd,
                groups=layer.groups if conv_like else shape[0],
            )
        neurons, synapses, widest = neurons + math.prod(shape), synapses + count, max(widest, fanin)
    return {"neurons": neurons, "synapses": synapses, "max_fanin": widest}


def conv_size(args: str) -> Size:
    """The size of ``conv:ARGS`` without building it: closed form with pooling as layers.

    With ``pool=fold`` the pooling neurons go and the next weighted layer reads each pooled
    neuron's K x K window instead: at most K^2 times the synapses, which is the bound used.
    """
    spec = parse_spec(args)
    facts = _layer_facts(spec)
    fold = max((layer.kernel**2 for layer in spec.layers if layer.kind == "pool"), default=1) if spec.fold_pool else 1
    return Size(facts["neurons"], facts["synapses"] * fold)


def conv_net(
    args: str,
    *,
    seed: int = 0,
    name: str | None = None,
    timesteps: int = DEFAULT_TIMESTEPS,
    spikes: str = "simulated",
) -> Network:
    """The conv net of spec ``args``, expanded, with digit-image spike counts."""
    spec = parse_spec(args)
    net = from_nir(
        conv_graph(spec, seed=seed), name=name or f"conv-{args}", source="conv generator", timesteps=timesteps
    )
    return with_image_spikes(net, spec.in_shape, seed=seed, model=spikes)


def lenet5(*, fold_pool: bool = False, seed: int = 0) -> Network:
    """LeNet-5 geometry (see the module docstring), pooling as a layer or folded."""
    mode = "fold" if fold_pool else "layer"
    return conv_net(f"{LENET5},pool={mode}", seed=seed, name="lenet5" + ("-fold" if fold_pool else ""))


#: ``--net conv:ARGS`` (a ``mapopt.generators`` entry point in pyproject.toml).
CONV_GENERATOR = Generator(
    prefix="conv",
    syntax="conv:CxHxW,cNkK[sS][pP][dD][gG],pK[sS]|aK[sS],fN,...[,pool=layer|fold]",
    description="conv net at neuron level (conv, sum/avg pooling, dense; IF neurons); digits-image spikes",
    build=lambda args, seed: conv_net(args, seed=seed),
    size=conv_size,
)
#: ``--net lenet5:ARGS`` (a ``mapopt.generators`` entry point in pyproject.toml).
LENET5_GENERATOR = Generator(
    prefix="lenet5",
    syntax="lenet5:layer|fold",
    description=f"LeNet-5 ({LENET5}); pooling as its own layer or folded into the next",
    build=lambda args, seed: lenet5(fold_pool=_mode(args), seed=seed),
    size=lambda args: conv_size(f"{LENET5},pool={'fold' if _mode(args) else 'layer'}"),
)


def _mode(args: str) -> bool:
    if args not in ("", "layer", "fold"):
        raise InputError(f"lenet5 takes layer or fold, got {args!r}")
    return args == "fold"
