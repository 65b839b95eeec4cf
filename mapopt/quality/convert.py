"""ANN-to-SNN conversion with data-based weight normalisation (Diehl et al. 2015; Rueckauer et al. 2017).

A trained ReLU network (dense, convolution and average-pooling layers, with biases)
becomes a rate-coded spiking network of integrate-and-fire neurons, threshold 1, reset to
0, one neuron per activation. A neuron's firing rate (spikes per step) approximates its
ReLU activation divided by a per-layer scale, as long as the activation stays below the
scale; so the scale of layer l, lambda_l, is set from data: the ``percentile``-th
percentile of layer l's activations over the calibration (training) images. Diehl et al.
(IJCNN 2015, "Fast-classifying, high-accuracy spiking deep networks through weight and
threshold balancing") use the maximum; Rueckauer et al. (Frontiers in Neuroscience 2017,
"Conversion of continuous-valued deep networks to efficient event-driven networks for
image classification") the 99.9th percentile, robust to outliers, and scale biases too:

    W_l <- W_l * lambda_{l-1} / lambda_l,    b_l <- b_l / lambda_l,    lambda_0 = max input rate.

A bias becomes ``Network.bias``: a constant input per step. Average pooling of a ReLU
layer needs no scale of its own (an average of activations below lambda stays below it):
its neurons keep the scale of the layer they pool. The output layer is normalised like the
others; its spike counts are the readout (see :mod:`mapopt.quality.task`).

Because ReLU is positively homogeneous, the normalised network computes the trained
network's activations divided by the scales, so :func:`analog_predictions` of the converted
net reproduces the trained network's predictions exactly (tests check it against the
trainer's own). The spiking net is built as a NIR graph and expanded by mapopt's NIR
importer, the same code that reads exported nets.
"""

from __future__ import annotations

from dataclasses import dataclass

import nir
import numpy as np
import scipy.sparse as sp

from mapopt import layers
from mapopt.errors import InputError
from mapopt.io.nir import from_nir
from mapopt.network import DEFAULT_TIMESTEPS, Network

#: Rueckauer et al. 2017's robust normalisation.
DEFAULT_PERCENTILE = 99.9


@dataclass(frozen=True)
class Dense:
    """A fully connected layer: ``weight`` (out, in), ``bias`` (out,)."""

    weight: np.ndarray
    bias: np.ndarray


@dataclass(frozen=True)
class Conv:
    """A 2-d convolution (PyTorch/NIR conventions): ``weight`` (C_out, C_in, k, k), ``bias`` (C_out,)."""

    weight: np.ndarray
    bias: np.ndarray
    stride: int = 1
    padding: int = 0


@dataclass(frozen=True)
class AvgPool:
    """2-d average pooling, kernel = stride = ``kernel``."""

    kernel: int


Layer = Dense | Conv | AvgPool


@dataclass(frozen=True)
class Expanded:
    """A layer at neuron level: ``matrix`` (out_size, in_size), ``bias`` per output element, shapes."""

    layer: Layer
    matrix: sp.csr_matrix
    bias: np.ndarray
    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]


def expand(layer_list: list[Layer], in_shape: tuple[int, ...]) -> list[Expanded]:
    """Each layer as a sparse matrix over the previous layer's elements (flattened C-order)."""
    out: list[Expanded] = []
    shape = tuple(in_shape)
    for layer in layer_list:
        if isinstance(layer, Dense):
            size = int(np.prod(shape))
            if layer.weight.shape[1] != size:
                raise InputError(f"dense weight {layer.weight.shape} does not take {size} inputs")
            syn = layers.dense(layer.weight)
            bias = np.asarray(layer.bias, dtype=np.float64)
        elif isinstance(layer, Conv):
            syn = layers.conv(shape, layer.weight, stride=layer.stride, padding=layer.padding)
            bias = np.repeat(np.asarray(layer.bias, dtype=np.float64), int(np.prod(syn.out_shape[1:])))
        else:
            syn = layers.pool(shape, layer.kernel, average=True)
            bias = np.zeros(int(np.prod(syn.out_shape)))
        out.append(Expanded(layer, syn.matrix(), bias, tuple(shape), syn.out_shape))
        shape = syn.out_shape
    return out


def forward(expanded: list[Expanded], x: np.ndarray) -> list[np.ndarray]:
    """Activations of every layer on inputs ``x`` (B, in_size): ReLU after every layer but the last."""
    acts, a = [], np.asarray(x, dtype=np.float64)
    for i, layer in enumerate(expanded):
        z = np.asarray(layer.matrix @ a.T).T + layer.bias
        a = z if i == len(expanded) - 1 else np.maximum(z, 0.0)
        acts.append(a)
    return acts


@dataclass(frozen=True)
class Conversion:
    """The converted net and how it was made: per-layer scales lambda_l, the percentile, the input rate."""

    network: Network
    scales: list[float]
    percentile: float
    max_rate: float


