"""The labelled task a trained net is evaluated on: its data split, input coding and readout.

A net trained for a task carries the task's name (``Network.task``); everything needed to
measure its accuracy is here, in the framework, so that accuracy can be computed for any
decomposition of it without the code that trained it (``problems/``).

``digits`` is scikit-learn's ``load_digits`` (1797 8x8 handwritten digits shipped inside
scikit-learn, nothing is downloaded), pixels scaled to [0, 1], split once into 80%
training and 20% test images (stratified, fixed seed). Test images are rate coded: input i
of image j spikes in each of the T steps with probability ``pixel * max_rate``, drawn from
``numpy.random.default_rng([seed, j])``, so an image's input trains do not depend on which
other images are simulated with it. The readout is the output layer (the compute neurons
of the highest ``Network.layer``, class c being the c-th in id order): the class whose
neuron spikes most, ties going to the lower class.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np

from mapopt.errors import InputError
from mapopt.network import DEFAULT_TIMESTEPS, Network


@dataclass(frozen=True)
class Split:
    """A task's data: ``x`` in [0, 1] (images flattened C-order), integer labels ``y``."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


@dataclass(frozen=True)
class DigitsTask:
    """scikit-learn's digits, rate coded (see the module docstring)."""

    name: str = "digits"
    image_shape: tuple[int, int, int] = (1, 8, 8)
    classes: int = 10
    test_fraction: float = 0.2
    split_seed: int = 0
    #: Spike probability per step of a white pixel.
    max_rate: float = 1.0
    timesteps: int = DEFAULT_TIMESTEPS
    #: Seed of the input trains (per image: ``default_rng([seed, image index])``).
    seed: int = 0

    @property
    def n_inputs(self) -> int:
        return int(np.prod(self.image_shape))

    def split(self) -> Split:
        """The fixed training/test split (computed once per process)."""
        return _digits_split(self.test_fraction, self.split_seed)

    def encode(self, x: np.ndarray, *, first_index: int = 0) -> np.ndarray:
        """Rate-coded input trains ``bool[B, T, n_inputs]`` of images ``x`` (test images ``first_index``...)."""
        x = np.asarray(x, dtype=np.float64)
        trains = np.empty((len(x), self.timesteps, self.n_inputs), dtype=bool)
        for j, image in enumerate(x):
            rng = np.random.default_rng([self.seed, first_index + j])
            trains[j] = rng.random((self.timesteps, self.n_inputs)) < image * self.max_rate
        return trains

    def test_inputs(self) -> np.ndarray:
        """The input trains of every test image, ``bool[B, T, n_inputs]`` (computed once per process)."""
        return _test_inputs(self)

    def describe(self) -> str:
        s = self.split()
        return (
            f"sklearn digits test set ({len(s.y_test)} images, {1 - self.test_fraction:.0%}/{self.test_fraction:.0%} "
            f"stratified split, seed {self.split_seed}), rate coded p = pixel x {self.max_rate:g}/step, "
            f"T={self.timesteps}, input seed {self.seed}"
        )

    def readout(self, net: Network) -> np.ndarray:
        """The output neurons of ``net``, class by class; an :class:`InputError` if the net does not fit the task."""
        if net.n_inputs != self.n_inputs:
            raise InputError(
                f"net {net.name!r} has {net.n_inputs} inputs; task {self.name!r} feeds {self.n_inputs} pixels"
            )
        compute = ~net.is_input
        if not compute.any():
            raise InputError(f"net {net.name!r} has no compute neuron to read out")
        last = int(net.layer[compute].max())
        outputs = np.flatnonzero(compute & (net.layer == last))
        if last < 0 or len(outputs) != self.classes:
            raise InputError(
                f"net {net.name!r}: its output layer (highest layer index {last}) has {len(outputs)} neurons; "
                f"task {self.name!r} reads {self.classes} classes"
            )
        return outputs


@cache
def _digits_split(test_fraction: float, seed: int) -> Split:
    from sklearn.datasets import load_digits  # imported on first use: scikit-learn is slow to import
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x = digits.data / 16.0
    x_train, x_test, y_train, y_test = train_test_split(
        x, digits.target, test_size=test_fraction, stratify=digits.target, random_state=seed
    )
    return Split(x_train, y_train.astype(np.int64), x_test, y_test.astype(np.int64))


@cache
def _test_inputs(task: DigitsTask) -> np.ndarray:
    trains = task.encode(task.split().x_test)
    trains.setflags(write=False)
    return trains


#: Every task by name (``Network.task`` values).
TASKS: dict[str, DigitsTask] = {"digits": DigitsTask()}


def task_named(name: str) -> DigitsTask:
    """The task called ``name``, or an :class:`InputError` listing the known ones."""
    if name not in TASKS:
        raise InputError(f"unknown task {name!r}; known: {', '.join(sorted(TASKS))}")
    return TASKS[name]
