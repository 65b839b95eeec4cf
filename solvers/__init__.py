"""Solver back ends: one module per method, each a :class:`mapopt.solver.Solver` subclass.

Every method is declared as a ``mapopt.solvers`` entry point in pyproject.toml under its
stable lowercase name. The engines several methods share (packing, placement, incremental
costs, the exact lexicographic procedure) are in :mod:`solvers.common`.
"""
