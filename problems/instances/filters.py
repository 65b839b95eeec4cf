"""Image filters with local receptive fields, in the spirit of the paper's ImgSmooth and EdgeDet.

Balaji et al. (ESL 2020) evaluate CARLsim image-processing apps: ImgSmooth (smoothing)
and EdgeDet (edge detection), both with local receptive fields. Here:

- ``imgsmooth:HxW[,k=K]``: an H x W image of input neurons and an H x W layer of IF
  neurons, each reading the K x K window around its pixel (zero padding at the border,
  so fan-in K^2 inside and less at the edges) with normalised Gaussian weights
  (sigma = K / 4);
- ``edgedet:HxW[,k=K]``: the same geometry with two output maps, ON-centre and
  OFF-centre difference-of-Gaussians (sigma K/6 minus sigma K/3), i.e. 2 H W neurons
  with fan-in K^2: a retina-like edge detector.

K must be odd (default 5). Spike counts are simulated on a rate-coded scikit-learn digits
image resized to H x W (:mod:`problems.instances.spikes`).
"""

from __future__ import annotations

from collections.abc import Callable

import nir
import numpy as np

from mapopt.errors import InputError
from mapopt.io.nir import from_nir
from mapopt.network import Network
from mapopt.registry import Generator
from mapopt.resources import Size
from problems.instances.specs import parse_options, parse_sizes
from problems.instances.spikes import with_image_spikes


def gaussian(k: int, sigma: float) -> np.ndarray:
    """A k x k Gaussian kernel summing to 1."""
    x = np.arange(k) - (k - 1) / 2
    g = np.exp(-(x[:, None] ** 2 + x[None, :] ** 2) / (2 * sigma**2))
    return g / g.sum()


def filter_net(
    name: str, height: int, width: int, kernels: np.ndarray, *, seed: int = 0, spikes: str = "simulated"
) -> Network:
    """Input image H x W filtered by ``kernels`` (maps, k, k) with same padding, IF neurons."""
    maps, k = kernels.shape[0], kernels.shape[-1]
    if k % 2 == 0 or k < 1:
        raise InputError(f"{name}: kernel size k must be odd and positive, got {k}")
    shape = (maps, height, width)
    conv = nir.Conv2d(
        input_shape=(height, width),
        weight=kernels[:, None],
        stride=1,
        padding=k // 2,
        dilation=1,
        groups=1,
        bias=np.zeros(maps),
    )
    graph = nir.NIRGraph(
        nodes={
            "image": nir.Input(input_type=np.array([1, height, width])),
            "filter": conv,
            "neurons": nir.IF(r=np.ones(shape), v_threshold=np.ones(shape)),
            "output": nir.Output(output_type=np.array(shape)),
        },
        edges=[("image", "filter"), ("filter", "neurons"), ("neurons", "output")],
        type_check=False,
    )
    net = from_nir(graph, name=f"{name}-{height}x{width}-k{k}", source=f"{name} generator")
    return with_image_spikes(net, (1, height, width), seed=seed, model=spikes)


def imgsmooth(height: int, width: int, *, k: int = 5, seed: int = 0, spikes: str = "simulated") -> Network:
    """Gaussian smoothing, one output neuron per pixel (ImgSmooth)."""
    return filter_net("imgsmooth", height, width, gaussian(k, k / 4)[None], seed=seed, spikes=spikes)


def edgedet(height: int, width: int, *, k: int = 5, seed: int = 0, spikes: str = "simulated") -> Network:
    """ON- and OFF-centre difference-of-Gaussians maps (EdgeDet)."""
    if k < 3:
        raise InputError(f"edgedet needs a centre and a surround: k >= 3, got {k}")
    dog = gaussian(k, k / 6) - gaussian(k, k / 3)
    dog = dog / np.abs(dog).sum() * 2  # centre (or surround) weights sum to 1
    return filter_net("edgedet", height, width, np.stack([dog, -dog]), seed=seed, spikes=spikes)


def _parse(args: str, prefix: str) -> tuple[int, int, int]:
    head, *rest = args.split(",")
    height, width = parse_sizes(head, prefix=prefix, count=2, sep="x")
    k = int(parse_options(rest, {"k": 5}, prefix=prefix)["k"])
    if k % 2 == 0 or k < 1:
        raise InputError(f"{prefix}: kernel size k must be odd and positive, got {k}")
    return height, width, k


def _build(fn: Callable[..., Network], args: str, seed: int, prefix: str) -> Network:
    height, width, k = _parse(args, prefix)
    return fn(height, width, k=k, seed=seed)


def _size(args: str, prefix: str, maps: int) -> Size:
    """H W inputs and ``maps`` H W neurons reading at most K^2 pixels each."""
    height, width, k = _parse(args, prefix)
    return Size((1 + maps) * height * width, maps * height * width * k * k)


#: ``--net imgsmooth:ARGS`` (a ``mapopt.generators`` entry point in pyproject.toml).
IMGSMOOTH_GENERATOR = Generator(
    prefix="imgsmooth",
    syntax="imgsmooth:HxW[,k=K]",
    description="Gaussian image smoothing, K x K receptive fields (ImgSmooth); digits-image spikes",
    build=lambda args, seed: _build(imgsmooth, args, seed, "imgsmooth"),
    size=lambda args: _size(args, "imgsmooth", 1),
)
#: ``--net edgedet:ARGS`` (a ``mapopt.generators`` entry point in pyproject.toml).
EDGEDET_GENERATOR = Generator(
    prefix="edgedet",
    syntax="edgedet:HxW[,k=K]",
    description="ON/OFF difference-of-Gaussians edge maps, K x K receptive fields (EdgeDet); digits-image spikes",
    build=lambda args, seed: _build(edgedet, args, seed, "edgedet"),
    size=lambda args: _size(args, "edgedet", 2),
)
