"""Spike counts for generated nets: rate-coded real images (or fixed-rate inputs), then the net.

Image-shaped nets (conv nets, image filters, LeNet-5, MLPs whose input is a square image)
see one of scikit-learn's ``load_digits`` images (1797 8x8 handwritten digits shipped
inside scikit-learn, so nothing is downloaded), resized bilinearly to the input shape and
rate-coded: a pixel of intensity x in [0, 1] fires with probability ``x * max_rate`` per
timestep. Which image is picked follows the seed. Other nets get inputs that fire with a
fixed probability per step. By default the net is then run by mapopt's simulator
(:mod:`mapopt.simulate`, seeded, window T = ``Network.timesteps``); huge nets use the IF
rate model of :mod:`problems.instances.rates` instead (``model="rate"``). The resulting
``Network.spike_source`` names the image or rate, seed, T and model.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy.ndimage import zoom

from mapopt.errors import InputError
from mapopt.network import Network
from mapopt.simulate import simulate
from problems.instances.rates import propagate_rates

#: Spike probability per timestep of a fully white pixel.
MAX_RATE = 0.5
#: How counts are obtained: the simulator (default) or the IF rate model (for huge nets).
SPIKE_MODELS = ("simulated", "rate")


@lru_cache(maxsize=1)
def _digits() -> np.ndarray:
    from sklearn.datasets import load_digits  # imported on first use: scikit-learn is slow to import

    return load_digits().images / 16.0


def digit_rates(shape: tuple[int, ...], *, index: int, max_rate: float = MAX_RATE) -> np.ndarray:
    """Per-input firing probabilities of digit ``index`` resized to ``shape`` ((C, H, W), (H, W) or (L,))."""
    image = _digits()[index % len(_digits())]
    if len(shape) == 1:
        plane = zoom(image.ravel(), shape[0] / image.size, order=1, grid_mode=True, mode="nearest")[: shape[0]]
        return np.clip(plane, 0, 1) * max_rate
    h, w = shape[-2:]
    plane = zoom(image, (h / 8, w / 8), order=1, grid_mode=True, mode="nearest")[:h, :w]
    channels = int(np.prod(shape[:-2]))
    return np.tile(np.clip(plane, 0, 1).ravel(), channels) * max_rate


def with_image_spikes(
    net: Network, in_shape: tuple[int, ...], *, seed: int, max_rate: float = MAX_RATE, model: str = "simulated"
) -> Network:
    """``net`` with spike counts driven by a rate-coded digit image on its inputs (C-order ``in_shape``)."""
    index = seed % len(_digits())
    note = f"input rates: sklearn digits image #{index}, max p={max_rate}/step"
    return _drive(net, digit_rates(in_shape, index=index, max_rate=max_rate), seed=seed, model=model, note=note)


def with_bernoulli_spikes(net: Network, *, seed: int, rate: float = 0.2, model: str = "simulated") -> Network:
    """``net`` with spike counts driven by inputs firing with probability ``rate`` per step."""
    return _drive(
        net, np.full(net.n_inputs, rate), seed=seed, model=model, note=f"input rates: Bernoulli p={rate}/step"
    )


def _drive(net: Network, p: np.ndarray, *, seed: int, model: str, note: str) -> Network:
    """Spike counts from input firing probabilities ``p``: simulated, or by the rate model."""
    if model == "simulated":
        result = simulate(net, input_rate=p, seed=seed)
        return net.with_spikes(result.counts, f"{result.source}; {note}")
    if model != "rate":
        raise InputError(f"unknown spike model {model!r}; known: {', '.join(SPIKE_MODELS)}")
    counts = np.random.default_rng(seed).binomial(net.timesteps, p).astype(np.float64)
    source = f"rate: IF rate model, T={net.timesteps}, seed {seed}; {note}"
    return net.with_spikes(propagate_rates(net, counts), source)
