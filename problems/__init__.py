"""Optimisation problems, instance generators and the named instance catalog.

Modules here are discovered and imported by :func:`mapopt.registry.load_plugins`.
"""
