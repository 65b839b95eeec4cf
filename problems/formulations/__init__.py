"""Formulations of the problems of docs/model.md section 6, independent of any back end.

- :mod:`~problems.formulations.assignment`: crossbar assignment (problem 2) as a 0-1 model,
  and, with tile positions on its slots, the joint assignment + placement model;
- :mod:`~problems.formulations.placement_qap`: tile placement (problem 3), a quadratic
  assignment problem, linearised;
- :mod:`~problems.formulations.unroll`: unroll ordering (problem 1) together with the
  crossbar assignment, as a CP-SAT model for tiny nets;
- :mod:`~problems.formulations.bruteforce`: the reference, by exhaustive enumeration of
  tiny instances, that the models are checked against.

The procedures that solve these models (lexicographic phases, warm starts) are shared by
the exact solvers and live with them, in ``solvers/common/``.
"""
