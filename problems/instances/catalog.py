"""The named instance catalog (``mapopt list nets``), in size tiers.

- ``tiny``: exact solvers prove optimality (the planted instances of ``problems/planted.py``
  are registered there; the two here are small generated nets);
- ``small``: up to ~50k synapses; ``medium``: ~100k-200k; ``large``: ~0.4M-1.3M;
- ``huge``: >= 10M synapses, built only when asked for (``build`` is a function; nothing
  is generated at import or when the catalog is listed), their facts in closed form.

Every entry states its neurons, synapses and max fan-in (``tests/test_catalog.py`` checks
them against the built nets, huge ones excepted) and where its spike counts come from.
Every net is built with seed 0 and the default window T.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import pairwise

from mapopt.network import DEFAULT_TIMESTEPS, Network
from mapopt.registry import NetEntry
from problems.instances.conv import LENET5, conv_facts, conv_net, lenet5
from problems.instances.filters import edgedet, imgsmooth
from problems.instances.mlp import mlp
from problems.instances.random_graphs import erdos_renyi, powerlaw
from problems.instances.recurrent import lsm, rnn
from problems.instances.synfire import synfire

#: The net ``mapopt run`` maps when given none: 784-64-10 MLP, 50,816 synapses, fan-in 784.
DEFAULT_NET = "mlp-784-64-10"

T = DEFAULT_TIMESTEPS
DIGITS = f"simulated, T={T}, seed 0, on sklearn digits image #0 rate-coded"
POISSON = f"simulated, T={T}, seed 0, on Bernoulli p=0.2/step inputs"
DIGITS_RATE = f"IF rate model, T={T}, seed 0, on sklearn digits image #0 rate-coded"


def _mlp_facts(sizes: list[int]) -> dict[str, int]:
    """Closed form for an MLP: every neuron of a layer reads the whole previous layer."""
    return {
        "neurons": sum(sizes),
        "synapses": sum(a * b for a, b in pairwise(sizes)),
        "max_fanin": max(sizes[:-1]),
    }


_ENTRIES: list[NetEntry] = []


def entries() -> list[NetEntry]:
    """The catalog nets of this module (a ``mapopt.nets`` entry point in pyproject.toml)."""
    return list(_ENTRIES)


def _add(
    name: str, tier: str, description: str, build: Callable[[], Network], facts: dict[str, int], spikes: str
) -> None:
    _ENTRIES.append(
        NetEntry(name=name, tier=tier, description=description, build=build, facts={**facts, "spikes": spikes})
    )


# ------------------------------------------------------------------ tiny
_add("mlp-16-8-4", "tiny", "16-8-4 MLP", lambda: mlp([16, 8, 4], seed=0), _mlp_facts([16, 8, 4]), DIGITS)
_add(
    "synfire-4-6",
    "tiny",
    "synfire chain, 4 groups of 6",
    lambda: synfire(4, 6, seed=0),
    {"neurons": 24, "synapses": 108, "max_fanin": 6},
    POISSON,
)

#: Exact-reach instances (docs/exact.md): a 3x3 convolution, padding 1, 2 output channels on one input
#: channel, made for 16x16 crossbars (every unit fits; rows, not columns, limit a crossbar).
EXACT_CONVS = {"conv-8x8-c2k3": "1x8x8,c2k3p1", "conv-10x10-c2k3": "1x10x10,c2k3p1"}
for _name, _spec in EXACT_CONVS.items():
    _add(
        _name,
        "tiny",
        f"3x3 convolution, padding 1, 2 output channels ({_spec}); exact reach on 16x16 crossbars",
        lambda spec=_spec, name=_name: conv_net(spec, seed=0, name=name),
        conv_facts(_spec),
        DIGITS,
    )

# ------------------------------------------------------------------ small
_add(
    DEFAULT_NET,
    "small",
    "784-64-10 MLP (MNIST-sized input layer, fan-in 784); the default net of mapopt run",
    lambda: mlp([784, 64, 10], seed=0),
    _mlp_facts([784, 64, 10]),
    DIGITS,
)
_add(
    "imgsmooth-32x32",
    "small",
    "ImgSmooth: Gaussian smoothing of a 32x32 image, 5x5 receptive fields",
    lambda: imgsmooth(32, 32, k=5, seed=0),
    {"neurons": 2048, "synapses": 23716, "max_fanin": 25},
    DIGITS,
)
_add(
    "edgedet-32x32",
    "small",
    "EdgeDet: ON/OFF difference-of-Gaussians maps of a 32x32 image, 5x5 receptive fields",
    lambda: edgedet(32, 32, k=5, seed=0),
    {"neurons": 3072, "synapses": 47432, "max_fanin": 25},
    DIGITS,
)
_add(
    "synfire-10-64",
    "small",
    "synfire chain, 10 groups of 64",
    lambda: synfire(10, 64, seed=0),
    {"neurons": 640, "synapses": 36864, "max_fanin": 64},
    POISSON,
)
_add(
    "rnn-64-128-10",
    "small",
    "recurrent classifier: 64 inputs, 128 recurrent hidden neurons, 10 outputs",
    lambda: rnn(64, 128, 10, seed=0),
    {"neurons": 202, "synapses": 64 * 128 + 128 * 128 + 128 * 10, "max_fanin": 64 + 128},
    POISSON,
)
_add(
    "lsm-64-512-10",
    "small",
    "liquid state machine: 64 inputs, 512-neuron 3-D reservoir, 10 readouts",
    lambda: lsm(64, 512, 10, seed=0),
    {"neurons": 586, "synapses": 18998, "max_fanin": 512},
    POISSON,
)

# ------------------------------------------------------------------ medium
_add(
    "mlp-784-128-10",
    "medium",
    "784-128-10 MLP",
    lambda: mlp([784, 128, 10], seed=0),
    _mlp_facts([784, 128, 10]),
    DIGITS,
)
_add(
    "imgsmooth-64x64",
    "medium",
    "ImgSmooth: Gaussian smoothing of a 64x64 image, 5x5 receptive fields",
    lambda: imgsmooth(64, 64, k=5, seed=0),
    {"neurons": 8192, "synapses": 98596, "max_fanin": 25},
    DIGITS,
)
_add(
    "edgedet-64x64",
    "medium",
    "EdgeDet: ON/OFF difference-of-Gaussians maps of a 64x64 image, 5x5 receptive fields",
    lambda: edgedet(64, 64, k=5, seed=0),
    {"neurons": 12288, "synapses": 197192, "max_fanin": 25},
    DIGITS,
)
_add(
    "er-20k-100k",
    "medium",
    "Erdos-Renyi G(n, m): 20,000 neurons (2,000 inputs), 100,000 random synapses",
    lambda: erdos_renyi(20000, 100000, seed=0),
    {"neurons": 20000, "synapses": 100000, "max_fanin": 19},
    POISSON,
)
_add(
    "powerlaw-20k",
    "medium",
    "heavy-tailed fan-in (Pareto, alpha 2.2, kmin 2): 20,000 neurons, 2,000 inputs",
    lambda: powerlaw(20000, seed=0),
    {"neurons": 20000, "synapses": 188684, "max_fanin": 19999},
    POISSON,
)

# ------------------------------------------------------------------ large
_add(
    "lenet5",
    "large",
    f"LeNet-5 ({LENET5}), pooling as its own layer",
    lambda: lenet5(fold_pool=False, seed=0),
    conv_facts(LENET5),
    DIGITS,
)
_add(
    "lenet5-fold",
    "large",
    "LeNet-5 with pooling folded into the next layer (no pooling neurons, 4x the fan-in)",
    lambda: lenet5(fold_pool=True, seed=0),
    {"neurons": 7542, "synapses": 1280520, "max_fanin": 1600},
    DIGITS,
)
_add(
    "mlp-784-1000-500-10",
    "large",
    "784-1000-500-10 MLP",
    lambda: mlp([784, 1000, 500, 10], seed=0),
    _mlp_facts([784, 1000, 500, 10]),
    DIGITS,
)
_add(
    "er-100k-1m",
    "large",
    "Erdos-Renyi G(n, m): 100,000 neurons (10,000 inputs), 1,000,000 random synapses",
    lambda: erdos_renyi(100000, 1000000, seed=0),
    {"neurons": 100000, "synapses": 1000000, "max_fanin": 28},
    POISSON,
)

# ------------------------------------------------------------------ huge (built lazily)
_HUGE_MLP = [4096, 2048, 2048, 10]
_add(
    "mlp-4096-2048-2048-10",
    "huge",
    "4096-2048-2048-10 MLP (64x64 input); built only when used",
    lambda: mlp(_HUGE_MLP, seed=0, spikes="rate"),
    _mlp_facts(_HUGE_MLP),
    DIGITS_RATE,
)
_VGG = "3x32x32,c32k3p1,c32k3p1,p2,c64k3p1,p2,f256,f10"
_add(
    "vgg-cifar",
    "huge",
    f"VGG-style conv net on a 3x32x32 image ({_VGG}); built only when used",
    lambda: conv_net(_VGG, seed=0, name="vgg-cifar", spikes="rate"),
    conv_facts(_VGG),
    DIGITS_RATE,
)
