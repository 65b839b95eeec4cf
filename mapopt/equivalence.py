"""The equivalence check: does a decomposition N' compute what N computes? (docs/model.md, section 3)

Both networks are simulated by :mod:`mapopt.simulate` on the same input trains; the
spike trains of every original neuron (the inputs and the roots, which keep their ids)
are compared step by step. In ``exact`` mode a correct decomposition must give zero
difference: the simulator's fixed-point arithmetic makes the root's sum independent of
how the inputs were grouped. Pruning strategies, and ``delayed`` mode, generally differ;
the report then names the first differing neuron and timestep.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from mapopt.decompose.base import Decomposition
from mapopt.simulate import SimResult, simulate, simulate_decomposition


@dataclass(frozen=True)
class EquivalenceReport:
    """The outcome of :func:`check_equivalence` (``to_dict`` is what ``--json`` prints)."""

    equivalent: bool
    max_spike_count_diff: float
    neurons_differing: int
    first_neuron: int | None
    first_timestep: int | None
    strategy: str
    mode: str
    units: int
    depth: int
    synapses_pruned: int
    timesteps: int
    original_spikes: float
    decomposed_spikes: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def check_equivalence(
    dec: Decomposition,
    inputs: np.ndarray | None = None,
    *,
    mode: str = "exact",
    timesteps: int | None = None,
    input_rate: float | np.ndarray = 0.2,
    seed: int = 0,
) -> EquivalenceReport:
    """Simulate N and N' on the same inputs and compare the original neurons' spike trains."""
    original = simulate(dec.original, inputs, timesteps=timesteps, input_rate=input_rate, seed=seed)
    prime = simulate_decomposition(dec, original.inputs, mode=mode)
    return compare_runs(dec, original, prime, mode=mode)


def compare_runs(dec: Decomposition, original: SimResult, prime: SimResult, *, mode: str) -> EquivalenceReport:
    """Compare a run of N with a run of N' (``mode``) on the same inputs, original neuron by neuron, step by step.

    For callers that need the runs themselves too (the accuracy of N' on a test set is
    read from the same run that the check compares).
    """
    if not np.array_equal(original.inputs, prime.inputs):
        raise ValueError("the runs of N and N' to compare must use the same input trains")
    n = dec.original.n_neurons
    a, b = original.trains, prime.trains[:, :n]
    diff_counts = np.abs(a.sum(axis=0).astype(np.int64) - b.sum(axis=0).astype(np.int64))
    differs = a != b
    first_neuron = first_step = None
    if differs.any():
        first_step = int(np.flatnonzero(differs.any(axis=1))[0])
        first_neuron = int(np.flatnonzero(differs[first_step])[0])
    return EquivalenceReport(
        equivalent=not differs.any(),
        max_spike_count_diff=float(diff_counts.max(initial=0)),
        neurons_differing=int(differs.any(axis=0).sum()),
        first_neuron=first_neuron,
        first_timestep=first_step,
        strategy=dec.label,
        mode=mode,
        units=dec.n_units,
        depth=dec.depth,
        synapses_pruned=dec.pruned_synapses,
        timesteps=original.timesteps,
        original_spikes=float(a[:, ~dec.original.is_input].sum()),
        decomposed_spikes=float(b[:, ~dec.original.is_input].sum()),
    )
