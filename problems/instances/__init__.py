"""Instances: net generators, planted instances with known optima, and the named catalog.

Each generator module exposes :class:`~mapopt.registry.Generator` objects and
:mod:`~problems.instances.catalog` / :mod:`~problems.instances.planted` expose
``entries()``; pyproject.toml declares them as ``mapopt.generators`` / ``mapopt.nets``
entry points. :mod:`~problems.instances.spikes` and :mod:`~problems.instances.rates` give
generated nets their spike counts.
"""
