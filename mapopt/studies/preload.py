"""Imported once by the run processes' forkserver (:mod:`mapopt.studies.isolation`).

Importing every installed solver, generator and catalog provider here means that each
forked run starts with them loaded (and the registry's caches filled), so a run costs a
fork instead of an interpreter start and imports.
"""

from mapopt.pipeline import run_strategy  # noqa: F401  (what every run calls)
from mapopt.registry import catalog, generators, solver_names

solver_names()
generators()
catalog()
