"""Model quality: trained nets, their test accuracy, and what decomposition and pruning do to it.

The paper (Balaji et al., IEEE ESL 2020, arXiv 2009.09298) argues that pruning a neuron's
inputs to fit a crossbar costs accuracy while spatial decomposition costs none. This
package measures both on nets trained for a labelled task:

- :mod:`~mapopt.quality.task`: the task (scikit-learn digits): split, rate coding, readout;
- :mod:`~mapopt.quality.convert`: ANN-to-SNN conversion with data-based weight
  normalisation (Diehl et al. 2015; Rueckauer et al. 2017);
- :mod:`~mapopt.quality.batch`: simulating a whole test set in one simulator run;
- :mod:`~mapopt.quality.evaluate`: accuracies, with the equivalence check of N' against N;
- :mod:`~mapopt.quality.study`: the comparison ``mapopt quality`` prints and plots.

The API other commands use is :func:`accuracy_of` (``mapopt reproduce``, bake-offs).
"""

from mapopt.quality.evaluate import Evaluation, accuracy_of, ann_accuracy, evaluate, with_task_traffic, with_test_spikes
from mapopt.quality.task import TASKS, DigitsTask, task_named

__all__ = [
    "TASKS",
    "DigitsTask",
    "Evaluation",
    "accuracy_of",
    "ann_accuracy",
    "evaluate",
    "task_named",
    "with_task_traffic",
    "with_test_spikes",
]
