"""Test accuracy of a trained net and of its decompositions, measured by simulation.

Every number comes from the simulator (:mod:`mapopt.simulate`, fixed point, exact mode
unless told otherwise) on the task's test inputs (:mod:`mapopt.quality.task`), all test
images at once (:mod:`mapopt.quality.batch`). For a decomposition that keeps every synapse,
the same run also checks, with :func:`mapopt.equivalence.compare_runs`, that N' spikes
exactly like N on every test image, so "decomposition keeps the accuracy" is measured, not
assumed; for a pruned net the accuracy is simply what its spikes give.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mapopt.decompose.base import Decomposition, with_unit_spikes
from mapopt.equivalence import EquivalenceReport
from mapopt.errors import InputError
from mapopt.network import Network
from mapopt.quality.batch import run_decomposition, run_network
from mapopt.quality.convert import analog_predictions
from mapopt.quality.task import DigitsTask, task_named


@dataclass(frozen=True)
class Evaluation:
    """One net (or N') on a task's test set.

    ``predictions``: class per test image; ``accuracy``: fraction correct; ``mean_counts``:
    spikes per neuron (of N, or of N' for a decomposition) per image window, averaged over
    the test images; ``equivalence``: N' against N over all images (None for a network, or
    when not checked); ``source``: the spike-count provenance.
    """

    predictions: np.ndarray
    accuracy: float
    mean_counts: np.ndarray
    equivalence: EquivalenceReport | None
    source: str


def predictions(counts: np.ndarray, outputs: np.ndarray) -> np.ndarray:
    """The class whose output neuron spikes most in each row of ``counts`` (ties: the lower class)."""
    return np.argmax(counts[:, outputs], axis=1)


def evaluate(
    model: Network | Decomposition, task: DigitsTask, *, mode: str = "exact", check: bool = True
) -> Evaluation:
    """Simulate ``model`` on every test input of ``task`` and read out its accuracy.

    For a decomposition, ``check`` also simulates N and compares the two (exact mode: any
    difference is a bug in the decomposition or the simulator).
    """
    net = model.original if isinstance(model, Decomposition) else model
    outputs = task.readout(net)
    inputs = task.test_inputs()
    if isinstance(model, Decomposition):
        run = run_decomposition(model, inputs, mode=mode, check=check)
    else:
        run = run_network(model, inputs)
    pred = predictions(run.counts, outputs)
    accuracy = float(np.mean(pred == task.split().y_test))
    how = f"simulated ({mode} mode)" if isinstance(model, Decomposition) else "simulated"
    source = f"{how}: {task.timesteps} steps, fixed point 2^-{run.fraction_bits}, mean over the {task.describe()}"
    return Evaluation(pred, accuracy, run.counts.mean(axis=0), run.equivalence, source)


def ann_accuracy(net: Network, task: DigitsTask) -> float:
    """Accuracy of the ReLU network ``net`` was converted from (:func:`~mapopt.quality.convert.analog_predictions`)."""
    task.readout(net)
    split = task.split()
    return float(np.mean(analog_predictions(net, split.x_test * task.max_rate) == split.y_test))


def with_test_spikes(net: Network, task: DigitsTask, *, note: str = "") -> tuple[Network, Evaluation]:
    """``net`` with its spike counts from the task's test set (mean per image window), and the evaluation."""
    ev = evaluate(net, task)
    source = f"{ev.source}; SNN test accuracy {ev.accuracy:.4f}" + (f"; {note}" if note else "")
    return net.with_spikes(ev.mean_counts, source, timesteps=task.timesteps), ev


def with_task_traffic(dec: Decomposition, *, mode: str = "exact") -> Decomposition:
    """``dec`` with every N' spike count simulated on its task's test inputs (``--traffic simulated``).

    The counts are means per image window over the test images; a non-root unit counts
    the steps in which it sends a nonzero partial sum (docs/model.md, section 3).
    """
    if dec.original.task is None:
        raise ValueError("with_task_traffic needs a net trained for a task")
    ev = evaluate(dec, task_named(dec.original.task), mode=mode, check=False)
    source = f"{ev.source}; non-root units: simulated (steps with a nonzero partial sum)"
    return with_unit_spikes(dec, ev.mean_counts, traffic="simulated", source=source, timesteps=dec.network.timesteps)


def accuracy_of(net_name: str, dec: Decomposition) -> float | None:
    """Test accuracy (exact mode) of decomposition ``dec`` of the catalog net ``net_name``.

    None when ``net_name`` is not a trained net of the catalog (its entry states no
    ``task``). The decomposition's original must be that net (checked: the task's input
    and output sizes); the accuracy is what N''s spikes give on the task's test set,
    pruned synapses and all.
    """
    from mapopt.registry import catalog

    entry = catalog().get(net_name)
    task_name = None if entry is None else entry.facts.get("task")
    if task_name is None:
        return None
    task = task_named(str(task_name))
    if dec.original.task not in (None, task.name):
        raise InputError(f"decomposition of a net trained for {dec.original.task!r}, not {net_name!r}'s {task.name!r}")
    return evaluate(dec, task, check=False).accuracy
