"""The optimisation problems of docs/model.md and the instances they are solved on.

- :mod:`problems.formulations`: one module per problem of docs/model.md section 6, each
  written data -> variables -> constraints -> objective (with its feasibility checks and
  lower bounds), shared by every exact back end in ``solvers/``.
- :mod:`problems.instances`: net generators (``--net PREFIX:ARGS``), planted instances
  with known optima, and the named catalog (``mapopt list nets``).

mapopt finds the generators and the catalog through entry points (``mapopt.generators``,
``mapopt.nets`` in pyproject.toml); it never imports this package itself.
"""
