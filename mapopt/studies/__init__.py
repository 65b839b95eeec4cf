"""Solver bake-off studies and tuning: the study spec, the results store, the runners.

- :mod:`mapopt.studies.spec`: a study (solvers x instances x hardware x decompositions x
  seeds), from the command line or a TOML file; :mod:`mapopt.studies.variants`: solver
  variants with parameters; :mod:`mapopt.studies.tasks`: the runs and their keys;
- :mod:`mapopt.studies.store`: the append-only, idempotent SQLite store of runs;
- :mod:`mapopt.studies.isolation`: one process per run, with time and memory limits;
- :mod:`mapopt.studies.execute`: the local process pool and the Dask scheduler, writing
  results from the driver only; :mod:`mapopt.studies.bakeoff`: the study end to end;
- :mod:`mapopt.studies.crosscheck`: mapopt's predictions against the SANA-FE simulator.
"""