def convert(
    layer_list: list[Layer],
    in_shape: tuple[int, ...],
    calibration: np.ndarray,
    *,
    name: str,
    task: str | None,
    max_rate: float = 1.0,
    percentile: float = DEFAULT_PERCENTILE,
    timesteps: int = DEFAULT_TIMESTEPS,
) -> Conversion:
    """Convert a trained ReLU network to a spiking :class:`Network` (see the module docstring).

    ``calibration``: the (training) inputs, ``(B, in_size)`` in [0, 1], whose activations set
    the scales. ``max_rate``: the input spike probability per step of an input of 1 (the
    first layer absorbs it). Returns the net (``task`` recorded) and the scales.
    """
    if not 0 < percentile <= 100:
        raise InputError(f"percentile must be in (0, 100], got {percentile}")
    if not 0 < max_rate <= 1:
        raise InputError(f"max_rate must be in (0, 1], got {max_rate}")
    expanded = expand(layer_list, in_shape)
    acts = forward(expanded, calibration)
    scales, previous = [], max_rate
    nodes: dict[str, nir.NIRNode] = {
        "input": nir.Input(input_type=np.array(in_shape), metadata={} if task is None else {"mapopt_task": task})
    }
    edges: list[tuple[str, str]] = []
    last = "input"
    for i, (layer, act) in enumerate(zip(expanded, acts, strict=True)):
        if isinstance(layer.layer, AvgPool):
            scale = previous
            node: nir.NIRNode = nir.AvgPool2d(
                kernel_size=np.array([layer.layer.kernel] * 2), stride=np.array([layer.layer.kernel] * 2),
                padding=np.zeros(2, dtype=int),
            )
        else:
            positive = np.maximum(act, 0.0)
            scale = float(np.percentile(positive, percentile))
            if not scale > 0:
                raise InputError(f"layer {i + 1}: no positive activation on the calibration data; cannot normalise")
            factor = previous / scale
            if isinstance(layer.layer, Dense):
                node = nir.Affine(weight=layer.layer.weight * factor, bias=np.asarray(layer.layer.bias) / scale)
            else:
                conv = layer.layer
                node = nir.Conv2d(
                    input_shape=np.array(layer.in_shape[1:]), weight=conv.weight * factor, stride=conv.stride,
                    padding=conv.padding, dilation=1, groups=1, bias=np.asarray(conv.bias) / scale,
                )
        scales.append(scale)
        previous = scale
        neurons = f"if{i}"
        if len(layer.in_shape) > 1 and isinstance(layer.layer, Dense):
            nodes[f"flatten{i}"] = nir.Flatten(input_type={"input": np.array(layer.in_shape)}, start_dim=0)
            edges.append((last, f"flatten{i}"))
            last = f"flatten{i}"
        nodes[f"layer{i}"] = node
        shape = layer.out_shape
        nodes[neurons] = nir.IF(r=np.ones(shape), v_threshold=np.ones(shape), v_reset=np.zeros(shape))
        edges += [(last, f"layer{i}"), (f"layer{i}", neurons)]
        last = neurons
    nodes["output"] = nir.Output(output_type=np.array(expanded[-1].out_shape))
    edges.append((last, "output"))
    graph = nir.NIRGraph(nodes=nodes, edges=edges, type_check=False)
    net = from_nir(graph, name=name, source=f"ANN-to-SNN conversion of {name}", timesteps=timesteps)
    return Conversion(net, scales, percentile, max_rate)


def analog_predictions(net: Network, rates: np.ndarray) -> np.ndarray:
    """Class predictions of ``net`` read as the ReLU network it was converted from (no spikes).

    ``rates``: input spike rates ``(B, n_inputs)`` (image x max_rate). Layer by layer
    (``Network.layer``), a neuron's activation is ReLU(sum of weight x input activation +
    bias) / threshold: the rate an IF neuron approaches when unbounded in time; the output
    layer (the highest) is read without the ReLU, and its largest value is the class (ties:
    the lower). For a converted net this is the trained ANN's prediction (module docstring).
    Only feed-forward nets have such a reading: a synapse within or against the layer order
    is an :class:`InputError`.
    """
    compute = ~net.is_input
    if np.any(net.layer[net.pre] >= net.layer[net.post]):
        raise InputError(f"net {net.name!r} is not feed-forward by layer: it has no analog (ANN) reading")
    n = net.n_neurons
    act = np.zeros((len(rates), n))
    act[:, net.is_input] = rates
    adjacency = sp.csr_matrix((net.weight, (net.post, net.pre)), shape=(n, n))
    levels = np.unique(net.layer[compute])
    for i, level in enumerate(levels):
        members = np.flatnonzero(compute & (net.layer == level))
        z = (np.asarray(adjacency[members] @ act.T).T + net.bias[members]) / net.threshold[members]
        act[:, members] = z if i == len(levels) - 1 else np.maximum(z, 0.0)
    out = np.flatnonzero(compute & (net.layer == levels[-1]))
    return np.argmax(act[:, out], axis=1)
